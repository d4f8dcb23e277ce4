"""Solvers: Krylov, stationary, preconditioners, the bandit parameter tuners, sketching least squares.

All return :class:`krylearn.SolverResult` and stop on ``‖r‖ ≤ max(atol, rtol·‖b‖)``.

Layout (one subpackage per concern; docs/architecture.md has the layering):

- shared pieces here: :mod:`.result` (the one result type), :mod:`._common` (input checks, scale-safe
  norms, the stopping rule), :mod:`._skeleton` (the one Krylov skeleton), :mod:`._columns` (many
  right-hand sides column by column), :mod:`._kernels` (numba jit presets and parallel-kernel choice),
  :mod:`.lanczos` (the one Lanczos routine), :mod:`.solve` (``kl.solve`` by name);
- :mod:`.krylov` — CG, FCG, MINRES, MINRES-QLP, GMRES, FGMRES, BiCGSTAB, Chebyshev, LSQR, LSMR,
  batched and torch CG, RecyclingCG;
- :mod:`.stationary` — Jacobi, Gauss–Seidel, SOR, SSOR and their numba sweeps, standalone multigrid;
- :mod:`.precond` — preconditioners as operators;
- :mod:`.tuning` — the Learning-to-Relax bandit tuners, sequences of systems, AutoSolver;
- :mod:`.sketching` — sketches and sketching least squares.
"""

from .._lazy import install, move_modules
from .result import SolverError, SolverResult, SolverState, Status
from .solve import METHODS

_LAZY = {
    **METHODS,
    "solve": ("krylearn.solvers.solve", "solve"),
    "precond": ("krylearn.solvers.precond", None),
    # Learning to Relax (issue 4)
    "TsallisINF": ("krylearn.solvers.tuning.bandits", "TsallisINF"),
    "Exp3": ("krylearn.solvers.tuning.bandits", "Exp3"),
    "TsallisINFCB": ("krylearn.solvers.tuning.contextual_tuners", "TsallisINFCB"),
    "ChebCB": ("krylearn.solvers.tuning.contextual_tuners", "ChebCB"),
    "UCB": ("krylearn.solvers.tuning.ucb", "UCB"),
    "RecyclingCG": ("krylearn.solvers.krylov.recycling_cg", "RecyclingCG"),
    "AutoSolver": ("krylearn.solvers.tuning.auto", "AutoSolver"),
    "solve_sequence": ("krylearn.solvers.tuning.sequence", "solve_sequence"),
    # sketching least squares (issue 7)
    "lstsq": ("krylearn.solvers.sketching.lstsq", "lstsq"),
    "sketches": ("krylearn.solvers.sketching.sketches", None),
}
install(__name__, _LAZY)

#: module paths before the subpackages (issue 12): importing one still works and warns
_MOVED = {
    "krylearn.solvers.cg": "krylearn.solvers.krylov.cg",
    "krylearn.solvers.cg_torch": "krylearn.solvers.krylov.cg_torch",
    "krylearn.solvers.batched_cg": "krylearn.solvers.krylov.batched_cg",
    "krylearn.solvers.fcg": "krylearn.solvers.krylov.fcg",
    "krylearn.solvers.minres": "krylearn.solvers.krylov.minres",
    "krylearn.solvers.minres_qlp": "krylearn.solvers.krylov.minres_qlp",
    "krylearn.solvers.gmres": "krylearn.solvers.krylov.gmres",
    "krylearn.solvers.fgmres": "krylearn.solvers.krylov.fgmres",
    "krylearn.solvers.bicgstab": "krylearn.solvers.krylov.bicgstab",
    "krylearn.solvers.bicgstab_torch": "krylearn.solvers.krylov.bicgstab_torch",
    "krylearn.solvers.chebyshev": "krylearn.solvers.krylov.chebyshev",
    "krylearn.solvers.lsqr": "krylearn.solvers.krylov.lsqr",
    "krylearn.solvers.lsmr": "krylearn.solvers.krylov.lsmr",
    "krylearn.solvers.recycling_cg": "krylearn.solvers.krylov.recycling_cg",
    "krylearn.solvers.jacobi": "krylearn.solvers.stationary.jacobi",
    "krylearn.solvers.gauss_seidel": "krylearn.solvers.stationary.gauss_seidel",
    "krylearn.solvers.sor": "krylearn.solvers.stationary.sor",
    "krylearn.solvers.ssor": "krylearn.solvers.stationary.ssor",
    "krylearn.solvers.multigrid": "krylearn.solvers.stationary.multigrid",
    "krylearn.solvers.contextual_tuners": "krylearn.solvers.tuning.contextual_tuners",
    "krylearn.solvers.ucb": "krylearn.solvers.tuning.ucb",
    "krylearn.solvers.candidates": "krylearn.solvers.tuning.candidates",
    "krylearn.solvers.auto": "krylearn.solvers.tuning.auto",
    "krylearn.solvers.sequence": "krylearn.solvers.tuning.sequence",
    "krylearn.solvers.cost_ledger": "krylearn.solvers.tuning.cost_ledger",
    "krylearn.solvers.sketches": "krylearn.solvers.sketching.sketches",
    "krylearn.solvers.lstsq": "krylearn.solvers.sketching.lstsq",
}
move_modules(_MOVED)

__all__ = ["SolverResult", "SolverState", "SolverError", "Status", *_LAZY]

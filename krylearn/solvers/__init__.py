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

from .._lazy import exports, install, move_modules
from .result import SolverError, SolverResult, SolverState, Status
from .solve import METHODS

_LAZY = {
    **METHODS,
    "solve": ("krylearn.solvers.solve", "solve"),
    **{name: (f"{__name__}.{name}", None) for name in ("krylov", "stationary", "precond", "tuning", "sketching")},
    "sketches": ("krylearn.solvers.sketching.sketches", None),
    # Learning to Relax (issue 4), recycling, the online solver chooser, sketching least squares (issue 7)
    **exports(__name__, {"tuning.bandits": "TsallisINF Exp3", "tuning.contextual_tuners": "TsallisINFCB ChebCB",
                         "tuning.ucb": "UCB", "tuning.auto": "AutoSolver", "tuning.sequence": "solve_sequence",
                         "krylov.recycling_cg": "RecyclingCG", "sketching.lstsq": "lstsq"}),
}
install(__name__, _LAZY)

#: module paths before the subpackages (issue 12): importing one still works and warns
_MOVED = {f"{__name__}.{module}": f"{__name__}.{package}.{module}" for package, modules in {
    "krylov": "cg cg_torch batched_cg fcg minres minres_qlp gmres fgmres bicgstab bicgstab_torch chebyshev lsqr lsmr "
              "recycling_cg",
    "stationary": "jacobi gauss_seidel sor ssor multigrid",
    "tuning": "contextual_tuners ucb candidates auto sequence cost_ledger",
    "sketching": "sketches lstsq"}.items() for module in modules.split()}
move_modules(_MOVED)

__all__ = ["SolverResult", "SolverState", "SolverError", "Status", *_LAZY]

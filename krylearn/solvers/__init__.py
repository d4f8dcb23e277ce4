"""Solvers: Krylov, stationary, preconditioners, the bandit parameter tuners, sketching least squares.

All return :class:`krylearn.SolverResult` and stop on ``‖r‖ ≤ max(atol, rtol·‖b‖)``."""

from .._lazy import install
from .result import SolverError, SolverResult, SolverState, Status
from .solve import METHODS

_LAZY = {
    **METHODS,
    "solve": ("krylearn.solvers.solve", "solve"),
    "precond": ("krylearn.solvers.precond", None),
    # Learning to Relax (issue 4)
    "TsallisINF": ("krylearn.solvers.tuning", "TsallisINF"),
    "Exp3": ("krylearn.solvers.tuning", "Exp3"),
    "TsallisINFCB": ("krylearn.solvers.contextual_tuners", "TsallisINFCB"),
    "ChebCB": ("krylearn.solvers.contextual_tuners", "ChebCB"),
    "UCB": ("krylearn.solvers.ucb", "UCB"),
    "RecyclingCG": ("krylearn.solvers.recycling_cg", "RecyclingCG"),
    "AutoSolver": ("krylearn.solvers.auto", "AutoSolver"),
    "solve_sequence": ("krylearn.solvers.sequence", "solve_sequence"),
    # sketching least squares (issue 7)
    "lstsq": ("krylearn.solvers.lstsq", "lstsq"),
    "sketches": ("krylearn.solvers.sketches", None),
}
install(__name__, _LAZY)

__all__ = ["SolverResult", "SolverState", "SolverError", "Status", *_LAZY]

"""Solvers: Krylov, stationary, preconditioners, the bandit parameter tuners, sketching least squares.

All return :class:`krylearn.SolverResult` and stop on ``‖r‖ ≤ max(atol, rtol·‖b‖)``."""

from .._lazy import install
from .result import SolverError, SolverResult, SolverState, Status

_LAZY = {
    "cg": ("krylearn.solvers.cg", "cg"),
    "minres": ("krylearn.solvers.minres", "minres"),
    "gmres": ("krylearn.solvers.gmres", "gmres"),
    "bicgstab": ("krylearn.solvers.bicgstab", "bicgstab"),
    "fcg": ("krylearn.solvers.fcg", "fcg"),
    "jacobi": ("krylearn.solvers.jacobi", "jacobi"),
    "gauss_seidel": ("krylearn.solvers.gauss_seidel", "gauss_seidel"),
    "sor": ("krylearn.solvers.sor", "sor"),
    "ssor": ("krylearn.solvers.ssor", "ssor"),
    "solve": ("krylearn.solvers.solve", "solve"),
    "precond": ("krylearn.solvers.precond", None),
    # Learning to Relax (issue 4)
    "TsallisINF": ("krylearn.solvers.tuning", "TsallisINF"),
    "Exp3": ("krylearn.solvers.tuning", "Exp3"),
    "TsallisINFCB": ("krylearn.solvers.tuning", "TsallisINFCB"),
    "ChebCB": ("krylearn.solvers.tuning", "ChebCB"),
    "solve_sequence": ("krylearn.solvers.sequence", "solve_sequence"),
    # sketching least squares (issue 7)
    "lstsq": ("krylearn.solvers.lstsq", "lstsq"),
    "sketches": ("krylearn.solvers.sketches", None),
}
install(__name__, _LAZY)

__all__ = ["SolverResult", "SolverState", "SolverError", "Status", *_LAZY]

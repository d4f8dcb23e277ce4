"""Stationary iterations, one file each: Jacobi, Gauss–Seidel, SOR, SSOR (numba sweeps in
:mod:`._sweeps`) and geometric multigrid as a standalone solver."""

from ..._lazy import install

_LAZY = {
    "jacobi": ("krylearn.solvers.stationary.jacobi", "jacobi"),
    "gauss_seidel": ("krylearn.solvers.stationary.gauss_seidel", "gauss_seidel"),
    "sor": ("krylearn.solvers.stationary.sor", "sor"),
    "ssor": ("krylearn.solvers.stationary.ssor", "ssor"),
    "multigrid": ("krylearn.solvers.stationary.multigrid", "multigrid"),
}
install(__name__, _LAZY)

__all__ = list(_LAZY)

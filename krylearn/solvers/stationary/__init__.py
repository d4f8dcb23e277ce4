"""Stationary iterations, one file each: Jacobi, Gauss–Seidel, SOR, SSOR (numba sweeps in
:mod:`._sweeps`) and geometric multigrid as a standalone solver."""

from ..._lazy import install, same_named

_LAZY = same_named(__name__, "jacobi gauss_seidel sor ssor multigrid")
install(__name__, _LAZY)

__all__ = list(_LAZY)

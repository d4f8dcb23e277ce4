"""Krylov subspace methods, one file each: CG (and its batched, block and torch variants), FCG,
MINRES, MINRES-QLP, GMRES, FGMRES, BiCGSTAB, Chebyshev iteration, LSQR, LSMR and RecyclingCG.

All are built on :mod:`krylearn.solvers._skeleton` and return :class:`krylearn.SolverResult`."""

from ..._lazy import install

_LAZY = {
    "cg": ("krylearn.solvers.krylov.cg", "cg"),
    "fcg": ("krylearn.solvers.krylov.fcg", "fcg"),
    "minres": ("krylearn.solvers.krylov.minres", "minres"),
    "minres_qlp": ("krylearn.solvers.krylov.minres_qlp", "minres_qlp"),
    "gmres": ("krylearn.solvers.krylov.gmres", "gmres"),
    "fgmres": ("krylearn.solvers.krylov.fgmres", "fgmres"),
    "bicgstab": ("krylearn.solvers.krylov.bicgstab", "bicgstab"),
    "chebyshev": ("krylearn.solvers.krylov.chebyshev", "chebyshev"),
    "lsqr": ("krylearn.solvers.krylov.lsqr", "lsqr"),
    "lsmr": ("krylearn.solvers.krylov.lsmr", "lsmr"),
    "RecyclingCG": ("krylearn.solvers.krylov.recycling_cg", "RecyclingCG"),
}
install(__name__, _LAZY)

__all__ = list(_LAZY)

"""Krylov subspace methods, one file each: CG (and its batched, block and torch variants), FCG,
MINRES, MINRES-QLP, GMRES, FGMRES, BiCGSTAB, Chebyshev iteration, LSQR, LSMR and RecyclingCG.

All are built on :mod:`krylearn.solvers._skeleton` and return :class:`krylearn.SolverResult`."""

from ..._lazy import exports, install, same_named

_LAZY = {**same_named(__name__, "cg fcg minres minres_qlp gmres fgmres bicgstab chebyshev lsqr lsmr"),
         **exports(__name__, {"recycling_cg": "RecyclingCG"})}
install(__name__, _LAZY)

__all__ = list(_LAZY)

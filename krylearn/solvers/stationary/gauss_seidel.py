"""Gauss–Seidel: SOR with ω = 1 (forward sweeps).

Reference: Y. Saad, "Iterative Methods for Sparse Linear Systems", 2nd ed., SIAM 2003, §4.1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._common import rescaled
from .sor import SOR

if TYPE_CHECKING:  # annotations only
    from ...solvers.result import SolverResult
    from ...typing import ArrayLike, Callback, OperatorLike

__all__ = ["gauss_seidel", "GaussSeidel"]


class GaussSeidel(SOR):
    """Gauss–Seidel prepared once for a matrix (see :class:`krylearn.solvers.stationary.sor.SOR`)."""

    method = "gauss_seidel"

    def solve(self, b, x0=None, *, rtol=1e-5, atol=0.0, maxiter=None, callback=None, relative_to="b"):
        return super().solve(b, x0, omega=1.0, rtol=rtol, atol=atol, maxiter=maxiter, callback=callback,
                             relative_to=relative_to)


@rescaled
def gauss_seidel(A: OperatorLike, b: ArrayLike, x0: ArrayLike | None = None, *, rtol: float = 1e-5, atol: float = 0.0, maxiter: int | None = None, callback: Callback | None = None, relative_to: str = "b") -> SolverResult:
    """Solve ``A x = b`` by Gauss–Seidel sweeps (forward, ``x_i ← (b_i − Σ_{j≠i} a_ij x_j)/a_ii``).

    Same as ``kl.sor(A, b, omega=1.0, ...)``; one iteration is one sweep.

    Stopping rule, and what ``res.x``, ``res.iterations`` and ``res.residuals`` hold: as
    :func:`krylearn.sor` (the residual of ``x_k`` is computed inside sweep ``k+1``, which is undone).

    Parameters
    ----------
    A : sparse matrix, dense array or operator with ``tocsr()``, shape (n, n)
        Nonzero diagonal; converges e.g. for SPD or strictly diagonally dominant ``A``.
    b, x0, rtol, atol, maxiter, callback, relative_to
        As in :func:`krylearn.sor`.

    Returns
    -------
    SolverResult

    References
    ----------
    Y. Saad, Iterative Methods for Sparse Linear Systems, 2nd ed., SIAM 2003, §4.1.

    Examples
    --------
    Gauss–Seidel is SOR with ω = 1, sweep for sweep:

    >>> import krylearn as kl, numpy as np
    >>> A, b = kl.pde.poisson((8, 8)), np.ones(64)
    >>> res = kl.gauss_seidel(A, b, rtol=1e-6)
    >>> res.converged, res.iterations == kl.sor(A, b, omega=1.0, rtol=1e-6).iterations
    (True, True)
    """
    return GaussSeidel(A).solve(b, x0, rtol=rtol, atol=atol, maxiter=maxiter, callback=callback,
                                relative_to=relative_to)

"""Symmetric SOR (SSOR): a forward SOR sweep followed by a backward one.

Reference: J. W. Sheldon, "On the numerical solution of elliptic difference equations",
Math. Tables Aids Comput. 9 (1955); Y. Saad, "Iterative Methods for Sparse Linear Systems",
2nd ed., SIAM 2003, §4.1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._common import rescaled
from .sor import SOR

if TYPE_CHECKING:  # annotations only (krylearn.typing)
    from ...typing import ArrayLike, Callback, OperatorLike
    from ..result import SolverResult

__all__ = ["ssor", "SSOR"]


class SSOR(SOR):
    """SSOR prepared once for a matrix (see :class:`krylearn.solvers.stationary.sor.SOR`)."""

    method = "ssor"
    _kind = "ssor"


@rescaled
def ssor(A: OperatorLike, b: ArrayLike, x0: ArrayLike | None = None, *, omega: float = 1.0, rtol: float = 1e-5,
         atol: float = 0.0, maxiter: int | None = None, callback: Callback | None = None,
         relative_to: str = "b") -> SolverResult:
    """Solve ``A x = b`` by symmetric SOR: each iteration is a forward then a backward SOR sweep.

    The iteration matrix is that of the SSOR splitting ``M = (D+ωL) D⁻¹ (D+ωU) / (ω(2−ω))``
    (for SSOR as a preconditioner of CG use :func:`krylearn.precond.ssor`).

    Stopping rule, and what ``res.x``, ``res.iterations`` and ``res.residuals`` hold: as
    :func:`krylearn.sor`, the residual of ``x_k`` being computed inside the forward sweep of
    iteration ``k+1`` (which is undone when the test passes).

    Parameters
    ----------
    A : sparse matrix, dense array or operator with ``tocsr()``, shape (n, n)
        Nonzero diagonal.
    b, x0, omega, rtol, atol, maxiter, callback, relative_to
        As in :func:`krylearn.sor`; ``omega`` must lie in (0, 2).

    Returns
    -------
    SolverResult
        ``iterations`` counts double sweeps.

    References
    ----------
    Y. Saad, Iterative Methods for Sparse Linear Systems, 2nd ed., SIAM 2003, §4.1.

    Examples
    --------
    With a good ω, SSOR needs far fewer (double) sweeps than Gauss–Seidel:

    >>> import krylearn as kl, numpy as np
    >>> A, b = kl.pde.poisson((8, 8)), np.ones(64)
    >>> kl.ssor(A, b, omega=1.5, rtol=1e-6).iterations < kl.gauss_seidel(A, b, rtol=1e-6).iterations / 2
    True
    """
    return SSOR(A).solve(b, x0, omega=omega, rtol=rtol, atol=atol, maxiter=maxiter, callback=callback,
                         relative_to=relative_to)

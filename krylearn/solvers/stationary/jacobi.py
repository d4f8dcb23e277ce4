"""(Damped) Jacobi iteration ``x ← x + ω D⁻¹ (b − A x)``.

Reference: C. G. J. Jacobi (1845); Y. Saad, "Iterative Methods for Sparse Linear Systems",
2nd ed., SIAM 2003, §4.1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._common import rescaled
from .sor import SOR

if TYPE_CHECKING:  # annotations only (krylearn.typing)
    from ...typing import ArrayLike, Callback, OperatorLike
    from ..result import SolverResult

__all__ = ["jacobi", "Jacobi"]


class Jacobi(SOR):
    """Damped Jacobi prepared once for a matrix; :meth:`solve` per right-hand side (the set-up and
    the solve of :class:`krylearn.solvers.stationary.sor.SOR`, with Jacobi sweeps)."""

    method = "jacobi"
    _kind = "jacobi"


@rescaled
def jacobi(A: OperatorLike, b: ArrayLike, x0: ArrayLike | None = None, *, rtol: float = 1e-5, atol: float = 0.0,
           maxiter: int | None = None, callback: Callback | None = None, omega: float = 1.0,
           relative_to: str = "b") -> SolverResult:
    """Solve ``A x = b`` by (damped) Jacobi: ``x_{k+1} = x_k + ω D⁻¹ (b − A x_k)``.

    One iteration is one sweep over the CSR rows (a numba kernel) that computes ``r_k = b − A x_k``
    and ``x_{k+1}`` in the same pass.

    Stopping rule: ``‖b − A x_k‖₂ ≤ max(atol, rtol·‖b‖₂)`` (or ``rtol·‖r_0‖₂`` with
    ``relative_to="r0"``), tested on the residual computed in sweep ``k+1``; the returned ``x``
    is ``x_k`` itself (the tested iterate), ``iterations = k``.

    Parameters
    ----------
    A : sparse matrix, dense array or operator with ``tocsr()``, shape (n, n)
        Nonzero diagonal. Converges when the spectral radius of ``I − ω D⁻¹ A`` is below 1
        (e.g. strictly diagonally dominant ``A``; for SPD ``A`` with ``ω < 2/λ_max(D⁻¹A)``).
    b : array_like, shape (n,)
    x0 : array_like, optional
    rtol, atol : float
    maxiter : int, optional
        Sweep limit (default ``10 n``).
    callback : callable, optional
        ``callback(state) -> bool`` per iterate; True stops (USER_STOP).
    omega : float
        Damping factor (> 0; default 1: plain Jacobi).
    relative_to : {"b", "r0"}
        Reference of ``rtol``.

    Returns
    -------
    SolverResult
        A non-convergent Jacobi ends with NOT_FINITE (overflow), STAGNATION (no new residual
        minimum in 1000 sweeps; ``info["reason"]`` says "diverging") or MAX_ITERATIONS.

    References
    ----------
    Y. Saad, Iterative Methods for Sparse Linear Systems, 2nd ed., SIAM 2003, §4.1.

    Examples
    --------
    >>> import krylearn as kl, numpy as np, scipy.sparse as sp
    >>> A = sp.diags([-1.0, 4.0, -1.0], [-1, 0, 1], shape=(20, 20), format="csr")
    >>> kl.jacobi(A, np.ones(20), rtol=1e-10).converged
    True
    """
    return Jacobi(A).solve(b, x0, omega=omega, rtol=rtol, atol=atol, maxiter=maxiter, callback=callback,
                           relative_to=relative_to)

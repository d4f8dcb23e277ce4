"""FGMRES: flexible GMRES, for a right preconditioner that may change at every step.

Reference: Y. Saad, "A flexible inner-outer preconditioned GMRES algorithm", SIAM J. Sci. Comput.
14(2):461–469 (1993); Y. Saad, "Iterative Methods for Sparse Linear Systems", 2nd ed., SIAM 2003,
Algorithm 9.6.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._common import rescaled
from .gmres import gmres_iteration

if TYPE_CHECKING:  # annotations only (krylearn.typing)
    from ...typing import ArrayLike, Callback, OperatorLike, PreconditionerLike
    from ..result import SolverResult

__all__ = ["fgmres"]


@rescaled
def fgmres(A: OperatorLike, b: ArrayLike, x0: ArrayLike | None = None, *, rtol: float = 1e-5, atol: float = 0.0,
           restart: int = 30, maxiter: int | None = None, M: PreconditionerLike = None,
           callback: Callback | None = None, orthogonalization: str = "mgs") -> SolverResult:
    """Solve ``A x = b`` by flexible GMRES(restart): the preconditioner may vary between steps.

    Algorithm: as right-preconditioned GMRES (:func:`krylearn.gmres`), Arnoldi on ``A z_j`` with
    ``z_j = M v_j``, but the vectors ``z_j`` are stored and the cycle ends with ``x += Z y``
    instead of ``x += M V y``. The Arnoldi relation ``A Z_m = V_{m+1} H̄_m`` holds whatever ``M``
    did at each step, so ``M`` may be nonlinear or change from step to step: an inner Krylov solve
    to a loose tolerance, a multigrid cycle with adaptive smoothing, a learned preconditioner
    (:class:`krylearn.learned.DCDMPreconditioner`). The residual is still minimised over
    ``x0 + span(Z)``; the cost over GMRES is ``m × n`` memory for ``Z`` and no extra ``M`` product
    at the end of a cycle. With a fixed ``M`` the iterates equal GMRES's in exact arithmetic.

    Stopping rule: the unpreconditioned residual 2-norm ``‖b − A x‖₂ ≤ max(atol, rtol·‖b‖₂)``,
    estimated by the Givens recurrence and confirmed with a true residual (as in ``gmres``).

    Parameters
    ----------
    A : operator-like, shape (n, n)
    b : array_like, shape (n,)
    x0 : array_like, optional
        Starting guess (default zeros).
    rtol, atol : float
    restart : int
        Inner steps per cycle (default 30, capped at ``n``).
    maxiter : int, optional
        Limit on the total number of inner steps (default ``10 n``).
    M : operator-like or callable, optional
        Right preconditioner ``r -> z``, applied once per inner step; may be variable or nonlinear.
    callback : callable, optional
        ``callback(state) -> bool`` after each inner step.
    orthogonalization : {"mgs", "cgs2"}

    Returns
    -------
    SolverResult
        As :func:`krylearn.gmres` (``method`` is ``"fgmres"``).

    Examples
    --------
    >>> import numpy as np, krylearn as kl
    >>> A = kl.pde.poisson((32, 32))
    >>> inner = lambda r: kl.cg(A, r, rtol=1e-2).x        # a variable preconditioner: a loose CG solve
    >>> res = kl.fgmres(A, np.ones(A.shape[0]), M=inner, rtol=1e-10)
    >>> res.converged
    True
    """
    return gmres_iteration(A, b, x0, rtol=rtol, atol=atol, restart=restart, maxiter=maxiter, M=M,
                           callback=callback, orthogonalization=orthogonalization, flexible=True)

"""LSQR: least squares by Golub–Kahan bidiagonalisation (CG on the normal equations, stably).

Reference: C. C. Paige and M. A. Saunders, "LSQR: An algorithm for sparse linear equations and sparse
least squares", ACM Trans. Math. Softw. 8(1):43–71 (1982); SciPy's ``scipy.sparse.linalg.lsqr`` is the
reference implementation the tests compare with.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ._bidiag import end_of_step, lsqr_rotation, lsqr_update, start_least_squares
from .._common import rescaled
from ..result import Status

if TYPE_CHECKING:  # annotations only (krylearn.typing)
    from ...typing import ArrayLike, Callback, OperatorLike
    from ..result import SolverResult

__all__ = ["lsqr"]


@rescaled
def lsqr(A: OperatorLike, b: ArrayLike, x0: ArrayLike | None = None, *, rtol: float = 1e-8, atol: float = 0.0,
         maxiter: int | None = None, damp: float = 0.0, callback: Callback | None = None) -> SolverResult:
    """Solve ``min ‖A x − b‖₂`` (or ``min ‖A x − b‖² + damp²‖x‖²``) for any ``m × n`` ``A`` by LSQR.

    Algorithm: the Golub–Kahan process ``β₁u₁ = b − A x₀``, ``α₁v₁ = Aᵀu₁``,
    ``β_{k+1}u_{k+1} = A v_k − α_k u_k``, ``α_{k+1}v_{k+1} = Aᵀu_{k+1} − β_{k+1} v_k`` builds a lower
    bidiagonal ``B_k``; Givens rotations solve ``min ‖β₁e₁ − B_k y‖`` incrementally and
    ``x_k = x₀ + V_k y_k`` is updated with one vector recurrence. In exact arithmetic the iterates are
    those of CG on ``AᵀA x = Aᵀb``, computed without forming ``AᵀA``. One product with ``A`` and one
    with ``Aᵀ`` per iteration, five vectors of storage.

    Stopping rule: CONVERGED when ``‖b − A x‖₂ ≤ max(atol, rtol·‖b‖₂)`` (a consistent system), or
    when ``‖Aᵀr‖ ≤ rtol·‖A‖·‖r‖`` (a least-squares solution: ``res.info["least_squares"]`` is True;
    ``‖A‖`` is the Frobenius estimate of the process, SciPy's test 2 with ``atol = rtol``). ``‖r‖``
    and ``‖Aᵀr‖`` are the recurrences' estimates; the final ``‖r‖`` is recomputed.

    Parameters
    ----------
    A : operator-like, shape (m, n)
        Needs ``matvec`` and ``rmatvec`` (``Aᴴ``).
    b : array_like, shape (m,)
    x0 : array_like, shape (n,), optional
    rtol, atol : float
    maxiter : int, optional
        Default ``max(2 n, 20)``.
    damp : float
        Tikhonov regularisation ``damp ≥ 0``.
    callback : callable, optional

    Returns
    -------
    SolverResult
        ``residuals`` (‖r_k‖ estimates), ``info["normal_residuals"]`` (‖Aᵀr_k‖ estimates),
        ``info["anorm"]``, ``info["acond"]`` (estimates), ``info["least_squares"]``.

    Examples
    --------
    >>> import numpy as np, krylearn as kl
    >>> A = np.random.default_rng(0).standard_normal((100, 20))
    >>> res = kl.lsqr(A, np.ones(100), rtol=1e-10)
    >>> np.allclose(res.x, np.linalg.lstsq(A, np.ones(100), rcond=None)[0])
    True
    """
    A, b, x, maxiter, damp, tol, mon, gk, normal, done = start_least_squares(A, b, x0, maxiter, damp, rtol, atol,
                                                                             callback, "lsqr")
    if done is not None:
        return done
    beta, alpha = gk.beta, gk.alpha
    w = gk.v.copy()
    phibar, rhobar = beta, alpha
    anorm2 = alpha * alpha
    ddnorm = 0.0
    res2 = 0.0
    it = 0
    status = Status.MAX_ITERATIONS
    while it < maxiter:
        beta, alpha = gk.step()
        anorm2 += beta * beta + alpha * alpha + damp * damp
        if damp > 0.0:  # eliminate the damping row first
            rhobar1 = math.hypot(rhobar, damp)
            cs1, sn1 = rhobar / rhobar1, damp / rhobar1
            psi = sn1 * phibar
            phibar = cs1 * phibar
            res2 += psi * psi
        else:
            rhobar1 = rhobar
        rho, cs, theta, rhobar, phi, phibar = lsqr_rotation(rhobar1, beta, alpha, phibar)
        ddnorm += lsqr_update(x, w, gk.v, phi / rho, -theta / rho) / (rho * rho)
        it += 1
        rnorm = math.sqrt(phibar * phibar + res2)
        arnorm = abs(phibar * alpha * cs)
        anorm = math.sqrt(anorm2)
        verdict = end_of_step(mon, it, x, rnorm, arnorm, anorm, anorm * math.sqrt(ddnorm), normal, tol, rtol, beta,
                              alpha)
        if verdict is not None:
            status = verdict
            break
    gk.finish(mon, x, b, damp)
    return mon.result(x, status, it)

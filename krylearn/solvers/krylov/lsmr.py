"""LSMR: least squares by Golub–Kahan bidiagonalisation, MINRES on the normal equations.

Reference: D. C.-L. Fong and M. A. Saunders, "LSMR: An iterative algorithm for sparse least-squares
problems", SIAM J. Sci. Comput. 33(5):2950–2971 (2011); SciPy's ``scipy.sparse.linalg.lsmr`` is the
reference implementation the tests compare with.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ._bidiag import end_of_step, lsmr_update, start_least_squares, sym_ortho
from .._common import rescaled
from ..result import Status

if TYPE_CHECKING:  # annotations only (krylearn.typing)
    from ...typing import ArrayLike, Callback, OperatorLike
    from ..result import SolverResult

__all__ = ["lsmr"]


@rescaled
def lsmr(A: OperatorLike, b: ArrayLike, x0: ArrayLike | None = None, *, rtol: float = 1e-8, atol: float = 0.0,
         maxiter: int | None = None, damp: float = 0.0, callback: Callback | None = None) -> SolverResult:
    """Solve ``min ‖A x − b‖₂`` (or with ``damp²‖x‖²``) for any ``m × n`` ``A`` by LSMR.

    Algorithm: the Golub–Kahan process of LSQR (:func:`krylearn.lsqr`), but ``x_k`` minimises
    ``‖Aᵀ(b − A x)‖`` over the Krylov space (MINRES applied to ``AᵀA x = Aᵀb``): two QR
    factorisations by Givens rotations (of the bidiagonal ``B_k`` and of the resulting upper
    bidiagonal) update ``x`` with two vector recurrences, and ``‖r_k‖`` is tracked by a third,
    scalar, one. ``‖Aᵀr_k‖`` decreases monotonically (LSQR's does not), so LSMR may stop earlier on
    least-squares problems. One product with ``A`` and one with ``Aᵀ`` per iteration.

    Stopping rule: as :func:`krylearn.lsqr` — CONVERGED when ``‖b − A x‖₂ ≤ max(atol, rtol·‖b‖₂)``,
    or when ``‖Aᵀr‖ ≤ rtol·‖A‖·‖r‖`` (``res.info["least_squares"]`` is True).

    Parameters
    ----------
    A : operator-like, shape (m, n)
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
        ``residuals`` (‖r_k‖ estimates, the last one recomputed), ``info["normal_residuals"]``
        (‖Aᵀr_k‖), ``info["anorm"]``, ``info["acond"]``, ``info["least_squares"]``.

    Examples
    --------
    >>> import numpy as np, krylearn as kl
    >>> A = np.random.default_rng(0).standard_normal((100, 20))
    >>> res = kl.lsmr(A, np.ones(100), rtol=1e-10)
    >>> np.allclose(res.x, np.linalg.lstsq(A, np.ones(100), rcond=None)[0])
    True
    """
    A, b, x, maxiter, damp, tol, mon, gk, normal, done = start_least_squares(A, b, x0, maxiter, damp, rtol, atol,
                                                                             callback, "lsmr")
    if done is not None:
        return done
    beta, alpha = gk.beta, gk.alpha
    # first QR (of B_k, with the damping rows) and second QR (of the resulting R_kᵀ)
    zetabar = alpha * beta
    alphabar = alpha
    rho, rhobar, cbar, sbar = 1.0, 1.0, 1.0, 0.0
    h = gk.v.copy()
    hbar = np.zeros_like(x)
    # the ‖r_k‖ recurrence (Fong & Saunders §3.3)
    betadd, betad, rhodold, tautildeold, thetatilde, zeta, dsum = beta, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0
    anorm2 = alpha * alpha
    maxrbar, minrbar = 0.0, math.inf
    it = 0
    status = Status.MAX_ITERATIONS
    while it < maxiter:
        beta, alpha = gk.step()
        chat, shat, alphahat = sym_ortho(alphabar, damp)        # the damping row
        rhoold = rho
        c, s, rho = sym_ortho(alphahat, beta)                  # P_k: first QR
        thetanew = s * alpha
        alphabar = c * alpha
        rhobarold, zetaold = rhobar, zeta
        thetabar = sbar * rho
        cbar, sbar, rhobar = sym_ortho(cbar * rho, thetanew)    # P̄_k: second QR
        zeta = cbar * zetabar
        zetabar = -sbar * zetabar
        # h̄ = h − (θ̄ρ/(ρ_old ρ̄_old)) h̄;  x += (ζ/(ρ ρ̄)) h̄;  h = v − (θ_new/ρ) h
        lsmr_update(x, h, hbar, gk.v, -(thetabar * rho) / (rhoold * rhobarold), zeta / (rho * rhobar),
                    -thetanew / rho)
        # ‖r_k‖ by the third set of rotations
        betaacute = chat * betadd
        betacheck = -shat * betadd
        betahat = c * betaacute
        betadd = -s * betaacute
        thetatildeold = thetatilde
        ctildeold, stildeold, rhotildeold = sym_ortho(rhodold, thetabar)
        thetatilde = stildeold * rhobar
        rhodold = ctildeold * rhobar
        betad = -stildeold * betad + ctildeold * betahat
        tautildeold = (zetaold - thetatildeold * tautildeold) / rhotildeold
        taud = (zeta - thetatilde * tautildeold) / rhodold
        dsum += betacheck * betacheck
        rnorm = math.sqrt(dsum + (betad - taud) ** 2 + betadd * betadd)
        anorm2 += beta * beta
        anorm = math.sqrt(anorm2)
        anorm2 += alpha * alpha
        arnorm = abs(zetabar)
        maxrbar = max(maxrbar, rhobarold)
        if it > 0:
            minrbar = min(minrbar, rhobarold)
        it += 1
        acond = max(maxrbar, rhotildeold) / min(minrbar, rhotildeold)
        verdict = end_of_step(mon, it, x, rnorm, arnorm, anorm, acond, normal, tol, rtol, beta, alpha)
        if verdict is not None:
            status = verdict
            break
    gk.finish(mon, x, b, damp)
    return mon.result(x, status, it)

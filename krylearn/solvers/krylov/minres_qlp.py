"""MINRES-QLP: minimum-length solutions of symmetric (possibly singular, possibly inconsistent) systems.

References: S.-C. T. Choi, C. C. Paige, M. A. Saunders, "MINRES-QLP: a Krylov subspace method for
indefinite or singular symmetric systems", SIAM J. Sci. Comput. 33(4):1810–1836 (2011); S.-C. T. Choi and
M. A. Saunders, "Algorithm 937: MINRES-QLP for symmetric and Hermitian linear equations and
least-squares problems", ACM TOMS 40(2) (2014). Krylov.jl's ``minres_qlp`` (the simplified variant
without MINRES phases) was read for the order of the recurrences.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ._bidiag import sym_ortho
from .._common import rescaled
from .._skeleton import KrylovRun
from ..result import Status

if TYPE_CHECKING:  # annotations only (krylearn.typing)
    from ...typing import ArrayLike, Callback, OperatorLike, PreconditionerLike
    from ..result import SolverResult

__all__ = ["minres_qlp"]

_EPS = np.finfo(np.float64).eps


@rescaled
def minres_qlp(A: OperatorLike, b: ArrayLike, x0: ArrayLike | None = None, *, rtol: float = 1e-5, atol: float = 0.0,
               maxiter: int | None = None, M: PreconditionerLike = None, callback: Callback | None = None,
               shift: float = 0.0, artol: float | None = None) -> SolverResult:
    """Solve ``(A − shift·I) x = b`` for symmetric/Hermitian ``A`` — or, when it is singular and ``b`` is
    not in its range, find the **minimum-length** least-squares solution — by MINRES-QLP.

    Algorithm: the Lanczos process of MINRES builds ``T_k``; MINRES factors ``T_k = Q_kᵀ R_k`` (left
    reflections) and solves with ``R_k``, whose last diagonal entries go to zero when ``A`` is singular,
    so that its iterates grow without bound on inconsistent systems. MINRES-QLP factors further
    ``R_k = L_k P_k`` (two right reflections per step), solves the lower-triangular ``L_k t = Q_k β₁e₁``
    and forms ``x_k = V_k P_kᵀ t``; the directions ``W = V P_kᵀ`` are final two steps later, so ``x``
    is updated with the component that can no longer change, and the last one or two are added at the
    end — or, on an inconsistent system, the last (whose pivot is ≈ 0, the null space) is dropped: the
    result is the minimum-length least-squares solution. Same cost per iteration as MINRES (one
    product, a few vector updates).

    Stopping rule: CONVERGED when ``‖b − (A − shift·I) x‖₂ ≤ max(atol, rtol·‖b‖₂)`` (confirmed with a
    true residual), or — with ``info["least_squares"] = True`` — when ``‖A r‖`` has dropped by
    ``artol`` (default ``max(rtol, √ε)``) and the last pivot of ``L_k`` is below ``artol·‖A‖``: the
    system is inconsistent and ``x`` is the minimum-length least-squares solution. STAGNATION when the
    condition estimate exceeds ``1/ε``.

    Parameters
    ----------
    A : operator-like, shape (n, n), Hermitian
    b : array_like, shape (n,)
    x0 : array_like, optional
        The result is ``x0`` plus the minimum-length correction.
    rtol, atol : float
    maxiter : int, optional
        Default ``4 n``.
    M : operator-like, optional
        SPD preconditioner (residuals are then minimised in the ``M``-norm).
    callback : callable, optional
    shift : float
    artol : float, optional
        Relative tolerance of the least-squares test (above).

    Returns
    -------
    SolverResult
        ``info``: ``anorm``, ``acond`` (estimates), ``arnorm`` (``‖A r‖`` estimate), ``least_squares``.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp, krylearn as kl
    >>> n = 50
    >>> L = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(n, n), format="lil"); L[0, 0] = L[-1, -1] = 1.0
    >>> b = np.random.default_rng(0).standard_normal(n)      # not in the range of L (all-Neumann)
    >>> res = kl.minres_qlp(kl.aslinearoperator(L.tocsr(), symmetric=True), b, rtol=1e-10)
    >>> np.allclose(res.x, np.linalg.pinv(L.toarray()) @ b, atol=1e-6)
    True
    """
    run = KrylovRun("minres_qlp", A, b, x0, M=M, maxiter=maxiter, rtol=rtol, atol=atol)
    if run.zero_rhs is not None:
        return run.zero_rhs
    A, b, x, M, tol = run.A, run.b, run.x, run.M, run.tol
    maxiter = 4 * b.shape[0] if maxiter is None else run.maxiter
    artol = max(float(rtol), math.sqrt(_EPS)) if artol is None else float(artol)
    dtype = b.dtype
    shift = float(shift)

    def op(v):
        y = np.array(A.matvec(v), dtype=dtype, copy=True)
        if shift != 0.0:
            y -= shift * v
        return y

    # each cycle records its own start (below): no r₀ here
    run.start(callback, matvec=op, name="minres_qlp" if M is None else "pminres_qlp", record_initial=False)
    mon = run.mon
    it = 0
    while True:
        # each cycle solves for the minimum-length correction of the current residual; a cycle whose
        # recurrence (in the M-norm, with a preconditioner) met the tolerance but whose true 2-norm residual
        # does not is followed by another from the true residual (TrueResidualCheck limits the restarts)
        r0 = b - op(x) if np.any(x) else b.copy()
        dx = np.zeros_like(x)
        status, it, rnorm = _qlp(op, M, r0, dx, tol, maxiter, mon, artol, dtype, it)
        x += dx
        if status is not Status.CONVERGED or mon.info.get("least_squares"):
            break
        _, _, verdict = run.after_cycle(x, it)
        if verdict is not None:
            status = verdict
            break
    if status is not Status.CONVERGED or mon.info.get("least_squares"):
        run.report_true_residual(x, op)
    return mon.result(x, status, it)


def _qlp(op, M, r0, x, tol, maxiter, mon, artol, dtype, it0=0):
    """The MINRES-QLP recurrences on ``(A − σI) Δx = r0``; ``x`` (zero on entry) receives ``Δx``.
    Iterations are counted from ``it0`` (a restart continues the count and the residual history)."""
    n = r0.shape[0]
    u = r0.copy()                                    # u_k = M⁻¹ v_k (unpreconditioned Lanczos vectors)
    v = u if M is None else np.asarray(M.matvec(u), dtype=dtype)
    beta = math.sqrt(max(float(np.real(np.vdot(u, v))), 0.0))
    if M is not None and not beta > 0:
        mon.info["reason"] = "the preconditioner M is not positive definite"
        return Status.INDEFINITE, 0, float("nan")
    u = u / beta
    v = u if M is None else v / beta
    u_prev = np.zeros(n, dtype=dtype)
    rnorm = beta
    if it0 == 0:
        mon.record(0, rnorm, x=x)
    zetabar = beta                                   # last entry of Q_k β₁e₁ (the residual norm)
    c1 = c2 = 1.0                                    # left reflections of steps k−1, k−2
    s1 = s2 = 0.0
    gammabar_prev = 0.0
    mubar_prev = mubis_prev2 = psibar_prev2 = 0.0
    xi_prev = 0.0
    tau = tau1 = tau2 = 0.0
    mubis1 = mubar = psibar1 = 0.0
    w = np.zeros(n, dtype=dtype)                     # w̄_k (the newest, not final)
    w1 = np.zeros(n, dtype=dtype)                    # ẘ_{k−1}
    anorm2 = 0.0
    mumin, mumax = math.inf, 0.0
    arnorm_first = None
    it = it0
    status = Status.MAX_ITERATIONS
    least_squares = False
    k = 0
    while it < maxiter:
        it += 1
        k = it - it0                                 # the step within this cycle
        # Lanczos: β_{k+1} u_{k+1} = (A − σI) v_k − α_k u_k − β_k u_{k−1}
        p = op(v)
        if k >= 2:
            p -= beta * u_prev
        alpha = float(np.real(np.vdot(v, p)))
        p -= alpha * u
        v_next = p if M is None else np.asarray(M.matvec(p), dtype=dtype)
        beta_next2 = float(np.real(np.vdot(p, v_next)))
        if beta_next2 < 0:
            mon.info["reason"] = "the preconditioner M is not positive definite"
            return Status.INDEFINITE, it, rnorm
        beta_next = math.sqrt(beta_next2)
        if not (math.isfinite(alpha) and math.isfinite(beta_next)):
            mon.record(it, rnorm, x=x)
            return Status.NOT_FINITE, it, rnorm
        anorm2 += alpha * alpha + beta * beta + beta_next * beta_next
        # QR of T_k: apply the reflections of steps k−2 and k−1 to the new column, then make step k's
        if k >= 3:
            eps2 = s2 * beta
            gammabar_prev = -c2 * beta
        if k >= 2:
            if k == 2:
                gammabar_prev = beta
            gamma1 = c1 * gammabar_prev + s1 * alpha
            lambar = s1 * gammabar_prev - c1 * alpha
        else:
            lambar = alpha
        c, s, lam = sym_ortho(lambar, beta_next)
        zeta = c * zetabar
        zetabar_next = s * zetabar
        # LQ of R_k: two right reflections make the new column of L_k (pivots μ, subdiagonals ψ, ρ)
        if k == 1:
            mubar = lam
        elif k == 2:
            cp, sp, mubis1 = sym_ortho(mubar_prev, gamma1)
            psibar1 = sp * lam
            mubar = -cp * lam
        else:
            cp, sp, mu2 = sym_ortho(mubis_prev2, eps2)
            psi2 = cp * psibar_prev2 + sp * gamma1
            theta = sp * psibar_prev2 - cp * gamma1
            rho2 = sp * lam
            eta = -cp * lam
            cd, sd, mubis1 = sym_ortho(mubar_prev, theta)
            psibar1 = sd * eta
            mubar = -cd * eta
        # forward substitution in L_k t = z; the last two entries of t are revised at every step
        if mubar == 0.0:
            mon.info["reason"] = "L_k is exactly singular"
            status, least_squares = Status.CONVERGED, True
            break
        if k == 1:
            tau = zeta / mubar
        elif k == 2:
            tau1 = tau * mubar_prev / mubis1
            xi = zeta
            tau = (xi - psibar1 * tau1) / mubar
        else:
            tau2 = tau1 * mubis_prev2 / mu2
            tau1 = (xi_prev - psi2 * tau2) / mubis1
            xi = zeta - rho2 * tau2
            tau = (xi - psibar1 * tau1) / mubar
        # directions W = V P_kᵀ: w_{k−2} is final and enters x now
        if k == 1:
            w[:] = v
        elif k == 2:
            w1, w = w, w1
            w[:] = sp * w1 - cp * v
            w1 *= cp
            w1 += sp * v
        else:
            final = w1                                   # ẘ_{k−2} → w_{k−2}
            x += (cp * tau2) * final
            x += (sp * tau2) * v
            aux = sp * final - cp * v
            wbar_prev = w
            w1 = cd * wbar_prev + sd * aux               # ẘ_{k−1}
            w = sd * wbar_prev - cd * aux                # w̄_k
        # estimates
        rnorm = abs(zetabar_next)
        arnorm = abs(zetabar) * math.hypot(lambar, c1 * beta_next)
        if arnorm_first is None:
            arnorm_first = arnorm
        anorm = math.sqrt(anorm2)
        piv = [abs(mubar)] + ([mubis1] if k >= 2 else []) + ([abs(mu2)] if k >= 3 else [])
        mumax = max(mumax, *piv)
        mumin = min(mumin, *piv)
        acond = mumax / mumin if mumin > 0 else math.inf
        mon.info.update(anorm=anorm, acond=acond, arnorm=arnorm)
        # next step's state
        if k >= 2:
            s2, c2 = s1, c1
            xi_prev = xi
            mubis_prev2, psibar_prev2 = mubis1, psibar1
        s1, c1 = s, c
        mubar_prev = mubar
        zetabar = zetabar_next
        u_prev, u = u, (p / beta_next if beta_next > 0 else p)
        v = u if M is None else (v_next / beta_next if beta_next > 0 else v_next)
        beta = beta_next
        if rnorm <= tol:
            status = Status.CONVERGED
            mon.record(it, rnorm, x=x)
            break
        if arnorm <= artol * arnorm_first and abs(mubar) <= artol * anorm:
            status, least_squares = Status.CONVERGED, True
            mon.record(it, rnorm, x=x)
            break
        if 1.0 + 1.0 / acond <= 1.0:
            mon.info["reason"] = "the condition estimate exceeds 1/eps"
            status = Status.STAGNATION
            mon.record(it, rnorm, x=x)
            break
        if beta_next <= _EPS ** 0.75 * anorm:
            # invariant subspace: the Krylov space holds the (least-squares) solution
            status, least_squares = Status.CONVERGED, rnorm > tol
            mon.record(it, rnorm, x=x)
            break
        if mon.record(it, rnorm, x=x):
            status = Status.USER_STOP
            break
    # the last two directions: w_{k−1} always, w̄_k unless its pivot is the null space's
    if it - it0 >= 2:
        x += tau1 * w1
    if not least_squares:
        x += tau * w
    mon.info["least_squares"] = least_squares
    if least_squares:
        mon.info.setdefault("reason", "b is not in the range of A: x is the minimum-length least-squares solution")
    return status, it, rnorm

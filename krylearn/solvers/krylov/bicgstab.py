"""BiCGSTAB: biconjugate gradient stabilized method for nonsymmetric systems.

Reference: H. A. van der Vorst, "Bi-CGSTAB: a fast and smoothly converging variant of Bi-CG
for the solution of nonsymmetric linear systems", SIAM J. Sci. Stat. Comput. 13(2):631-644
(1992); right-preconditioned form as in Y. Saad, "Iterative Methods for Sparse Linear
Systems", 2nd ed., SIAM 2003, Algorithm 7.7 with §9.3.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numba as nb
import numpy as np

from .._common import rescaled
from .._kernels import NB_PLAIN, NB_REDUCE, dot
from .._skeleton import KrylovRun
from ..result import Status

if TYPE_CHECKING:  # annotations only (krylearn.typing)
    from ...typing import ArrayLike, Callback, OperatorLike, PreconditionerLike
    from ..result import SolverResult

__all__ = ["bicgstab"]

_EPS = np.finfo(np.float64).eps


# fused one-pass kernels for real float64 vectors (other dtypes use NumPy expressions)
@nb.njit(**NB_PLAIN)
def _p_update(p, r, v, beta, omega):
    """p = r + beta (p - omega v)"""
    for i in range(p.shape[0]):
        p[i] = r[i] + beta * (p[i] - omega * v[i])


@nb.njit(**NB_REDUCE)
def _s_update(s, r, v, alpha):
    """s = r - alpha v; returns s.s"""
    acc = 0.0
    for i in range(s.shape[0]):
        si = r[i] - alpha * v[i]
        s[i] = si
        acc += si * si
    return acc


@nb.njit(**NB_REDUCE)
def _dot2(t, s):
    """(t.s, t.t)"""
    ts = 0.0
    tt = 0.0
    for i in range(t.shape[0]):
        ts += t[i] * s[i]
        tt += t[i] * t[i]
    return ts, tt


@nb.njit(**NB_REDUCE)
def _xr_update(x, phat, shat, r, s, t, alpha, omega):
    """x += alpha phat + omega shat; r = s - omega t; returns r.r"""
    acc = 0.0
    for i in range(x.shape[0]):
        x[i] += alpha * phat[i] + omega * shat[i]
        ri = s[i] - omega * t[i]
        r[i] = ri
        acc += ri * ri
    return acc


def _torch(A, b, *args, **kwargs):
    from .bicgstab_torch import bicgstab_torch

    return bicgstab_torch(A, b, *args, **kwargs)


@rescaled(torch_impl=_torch)
def bicgstab(A: OperatorLike, b: ArrayLike, x0: ArrayLike | None = None, *, rtol: float = 1e-5, atol: float = 0.0,
             maxiter: int | None = None, M: PreconditionerLike = None, callback: Callback | None = None,
             check_true_residual: bool = True) -> SolverResult:
    """Solve ``A x = b`` for a general (real or complex) ``A`` by (right-preconditioned) BiCGSTAB.

    Algorithm (van der Vorst 1992), with shadow residual ``r̃ = r_0``: each iteration
    ``ρ = (r̃, r)``, ``p = r + β (p − ω v)``, ``v = A M p``, ``α = ρ/(r̃, v)``,
    ``s = r − α v``, ``t = A M s``, ``ω = (t, s)/(t, t)``, ``x += α M p + ω M s``,
    ``r = s − ω t``. Two matrix products (and two preconditioner applications) per iteration.

    Stopping rule: the **unpreconditioned** residual 2-norm ``‖b − A x‖₂ ≤ max(atol,
    rtol·‖b‖₂)`` (right preconditioning leaves the residual unpreconditioned). The recursive
    residual is tested after each iteration, and also ``s`` after the half step (then
    ``x += α M p`` finishes the iteration); a pass is confirmed by one true residual, and if
    that misses (rounding drift) the iteration restarts from the true residual (at most 5
    times, then STAGNATION). ``residuals`` holds the recursive norms, the true one last.

    Parameters
    ----------
    A : operator-like, shape (n, n)
        Any square operator :func:`krylearn.aslinearoperator` accepts.
    b : array_like, shape (n,)
        A torch tensor runs the iteration in torch on its device
        (:func:`~krylearn.solvers.krylov.bicgstab_torch.bicgstab_torch`); ``res.x`` is then a tensor.
    x0 : array_like, optional
        Starting guess (default zeros). Not modified.
    rtol, atol : float
        Relative and absolute tolerances of the stopping rule above.
    maxiter : int, optional
        Iteration limit (default ``10 n``); one iteration is two products with ``A``.
    M : operator-like or callable, optional
        Right preconditioner approximating ``A⁻¹`` (fixed).
    callback : callable, optional
        ``callback(state) -> bool`` after each iteration; return True to stop (USER_STOP).
    check_true_residual : bool
        Verify convergence with a true residual (one extra product); default True.

    Returns
    -------
    SolverResult
        ``status`` CONVERGED, MAX_ITERATIONS, BREAKDOWN (``ρ = (r̃, r) = 0``: the shadow
        residual is orthogonal to the residual; ``(r̃, v) = 0``; or ``ω = 0``, i.e.
        ``|(t, s)| ≤ ε‖t‖‖s‖``: the stabilising step makes no progress and the next ``β``
        would divide by ``ω`` — the BiCG half step ``x += α M p`` is kept first;
        ``info["reason"]`` says which), USER_STOP, STAGNATION, NOT_FINITE.
        ``info["restarts"]`` counts restarts after a true-residual check disagreed.

    References
    ----------
    .. [1] H. A. van der Vorst, "Bi-CGSTAB: a fast and smoothly converging variant of Bi-CG for
       the solution of nonsymmetric linear systems", SIAM J. Sci. Stat. Comput. 13 (1992) 631–644.
    .. [2] Y. Saad, "Iterative Methods for Sparse Linear Systems", 2nd ed., SIAM 2003, §7.4.2.

    Examples
    --------
    >>> import numpy as np, krylearn as kl
    >>> A = 4 * np.eye(30) + np.diag(np.ones(29), 1) - 2 * np.diag(np.ones(29), -1)
    >>> res = kl.bicgstab(A, np.ones(30), rtol=1e-10)
    >>> res.converged, np.allclose(A @ res.x, 1.0)
    (True, True)
    """
    run = KrylovRun("bicgstab", A, b, x0, M=M, maxiter=maxiter, rtol=rtol, atol=atol)
    if run.zero_rhs is not None:
        return run.zero_rhs
    A, b, x, M, maxiter, tol = run.A, run.b, run.x, run.M, run.maxiter, run.tol
    dtype = b.dtype

    def matvec(v):
        return np.asarray(A.matvec(v), dtype=dtype)

    def precond(v):
        return v if M is None else np.asarray(M.matvec(v), dtype=dtype)

    if (done := run.start(callback, matvec=matvec, name="bicgstab" if M is None else "pbicgstab")) is not None:
        return done
    mon, r, rnorm = run.mon, run.r, run.rnorm

    it = 0
    status = Status.MAX_ITERATIONS

    def breakdown(why):
        mon.info["reason"] = why
        return Status.BREAKDOWN

    while True:
        # (re)start: shadow residual r~ = r
        rt = r.copy()
        rt_norm = rnorm
        p = None
        rho_prev = alpha = omega = 1.0
        converged = False
        while it < maxiter:
            rho = dot(rt, r)
            if not np.isfinite(rho):
                status = Status.NOT_FINITE
                break
            if abs(rho) <= _EPS * _EPS * rt_norm * rnorm:
                status = breakdown("rho = (r~, r) = 0: the shadow residual is orthogonal to the residual")
                break
            if p is None:
                p = r.copy()
                s = np.empty_like(r)
                fast = r.dtype == np.float64
            elif fast:
                _p_update(p, r, v, float((rho / rho_prev) * (alpha / omega)), float(omega))
            else:
                beta = (rho / rho_prev) * (alpha / omega)
                p -= omega * v
                p *= beta
                p += r
            phat = precond(p)
            v = np.ascontiguousarray(matvec(phat))
            rv = dot(rt, v)
            if rv == 0 or not np.isfinite(rv):
                status = breakdown("(r~, A M p) = 0") if rv == 0 else Status.NOT_FINITE
                break
            alpha = rho / rv
            if fast:
                snorm = float(np.sqrt(_s_update(s, r, v, float(alpha))))
            else:
                np.subtract(r, alpha * v, out=s)
                snorm = float(np.linalg.norm(s))
            if snorm <= tol:
                # converged at the half step
                x += alpha * phat
                r = s
                rnorm = snorm
                it += 1
                converged = True
                break
            shat = precond(s)
            t = np.ascontiguousarray(matvec(shat))
            if fast:
                ts, tt = _dot2(t, s)
            else:
                ts, tt = np.vdot(t, s), float(np.real(np.vdot(t, t)))
            if tt == 0.0:
                status = breakdown("t = A M s = 0 (omega undefined)")
                break
            omega = ts / tt
            if abs(ts) <= _EPS * np.sqrt(tt) * snorm or not np.isfinite(omega):
                # t ⟂ s to working precision: omega = 0 and the next beta would divide by it
                if np.isfinite(omega):
                    # keep the BiCG half step (x += α M p, r = s), then report the breakdown
                    x += alpha * phat
                    r = s.copy()
                    rnorm = snorm
                    it += 1
                    mon.record(it, rnorm, x=x)
                    status = breakdown("omega = (t, s)/(t, t) = 0: the stabilising step made no progress")
                else:
                    status = Status.NOT_FINITE
                break
            if fast:
                rnorm = float(np.sqrt(_xr_update(x, np.ascontiguousarray(phat), np.ascontiguousarray(shat),
                                                 r, s, t, float(alpha), float(omega))))
            else:
                x += alpha * phat
                x += omega * shat
                np.subtract(s, omega * t, out=r)
                rnorm = float(np.linalg.norm(r))
            rho_prev = rho
            it += 1
            if not np.isfinite(rnorm):
                mon.record(it, rnorm, x=x)
                status = Status.NOT_FINITE
                break
            if rnorm <= tol:
                converged = True
                break
            if mon.record(it, rnorm, x=x):
                status = Status.USER_STOP
                break
        if not converged:
            if status is Status.MAX_ITERATIONS and len(mon.history) < it + 1:
                mon.record(it, rnorm, x=x)
            break
        if not check_true_residual:
            mon.record(it, rnorm, x=x)
            status = Status.CONVERGED
            break
        r, rnorm, verdict = run.after_cycle(x, it, append=True)
        if verdict is not None:
            status = verdict
            break
    return mon.result(x, status, it)

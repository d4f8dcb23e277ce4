"""BiCGSTAB on torch tensors, on the tensors' device (what :func:`krylearn.bicgstab` runs for a tensor ``b``).

The same algorithm and stopping rule as :func:`krylearn.bicgstab` (van der Vorst 1992, right
preconditioning, the unpreconditioned residual tested and confirmed by a true residual), written
with torch operations so that a CUDA system is solved on the GPU; the host reads two scalars per
iteration. ``A`` and ``M`` as in :mod:`krylearn.solvers.krylov.cg_torch` (tensors, ``TorchOperator``,
callables on tensors; NumPy operators through counted host copies). One right-hand side; a block
``b`` of shape ``(n, k)`` is solved column by column.

Reference: H. A. van der Vorst, SIAM J. Sci. Stat. Comput. 13 (1992) 631–644.
"""

from __future__ import annotations

import numpy as np

from ..result import Status
from .cg_torch import _OneSystem

__all__ = ["bicgstab_torch"]


def bicgstab_torch(A, b, x0=None, *, rtol=1e-5, atol=0.0, maxiter=None, M=None, callback=None,
                   check_true_residual=True):
    """BiCGSTAB for a torch ``b`` of shape ``(n,)``; arguments and result as :func:`krylearn.bicgstab`,
    ``res.x`` a tensor on ``b``'s device and dtype (``info["device"]``). Returns ``NotImplemented``
    for a block ``b`` (the caller then solves column by column)."""
    if b.ndim != 1:
        return NotImplemented
    run = _OneSystem("bicgstab-torch", A, b, x0, rtol, atol, maxiter, M, callback)
    torch, eps, bs, tol, info = run.torch, run.eps, run.bs, run.tol, run.info
    nrm, dot, mv, prec, apply_A, maxiter = run.nrm, run.dot, run.mv, run.prec, run.apply_A, run.maxiter
    x, r, hist, status = run.x, run.r, run.hist, run.status
    r_hat = r.clone()
    p = torch.zeros_like(r)
    v = torch.zeros_like(r)
    rho_prev = alpha = omega = 1.0
    it = misses = 0

    def confirm(xc):
        nonlocal misses
        rt = bs - mv(apply_A, xc)
        tn = nrm(rt)
        if not check_true_residual or tn <= tol:
            return rt, tn, Status.CONVERGED
        misses += 1
        info["restarts"] = misses
        return rt, tn, (Status.STAGNATION if misses > 5 else None)

    while status is None and it < maxiter:
        rho = dot(r_hat, r)
        if rho == 0:
            status, info["reason"] = Status.BREAKDOWN, "rho = (r~, r) = 0"
            break
        beta = (rho / rho_prev) * (alpha / omega)
        p = r + beta * (p - omega * v)
        p_hat = prec(p)
        v = mv(apply_A, p_hat)
        rv = dot(r_hat, v)
        if rv == 0:
            status, info["reason"] = Status.BREAKDOWN, "(r~, A M p) = 0"
            break
        alpha = rho / rv
        s = r - alpha * v
        it += 1
        sn = nrm(s)
        if sn <= tol:  # the half step already meets the rule
            x = x + alpha * p_hat
            r, rn, verdict = confirm(x)
            hist.append(rn if check_true_residual else sn)
            if verdict is not None:
                status = verdict
                break
            r_hat, p, v, rho_prev, alpha, omega = r.clone(), torch.zeros_like(r), torch.zeros_like(r), 1.0, 1.0, 1.0
            continue
        s_hat = prec(s)
        t = mv(apply_A, s_hat)
        tt = dot(t, t)
        omega = dot(t, s) / tt if tt != 0 else 0.0
        x = x + alpha * p_hat + omega * s_hat
        r = s - omega * t
        rn = nrm(r)
        hist.append(rn)
        if not np.isfinite(rn):
            status = Status.NOT_FINITE
            break
        if rn <= tol:
            r, rn, verdict = confirm(x)
            hist[-1] = rn
            if verdict is not None:
                status = verdict
                break
            r_hat, p, v, rho_prev, alpha, omega = r.clone(), torch.zeros_like(r), torch.zeros_like(r), 1.0, 1.0, 1.0
            continue
        if abs(omega) <= eps:
            status, info["reason"] = Status.BREAKDOWN, "omega = 0: the stabilising step makes no progress"
            break
        if run.user_stop(it, rn, x):
            status = Status.USER_STOP
            break
        rho_prev = rho
    if status is None:
        status = Status.MAX_ITERATIONS
    return run.result(x, status, it)

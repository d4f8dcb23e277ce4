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

import time

import numpy as np

from ..._optional import require
from .._common import check_run_options, resolve_maxiter
from .cg_torch import _Apply
from ..result import SolverResult, SolverState, Status

__all__ = ["bicgstab_torch"]


def bicgstab_torch(A, b, x0=None, *, rtol=1e-5, atol=0.0, maxiter=None, M=None, callback=None,
                   check_true_residual=True):
    """BiCGSTAB for a torch ``b`` of shape ``(n,)``; arguments and result as :func:`krylearn.bicgstab`,
    ``res.x`` a tensor on ``b``'s device and dtype (``info["device"]``). Returns ``NotImplemented``
    for a block ``b`` (the caller then solves column by column)."""
    torch = require("torch", "torch tensors in krylearn solvers")
    if b.ndim != 1:
        return NotImplemented
    t0 = time.perf_counter()
    if not (b.is_floating_point() or b.is_complex()):
        b = b.to(torch.float64)
    if not bool(torch.isfinite(b).all()):
        raise ValueError("b contains NaN or Inf")
    n = b.shape[0]
    check_run_options(rtol, atol, callback)
    maxiter = resolve_maxiter(maxiter, n)
    B = b.reshape(n, 1)
    apply_A = _Apply(A, B, "A")
    apply_M = None if M is None else _Apply(M, B, "M")
    eps = float(torch.finfo(b.dtype).eps)

    # scale b to max|b_i| = 1: no square under- or overflows in the working precision
    scale = float(b.abs().max())
    scale = scale if scale > 0 else 1.0
    bs = b / scale

    def nrm(v):
        return float(torch.linalg.vector_norm(v.to(torch.complex128 if v.is_complex() else torch.float64)))

    def dot(u, v):  # uᴴ v, accumulated in double precision, on the host as a Python number
        u64 = u.to(torch.complex128 if u.is_complex() else torch.float64)
        v64 = v.to(u64.dtype if not v.is_complex() else torch.complex128)
        val = torch.vdot(u64.to(v64.dtype), v64)
        return complex(val) if val.is_complex() else float(val)

    def mv(f, v):
        return f(v.reshape(n, 1)).reshape(n)

    def prec(v):
        return v if apply_M is None else mv(apply_M, v)

    b_norm = nrm(bs)
    tol = max(float(atol) / scale, float(rtol) * b_norm)
    info = {"device": str(b.device)}
    if x0 is None:
        x = torch.zeros_like(bs)
        r = bs.clone()
    else:
        if tuple(x0.shape) != (n,) or not bool(torch.isfinite(x0).all()):
            raise ValueError(f"x0 must be a finite tensor of shape ({n},)")
        x = x0.to(device=b.device, dtype=b.dtype) / scale
        r = bs - mv(apply_A, x)
    hist = [nrm(r)]
    status = None
    if b_norm == 0.0:
        x.zero_()
        hist, status = [0.0], Status.CONVERGED
    elif hist[0] <= tol:
        status = Status.CONVERGED
    r_hat = r.clone()
    p = torch.zeros_like(r)
    v = torch.zeros_like(r)
    rho_prev = alpha = omega = 1.0
    it = misses = 0
    state = SolverState("bicgstab-torch", tol * scale)

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
        if callback is not None:
            state.iteration, state.residual_norm, state._x = it, rn * scale, x * scale
            if callback(state):
                status = Status.USER_STOP
                break
        rho_prev = rho
    if status is None:
        status = Status.MAX_ITERATIONS
    if apply_A.host or (apply_M is not None and apply_M.host):
        info["host_products"] = apply_A.host + (apply_M.host if apply_M is not None else 0)
    return SolverResult(x=(x * scale).to(b.dtype), status=status, iterations=it,
                        residuals=np.asarray(hist, dtype=float) * scale, time=time.perf_counter() - t0,
                        method="bicgstab-torch", b_norm=b_norm * scale, tol=tol * scale, info=info)

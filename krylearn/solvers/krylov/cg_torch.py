"""Conjugate gradients on torch tensors, on the tensors' device.

:func:`krylearn.cg` sends a torch ``b`` here. The whole iteration runs in torch on ``b``'s device
and dtype — the products with ``A`` and ``M``, the vector updates and the reductions — so a
CUDA tensor is solved on the GPU with no vector crossing to the host; what the host reads each
iteration is the ``k`` residual norms that the stopping rule tests (``k`` scalars: one small
device-to-host copy, the synchronisation every torch Krylov loop has). ``res.x`` is a tensor on
``b``'s device with ``b``'s dtype.

``A`` may be a torch tensor (dense or sparse, moved once to ``b``'s device and dtype), a
:class:`~krylearn.operators.torch_operator.TorchOperator` (its tensor is used directly), or a
callable on tensors (it receives a vector ``(n,)`` for one right-hand side, the block ``(n, k)``
for ``k``); ``M`` likewise (or None). A krylearn operator that works on NumPy arrays
(a grid stencil, a CSR matrix, ``kl.precond.*``) is accepted too, through a host copy per product;
``res.info["host_products"]`` counts them so that the cost is visible.

Columns: ``b`` of shape ``(n, k)`` runs ``k`` CG recurrences with shared products (as
:func:`~krylearn.solvers.krylov.batched_cg.batched_cg`); a converged column is frozen (its step length
is zero from then on). The stopping rule is the package's, per column, confirmed with the true
residual: ``‖b − A x‖₂ ≤ max(atol, rtol·‖b‖₂)``.

Reference: M. R. Hestenes, E. Stiefel, J. Res. Nat. Bur. Standards 49 (1952); Y. Saad, *Iterative
Methods for Sparse Linear Systems*, 2003, Alg. 9.1.
"""

from __future__ import annotations

import time

import numpy as np

from ..._optional import is_torch_tensor, require
from ...operators.base import LinearOperator
from .._common import check_run_options, resolve_maxiter, single_precision_reason
from .._columns import overall_status
from ..result import SolverError, SolverResult, SolverState, Status

__all__ = ["cg_torch", "is_tensor"]


is_tensor = is_torch_tensor  # the package's one check (krylearn._optional)


class _OneSystem:
    """The frame shared by the one-right-hand-side torch solvers (``bicgstab_torch``, ``minres_torch``):
    ``b`` checked and scaled to ``max|b_i| = 1`` (no square under- or overflows in the working
    precision), ``A`` and ``M`` wrapped by :class:`_Apply`, the tolerance, the start ``x``/``r`` from
    ``x0`` and the recorded ``‖r₀‖``; :meth:`result` undoes the scaling."""

    def __init__(self, method, A, b, x0, rtol, atol, maxiter, M, callback):
        self.method, self.callback = method, callback
        torch = self.torch = require("torch", "torch tensors in krylearn solvers")
        self.t0 = time.perf_counter()
        if not (b.is_floating_point() or b.is_complex()):
            b = b.to(torch.float64)
        if not bool(torch.isfinite(b).all()):
            raise ValueError("b contains NaN or Inf")
        self.b = b
        n = self.n = b.shape[0]
        check_run_options(rtol, atol, callback)
        self.maxiter = resolve_maxiter(maxiter, n)
        B = b.reshape(n, 1)
        self.apply_A = _Apply(A, B, "A")
        self.apply_M = None if M is None else _Apply(M, B, "M")
        self.eps = float(torch.finfo(b.dtype).eps)
        scale = float(b.abs().max())
        self.scale = scale if scale > 0 else 1.0
        self.bs = bs = b / self.scale
        self.b_norm = self.nrm(bs)
        self.tol = max(float(atol) / self.scale, float(rtol) * self.b_norm)
        self.info = {"device": str(b.device)}
        if x0 is None:
            self.x, self.r = torch.zeros_like(bs), bs.clone()
        else:
            if tuple(x0.shape) != (n,) or not bool(torch.isfinite(x0).all()):
                raise ValueError(f"x0 must be a finite tensor of shape ({n},)")
            self.x = x0.to(device=b.device, dtype=b.dtype) / self.scale
            self.r = bs - self.mv(self.apply_A, self.x)
        self.hist = [self.nrm(self.r)]
        #: CONVERGED when b = 0 (x = 0) or x0 already meets the tolerance, else None
        self.status = None
        if self.b_norm == 0.0:
            self.x.zero_()
            self.hist, self.status = [0.0], Status.CONVERGED
        elif self.hist[0] <= self.tol:
            self.status = Status.CONVERGED
        self.state = SolverState(method, self.tol * self.scale)

    def user_stop(self, it, rnorm, x):
        """Report iteration ``it`` to the callback (in the caller's scale); True when it says stop."""
        if self.callback is None:
            return False
        s = self.state
        s.iteration, s.residual_norm, s._x = it, rnorm * self.scale, x * self.scale
        return bool(self.callback(s))

    def nrm(self, v):
        torch = self.torch
        return float(torch.linalg.vector_norm(v.to(torch.complex128 if v.is_complex() else torch.float64)))

    def dot(self, u, v):
        """``uᴴ v`` accumulated in double precision, on the host as a Python number."""
        torch = self.torch
        u64 = u.to(torch.complex128 if u.is_complex() else torch.float64)
        v64 = v.to(u64.dtype if not v.is_complex() else torch.complex128)
        val = torch.vdot(u64.to(v64.dtype), v64)
        return complex(val) if val.is_complex() else float(val)

    def mv(self, f, v):
        return f(v.reshape(self.n, 1)).reshape(self.n)

    def prec(self, v):
        return v if self.apply_M is None else self.mv(self.apply_M, v)

    def result(self, x, status, it):
        """The :class:`SolverResult` in the caller's scale (``res.x`` in ``b``'s dtype)."""
        host = self.apply_A.host + (self.apply_M.host if self.apply_M is not None else 0)
        if host:
            self.info["host_products"] = host
        s = self.scale
        return SolverResult(x=(x * s).to(self.b.dtype), status=status, iterations=it,
                            residuals=np.asarray(self.hist, dtype=float) * s, time=time.perf_counter() - self.t0,
                            method=self.method, b_norm=self.b_norm * s, tol=self.tol * s, info=self.info)


class _Apply:
    """``x ↦ A x`` on tensors of one device and dtype, whatever ``A`` is (see the module docstring)."""

    def __init__(self, A, like, name):
        torch = self.torch = require("torch", "torch tensors in krylearn solvers")
        from ...operators.torch_operator import TorchOperator

        self.host = 0
        self.like = like
        if isinstance(A, TorchOperator):
            A = A.A
        if isinstance(A, torch.Tensor):
            if A.ndim != 2 or A.shape[0] != A.shape[1] or A.shape[0] != like.shape[0]:
                raise ValueError(f"{name} has shape {tuple(A.shape)}, but the system has size {like.shape[0]}")
            dt = like.dtype if not (A.is_complex() and not like.is_complex()) else A.dtype
            self.mat = A.to(device=like.device, dtype=dt)
            m = self.mat
            stored = m if m.layout == torch.strided else (m.values() if m.layout == torch.sparse_csr
                                                           else m.coalesce().values())
            if not bool(torch.isfinite(stored).all()):
                raise ValueError(f"{name} contains NaN or Inf entries")
            self.fn = self._tensor
        elif isinstance(A, LinearOperator) or hasattr(A, "shape") and not callable(A):
            from ...operators.convert import aslinearoperator

            op = aslinearoperator(A)
            if op.shape != (like.shape[0], like.shape[0]):
                raise ValueError(f"{name} has shape {op.shape}, but the system has size {like.shape[0]}")
            self.op = op
            self.fn = self._numpy
        elif callable(A):
            self.fn = self._user
            self.user = A
        else:
            raise TypeError(f"{name} must be a torch tensor, a krylearn operator or a callable on tensors, "
                            f"got {type(A).__name__}")

    def _tensor(self, x):
        return self.mat @ x

    def _user(self, x):
        # a user's callable sees a vector (n,) for one right-hand side, the block (n, k) for k
        if x.ndim == 2 and x.shape[1] == 1:
            return self.user(x[:, 0]).reshape(-1, 1)
        return self.user(x)

    def _numpy(self, x):
        self.host += 1
        xn = x.detach().cpu().numpy()
        y = self.op.matvec(xn) if xn.ndim == 1 else self.op.matmat(xn)
        return self.torch.as_tensor(np.asarray(y), device=x.device).to(x.dtype)

    def __call__(self, x):
        y = self.fn(x)
        if y.dtype != x.dtype and not (y.is_complex() and not x.is_complex()):
            y = y.to(x.dtype)
        return y


def cg_torch(A, b, x0=None, *, rtol=1e-5, atol=0.0, maxiter=None, M=None, callback=None,
             raise_on_indefinite=False, check_true_residual=True, estimate_eigenvalues=False, flexible=False):
    """CG (or PCG) for Hermitian positive definite ``A`` on torch tensors; see the module docstring.

    Arguments as :func:`krylearn.cg`; ``b`` is a torch tensor of shape ``(n,)`` or ``(n, k)``,
    ``x0`` a tensor of the same shape (or None). Returns a :class:`SolverResult` whose ``x`` is a
    tensor on ``b``'s device and dtype; ``info["device"]`` names the device.

    ``flexible=True`` is flexible CG with one kept direction (Notay's FCG(1), what :func:`krylearn.fcg`
    runs with ``truncation=1``): ``α = (p, r)/(p, Ap)`` and the next direction ``z`` A-orthogonalised
    against the last one, so ``M`` may vary between applications (real tensors only)."""
    torch = require("torch", "torch tensors in krylearn solvers")
    t0 = time.perf_counter()
    if estimate_eigenvalues:
        raise ValueError("estimate_eigenvalues is not available for torch tensors yet: pass NumPy arrays")
    if b.ndim not in (1, 2):
        raise ValueError(f"b must have shape (n,) or (n, k), got {tuple(b.shape)}")
    if not (b.is_floating_point() or b.is_complex()):
        b = b.to(torch.float64)
    if not bool(torch.isfinite(b).all()):
        raise ValueError("b contains NaN or Inf")
    single = b.ndim == 1
    B = b.reshape(-1, 1) if single else b
    n, k = B.shape
    check_run_options(rtol, atol, callback)
    maxiter = resolve_maxiter(maxiter, n)
    apply_A = _Apply(A, B, "A")
    apply_M = None if M is None else _Apply(M, B, "M")
    real = torch.float64 if not B.is_complex() else torch.complex128
    eps = float(torch.finfo(B.dtype).eps)

    # per-column scaling by max|b_c|: no square under- or overflows in the working precision
    scale = B.abs().amax(dim=0).to(torch.float64)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    Bs = B / scale.to(B.real.dtype if B.is_complex() else B.dtype)
    bnorm_s = torch.linalg.vector_norm(Bs.to(real), dim=0)
    scale_h = scale.cpu().numpy()
    bnorm = bnorm_s.cpu().numpy() * scale_h
    tol = np.maximum(float(atol) / scale_h, float(rtol) * bnorm_s.cpu().numpy())

    if x0 is None:
        X = torch.zeros_like(Bs)
        R = Bs.clone()
    else:
        if not is_tensor(x0) or tuple(x0.shape) != tuple(b.shape):
            raise ValueError(f"x0 must be a tensor of shape {tuple(b.shape)}")
        if not bool(torch.isfinite(x0).all()):
            raise ValueError("x0 contains NaN or Inf")
        X = x0.reshape(n, k).to(device=B.device, dtype=B.dtype) / scale.to(Bs.real.dtype)
        R = Bs - apply_A(X)

    def norms(V):
        return torch.linalg.vector_norm(V.to(real), dim=0)

    rn = norms(R)
    hist = [rn.cpu().numpy()]
    done = (bnorm_s == 0).cpu().numpy() | (hist[0] <= tol)
    X[:, torch.as_tensor(bnorm_s == 0)] = 0
    status = [Status.CONVERGED if d else None for d in done]
    iters = np.zeros(k, dtype=np.int64)
    info = {"device": str(B.device), "columns": k}

    def precond(V):
        return V if apply_M is None else apply_M(V)

    Z = precond(R)
    rz = (R.conj() * Z).sum(0).real.to(torch.float64)
    P = Z.clone()
    it = 0
    misses = np.zeros(k, dtype=np.int64)
    stagnant = np.zeros(k, dtype=np.int64)
    live = torch.as_tensor(~done, device=B.device)
    while it < maxiter and not all(status[c] is not None for c in range(k)):
        if not flexible and bool((rz[live] <= 0).any()):
            for c in np.flatnonzero((rz <= 0).cpu().numpy() & live.cpu().numpy()):
                status[c] = Status.INDEFINITE
                info["reason"] = "the preconditioner M is not positive definite"
            live = torch.as_tensor([s is None for s in status], device=B.device)
            if not bool(live.any()):
                break
        Q = apply_A(P)
        pq = (P.conj() * Q).sum(0).real.to(torch.float64)
        bad = (~torch.isfinite(pq) | (pq <= 0)) & live
        if bool(bad.any()):
            for c in np.flatnonzero(bad.cpu().numpy()):
                status[c] = Status.NOT_FINITE if not np.isfinite(float(pq[c])) else Status.INDEFINITE
                info["reason"] = "A is not positive definite: (p, Ap) <= 0"
            live = live & ~bad
        num = (P * R).sum(0).to(torch.float64) if flexible else rz  # (p, r) = (r, z) in exact PCG
        alpha = torch.where(live, num / torch.where(live, pq, torch.ones_like(pq)), torch.zeros_like(pq))
        a = alpha.to(B.real.dtype if B.is_complex() else B.dtype)
        X += P * a
        R -= Q * a
        it += 1
        rn_h = norms(R).cpu().numpy()
        live_h = live.cpu().numpy()
        row = np.where(live_h, rn_h, np.nan)
        iters[live_h] = it
        for c in np.flatnonzero(live_h & ~np.isfinite(rn_h)):
            status[c] = Status.NOT_FINITE
        hit = np.flatnonzero(live_h & (rn_h <= tol))
        if hit.size:
            if check_true_residual:
                T = Bs[:, hit] - apply_A(X[:, hit].contiguous())
                tn = norms(T).cpu().numpy()
            for m, c in enumerate(hit):
                if not check_true_residual or tn[m] <= tol[c]:
                    status[c] = Status.CONVERGED
                    if check_true_residual:
                        row[c] = tn[m]
                    continue
                R[:, c] = T[:, m]  # drifted: continue from the true residual
                misses[c] += 1
                if misses[c] > 5:
                    status[c], row[c] = Status.STAGNATION, tn[m]
        if it % 16 == 0:  # stagnation guard in the working precision
            step = (alpha.abs() * norms(P)).cpu().numpy()
            xn = norms(X).cpu().numpy()
            stagnant = np.where(step <= 8 * eps * xn, stagnant + 1, 0)
            for c in np.flatnonzero((stagnant >= 3) & live_h):
                if status[c] is None:
                    status[c] = Status.STAGNATION
                    row[c] = float(norms(Bs[:, c:c + 1] - apply_A(X[:, c:c + 1].contiguous()))[0])
        hist.append(row)
        if callback is not None:
            st = SolverState("cg-torch", float(np.max(tol * scale_h)))
            st.iteration, st.residual_norm = it, float(np.nanmax(row * scale_h))
            st._x = X
            if callback(st):
                for c in range(k):
                    if status[c] is None:
                        status[c] = Status.USER_STOP
        live = torch.as_tensor([s is None for s in status], device=B.device)
        if not bool(live.any()):
            break
        Z = precond(R)
        if flexible:  # z A-orthogonalised against the last direction: β = −(Ap, z)/(p, Ap)
            beta = torch.where(live, -(Q * Z).sum(0).to(torch.float64) / torch.where(live, pq, torch.ones_like(pq)),
                               torch.zeros_like(pq))
            P = Z + P * beta.to(B.dtype)
            continue
        rz_new = (R.conj() * Z).sum(0).real.to(torch.float64)
        beta = torch.where(live & (rz > 0), rz_new / torch.where(rz > 0, rz, torch.ones_like(rz)),
                           torch.zeros_like(rz))
        rz = torch.where(live, rz_new, rz)
        P = Z + P * beta.to(B.real.dtype if B.is_complex() else B.dtype)
    for c in range(k):
        if status[c] is None:
            status[c] = Status.MAX_ITERATIONS
    H = np.vstack(hist) * scale_h
    overall = overall_status(status)
    Xout = (X * scale.to(X.real.dtype if X.is_complex() else X.dtype)).to(b.dtype)
    if apply_A.host or (apply_M is not None and apply_M.host):
        info["host_products"] = apply_A.host + (apply_M.host if apply_M is not None else 0)
    if np.any(misses):
        info["restarts"] = misses if not single else int(misses[0])
    if overall is Status.STAGNATION and B.dtype in (torch.float32, torch.complex64):
        info["reason"] = single_precision_reason(str(B.dtype).replace("torch.", ""), eps)
    method = "fcg-torch" if flexible else ("cg-torch" if M is None else "pcg-torch")
    if single:
        res = SolverResult(x=Xout.reshape(-1), status=overall, iterations=int(iters[0]), residuals=H[:, 0],
                           time=time.perf_counter() - t0, method=method, b_norm=float(bnorm[0]),
                           tol=float(tol[0] * scale_h[0]), info=info)
    else:
        info.update(iterations=iters, statuses=status, batched=True)
        res = SolverResult(x=Xout, status=overall, iterations=int(iters.max(initial=0)), residuals=H,
                           time=time.perf_counter() - t0, method=method, b_norm=bnorm, tol=tol * scale_h, info=info)
    if raise_on_indefinite and Status.INDEFINITE in status:
        raise SolverError(res)
    return res

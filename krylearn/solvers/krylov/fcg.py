"""Flexible conjugate gradients (FCG) for variable or nonlinear preconditioners.

Reference: Y. Notay, "Flexible conjugate gradients", SIAM J. Sci. Comput. 22(4):1444-1460
(2000); see also G. H. Golub and Q. Ye, "Inexact preconditioned conjugate gradient method
with inner-outer iteration", SIAM J. Sci. Comput. 21(4):1305-1320 (1999). The learned DCDM
iteration (Kaneda et al., ICML 2023) is FCG with a neural network as the preconditioner.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

import numpy as np

from .._common import rescaled
from .._kernels import dot, update_xr
from .._skeleton import KrylovRun
from ..result import Status

if TYPE_CHECKING:  # annotations only (krylearn.typing)
    from ...typing import ArrayLike, Callback, OperatorLike, PreconditionerLike
    from ..result import SolverResult

__all__ = ["fcg"]


def _torch(A, b, x0=None, *, truncation=1, **kwargs):
    """Tensors: FCG(1) in torch on their device; other truncations and complex tensors go through the host."""
    if truncation != 1 or b.is_complex():
        return NotImplemented
    from .cg_torch import cg_torch

    return cg_torch(A, b, x0, flexible=True, **kwargs)


@rescaled(torch_impl=_torch)
def fcg(A: OperatorLike, b: ArrayLike, x0: ArrayLike | None = None, *, rtol: float = 1e-5, atol: float = 0.0,
        maxiter: int | None = None, M: PreconditionerLike = None, callback: Callback | None = None,
        truncation: int = 1, raise_on_indefinite: bool = False, check_true_residual: bool = True) -> SolverResult:
    """Solve ``A x = b`` for Hermitian positive definite ``A`` by flexible CG.

    Algorithm (Notay 2000, truncated FCG(m) with ``m = truncation``): each iteration
    ``z = M(r)`` (any map, possibly changing from call to call or nonlinear), then ``z`` is
    explicitly ``A``-orthogonalised against the last ``m`` search directions,
    ``p = z − Σ_j (A p_j, z)/(p_j, A p_j) p_j``; ``q = A p``; ``α = (p, r)/(p, q)``;
    ``x += α p``; ``r −= α q``. With a fixed SPD preconditioner and ``m ≥ 1`` it is PCG in
    exact arithmetic; with a variable one it keeps local ``A``-orthogonality, which plain PCG
    loses. Only the direction (not the scale) of ``M(r)`` matters. Stores ``2m`` extra vectors.

    Stopping rule: the **unpreconditioned** residual 2-norm ``‖b − A x‖₂ ≤ max(atol,
    rtol·‖b‖₂)``, tested on the recursive residual and confirmed once by a true residual (if
    that misses, the iteration restarts from the true residual; at most 5 times, then
    STAGNATION). ``residuals`` holds the recursive norms, the true one last.

    Parameters
    ----------
    A : operator-like, shape (n, n)
        Hermitian positive definite; anything :func:`krylearn.aslinearoperator` accepts.
        Positive curvature ``(p, A p) > 0`` is checked at run time.
    b, x0, rtol, atol, maxiter
        As in :func:`krylearn.cg` (``maxiter`` default ``10 n``; ``x0`` is not modified).
    M : callable or operator-like, optional
        The preconditioner: a callable ``M(r) -> z`` (may be nonlinear or vary between calls,
        e.g. an inner iterative solve or a neural network) or a LinearOperator. Default:
        none (then FCG is CG with explicit orthogonalisation).
    callback, raise_on_indefinite, check_true_residual
        As in :func:`krylearn.cg`.
    truncation : int
        Number ``m ≥ 1`` of previous directions kept for the explicit ``A``-orthogonalisation
        (Notay's ``m_max``; DCDM uses 2). Default 1.

    Returns
    -------
    SolverResult
        ``status`` CONVERGED, MAX_ITERATIONS, INDEFINITE (``(p, A p) ≤ 0``: ``A`` is not
        positive definite), BREAKDOWN (the preconditioned direction vanished after
        orthogonalisation, ``p = 0``), STAGNATION, USER_STOP, NOT_FINITE.

    References
    ----------
    .. [1] Y. Notay, "Flexible conjugate gradients", SIAM J. Sci. Comput. 22 (2000) 1444–1460.
    .. [2] G. H. Golub, Q. Ye, "Inexact preconditioned conjugate gradient method with
       inner-outer iteration", SIAM J. Sci. Comput. 21 (1999) 1305–1320.

    Examples
    --------
    >>> import numpy as np, krylearn as kl
    >>> A = np.diag(np.arange(1.0, 51.0))
    >>> rng = np.random.default_rng(0)
    >>> noisy = lambda r: r / np.diag(A) * (1 + 0.1 * rng.random(r.size))   # varies per call
    >>> res = kl.fcg(A, np.ones(50), M=noisy, truncation=2, rtol=1e-10)
    >>> res.converged
    True
    """
    run = KrylovRun("fcg", A, b, x0, M=M, maxiter=maxiter, rtol=rtol, atol=atol, variable_ok=True)
    if not isinstance(truncation, (int, np.integer)) or truncation < 1:
        raise ValueError(f"truncation must be a positive integer, got {truncation!r}")
    if run.zero_rhs is not None:
        return run.zero_rhs
    A, b, x, M, maxiter = run.A, run.b, run.x, run.M, run.maxiter
    dtype = b.dtype

    def matvec(v):
        return np.asarray(A.matvec(v), dtype=dtype)

    if (done := run.start(callback, matvec=matvec)) is not None:
        return done
    mon, r, rnorm = run.mon, run.r, run.rnorm

    dirs: deque[tuple[np.ndarray, np.ndarray, float]] = deque(maxlen=int(truncation))   # (p_j, A p_j, (p_j, A p_j))
    it = 0
    status = Status.MAX_ITERATIONS
    while it < maxiter:
        if M is None:
            p = r.copy()
        else:
            p = np.array(M.matvec(r), dtype=dtype, copy=True)
            if p is r or np.may_share_memory(p, r):
                p = p.copy()
        if not np.all(np.isfinite(p)):
            status = Status.NOT_FINITE
            mon.info["reason"] = "the preconditioner returned NaN or Inf"
            break
        z_norm = float(np.linalg.norm(p))
        for pj, qj, pqj in dirs:
            p -= (dot(qj, p) / pqj) * pj
        if z_norm == 0.0 or float(np.linalg.norm(p)) <= 1e-14 * z_norm:
            mon.info["reason"] = "the preconditioned direction vanished (p = 0)"
            status = Status.BREAKDOWN
            break
        q = matvec(p)
        pq = float(np.real(dot(p, q)))
        verdict = run.curvature(x, it, pq, raise_on_indefinite)
        if verdict is not None:
            status = verdict
            break
        alpha = dot(p, r) / pq
        if np.isrealobj(x):
            alpha = float(np.real(alpha))
        rr = update_xr(x, r, p, q, alpha)
        dirs.append((p, q, pq))
        it += 1
        rnorm = float(np.sqrt(rr))
        # NaN/Inf, or a recursive residual below tol that the true residual must confirm
        r, rnorm, verdict = run.check(x, it, r, rnorm, check_true_residual, record=True)
        if verdict is not None:
            status = verdict
            break
    return run.finish(x, status, it, rnorm)

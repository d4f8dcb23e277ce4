"""GMRES: restarted generalized minimal residual method, right-preconditioned.

Reference: Y. Saad and M. H. Schultz, "GMRES: a generalized minimal residual algorithm for
solving nonsymmetric linear systems", SIAM J. Sci. Stat. Comput. 7(3):856-869 (1986);
right preconditioning as in Y. Saad, "Iterative Methods for Sparse Linear Systems", 2nd ed.,
SIAM 2003, Algorithm 9.5; reorthogonalisation criterion of Daniel, Gragg, Kaufman and
Stewart, Math. Comp. 30 (1976) ("twice is enough").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numba as nb
import numpy as np
from scipy.linalg import solve_triangular

from .._common import rescaled, residual_verdict
from .._kernels import NB_PLAIN, NB_REDUCE
from .._skeleton import KrylovRun
from ..result import Status

if TYPE_CHECKING:  # annotations only (krylearn.typing)
    from ...typing import ArrayLike, Callback, OperatorLike, PreconditionerLike
    from ..result import SolverResult

__all__ = ["gmres", "gmres_iteration"]

_ORTHO = ("mgs", "cgs2")
_REORTH = 1.0 / np.sqrt(2.0)  # reorthogonalise when the norm drops below this fraction


@nb.njit(**NB_REDUCE)
def _norm2(w):
    acc = 0.0
    for k in range(w.shape[0]):
        acc += abs(w[k]) ** 2
    return np.sqrt(acc)


@nb.njit(**NB_PLAIN)
def _mgs_pass(V, w, H, j):
    """One modified Gram–Schmidt pass of ``w`` against the rows ``V[:j+1]``, adding the
    coefficients to ``H[:j+1, j]``."""
    n = w.shape[0]
    for i in range(j + 1):
        h = V[i, 0] * 0.0
        for k in range(n):
            h += np.conj(V[i, k]) * w[k]
        H[i, j] += h
        for k in range(n):
            w[k] -= h * V[i, k]


@nb.njit(**NB_REDUCE)
def _mgs_step(V, w, H, j, reorth):
    """Modified Gram–Schmidt of ``w`` against ``V[:j+1]`` (rows), with a second pass if
    ``‖w‖`` drops below ``reorth·‖w₀‖``; the coefficients go to ``H[:j+1, j]``. Returns
    ``(‖w₀‖, ‖w‖)``. Works for float64 and complex128 (numba compiles one version each)."""
    h0 = _norm2(w)
    H[: j + 1, j] = 0.0
    _mgs_pass(V, w, H, j)
    nrm = _norm2(w)
    if nrm < reorth * h0:
        _mgs_pass(V, w, H, j)
        nrm = _norm2(w)
    return h0, nrm


@nb.njit(**NB_PLAIN)
def _rotate_column(H, cs, sn, g, j):
    """Apply the previous Givens rotations to column ``j`` of ``H``, then make and apply
    rotation ``j`` (zeroing ``H[j+1, j]``) to ``H`` and ``g``. Returns ``|rho|`` (the new
    diagonal entry's modulus; 0 means a singular Hessenberg matrix)."""
    for i in range(j):
        hi = H[i, j]
        hi1 = H[i + 1, j]
        H[i, j] = cs[i] * hi + sn[i] * hi1
        H[i + 1, j] = -np.conj(sn[i]) * hi + cs[i] * hi1
    a = H[j, j]
    b = H[j + 1, j]
    if b == 0:
        c = 1.0
        s = b * 0.0
        rho = a
    elif a == 0:
        c = 0.0
        s = b * 0.0 + 1.0
        rho = b
    else:
        abs_a = abs(a)
        nrm = np.hypot(abs_a, abs(b))
        phase = a / abs_a
        c = abs_a / nrm
        s = phase * np.conj(b) / nrm
        rho = phase * nrm
    cs[j] = c
    sn[j] = s
    H[j, j] = rho
    H[j + 1, j] = 0.0
    gj = g[j]
    g[j + 1] = -np.conj(s) * gj
    g[j] = c * gj
    return abs(rho)


@rescaled
def gmres(A: OperatorLike, b: ArrayLike, x0: ArrayLike | None = None, *, rtol: float = 1e-5, atol: float = 0.0,
          restart: int = 30, maxiter: int | None = None, M: PreconditionerLike = None,
          callback: Callback | None = None, orthogonalization: str = "mgs") -> SolverResult:
    """Solve ``A x = b`` for a general (nonsymmetric, real or complex) ``A`` by GMRES(restart).

    Algorithm: Arnoldi on ``A M`` builds an orthonormal basis ``V`` of the Krylov space and a
    Hessenberg matrix ``H``; Givens rotations keep the QR factorisation of ``H`` current, so
    the least-squares residual ``|g_{j+1}|`` is known after every inner step at no cost. After
    ``restart`` inner steps (or convergence) ``x += M V y`` and the true residual is computed;
    the next cycle starts from it. Orthogonalisation is modified Gram–Schmidt with a second
    pass when the vector's norm drops below ``1/√2`` of its value (Daniel–Gragg–Kaufman–Stewart;
    ``orthogonalization="mgs"``), or classical Gram–Schmidt done twice with BLAS
    (``"cgs2"``, equally stable and faster for long restarts).

    Stopping rule: the **unpreconditioned** residual 2-norm ``‖b − A x‖₂ ≤ max(atol,
    rtol·‖b‖₂)``. Right preconditioning (``A M u = b``, ``x = M u``) leaves the residual
    unchanged, so the Givens estimate ``|g_{j+1}|`` *is* ``‖b − A x_j‖₂`` in exact arithmetic;
    it is tested after each inner step and confirmed with a true residual (if the true one
    misses, GMRES restarts; after 5 such misses in a row the status is STAGNATION).
    ``residuals`` holds the estimates, the true norm replacing the estimate at each restart.

    Parameters
    ----------
    A : operator-like, shape (n, n)
        Any square operator :func:`krylearn.aslinearoperator` accepts.
    b : array_like, shape (n,)
    x0 : array_like, optional
        Starting guess (default zeros). Not modified.
    rtol, atol : float
        Relative and absolute tolerances of the stopping rule above.
    restart : int
        Inner steps per cycle (Krylov dimension), default 30 (capped at ``n``).
    maxiter : int, optional
        Limit on the total number of **inner steps** (default ``10 n``). Note: SciPy's
        ``maxiter`` counts restart cycles instead.
    M : operator-like or callable, optional
        Right preconditioner approximating ``A⁻¹`` (fixed; for one that varies from step to step,
        e.g. an inner iterative solve or a network, use :func:`krylearn.fgmres`, or
        :func:`krylearn.fcg` for SPD problems).
    callback : callable, optional
        ``callback(state) -> bool`` after each inner step; return True to stop (USER_STOP).
        ``state.x`` forms the current iterate on access (a small triangular solve and an
        ``n × j`` product).
    orthogonalization : {"mgs", "cgs2"}
        Gram–Schmidt variant (see above).

    Returns
    -------
    SolverResult
        ``iterations`` counts inner steps. ``status`` CONVERGED (including the "lucky"
        breakdown ``h_{j+1,j} = 0``, where the Krylov space contains the solution),
        MAX_ITERATIONS, BREAKDOWN (singular Hessenberg matrix, ``A`` singular), STAGNATION
        (a whole cycle made no progress, as GMRES(m) can for some non-normal matrices; or
        repeated true-residual misses), USER_STOP, NOT_FINITE. ``info["cycles"]`` counts
        restart cycles.

    References
    ----------
    .. [1] Y. Saad, M. H. Schultz, "GMRES: a generalized minimal residual algorithm for
       solving nonsymmetric linear systems", SIAM J. Sci. Stat. Comput. 7 (1986) 856–869.
    .. [2] Y. Saad, "Iterative Methods for Sparse Linear Systems", 2nd ed., SIAM 2003, §6.5, §9.3.
    .. [3] J. W. Daniel, W. B. Gragg, L. Kaufman, G. W. Stewart, "Reorthogonalization and
       stable algorithms for updating the Gram–Schmidt QR factorization", Math. Comp. 30 (1976).

    Examples
    --------
    >>> import numpy as np, krylearn as kl
    >>> A = np.eye(20) + np.diag(np.ones(19), 1)            # nonsymmetric
    >>> res = kl.gmres(A, np.ones(20), rtol=1e-10, restart=20)
    >>> res.converged, np.allclose(A @ res.x, 1.0)
    (True, True)
    """
    return gmres_iteration(A, b, x0, rtol=rtol, atol=atol, restart=restart, maxiter=maxiter, M=M,
                           callback=callback, orthogonalization=orthogonalization, flexible=False)


def gmres_iteration(A, b, x0, *, rtol, atol, restart, maxiter, M, callback, orthogonalization, flexible):
    """The restarted Arnoldi–Givens loop shared by :func:`gmres` and :func:`krylearn.fgmres`.

    ``flexible=False``: ``x = x0 + M V y`` (one extra ``M`` product per cycle, M must be fixed);
    ``flexible=True``: the preconditioned vectors ``z_j = M v_j`` are kept (``Z``, ``m × n`` more
    memory) and ``x = x0 + Z y`` (Saad 1993), so ``M`` may change at every step."""
    name = "fgmres" if flexible else "gmres"
    run = KrylovRun(name, A, b, x0, M=M, maxiter=maxiter, rtol=rtol, atol=atol, variable_ok=flexible)
    if orthogonalization not in _ORTHO:
        raise ValueError(f"orthogonalization must be one of {_ORTHO}, got {orthogonalization!r}")
    if not isinstance(restart, (int, np.integer)) or restart < 1:
        raise ValueError(f"restart must be a positive integer, got {restart!r}")
    if run.zero_rhs is not None:
        return run.zero_rhs
    A, b, x, M, maxiter, tol = run.A, run.b, run.x, run.M, run.maxiter, run.tol
    n = b.shape[0]
    m = int(min(restart, n))
    dtype = b.dtype
    cgs2 = orthogonalization == "cgs2"
    fast = dtype in (np.float64, np.complex128)
    cplx = np.iscomplexobj(b)

    def matvec(v):
        return np.asarray(A.matvec(v), dtype=dtype)

    def precond(v):
        return v if M is None else np.asarray(M.matvec(v), dtype=dtype)

    if (done := run.start(callback, matvec=matvec, name=name if (M is None or flexible) else "pgmres")) is not None:
        return done
    mon, r, rnorm = run.mon, run.r, run.rnorm

    V = np.empty((m + 1, n), dtype=dtype)      # Krylov basis, one row per vector (contiguous)
    Z = np.empty((m, n), dtype=dtype) if flexible else None   # z_j = M_j v_j (flexible variant)
    H = np.zeros((m + 1, m), dtype=dtype)      # Hessenberg, rotated in place into R
    cs = np.zeros(m)
    sn = np.zeros(m, dtype=dtype)
    g = np.zeros(m + 1, dtype=dtype)
    it = 0
    cycles = 0
    misses = 0
    no_progress = 0
    status = Status.MAX_ITERATIONS
    eps = np.finfo(np.float64).eps

    def update(x_base, j):
        """``x_base + M V[:j]ᵀ y`` with ``R[:j,:j] y = g[:j]``."""
        if j == 0:
            return x_base.copy()
        y = solve_triangular(H[:j, :j], g[:j], lower=False, check_finite=False)
        if flexible:
            return x_base + Z[:j].T @ y
        return x_base + precond(V[:j].T @ y)

    while it < maxiter:
        cycles += 1
        beta = rnorm
        V[0] = r / beta
        g[:] = 0
        g[0] = beta
        rnorm_cycle_start = rnorm
        j = 0
        inner_status = None
        while j < m and it < maxiter:
            if flexible:
                Z[j] = precond(V[j])
                if not np.all(np.isfinite(Z[j])):
                    inner_status = Status.NOT_FINITE
                    break
                w = np.ascontiguousarray(matvec(Z[j]))
            else:
                w = np.ascontiguousarray(matvec(precond(V[j])))
            if cgs2:
                # classical Gram–Schmidt twice, as BLAS matrix–vector products (V is never copied)
                h0 = float(np.linalg.norm(w))
                Vj = V[: j + 1]
                h = Vj @ w if not cplx else np.conj(Vj @ np.conj(w))
                w -= h @ Vj
                h2 = Vj @ w if not cplx else np.conj(Vj @ np.conj(w))
                w -= h2 @ Vj
                H[: j + 1, j] = h + h2
                hnext = float(np.linalg.norm(w))
            elif fast:
                h0, hnext = _mgs_step(V, w, H, j, _REORTH)
            else:
                h0 = float(np.linalg.norm(w))
                for i in range(j + 1):
                    hij = np.vdot(V[i], w)
                    H[i, j] = hij
                    w -= hij * V[i]
                if np.linalg.norm(w) < _REORTH * h0:
                    for i in range(j + 1):
                        hij = np.vdot(V[i], w)
                        H[i, j] += hij
                        w -= hij * V[i]
                hnext = float(np.linalg.norm(w))
            if not (np.isfinite(h0) and np.isfinite(hnext)):
                inner_status = Status.NOT_FINITE
                break
            H[j + 1, j] = hnext
            lucky = hnext <= eps * h0
            if not lucky:
                V[j + 1] = w / hnext
            # apply the previous rotations to the new column, then make and apply the new one
            rho = _rotate_column(H, cs, sn, g, j)
            j += 1
            it += 1
            rnorm = float(abs(g[j]))
            if rho == 0:
                inner_status = Status.BREAKDOWN
                mon.info["reason"] = "singular Hessenberg matrix (A is singular)"
                j -= 1  # the last column cannot be used
                mon.record(it, rnorm, x=x)
                break
            stop = mon.record(it, rnorm, x_fn=lambda jj=j, xb=x: update(xb, jj))
            if stop:
                inner_status = Status.USER_STOP
                break
            if rnorm <= tol or lucky:
                inner_status = Status.CONVERGED
                break
        # end of cycle: form x and the true residual
        x = update(x, j)
        r = b - matvec(x)
        true_norm = float(np.linalg.norm(r))
        mon.history[-1] = true_norm
        rnorm = true_norm
        if inner_status is Status.USER_STOP or inner_status is Status.NOT_FINITE:
            status = inner_status
            break
        verdict = residual_verdict(true_norm, tol)
        if verdict is not None:
            status = verdict
            break
        if inner_status is Status.BREAKDOWN:
            status = Status.BREAKDOWN
            break
        if inner_status is Status.CONVERGED:
            # the estimate (or a lucky breakdown) said converged, the true residual disagrees
            misses += 1
            if misses > 5:
                status = Status.STAGNATION
                break
        else:
            misses = 0
        if true_norm >= rnorm_cycle_start * (1.0 - 1e-12):
            no_progress += 1
            if no_progress >= 2:
                mon.info["reason"] = "a restart cycle made no progress (GMRES(m) stagnation)"
                status = Status.STAGNATION
                break
        else:
            no_progress = 0
    mon.info["cycles"] = cycles
    return mon.result(x, status, it)

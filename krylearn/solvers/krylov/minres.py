"""MINRES: minimum residual method for Hermitian (possibly indefinite) systems.

Reference: C. C. Paige and M. A. Saunders, "Solution of sparse indefinite systems of linear
equations", SIAM J. Numer. Anal. 12(4):617-629 (1975). The recurrences follow the
preconditioned form of Paige and Saunders' Fortran MINRES (as in SciPy's ``minres`` and
S.-C. Choi's thesis, Stanford 2006, Table 3.5).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numba as nb
import numpy as np

from .._common import rescaled, ritz_summary
from .._kernels import NB_PLAIN, NB_REDUCE, dot
from .._skeleton import KrylovRun
from ..result import Status

if TYPE_CHECKING:  # annotations only (krylearn.typing)
    from ...typing import ArrayLike, Callback, OperatorLike, PreconditionerLike
    from ..result import SolverResult

__all__ = ["minres"]

_EPS = np.finfo(np.float64).eps


@nb.njit(**NB_PLAIN)
def _update_wx(x, w, w1, w2, v, oldeps, delta, denom, phi):
    """w = (v - oldeps*w1 - delta*w2)*denom (written into w, whose old value is dead); x += phi*w."""
    for i in range(x.shape[0]):
        wi = (v[i] - oldeps * w1[i] - delta * w2[i]) * denom
        w[i] = wi
        x[i] += phi * wi


@nb.njit(**NB_REDUCE)
def _axpy_dot(y, c, r, v):
    """y -= c r; returns v.y"""
    acc = 0.0
    for i in range(y.shape[0]):
        yi = y[i] - c * r[i]
        y[i] = yi
        acc += v[i] * yi
    return acc


@nb.njit(**NB_REDUCE)
def _axpy_norm2(y, c, r):
    """y -= c r; returns y.y"""
    acc = 0.0
    for i in range(y.shape[0]):
        yi = y[i] - c * r[i]
        y[i] = yi
        acc += yi * yi
    return acc


def _is_fast(*arrays):
    return all(a.dtype == np.float64 and a.flags.c_contiguous for a in arrays)


def _torch(A, b, *args, **kwargs):
    from .minres_torch import minres_torch

    return minres_torch(A, b, *args, **kwargs)


@rescaled(torch_impl=_torch)
def minres(A: OperatorLike, b: ArrayLike, x0: ArrayLike | None = None, *, rtol: float = 1e-5, atol: float = 0.0,
           maxiter: int | None = None, M: PreconditionerLike = None, callback: Callback | None = None,
           shift: float = 0.0, check_true_residual: bool = True, estimate_eigenvalues: bool = False) -> SolverResult:
    """Solve ``(A − shift·I) x = b`` for Hermitian ``A`` (definite or not) by MINRES.

    Algorithm (Paige & Saunders 1975): a (preconditioned) Lanczos process builds a
    tridiagonal ``T_k``; a QR factorisation of ``T_k`` by Givens rotations, updated one
    rotation per step, gives the iterate ``x_k`` that minimises the residual over the Krylov
    space, through a three-term recurrence on search directions ``w_k``. One matrix product
    (and one preconditioner application) per iteration; all scalars are real, also for
    complex Hermitian ``A``.

    Stopping rule: the **unpreconditioned** residual 2-norm ``‖b − (A − shift·I) x‖₂ ≤
    max(atol, rtol·‖b‖₂)``. Without a preconditioner the test uses the recurrence's residual
    norm estimate ``φ̄_k`` (equal to ``‖r_k‖₂`` in exact arithmetic, at no cost). With a
    preconditioner MINRES minimises the ``M``-norm of the residual, so the 2-norm residual
    ``r_k`` is updated explicitly (``r −= φ A w``, with ``A w`` from its own recurrence; no
    extra product). When the test passes, one true residual is computed; if it misses the
    tolerance (rounding drift), MINRES restarts from the current iterate (at most 5 times,
    then status STAGNATION). ``residuals`` holds the tested norms and, last, the true one.

    Parameters
    ----------
    A : operator-like, shape (n, n)
        Hermitian (real symmetric or complex Hermitian), possibly indefinite or singular;
        anything :func:`krylearn.aslinearoperator` accepts. Symmetry is not checked.
    b : array_like, shape (n,)
    x0 : array_like, optional
        Starting guess (default zeros). Not modified.
    rtol, atol : float
        Relative and absolute tolerances of the stopping rule above.
    maxiter : int, optional
        Iteration limit (default ``10 n``).
    M : operator-like or callable, optional
        Hermitian **positive definite** preconditioner approximating ``A⁻¹`` (e.g.
        ``kl.precond.jacobi`` of ``|A|``). A non-positive ``(r, M r)`` gives status INDEFINITE.
    callback : callable, optional
        ``callback(state) -> bool`` after each iteration; return True to stop (USER_STOP).
    shift : float
        Solve with ``A − shift·I`` instead of ``A``.
    check_true_residual : bool
        Verify convergence with a true residual (one extra product); default True.
    estimate_eigenvalues : bool
        Put the eigenvalues of the Lanczos tridiagonal ``T_k`` (Ritz values of ``A − shift·I``, or
        of ``M(A − shift·I)``) in ``res.info["ritz_values"]``, the extremes in
        ``res.info["eigenvalue_estimates"]`` and ``max|θ|/min|θ|`` in ``res.info["condition_estimate"]``
        (of the first Lanczos run, before any restart from a true residual).

    Returns
    -------
    SolverResult
        ``status`` CONVERGED, MAX_ITERATIONS, BREAKDOWN (the Lanczos process ended in an
        invariant subspace without reaching the tolerance: ``A`` singular and ``b`` not in
        its range, so ``x`` is a least-squares solution), INDEFINITE (the preconditioner is
        not positive definite), STAGNATION, USER_STOP or NOT_FINITE. ``info`` holds
        ``anorm`` and ``acond`` (Lanczos estimates of ``‖A‖`` and its condition number).

    Notes
    -----
    MINRES needs ``A`` Hermitian; for a non-Hermitian ``A`` it silently computes a wrong
    Krylov basis (the true-residual check then reports STAGNATION or MAX_ITERATIONS rather
    than a wrong CONVERGED). Use :func:`krylearn.gmres` or :func:`krylearn.bicgstab` there.

    References
    ----------
    .. [1] C. C. Paige, M. A. Saunders, "Solution of sparse indefinite systems of linear
       equations", SIAM J. Numer. Anal. 12 (1975) 617–629.
    .. [2] S.-C. T. Choi, "Iterative methods for singular linear equations and least-squares
       problems", PhD thesis, Stanford University, 2006.

    Examples
    --------
    >>> import numpy as np, krylearn as kl
    >>> A = np.diag(np.arange(-5.0, 6.0) + 0.5)          # symmetric indefinite
    >>> res = kl.minres(A, np.ones(11), rtol=1e-10)
    >>> res.converged, np.allclose(A @ res.x, 1.0)
    (True, True)
    """
    run = KrylovRun("minres", A, b, x0, M=M, maxiter=maxiter, rtol=rtol, atol=atol)
    shift = float(shift)
    if not np.isfinite(shift):
        raise ValueError(f"shift must be finite, got {shift!r}")
    if run.zero_rhs is not None:
        return run.zero_rhs
    A, b, x, M, maxiter, tol = run.A, run.b, run.x, run.M, run.maxiter, run.tol
    dtype = b.dtype

    def op(v):
        # a fresh array in the working dtype (the recurrences update it in place)
        y = np.ascontiguousarray(A.matvec(v), dtype=dtype)
        if shift != 0.0:
            return y - shift * v
        if np.may_share_memory(y, v):
            y = y.copy()
        return y

    if (done := run.start(callback, matvec=op, name="minres" if M is None else "pminres")) is not None:
        return done
    mon, r, rnorm = run.mon, run.r, run.rnorm

    it = 0
    lanczos: tuple[list[float], list[float]] | None = ([], []) if estimate_eigenvalues else None   # T_k's diagonal α and subdiagonal β
    status = Status.MAX_ITERATIONS
    while True:
        status, it, rnorm = _minres_cycle(op, M, b, x, r, rnorm, tol, it, maxiter, mon, max(float(rtol), _EPS),
                                          lanczos if not mon.info.get("restarts") else None)
        if status is not Status.CONVERGED or not check_true_residual:
            if status is not Status.CONVERGED and status is not Status.USER_STOP and mon.history:
                run.report_true_residual(x, op)   # a stop short of the tolerance: the true residual
            break
        r, rnorm, verdict = run.after_cycle(x, it)
        if verdict is not None:
            status = verdict
            break
    if lanczos is not None:
        _lanczos_ritz(mon.info, *lanczos)
    return mon.result(x, status, it)


def _lanczos_ritz(info, alphas, betas):
    k = len(alphas)
    ritz_summary(info, alphas, betas[: max(k - 1, 0)])


def _minres_cycle(op, M, b, x, r1, rnorm0, tol, it, maxiter, mon, ls_tol, lanczos=None):
    """Run MINRES from ``x`` (in place) with residual ``r1``; returns ``(status, it, rnorm)``.

    Besides ``‖r‖ ≤ tol`` it stops (BREAKDOWN, ``info["least_squares"] = True``) when
    ``‖A r‖ ≤ ls_tol·‖A‖·‖r‖`` (unpreconditioned): ``b`` is not in the range of a singular ``A`` and
    ``x`` is a least-squares solution; going on would only grow ``x`` along the null space."""
    n = b.shape[0]
    dtype = b.dtype
    precond = M is not None
    y = np.asarray(M.matvec(r1), dtype=dtype) if precond else r1
    beta1 = float(np.real(dot(r1, y))) if precond else rnorm0 * rnorm0
    if precond and not beta1 > 0:
        mon.info["reason"] = "the preconditioner M is not positive definite: (r, M r) <= 0"
        return Status.INDEFINITE, it, rnorm0
    beta1 = np.sqrt(beta1)

    oldb = 0.0
    beta = beta1
    dbar = 0.0
    epsln = 0.0
    phibar = beta1
    tnorm2 = 0.0
    gmax = 0.0
    gmin = np.inf
    cs = -1.0
    sn = 0.0
    w = np.zeros(n, dtype=dtype)
    w1 = np.zeros(n, dtype=dtype)
    w2 = np.zeros(n, dtype=dtype)
    r1 = r1.copy()
    r2 = r1
    if precond:
        # explicit 2-norm residual, updated with A w from its own recurrence
        res = r1.copy()
        aw = np.zeros(n, dtype=dtype)
        aw1 = np.zeros(n, dtype=dtype)
        aw2 = np.zeros(n, dtype=dtype)
    fast = _is_fast(x, w, r1)
    rnorm = rnorm0
    while it < maxiter:
        s = 1.0 / beta
        v = s * y
        y = op(v)
        if precond:
            av = y.copy()
        oldb_prev = oldb
        oldb = beta
        if fast and not precond:
            # fused passes: y -= (β/β_old) r1 with α = (v, y); then y -= (α/β) r2 with (y, y)
            alfa = _axpy_dot(y, beta / oldb_prev if oldb_prev != 0.0 else 0.0, r1, v)
            if not np.isfinite(alfa):
                return Status.NOT_FINITE, it, rnorm
            beta = _axpy_norm2(y, alfa / oldb, r2)
            r1 = r2
            r2 = y
        else:
            if oldb_prev != 0.0:
                y -= (beta / oldb_prev) * r1
            alfa = float(np.real(dot(v, y)))
            if not np.isfinite(alfa):
                return Status.NOT_FINITE, it, rnorm
            y -= (alfa / beta) * r2
            r1 = r2
            r2 = y
            if precond:
                y = np.asarray(M.matvec(r2), dtype=dtype)
                beta = float(np.real(dot(r2, y)))
                if beta < 0.0:
                    mon.info["reason"] = "the preconditioner M is not positive definite: (r, M r) < 0"
                    return Status.INDEFINITE, it, rnorm
            else:
                beta = float(np.real(dot(r2, r2)))
        y = r2 if not precond else y
        beta = np.sqrt(beta)
        if lanczos is not None:
            lanczos[0].append(alfa)
            lanczos[1].append(beta)
        # ‖T_k‖_F² estimate: β₁ = ‖b‖ (oldb at the first step) is not an entry of T_k — counting it made
        # the singularity test below scale with ‖b‖ and stop at once for a large right-hand side
        tnorm2 += alfa * alfa + (oldb * oldb if it > 0 else 0.0) + beta * beta

        # apply the previous rotation
        oldeps = epsln
        delta = cs * dbar + sn * alfa
        gbar = sn * dbar - cs * alfa
        epsln = sn * beta
        dbar = -cs * beta
        arnorm = phibar * np.hypot(gbar, dbar)  # ‖A r_k‖ (SciPy's / Paige–Saunders' estimate)
        # the next rotation
        gamma = np.hypot(gbar, beta)
        if gamma <= 10.0 * _EPS * np.sqrt(tnorm2):
            # T_k is singular to working precision in an invariant subspace (beta <= gamma ~ 0):
            # b is not in the range of A; keep the last (least-squares) iterate
            mon.info["reason"] = "singular T_k in an invariant subspace: b is not in the range of A"
            it += 1
            mon.record(it, rnorm, x=x)
            return Status.BREAKDOWN, it, rnorm
        cs = gbar / gamma
        sn = beta / gamma
        phi = cs * phibar
        phibar = sn * phibar
        denom = 1.0 / gamma
        # w_{k} = (v - oldeps w_{k-2} - delta w_{k-1}) / gamma; rotate buffers w1 <- w2 <- w
        w1, w2, w = w2, w, w1
        if fast:
            _update_wx(x, w, w1, w2, v, oldeps, delta, denom, phi)
        else:
            w[:] = (v - oldeps * w1 - delta * w2) * denom
            x += phi * w
        if precond:
            aw1, aw2, aw = aw2, aw, aw1
            aw[:] = (av - oldeps * aw1 - delta * aw2) * denom
            res -= phi * aw
            rnorm = float(np.linalg.norm(res))
        else:
            rnorm = abs(phibar)
        it += 1
        gmax = max(gmax, gamma)
        gmin = min(gmin, gamma)
        mon.info["anorm"] = float(np.sqrt(tnorm2))
        mon.info["acond"] = float(gmax / gmin) if gmin > 0 else np.inf
        if not np.isfinite(rnorm):
            mon.record(it, rnorm, x=x)
            return Status.NOT_FINITE, it, rnorm
        if rnorm <= tol:
            mon.record(it, rnorm, x=x)
            return Status.CONVERGED, it, rnorm
        if not precond and arnorm <= ls_tol * np.sqrt(tnorm2) * rnorm:
            mon.record(it, rnorm, x=x)
            mon.info["least_squares"] = True
            mon.info["reason"] = ("b is not in the range of A: x is a least-squares solution "
                                  "(‖A r‖ ≤ rtol·‖A‖·‖r‖); use a consistent b, or MINRES-QLP for the minimum-length one")
            return Status.BREAKDOWN, it, rnorm
        if beta <= _EPS * np.sqrt(tnorm2) * 1e-2 or beta == 0.0:
            # invariant subspace reached (exact arithmetic: x is the minimum-residual solution)
            mon.record(it, rnorm, x=x)
            mon.info["reason"] = "Lanczos reached an invariant subspace above the tolerance"
            return Status.BREAKDOWN, it, rnorm
        if mon.record(it, rnorm, x=x):
            return Status.USER_STOP, it, rnorm
    return Status.MAX_ITERATIONS, it, rnorm

"""Conjugate gradients (CG) and preconditioned CG (PCG).

Reference: M. R. Hestenes and E. Stiefel, "Methods of conjugate gradients for solving linear
systems", J. Res. Nat. Bur. Standards 49 (1952); preconditioned form as in Y. Saad,
"Iterative Methods for Sparse Linear Systems", 2nd ed., SIAM 2003, Algorithm 9.1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .._common import rescaled, ritz_summary
from .._kernels import cg_update_xr, dot, fused_matvec_dot, xpby
from .._skeleton import KrylovRun
from .batched_cg import batched_cg, prefers_batched
from ..result import Status

if TYPE_CHECKING:  # annotations only (krylearn.typing)
    from ...typing import ArrayLike, Callback, OperatorLike, PreconditionerLike
    from ..result import SolverResult

__all__ = ["cg"]


def _many(A, B, *args, **kwargs):
    """``k`` right-hand sides: batched CG where it is faster than a loop of solves (see
    :func:`~krylearn.solvers.krylov.batched_cg.prefers_batched`), else decline (a loop of ``cg`` calls)."""
    M = kwargs.get("M")
    if getattr(M, "variable", False):  # the flexible update is column by column
        return NotImplemented
    return batched_cg(A, B, *args, **kwargs) if prefers_batched(A) else NotImplemented


def _torch(A, b, *args, **kwargs):
    from .cg_torch import cg_torch

    return cg_torch(A, b, *args, **kwargs)


@rescaled(batched=_many, torch_impl=_torch)
def cg(A: OperatorLike, b: ArrayLike, x0: ArrayLike | None = None, *, rtol: float = 1e-5, atol: float = 0.0,
       maxiter: int | None = None, M: PreconditionerLike = None, callback: Callback | None = None,
       raise_on_indefinite: bool = False, check_true_residual: bool = True,
       estimate_eigenvalues: bool = False) -> SolverResult:
    """Solve ``A x = b`` for Hermitian positive definite ``A`` by (preconditioned) CG.

    Algorithm: ``r = b − A x``, ``z = M r``, ``p = z``; each iteration ``q = A p``,
    ``α = (r, z)/(p, q)``, ``x += α p``, ``r −= α q``, ``z = M r``, ``β = (r, z)_new/(r, z)_old``,
    ``p = z + β p``. The x/r update and ``‖r‖²`` are one fused numba pass; for real float64
    problems ``q = A p`` and ``(p, q)`` are one pass too, into a preallocated ``q``, when the
    operator has a ``matvec_dot(x, out) -> xᵀ(Ax)`` method (``kl.pde.poisson`` stencils) or is a
    CSR matrix (a numba CSR kernel, faster than SciPy's). No vectors are allocated per iteration
    (unpreconditioned case).

    Stopping rule: the **unpreconditioned** residual 2-norm ``‖b − A x‖₂ ≤ max(atol, rtol·‖b‖₂)``.
    The recursive residual is used during the iteration; when it meets the tolerance, the true
    residual ``b − A x`` is computed once and, if it does not meet it (rounding drift), the
    iteration continues from the true residual. ``residuals`` holds the recursive norms and,
    last, the true one.

    Parameters
    ----------
    A : operator-like, shape (n, n)
        Hermitian positive definite; anything :func:`krylearn.aslinearoperator` accepts.
        Untagged operators are accepted; positive curvature is checked at run time.
    b : array_like, shape (n,) or (n, k)
        Right-hand side; ``k`` columns give ``res.x`` of shape ``(n, k)``, each column with its own
        stopping rule, iterations and status (``res.info``). They are solved together by batched
        CG (:func:`~krylearn.solvers.krylov.batched_cg.batched_cg`: one block product per iteration) when
        the operator stores its matrix (CSR, masked or variable-coefficient stencils), and one
        after the other for a uniform matrix-free stencil, where that is faster (measured:
        ``benchmarks/many_rhs.py``). A torch tensor runs the whole iteration in torch on its
        device (:func:`~krylearn.solvers.krylov.cg_torch.cg_torch`); ``res.x`` is then a tensor.
    x0 : array_like, optional
        Starting guess (default zeros), shaped like ``b``. Not modified.
    rtol, atol : float
        Relative and absolute tolerances of the stopping rule above.
    maxiter : int, optional
        Iteration limit (default ``10 n``).
    M : operator-like or callable, optional
        Preconditioner approximating ``A⁻¹`` (Hermitian positive definite, e.g.
        ``kl.precond.ic0(A)``). A preconditioner that says it is variable (``M.variable``: inner
        iterations, e.g. ``kl.precond.multigrid`` with its K-cycle coarse solve on mazes) gets the
        flexible update on its own — ``α = (p, r)/(p, Ap)``, ``β = −(z, Ap)/(p, Ap)``, i.e. FCG(1)
        (Y. Notay, SIAM J. Sci. Comput. 22, 2000), one extra dot product per iteration,
        ``res.info["flexible"] = True`` — so conjugacy is never silently lost. For longer
        truncations use :func:`krylearn.fcg`.
    callback : callable, optional
        ``callback(state) -> bool`` after each iteration; return True to stop (status USER_STOP).
    raise_on_indefinite : bool
        Raise :class:`SolverError` instead of returning status INDEFINITE.
    check_true_residual : bool
        Verify convergence with a true residual (one extra product); default True.
    estimate_eigenvalues : bool
        Return the Ritz values of the Lanczos tridiagonal that CG builds implicitly (from its
        ``α_k``, ``β_k``: ``T_kk = 1/α_k + β_{k−1}/α_{k−1}``, ``T_{k,k+1} = √β_k/α_k``; Golub & Van
        Loan, *Matrix Computations*, §11.3.5) in ``res.info["ritz_values"]``, their extremes in
        ``res.info["eigenvalue_estimates"]`` (``(λ_min, λ_max)`` of ``M A``, or of ``A`` without
        ``M``: λ_max converges from below, λ_min from above) and ``res.info["condition_estimate"]``.
        Costs O(k) per iteration and one k×k tridiagonal eigensolve at the end (PETSc's
        ``KSPComputeExtremeSingularValues``).

    Returns
    -------
    SolverResult
        ``x``, ``status`` (CONVERGED, MAX_ITERATIONS, INDEFINITE when ``(p, Ap) ≤ 0`` or
        ``(r, Mr) ≤ 0``, STAGNATION, USER_STOP, NOT_FINITE), ``iterations``, ``residuals``
        (``‖r_k‖₂``), ``time``.

    Examples
    --------
    >>> import krylearn as kl, numpy as np
    >>> A = kl.pde.poisson((32, 32))
    >>> res = kl.cg(A, np.ones(A.shape[0]), rtol=1e-8)
    >>> res.converged
    True
    """
    run = KrylovRun("cg", A, b, x0, M=M, maxiter=maxiter, rtol=rtol, atol=atol, variable_ok=True)
    if run.zero_rhs is not None:
        return run.zero_rhs
    A, b, x, M, maxiter = run.A, run.b, run.x, run.M, run.maxiter
    flexible = M is not None and M.variable
    if flexible and estimate_eigenvalues:
        raise ValueError("estimate_eigenvalues needs a fixed preconditioner; M is variable (M.variable)")
    if (done := run.start(callback, name="cg" if M is None else "pcg")) is not None:
        return done
    mon, r, rnorm = run.mon, run.r, run.rnorm
    if flexible:
        mon.info["flexible"] = True
    rr = rnorm * rnorm

    z = r if M is None else M.matvec(r)
    rz = rr if M is None else float(np.real(dot(r, z)))
    # (flexible: FCG needs no (r, z) > 0 — its step length is (p, r)/(p, Ap) — so a nonlinear
    # preconditioner that is not positive is no error)
    if M is not None and not flexible and not rz > 0:
        status = run.indefinite(x, 0, "the preconditioner M is not positive definite", raise_on_indefinite)
        return run.finish(x, status, 0, rnorm)
    p = np.array(z, copy=True)
    eps = float(np.finfo(x.dtype).eps)  # the working precision (float32 for a float32 b)
    # fused ``q = A p`` and ``(p, q)`` in one pass into a preallocated q where the operator allows
    # (PoissonStencil.matvec_dot, float64 CSR matrices); otherwise matvec then dot.
    matvec_dot = fused_matvec_dot(A, p)
    q = np.empty_like(p) if matvec_dot is not None else None
    stagnant = 0
    it = 0
    status = Status.MAX_ITERATIONS
    lanczos: tuple[list[float], list[float]] | None = ([], []) if estimate_eigenvalues else None  # CG's α_k and β_k
    while it < maxiter:
        if matvec_dot is not None:
            pq = float(matvec_dot(p, q))
        else:
            q = A.matvec(p)
            pq = float(np.real(dot(p, q)))
        verdict = run.curvature(x, it, pq, raise_on_indefinite)
        if verdict is not None:
            status = verdict
            break
        # flexible: (p, r) instead of (r, z) — equal for a fixed M, the right step length otherwise
        alpha = (float(np.real(dot(p, r))) if flexible else rz) / pq
        if lanczos is not None:
            lanczos[0].append(alpha)
        rr = cg_update_xr(x, r, p, q, alpha)
        it += 1
        rnorm = np.sqrt(rr)
        # NaN/Inf, or a recursive residual below tol that the true residual must confirm
        r, rnorm, verdict = run.check(x, it, r, rnorm, check_true_residual)
        if verdict is not None:
            status = verdict
            break
        if it % 16 == 0:
            # stagnation guard: the step no longer changes x at this precision
            step = abs(alpha) * np.sqrt(abs(float(np.real(dot(p, p)))))
            stagnant = stagnant + 1 if step <= 8 * eps * np.linalg.norm(x) else 0
            if stagnant >= 3:
                status = run.stagnation(x, it, rnorm)
                break
        if mon.record(it, rnorm, x=x):
            status = Status.USER_STOP
            break
        if M is None:
            rz_new = rnorm * rnorm
            z = r
        else:
            z = M.matvec(r)
            rz_new = float(np.real(dot(r, z)))
            if not flexible and not rz_new > 0:
                status = run.indefinite(x, it, "the preconditioner M is not positive definite", raise_on_indefinite)
                return run.finish(x, status, it, rnorm)
        # flexible: A-orthogonalise z against p explicitly (FCG(1)); q still holds A p
        beta = -float(np.real(dot(z, q))) / pq if flexible else rz_new / rz
        if lanczos is not None:
            lanczos[1].append(beta)
        rz = rz_new
        xpby(p, z, beta)
    if lanczos is not None:
        _ritz_values(mon.info, *lanczos)
    return run.finish(x, status, it, rnorm)


def _ritz_values(info, alphas, betas):
    """The Lanczos tridiagonal implied by CG's step lengths (see ``estimate_eigenvalues``)."""
    k = len(alphas)
    a = np.asarray(alphas, dtype=float)
    bt = np.asarray(betas[: max(k - 1, 0)], dtype=float)
    diag = 1.0 / a if k else a
    if k > 1:
        diag[1:] += bt / a[:-1]
    ritz_summary(info, diag, np.sqrt(bt) / a[:-1] if k > 1 else bt)

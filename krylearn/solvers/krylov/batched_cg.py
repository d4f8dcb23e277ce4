"""Batched conjugate gradients: ``A X = B`` for ``k`` right-hand sides at once.

Each column runs its own (preconditioned) CG recurrence — the iterates are exactly those of ``k``
separate calls of :func:`krylearn.cg` — but the columns share every pass over memory: one block
product ``Q = A P`` per iteration (the operator is read once for all ``k`` columns: a fused
numba kernel for grid stencils and CSR matrices), one block preconditioner application
``Z = M R`` (``M.matmat``), and fused block vector updates. A column that meets the stopping rule
(confirmed with its true residual) or fails leaves the block, which is compacted, so later
iterations cost only what the unconverged columns need.

Why batched and not block CG (D. P. O'Leary, "The block conjugate gradient algorithm and related
methods", Linear Algebra Appl. 29, 1980): block CG shares one Krylov space among the columns and
can need fewer iterations, but it needs a rank-revealing orthogonalisation of the ``k`` search
directions every iteration (O(n k²) work, and deflation when columns become dependent), while the
product with a sparse ``A`` costs O(nnz·k). For the stencil and CSR operators of this package the
product is the cheap part, so the extra dense work and the coupling of the columns' convergence
are not paid back; measured in ``benchmarks/many_rhs.py`` (BENCHMARKS.md, "Many right-hand
sides"). Batched CG keeps the columns independent: each column's status, iterations and history
are its own, and results equal the one-column solver's.
"""

from __future__ import annotations

import time

import numpy as np

from ...operators.convert import aslinearoperator, check_finite_matrix
from ._block_kernels import block_dots, block_update_xr, block_xpby, fused_matmat_dot
from .._common import (_SINGLE, SAFE_NORM_RANGE, SINGLE_SAFE_NORM_RANGE, as_preconditioner, check_run_options,
                      in_precision, resolve_maxiter, safe_norm, single_precision_reason, working_dtype)
from .._columns import check_block, overall_status
from ..result import SolverError, SolverResult, SolverState, Status

__all__ = ["batched_cg", "prefers_batched"]


def prefers_batched(A):
    """Whether ``k`` right-hand sides of ``A`` are faster as one batched CG than as ``k`` solves in a
    row — the rule :func:`krylearn.cg` applies (measured in ``benchmarks/many_rhs.py``).

    Batching saves reading the operator ``k − 1`` times per iteration and costs cache locality:
    the ``(n, k)`` work arrays are ``k`` times larger than one column's. It pays when the operator
    stores its matrix (CSR, grid stencils with a mask or variable coefficients) and loses on a
    uniform matrix-free grid stencil, which reads nothing but the vectors."""
    from .._kernels import _unwrapped

    inner = _unwrapped(aslinearoperator(A))
    return not getattr(inner, "uniform", False)


def batched_cg(A, B, X0=None, *, rtol=1e-5, atol=0.0, maxiter=None, M=None, callback=None,
               check_true_residual=True, raise_on_indefinite=False, estimate_eigenvalues=False):
    """Solve ``A X = B`` (``B`` of shape ``(n, k)``) by ``k`` CG recurrences sharing every product.

    :func:`krylearn.cg` calls this for a two-dimensional ``b`` with more than one column; the
    arguments are those of :func:`krylearn.cg`, applied column by column: the stopping rule
    ``‖b_c − A x_c‖₂ ≤ max(atol, rtol·‖b_c‖₂)`` holds for every column ``c`` (each confirmed with
    its true residual), ``maxiter`` bounds every column (default ``10 n``), ``M`` is one Hermitian
    positive definite preconditioner for all columns (applied to the block by ``M.matmat``).

    Columns whose norm lies outside the safe range (see :func:`krylearn.solvers._common.rescaled`)
    are solved scaled to unit norm and scaled back.

    Returns
    -------
    SolverResult
        ``x`` of shape ``(n, k)``; ``residuals`` of shape ``(iterations + 1, k)`` (NaN after a
        column stopped); ``iterations`` the most any column took; ``status`` CONVERGED when every
        column converged, else the status of the first column that did not; ``b_norm`` and ``tol``
        arrays of length ``k``; ``info["iterations"]`` and ``info["statuses"]`` per column,
        ``info["batched"] = True``.
    """
    t0 = time.perf_counter()
    if estimate_eigenvalues:
        raise ValueError("estimate_eigenvalues is not available for several right-hand sides: "
                         "solve one column with kl.cg(A, b[:, j], estimate_eigenvalues=True)")
    A = aslinearoperator(A)
    n = A.shape[0]
    if A.shape[0] != A.shape[1]:
        raise ValueError(f"cg needs a square operator, got shape {A.shape}")
    check_finite_matrix(A)
    B_in = np.asarray(B)
    dtype = working_dtype(A.dtype, B_in.dtype, None if X0 is None else np.asarray(X0).dtype)
    B = check_block(B_in, n, "b", dtype)
    k = B.shape[1]
    X = np.zeros((n, k), dtype=dtype) if X0 is None else check_block(X0, n, "x0", dtype)
    if X.shape != B.shape:
        raise ValueError(f"x0 has shape {X.shape}, b has shape {B.shape}")
    M = in_precision(as_preconditioner(M, n), dtype)
    A = in_precision(A, dtype)
    maxiter = resolve_maxiter(maxiter, n)
    check_run_options(rtol, atol, callback)

    # per-column scaling into the safe range (a linear solve commutes with it)
    bnorm = np.array([safe_norm(B[:, c]) for c in range(k)])
    lo, hi = SINGLE_SAFE_NORM_RANGE if dtype in _SINGLE else SAFE_NORM_RANGE
    scale = np.where((bnorm > 0) & ((bnorm < lo) | (bnorm > hi)), bnorm, 1.0)
    B /= scale
    X /= scale
    tol = np.maximum(float(atol) / scale, float(rtol) * bnorm / scale)

    R = B - A.matmat(X) if np.any(X) else B.copy()
    if not np.all(np.isfinite(R)):
        raise ValueError("A @ x0 produced NaN or Inf: the operator contains non-finite values")
    rnorm = np.sqrt(np.real(block_dots(R, R)))
    history = [[float(v)] for v in rnorm]
    status = [None] * k
    iters = np.zeros(k, dtype=np.int64)
    misses = np.zeros(k, dtype=np.int64)
    for c in range(k):
        if bnorm[c] == 0.0:  # b = 0: x = 0, whatever x0
            X[:, c] = 0.0
            history[c] = [0.0]
            status[c] = Status.CONVERGED
        elif rnorm[c] <= tol[c]:
            status[c] = Status.CONVERGED

    act = np.array([c for c in range(k) if status[c] is None], dtype=np.int64)
    info = {"columns": k, "batched": True}
    state = SolverState("batched-cg" if M is None else "batched-pcg", 0.0)
    it = 0
    if act.size:
        Xa, Ra, Ba = (np.ascontiguousarray(Y[:, act]) for Y in (X, R, B))
        blk = {"X": Xa, "R": Ra, "B": Ba}
        vec = {"tol": tol[act], "stag": np.zeros(act.size, dtype=np.int64)}

        def retire(leaving):
            """Columns flagged in ``leaving`` leave the block: their x goes back to X, the block is
            compacted. Returns the active global indices."""
            nonlocal act
            if not leaving.any():
                return act
            out = np.flatnonzero(leaving)
            X[:, act[out]] = blk["X"][:, out]
            keep = np.flatnonzero(~leaving)
            act = act[keep]
            if act.size:
                for key in blk:
                    blk[key] = np.ascontiguousarray(blk[key][:, keep])
                for key in vec:
                    vec[key] = vec[key][keep]
            return act

        def precondition(rr=None):
            R = blk["R"]
            blk["Z"] = R if M is None else np.ascontiguousarray(M.matmat(R), dtype=dtype)
            # unpreconditioned: (r, z) = ‖r‖², already summed by the update (unless restarted)
            rz = rr if rr is not None else np.real(block_dots(R, blk["Z"]))
            bad = ~(rz > 0)  # M is not positive definite on this residual
            for c in np.flatnonzero(bad):
                status[act[c]] = Status.INDEFINITE
            vec["rz_new"] = rz
            return bad

        retire(precondition())
        if act.size:
            vec["rz"] = vec["rz_new"]
            blk["P"] = blk["Z"].copy()
        # the fused block product, looked up once (the block keeps its dtype and C order)
        fused = fused_matmat_dot(A, blk["P"]) if act.size else None
        while act.size and it < maxiter:
            P, Xa, Ra = blk["P"], blk["X"], blk["R"]
            Q = blk.get("Q")
            if Q is None or Q.shape != P.shape:
                Q = blk["Q"] = np.empty_like(P)
            if fused is not None:
                pq = np.real(fused(P, Q))
            else:
                Q = blk["Q"] = np.ascontiguousarray(A.matmat(P), dtype=dtype)
                pq = np.real(block_dots(P, Q))
            bad = ~np.isfinite(pq) | (pq <= 0.0)
            for c in np.flatnonzero(bad):
                status[act[c]] = Status.NOT_FINITE if not np.isfinite(pq[c]) else Status.INDEFINITE
            alpha = np.where(bad, 0.0, vec["rz"] / np.where(bad, 1.0, pq))
            rr = block_update_xr(Xa, Ra, P, Q, alpha)
            rn = np.sqrt(np.maximum(rr, 0.0))
            it += 1
            leaving = bad.copy()
            for c in np.flatnonzero(~bad):
                g = act[c]
                iters[g] = it
                history[g].append(float(rn[c]))
                if not np.isfinite(rn[c]):
                    status[g], leaving[c] = Status.NOT_FINITE, True
            cols = np.flatnonzero((rn <= vec["tol"]) & ~leaving)
            if cols.size and check_true_residual:
                T = np.ascontiguousarray(blk["B"][:, cols] - A.matmat(np.ascontiguousarray(Xa[:, cols])))
                tn = np.sqrt(np.real(block_dots(T, T)))
            for m, c in enumerate(cols):
                g = act[c]
                if not check_true_residual or tn[m] <= vec["tol"][c]:
                    if check_true_residual:
                        history[g][-1] = float(tn[m])
                    status[g], leaving[c] = Status.CONVERGED, True
                    continue
                Ra[:, c] = T[:, m]  # the recursive residual drifted: continue from the true one
                misses[g] += 1
                if misses[g] > 5:
                    history[g][-1] = float(tn[m])
                    status[g], leaving[c] = Status.STAGNATION, True
            if it % 16 == 0:  # stagnation guard: the steps no longer change x at this precision
                step = np.abs(alpha) * np.sqrt(np.real(block_dots(P, P)))
                xn = np.sqrt(np.real(block_dots(Xa, Xa)))
                vec["stag"] = np.where(step <= 8 * np.finfo(dtype).eps * xn, vec["stag"] + 1, 0)
                for c in np.flatnonzero((vec["stag"] >= 3) & ~leaving):
                    status[act[c]], leaving[c] = Status.STAGNATION, True
                    # record the true residual: the recursive one may have drifted far below it
                    t = blk["B"][:, c] - A.matvec(np.ascontiguousarray(Xa[:, c]))
                    history[act[c]][-1] = float(np.linalg.norm(t.astype(np.float64)))
            if callback is not None:
                state.iteration, state.residual_norm = it, float(np.max(rn * scale[act]))
                state._x = Xa
                if callback(state):
                    for c in np.flatnonzero(~leaving):
                        status[act[c]] = Status.USER_STOP
                    leaving[:] = True
            rr = None if (M is not None or cols.size) else rr[~leaving]
            if not retire(leaving).size:
                break
            if not retire(precondition(rr)).size:
                break
            beta = vec["rz_new"] / vec["rz"]
            vec["rz"] = vec["rz_new"]
            block_xpby(blk["P"], blk["Z"], beta)
        if act.size:
            X[:, act] = blk["X"]
            for g in act:
                status[g] = Status.MAX_ITERATIONS
    length = max(len(h) for h in history)
    hist = np.full((length, k), np.nan)
    for c, h in enumerate(history):
        hist[: len(h), c] = np.asarray(h) * scale[c]
    info.update(iterations=iters, statuses=status)
    if np.any(misses):
        info["restarts"] = misses
    if np.any(scale != 1.0):
        info["rescaled_by"] = scale
    if Status.STAGNATION in status and dtype in _SINGLE:
        info["reason"] = single_precision_reason(np.dtype(dtype).name, np.finfo(dtype).eps)
    res = SolverResult(x=(X * scale.astype(X.real.dtype)), status=overall_status(status), iterations=int(iters.max(initial=0)), residuals=hist,
                        time=time.perf_counter() - t0, method="batched-cg" if M is None else "batched-pcg",
                        b_norm=bnorm, tol=tol * scale, info=info)
    if raise_on_indefinite and Status.INDEFINITE in status:
        raise SolverError(res)
    return res

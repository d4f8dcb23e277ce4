"""Numba sweeps of the SOR family on CSR matrices, with the residual fused into the sweep.

One sweep of SOR (forward), of the backward SOR sweep, of SSOR (forward then backward) and of
damped Jacobi, plus whole solve loops that run entirely inside numba (the fast path when no
callback is given: one call per solve, so the per-call overhead is a few microseconds).

**Fused residual.** Checking ``‖b − A x‖`` after every sweep would cost a second pass over
the matrix. Instead, the forward sweep that turns ``x_k`` into ``x_{k+1}`` also computes the
residual of its *input* ``r_k = b − A x_k``: row ``i`` of the sweep already forms
``b_i − Σ_{j≠i} a_ij x_j`` with new values for ``j < i``; the sweep stores its increments
``Δ_j = x_j^{new} − x_j^{old}`` and adds back ``Σ_{j<i} a_ij Δ_j`` (the lower part of the row
is already in cache), which turns the mixed residual into the residual of ``x_k``. When
``‖r_k‖`` meets the tolerance, the sweep just made is undone (``x ← x − Δ``), so the returned
``x`` is exactly the iterate whose residual was tested, ``iterations = k`` and
``residuals[k] = ‖r_k‖``. Jacobi keeps two buffers and needs no undo.

Reference: Y. Saad, "Iterative Methods for Sparse Linear Systems", 2nd ed., SIAM 2003, §4.1;
D. M. Young, "Iterative Solution of Large Linear Systems", Academic Press 1971.
"""

from __future__ import annotations

import math
import numbers

import numba as nb
import numpy as np
import scipy.sparse as sp

from ..threads import parallel_twin

__all__ = ["assembled_csr", "CSRSystem", "run_stationary", "STALL_SWEEPS"]

_JIT = dict(cache=True, nogil=True)


@nb.njit(**_JIT)
def diag_positions(indptr, indices):
    """Position of the diagonal entry of each row, ``-1`` where the row has none.

    Requires sorted column indices within each row."""
    n = indptr.shape[0] - 1
    out = np.full(n, -1, dtype=np.int64)
    for i in range(n):
        lo = indptr[i]
        hi = indptr[i + 1]
        # binary search (rows are sorted)
        while lo < hi:
            mid = (lo + hi) // 2
            j = indices[mid]
            if j < i:
                lo = mid + 1
            else:
                hi = mid
        if lo < indptr[i + 1] and indices[lo] == i:
            out[i] = lo
    return out


# FMA contraction allowed (no other fast-math): the sweeps are latency-bound recurrences
_FAST = dict(cache=True, nogil=True, fastmath={"contract"})

#: a run stops with status STAGNATION when the residual has not reached a new minimum for
#: this many sweeps (a diverging iteration, or one stuck at rounding level)
STALL_SWEEPS = 1000

# status codes returned by the numba loops
_CONVERGED, _MAXITER, _NOT_FINITE, _STAGNATION = 0, 1, 2, 3


# --------------------------------------------------------------------------------------
# input: an assembled CSR matrix
# --------------------------------------------------------------------------------------
def assembled_csr(A, method="this method"):
    """The assembled square CSR matrix of ``A`` (canonical: sorted, no duplicates; float64 or
    complex128; finite), without copying when ``A`` already is one.

    Accepts a scipy.sparse matrix/array, a dense array, or any operator with ``.tocsr()``
    (:class:`~krylearn.operators.convert.SparseOperator`, ``MatrixOperator``, ``PoissonStencil``,
    a PETSc AIJ wrapper...). Matrix-free operators raise ``ValueError``.
    """
    if sp.issparse(A):
        M = A
    elif isinstance(A, np.ndarray):
        if A.ndim != 2:
            raise ValueError(f"{method} needs a matrix, got an array of shape {A.shape}")
        M = sp.csr_matrix(A)
    else:
        tocsr = getattr(A, "tocsr", None)
        if tocsr is None:
            from ..operators.convert import aslinearoperator

            op = aslinearoperator(A)  # TypeError for things that are no operator at all
            tocsr = getattr(op, "tocsr", None)
        M = None
        if tocsr is not None:
            try:
                M = tocsr()
            except (AttributeError, NotImplementedError):
                M = None
        if M is None:
            raise ValueError(f"{method} needs the assembled matrix (its entries), but "
                             f"{type(A).__name__} is matrix-free and has no tocsr(); assemble it "
                             "(e.g. scipy.sparse) or use a Krylov solver with kl.precond.jacobi")
        if not sp.issparse(M):
            M = sp.csr_matrix(np.asarray(M))
    if M.format != "csr":
        M = M.tocsr()
    if M.ndim != 2 or M.shape[0] != M.shape[1]:
        raise ValueError(f"{method} needs a square matrix, got shape {M.shape}")
    if M.dtype not in (np.float64, np.complex128):
        if np.issubdtype(M.dtype, np.complexfloating):
            M = M.astype(np.complex128)
        elif np.issubdtype(M.dtype, np.number) or M.dtype == np.bool_:
            M = M.astype(np.float64)
        else:
            raise ValueError(f"{method}: matrix dtype {M.dtype} is not numeric")
    if not M.has_canonical_format:
        M = M.copy()
        M.sum_duplicates()
    if not np.all(np.isfinite(M.data)):
        raise ValueError(f"{method}: the matrix contains NaN or Inf")
    return M


class CSRSystem:
    """A square CSR matrix prepared for sweeps: diagonal positions and inverse diagonal.

    Raises ``ValueError`` naming the first row whose diagonal entry is zero or missing."""

    __slots__ = ("csr", "n", "indptr", "indices", "data", "dptr", "diag", "invdiag", "dtype")

    def __init__(self, A, method="this method"):

        M = assembled_csr(A, method)
        self.csr = M
        self.n = M.shape[0]
        self.indptr, self.indices, self.data = M.indptr, M.indices, M.data
        dptr = diag_positions(M.indptr, M.indices)
        missing = np.flatnonzero(dptr < 0)
        if missing.size:
            raise ValueError(f"{method} needs a nonzero diagonal, but row {missing[0]} has no diagonal "
                             f"entry ({missing.size} such rows)")
        diag = M.data[dptr]
        zero = np.flatnonzero(diag == 0)
        if zero.size:
            raise ValueError(f"{method} needs a nonzero diagonal, but A[{zero[0]}, {zero[0]}] = 0 "
                             f"({zero.size} zero diagonal entries)")
        self.dptr = dptr
        self.diag = diag
        self.invdiag = 1.0 / diag
        self.dtype = M.dtype


# --------------------------------------------------------------------------------------
# sweeps
# --------------------------------------------------------------------------------------
@nb.njit(**_FAST)
def sor_forward(indptr, indices, data, dptr, invdiag, b, x, d, omega):
    """One forward SOR sweep in place; ``d`` receives the increments. Returns ``‖b − A x_in‖²``.

    The coupling to the previous row ``i−1`` (present in stencil matrices) is applied last
    from registers (``x_{i−1}``, ``Δ_{i−1}``), so the rest of the row overlaps with the
    recurrence instead of waiting for a store and reload."""
    n = indptr.shape[0] - 1
    rr = 0.0
    xprev = 0.0 * x[0]
    dprev = 0.0 * x[0]
    for i in range(n):
        s = b[i]
        t = 0.0 * s
        p0 = indptr[i]
        pd = dptr[i]
        prev = pd > p0 and indices[pd - 1] == i - 1
        pe = pd - 1 if prev else pd
        for p in range(p0, pe):
            j = indices[p]
            a = data[p]
            s -= a * x[j]
            t += a * d[j]
        for p in range(pd + 1, indptr[i + 1]):
            s -= data[p] * x[indices[p]]
        xi = x[i]
        s -= data[pd] * xi
        if prev:
            a = data[pd - 1]
            s -= a * xprev
            t += a * dprev
        ri = s + t
        rr += (ri * np.conj(ri)).real
        dx = omega * s * invdiag[i]
        xi += dx
        x[i] = xi
        d[i] = dx
        xprev = xi
        dprev = dx
    return rr


@nb.njit(**_FAST)
def sor_backward(indptr, indices, data, dptr, invdiag, b, x, d, omega):
    """One backward SOR sweep in place; adds its increments to ``d``."""
    n = indptr.shape[0] - 1
    xnext = 0.0 * x[0]
    for i in range(n - 1, -1, -1):
        s = b[i]
        pd = dptr[i]
        p1 = indptr[i + 1]
        nxt = p1 > pd + 1 and indices[pd + 1] == i + 1
        for p in range(indptr[i], pd):
            s -= data[p] * x[indices[p]]
        for p in range(pd + 2 if nxt else pd + 1, p1):
            s -= data[p] * x[indices[p]]
        xi = x[i]
        s -= data[pd] * xi
        if nxt:
            s -= data[pd + 1] * xnext
        dx = omega * s * invdiag[i]
        xi += dx
        x[i] = xi
        d[i] += dx
        xnext = xi


@nb.njit(**_JIT)
def jacobi_sweep(indptr, indices, data, invdiag, b, x, y, omega):
    """``y = x + ω D⁻¹ (b − A x)``; returns ``‖b − A x‖²``."""
    n = indptr.shape[0] - 1
    rr = 0.0
    for i in nb.prange(n):  # parallel in the twin, a plain loop here
        s = b[i]
        for p in range(indptr[i], indptr[i + 1]):
            s -= data[p] * x[indices[p]]
        rr += (s * np.conj(s)).real
        y[i] = x[i] + omega * s * invdiag[i]
    return rr


#: the threaded twin of :func:`jacobi_sweep` (for large systems), compiled from its source
jacobi_sweep_par = parallel_twin(jacobi_sweep)


@nb.njit(**_JIT)
def _undo(x, d):
    for i in range(x.shape[0]):
        x[i] -= d[i]


@nb.njit(inline="always")
def _progress(rn, best, since):
    """The stall counter of the sweep loops: ``(best, 0)`` on a new best residual, else one more
    sweep ``since`` it."""
    if rn < best:
        return rn, 0
    return best, since + 1


@nb.njit(**_JIT)
def sor_loop(indptr, indices, data, dptr, invdiag, b, x, d, omega, symmetric, tol, rtol, rel_r0,
             maxiter, hist, stall):
    """Whole SOR/SSOR solve. Returns ``(iterations, status, tol)``; ``hist[:iterations+1]``
    holds ``‖r_k‖``; ``x`` holds the iterate ``x_iterations``."""
    best = np.inf
    since = 0
    k = 0
    while True:
        rr = sor_forward(indptr, indices, data, dptr, invdiag, b, x, d, omega)
        if symmetric:
            sor_backward(indptr, indices, data, dptr, invdiag, b, x, d, omega)
        rn = math.sqrt(rr)
        hist[k] = rn
        if k == 0 and rel_r0:
            tol = max(tol, rtol * rn)
        if not np.isfinite(rn):
            _undo(x, d)
            return k, _NOT_FINITE, tol
        if rn <= tol:
            _undo(x, d)
            return k, _CONVERGED, tol
        if k >= maxiter:
            _undo(x, d)
            return k, _MAXITER, tol
        best, since = _progress(rn, best, since)
        if since >= stall:
            _undo(x, d)
            return k, _STAGNATION, tol
        k += 1


@nb.njit(**_JIT)
def jacobi_loop(indptr, indices, data, invdiag, b, x, y, omega, tol, rtol, rel_r0, maxiter, hist, stall, par):
    """Whole damped-Jacobi solve alternating the buffers ``x`` and ``y`` (threaded sweeps when
    ``par``). Returns ``(iterations, status, tol, in_y)``; the final iterate is in ``y`` when ``in_y``."""
    best = np.inf
    since = 0
    k = 0
    while True:
        src, dst = (x, y) if k % 2 == 0 else (y, x)
        if par:
            rr = jacobi_sweep_par(indptr, indices, data, invdiag, b, src, dst, omega)
        else:
            rr = jacobi_sweep(indptr, indices, data, invdiag, b, src, dst, omega)
        in_y = k % 2 == 1  # the iterate x_k (whose residual was just computed)
        rn = math.sqrt(rr)
        hist[k] = rn
        if k == 0 and rel_r0:
            tol = max(tol, rtol * rn)
        if not np.isfinite(rn):
            return k, _NOT_FINITE, tol, in_y
        if rn <= tol:
            return k, _CONVERGED, tol, in_y
        if k >= maxiter:
            return k, _MAXITER, tol, in_y
        best, since = _progress(rn, best, since)
        if since >= stall:
            return k, _STAGNATION, tol, in_y
        k += 1


# --------------------------------------------------------------------------------------
# the driver shared by jacobi / gauss_seidel / sor / ssor
# --------------------------------------------------------------------------------------
_PAR_JACOBI_MIN_N = 50_000


def run_stationary(system, kind, b, x0, *, omega, rtol, atol, maxiter, callback, relative_to, method):
    """Run one stationary solve on a prepared :class:`CSRSystem`.

    ``kind`` is ``"jacobi"``, ``"sor"`` (forward sweeps) or ``"ssor"`` (forward + backward)."""
    import time

    from ._common import _check_vector
    from .result import SolverResult, Status

    t0 = time.perf_counter()
    n = system.n
    if not isinstance(omega, numbers.Real) or not np.isfinite(omega):
        raise ValueError(f"omega must be a finite real number, got {omega!r}")
    omega = float(omega)
    if kind == "jacobi":
        if not omega > 0:
            raise ValueError(f"omega (Jacobi damping) must be positive, got {omega}")
    elif not 0.0 < omega < 2.0:
        raise ValueError(f"omega must lie in the open interval (0, 2) for {method}, got {omega} "
                         "(SOR diverges outside it)")
    for name, v in (("rtol", rtol), ("atol", atol)):
        if not isinstance(v, numbers.Real) or not np.isfinite(v) or v < 0:
            raise ValueError(f"{name} must be a finite non-negative number, got {v!r}")
    if relative_to not in ("b", "r0"):
        raise ValueError(f"relative_to must be 'b' or 'r0', got {relative_to!r}")
    if maxiter is None:
        maxiter = 10 * n
    if not isinstance(maxiter, numbers.Integral) or maxiter < 0:
        raise ValueError(f"maxiter must be a non-negative integer, got {maxiter!r}")
    maxiter = int(maxiter)
    if callback is not None and not callable(callback):
        raise TypeError("callback must be callable: callback(state) -> bool")
    b_arr = np.asarray(b)
    dtype = np.result_type(system.dtype, b_arr.dtype if np.issubdtype(b_arr.dtype, np.number) else np.float64)
    if x0 is not None:
        dtype = np.result_type(dtype, np.asarray(x0).dtype)
    b = _check_vector(b_arr, n, "b", dtype)
    x = np.zeros(n, dtype=dtype) if x0 is None else _check_vector(x0, n, "x0", dtype)
    b_norm = float(np.linalg.norm(b))
    rel_r0 = relative_to == "r0"
    tol = float(atol) if rel_r0 else max(float(atol), float(rtol) * b_norm)
    info = {"omega": omega, "tested_residual": "2-norm of b - A x_k, computed inside sweep k+1 "
                                               "(that sweep is undone when the test passes)"}
    if n == 0 or (b_norm == 0.0 and x0 is None):
        return SolverResult(x=x, status=Status.CONVERGED, iterations=0, residuals=np.zeros(1),
                            time=time.perf_counter() - t0, method=method, b_norm=0.0, tol=tol, info=info)
    args = (system.indptr, system.indices, system.data)
    hist = np.empty(maxiter + 1)
    if callback is None:
        if kind == "jacobi":
            y = np.empty_like(x)
            k, code, tol, in_y = jacobi_loop(*args, system.invdiag, b, x, y, omega, tol, float(rtol),
                                             rel_r0, maxiter, hist, STALL_SWEEPS,
                                             n >= _PAR_JACOBI_MIN_N)
            if in_y:
                x = y
        else:
            d = np.zeros_like(x)
            k, code, tol = sor_loop(*args, system.dptr, system.invdiag, b, x, d, omega, kind == "ssor",
                                    tol, float(rtol), rel_r0, maxiter, hist, STALL_SWEEPS)
        status = (Status.CONVERGED, Status.MAX_ITERATIONS, Status.NOT_FINITE, Status.STAGNATION)[code]
    else:
        k, status, x, tol = _python_loop(system, kind, args, b, x, omega, tol, float(rtol), rel_r0, maxiter,
                                         hist, callback, method, n)
    residuals = hist[:k + 1].copy()
    if status is Status.STAGNATION:
        info["reason"] = ("diverging: the residual grew from {:.3e} to {:.3e}".format(residuals[0], residuals[-1])
                          if residuals[-1] > residuals[0] else
                          f"no new residual minimum in {STALL_SWEEPS} sweeps")
    return SolverResult(x=x, status=status, iterations=int(k), residuals=residuals,
                        time=time.perf_counter() - t0, method=method, b_norm=b_norm, tol=float(tol), info=info)


def _python_loop(system, kind, args, b, x, omega, tol, rtol, rel_r0, maxiter, hist, callback, method, n):
    """The same iteration as the numba loops, one kernel call per sweep, with the callback."""
    from .result import SolverState, Status

    state = SolverState(method, tol)
    use_par = n >= _PAR_JACOBI_MIN_N
    if kind == "jacobi":
        y = np.empty_like(x)
        jac = jacobi_sweep_par if use_par else jacobi_sweep
    else:
        d = np.zeros_like(x)
    best, since, k = np.inf, 0, 0
    while True:
        if kind == "jacobi":
            rr = jac(*args, system.invdiag, b, x, y, omega)
            cur = x  # x_k
        else:
            rr = sor_forward(*args, system.dptr, system.invdiag, b, x, d, omega)
            if kind == "ssor":
                sor_backward(*args, system.dptr, system.invdiag, b, x, d, omega)
        rn = math.sqrt(rr)
        hist[k] = rn
        if k == 0 and rel_r0:
            tol = max(tol, rtol * rn)
            state.tol = tol
        status = None
        if not np.isfinite(rn):
            status = Status.NOT_FINITE
        elif rn <= tol:
            status = Status.CONVERGED
        elif k >= maxiter:
            status = Status.MAX_ITERATIONS
        else:
            if rn < best:
                best, since = rn, 0
            else:
                since += 1
                if since >= STALL_SWEEPS:
                    status = Status.STAGNATION
        if status is None:
            state.iteration = k
            state.residual_norm = rn
            if kind == "jacobi":
                state._x, state._x_fn = cur, None
            else:
                state._x, state._x_fn = None, (lambda x=x, d=d: x - d)
            if callback(state):
                status = Status.USER_STOP
        if status is not None:
            if kind == "jacobi":
                return k, status, x, tol
            _undo(x, d)
            return k, status, x, tol
        if kind == "jacobi":
            x, y = y, x
        k += 1

"""Fused one-pass kernels of sketching least squares: one numba pass over a dense (C-ordered) or
CSR ``A`` gives both ``r = b − A x`` and ``Aᵀ r`` (or ``w = A v`` and ``Aᵀ w``), so an iteration of
every :func:`krylearn.lstsq` method reads ``A`` once from memory; :class:`_Ops` picks the pass."""

from __future__ import annotations

import numba as nb
import numpy as np
import scipy.sparse as sp

from ...threads import get_num_threads

# ---------------------------------------------------------------------------------------
# fused one-pass kernels
# ---------------------------------------------------------------------------------------
_ROWBLK = 64


@nb.njit(cache=True, fastmath=True)
def _kahan_add(g, comp, gl):
    """g += gl with Kahan compensation (comp carries the lost low-order parts)."""
    for k in range(g.shape[0]):
        y = gl[k] - comp[k]
        t = g[k] + y
        comp[k] = (t - g[k]) - y
        g[k] = t
        gl[k] = 0.0


@nb.njit(cache=True, parallel=True)
def _dense_fused(A, b, x, r, nt, mode):
    """mode 0: r = b − A x; mode 1: r = A x. Returns Aᵀ r, reading A once.

    Aᵀ r is accumulated over blocks of 64 rows, and the block sums are added with Kahan
    compensation: its rounding error is that of a 64-term sum, not an n-term one. This matters
    for ill-conditioned A, where the preconditioner amplifies the rounding of Aᵀ r by κ(A)."""
    n, d = A.shape
    G = np.zeros((nt, d))
    chunk = (n + nt - 1) // nt
    for t in nb.prange(nt):
        g = G[t]
        comp = np.zeros(d)
        gl = np.zeros(d)
        i0 = t * chunk
        i1 = min(n, (t + 1) * chunk)
        for blk in range(i0, i1, _ROWBLK):
            _rows_block(A, b, x, r, gl, blk, min(i1, blk + _ROWBLK), mode)
            _kahan_add(g, comp, gl)
        for k in range(d):
            g[k] -= comp[k]
    out = np.zeros(d)
    for t in range(nt):
        out += G[t]
    return out


@nb.njit(cache=True, fastmath=True)
def _rows_block(A, b, x, r, gl, i0, i1, mode):
    d = A.shape[1]
    for i in range(i0, i1):
        s = 0.0
        for k in range(d):
            s += A[i, k] * x[k]
        ri = b[i] - s if mode == 0 else s
        r[i] = ri
        for k in range(d):
            gl[k] += ri * A[i, k]


@nb.njit(cache=True)
def _dense_fused_1(A, b, x, r, mode):
    """One-thread twin of :func:`_dense_fused` (same operations in the same order as ``nt = 1``):
    a parallel kernel wakes the thread pool on every call, which costs milliseconds on a loaded
    machine — far more than a small problem's pass over ``A``."""
    n, d = A.shape
    g = np.zeros(d)
    comp = np.zeros(d)
    gl = np.zeros(d)
    for blk in range(0, n, _ROWBLK):
        _rows_block(A, b, x, r, gl, blk, min(n, blk + _ROWBLK), mode)
        _kahan_add(g, comp, gl)
    for k in range(d):
        g[k] -= comp[k]
    return g


def _dense_resid_grad(A, b, x, r, nt):
    """r = b − A x and return Aᵀ r, reading A once."""
    if nt == 1:
        return _dense_fused_1(A, b, x, r, 0)
    return _dense_fused(A, b, x, r, nt, 0)


def _dense_normal(A, v, w, nt):
    """w = A v and return Aᵀ w, reading A once."""
    if nt == 1:
        return _dense_fused_1(A, w, v, w, 1)
    return _dense_fused(A, w, v, w, nt, 1)


@nb.njit(cache=True)
def _csr_rows(indptr, indices, data, b, x, r, g, i0, i1, mode):
    for i in range(i0, i1):
        s = 0.0
        for p in range(indptr[i], indptr[i + 1]):
            s += data[p] * x[indices[p]]
        ri = b[i] - s if mode == 0 else s
        r[i] = ri
        for p in range(indptr[i], indptr[i + 1]):
            g[indices[p]] += ri * data[p]


@nb.njit(cache=True, parallel=True)
def _csr_resid_grad_par(indptr, indices, data, b, x, r, d, nt, mode):
    n = indptr.shape[0] - 1
    G = np.zeros((nt, d))
    chunk = (n + nt - 1) // nt
    for t in nb.prange(nt):
        _csr_rows(indptr, indices, data, b, x, r, G[t], t * chunk, min(n, (t + 1) * chunk), mode)
    out = np.zeros(d)
    for t in range(nt):
        out += G[t]
    return out


def _csr_resid_grad(indptr, indices, data, b, x, r, d, nt, mode):
    """mode 0: r = b − A x, return Aᵀ r; mode 1: r = A x, return Aᵀ r (one pass over A;
    a serial kernel for one thread, see :func:`_dense_fused_1`)."""
    if nt == 1:
        g = np.zeros(d)
        _csr_rows(indptr, indices, data, b, x, r, g, 0, indptr.shape[0] - 1, mode)
        return g
    return _csr_resid_grad_par(indptr, indices, data, b, x, r, d, nt, mode)


class _Ops:
    """Products with A: plain ``matvec``/``rmatvec`` and the fused one-pass pairs."""

    def __init__(self, kind, M):
        self.kind = kind
        self.shape = M.shape
        if kind == "dense":
            M = np.asarray(M, dtype=np.float64)
            self.fused = M.flags.c_contiguous
        elif kind == "sparse":
            M = sp.csr_matrix(M, dtype=np.float64)
            M.sum_duplicates()
            self.indptr = M.indptr.astype(np.int64)
            self.indices = M.indices.astype(np.int64)
            self.fused = True
        else:
            self.fused = False
        self.M = M
        # threads only where a pass is big enough to pay for waking the pool (≥ 2^20 entries)
        work = M.nnz if kind == "sparse" else M.shape[0] * M.shape[1]
        self.nt = max(1, min(get_num_threads(), M.shape[0] // 2048, work >> 20))
        self.passes = 0           # passes over A (a fused pair counts once)

    def matvec(self, x):
        self.passes += 1
        return self.M @ x if self.kind != "operator" else self.M.matvec(x)

    def rmatvec(self, y):
        self.passes += 1
        if self.kind == "dense":
            return self.M.T @ y
        if self.kind == "sparse":
            return self.M.T @ y
        return self.M.rmatvec(y)

    def resid_grad(self, b, x):
        """``(r, Aᵀ r)`` with ``r = b − A x``."""
        if self.fused:
            self.passes += 1
            r = np.empty(self.shape[0])
            if self.kind == "dense":
                g = _dense_resid_grad(self.M, b, x, r, self.nt)
            else:
                g = _csr_resid_grad(self.indptr, self.indices, self.M.data, b, x, r, self.shape[1], self.nt, 0)
            return r, g
        r = b - self.matvec(x)
        return r, self.rmatvec(r)

    def normal(self, v):
        """``(w, Aᵀ w)`` with ``w = A v``."""
        if self.fused:
            self.passes += 1
            w = np.empty(self.shape[0])
            if self.kind == "dense":
                g = _dense_normal(self.M, v, w, self.nt)
            else:
                g = _csr_resid_grad(self.indptr, self.indices, self.M.data, w, v, w, self.shape[1], self.nt, 1)
            return w, g
        w = self.matvec(v)
        return w, self.rmatvec(w)

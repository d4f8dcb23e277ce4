"""Fused kernels (numba) for blocks of vectors: ``k`` right-hand sides solved together.

A block is an ``(n, k)`` C-order array: the ``k`` values of one unknown are contiguous, so one pass
over the rows touches every column (and, in an operator product, reads the matrix once for all
``k`` columns). Column reductions are accumulated per chunk of rows into ``partial[chunk, c]`` and
summed afterwards, so a parallel run needs no shared accumulator; a chunk is one thread's share.
Real float64 and float32 blocks take these kernels (sums accumulated in float64); other dtypes fall
back to NumPy.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ...threads import PARALLEL_MIN, get_num_threads, pick
from .._kernels import fused_source

__all__ = ["block_update_xr", "block_xpby", "block_dots", "fused_matmat_dot"]

_KW = dict(cache=True, nogil=True, fastmath={"reassoc"})


@nb.njit(**_KW)
def _update_xr(X, R, P, Q, alpha, partial):
    """X += P diag(α); R −= Q diag(α); partial[chunk, c] = Σ_rows R[:, c]²"""
    n, k = X.shape
    nch = partial.shape[0]
    for ch in nb.prange(nch):
        lo, hi = ch * n // nch, (ch + 1) * n // nch
        for c in range(k):
            partial[ch, c] = 0.0
        for i in range(lo, hi):
            for c in range(k):
                X[i, c] += alpha[c] * P[i, c]
                r = R[i, c] - alpha[c] * Q[i, c]
                R[i, c] = r
                partial[ch, c] += r * r


@nb.njit(**_KW)
def _xpby(P, Z, beta):
    """P = Z + P diag(β)"""
    n, k = P.shape
    for i in nb.prange(n):
        for c in range(k):
            P[i, c] = Z[i, c] + beta[c] * P[i, c]


@nb.njit(**_KW)
def _dots(A, B, partial):
    n, k = A.shape
    nch = partial.shape[0]
    for ch in nb.prange(nch):
        lo, hi = ch * n // nch, (ch + 1) * n // nch
        for c in range(k):
            partial[ch, c] = 0.0
        for i in range(lo, hi):
            for c in range(k):
                partial[ch, c] += A[i, c] * B[i, c]


@nb.njit(**_KW)
def _csr_block(indptr, indices, data, X, Y, partial):
    """Y = A X (CSR A, one pass over the matrix for all k columns); partial[chunk, c] = Σ X[:, c]·Y[:, c]"""
    n, k = Y.shape
    nch = partial.shape[0]
    for ch in nb.prange(nch):
        lo, hi = ch * n // nch, (ch + 1) * n // nch
        for c in range(k):
            partial[ch, c] = 0.0
        for i in range(lo, hi):
            for c in range(k):
                Y[i, c] = 0.0
            for jj in range(indptr[i], indptr[i + 1]):
                a = data[jj]
                j = indices[jj]
                for c in range(k):
                    Y[i, c] += a * X[j, c]
            for c in range(k):
                partial[ch, c] += X[i, c] * Y[i, c]


def _fast(*arrays):
    dt = arrays[0].dtype
    return dt in (np.float64, np.float32) and all(a.dtype == dt and a.flags.c_contiguous for a in arrays)


def _partial(X):
    """Chunks for a column reduction over ``X``: one per thread when the parallel twin runs."""
    nch = get_num_threads() if X.size >= PARALLEL_MIN else 1
    return np.empty((max(1, min(nch, X.shape[0])), X.shape[1]), dtype=np.float64)


def block_update_xr(X, R, P, Q, alpha):
    """In place ``X += P·diag(α)``, ``R −= Q·diag(α)``; returns the column norms² of the new ``R``."""
    if _fast(X, R, P, Q) and np.isrealobj(alpha):
        partial = _partial(X)
        pick(_update_xr, X.size)(X, R, P, Q, np.asarray(alpha, dtype=X.dtype), partial)
        return partial.sum(axis=0)
    X += P * alpha
    R -= Q * alpha
    return np.real(np.einsum("ij,ij->j", R.conj(), R))


def block_xpby(P, Z, beta):
    """In place ``P = Z + P·diag(β)``."""
    if _fast(P, Z) and np.isrealobj(beta):
        pick(_xpby, P.size)(P, Z, np.asarray(beta, dtype=P.dtype))
    else:
        P *= beta
        P += Z


def block_dots(A, B):
    """Column inner products ``a_cᴴ b_c`` (float64 accumulation for real blocks)."""
    if _fast(A, B):
        partial = _partial(A)
        pick(_dots, A.size)(A, B, partial)
        return partial.sum(axis=0)
    return np.einsum("ij,ij->j", A.conj(), B)


def fused_matmat_dot(A, like):
    """A callable ``f(P, Q) -> column dots pᵀq`` writing ``Q = A P`` in place (one pass over the
    operator for all columns), or None when ``A`` has no fused block path. Qualify: operators with a
    ``matmat_dot(X, out)`` method (:class:`~krylearn.operators.stencil.PoissonStencil`) and CSR
    matrices, for real blocks of the matrix's dtype (float64; float32 CSR with float32 blocks)."""
    src = fused_source(A, like, "matmat_dot")
    if src is None or src[0] == "method":
        return None if src is None else src[1]
    csr = src[1]

    def matmat_dot(X, Y):
        partial = _partial(Y)
        pick(_csr_block, X.size)(*csr, X, Y, partial)
        return partial.sum(axis=0)

    return matmat_dot

"""Sparse sign embeddings: :class:`SparseSign` (``ζ`` entries ``±1/√ζ`` per column; Nelson &
Nguyen 2013, ζ = 8 after Epperly 2023) and :class:`CountSketch` (ζ = 1; Clarkson & Woodruff
2017), applied by numba kernels to dense or CSR ``A``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numba as nb
import numpy as np
import scipy.sparse as sp

from ...threads import get_num_threads
from ._base import Sketch, _check_size

if TYPE_CHECKING:  # annotations only
    from typing import Any


@nb.njit(cache=True, fastmath=True)
def _sparse_rows_dense(A, rows, vals, acc, i0, i1):
    d = A.shape[1]
    zeta = rows.shape[1]
    for i in range(i0, i1):
        for z in range(zeta):
            r = rows[i, z]
            v = vals[i, z]
            for k in range(d):
                acc[r, k] += v * A[i, k]


@nb.njit(cache=True)
def _sparse_rows_csr(indptr, indices, data, rows, vals, acc, i0, i1):
    zeta = rows.shape[1]
    for i in range(i0, i1):
        for z in range(zeta):
            r = rows[i, z]
            v = vals[i, z]
            for p in range(indptr[i], indptr[i + 1]):
                acc[r, indices[p]] += v * data[p]


@nb.njit(cache=True, parallel=True)
def _sparse_apply_dense_par(A, rows, vals, m, nthreads):
    n, d = A.shape
    acc = np.zeros((nthreads, m, d))
    chunk = (n + nthreads - 1) // nthreads
    for t in nb.prange(nthreads):
        _sparse_rows_dense(A, rows, vals, acc[t], t * chunk, min(n, (t + 1) * chunk))
    out = acc[0].copy()
    for t in range(1, nthreads):
        out += acc[t]
    return out


@nb.njit(cache=True, parallel=True)
def _sparse_apply_csr_par(indptr, indices, data, d, rows, vals, m, nthreads):
    n = indptr.shape[0] - 1
    acc = np.zeros((nthreads, m, d))
    chunk = (n + nthreads - 1) // nthreads
    for t in nb.prange(nthreads):
        _sparse_rows_csr(indptr, indices, data, rows, vals, acc[t], t * chunk, min(n, (t + 1) * chunk))
    out = acc[0].copy()
    for t in range(1, nthreads):
        out += acc[t]
    return out


def _sparse_apply_dense(A, rows, vals, m, nthreads):
    """``S A`` for a dense ``A``. One thread: a plain (non-parallel) kernel, which avoids the
    thread-pool wake-up that costs milliseconds per call on a loaded machine."""
    if nthreads <= 1:
        acc = np.zeros((m, A.shape[1]))
        _sparse_rows_dense(A, rows, vals, acc, 0, A.shape[0])
        return acc
    return _sparse_apply_dense_par(A, rows, vals, m, nthreads)


def _sparse_apply_csr(indptr, indices, data, d, rows, vals, m, nthreads):
    """``S A`` for a CSR ``A`` (serial kernel for one thread, as above)."""
    if nthreads <= 1:
        acc = np.zeros((m, d))
        _sparse_rows_csr(indptr, indices, data, rows, vals, acc, 0, indptr.shape[0] - 1)
        return acc
    return _sparse_apply_csr_par(indptr, indices, data, d, rows, vals, m, nthreads)


class SparseSign(Sketch):
    """Sparse sign embedding: each column of ``S`` has ``zeta`` nonzeros ``±1/√ζ`` in distinct
    random rows (default ``ζ = 8``, Epperly's recommendation; ``ζ = 1`` is CountSketch).

    ``S A`` costs ``O(ζ nnz(A))``: every row of ``A`` is added (with a sign) to ``ζ`` rows of the
    result, in a numba kernel with per-thread accumulators for dense and CSR ``A``.
    """

    kind = "sparse_sign"

    def __init__(self, m: Any, n: Any, seed: Any = None, zeta: int = 8) -> None:
        super().__init__(m, n, seed)
        zeta = _check_size(zeta, "zeta (nonzeros per column)")
        m, n = self.shape
        zeta = min(zeta, m)
        self.zeta = zeta
        rng = self._rng(0)
        rows = rng.integers(0, m, size=(n, zeta), dtype=np.int64)
        if zeta > 1:
            srt = np.sort(rows, axis=1)
            dup = np.nonzero(np.any(srt[:, 1:] == srt[:, :-1], axis=1))[0]
            for i in dup:  # redraw the (few) columns with a repeated row, without replacement
                rows[i] = rng.choice(m, size=zeta, replace=False)
        self.rows = rows
        self.vals = rng.choice(np.array([-1.0, 1.0]), size=(n, zeta)) / np.sqrt(zeta)
        self._S = None

    def tosparse(self) -> Any:
        """``S`` as a ``scipy.sparse.csr_matrix``."""
        if self._S is None:
            m, n = self.shape
            cols = np.repeat(np.arange(n), self.zeta)
            self._S = sp.csr_matrix((self.vals.ravel(), (self.rows.ravel(), cols)), shape=(m, n))
        return self._S

    def _apply_dense(self, A):
        A = np.asarray(A, dtype=np.float64)
        if A.ndim == 1:
            return self.tosparse() @ A
        A = np.ascontiguousarray(A)
        nt = min(get_num_threads(), max(1, A.shape[0] // 4096), max(1, A.size >> 20))
        return _sparse_apply_dense(A, self.rows, self.vals, self.shape[0], nt)

    def _apply_sparse(self, A):
        A = sp.csr_matrix(A)
        A.sum_duplicates()
        nt = min(get_num_threads(), max(1, A.shape[0] // 4096), max(1, A.nnz >> 20))
        return _sparse_apply_csr(A.indptr.astype(np.int64), A.indices.astype(np.int64),
                                 A.data.astype(np.float64), A.shape[1], self.rows, self.vals,
                                 self.shape[0], nt)

    def _matvec(self, x):
        return self.tosparse() @ x

    def _rmatvec(self, y):
        return self.tosparse().T @ y

    def todense(self) -> np.ndarray:
        return self.tosparse().toarray()


class CountSketch(SparseSign):
    """CountSketch (Clarkson–Woodruff): one ``±1`` per column of ``S`` in a random row; ``O(nnz(A))``.

    A weak embedding: it needs ``m = O(d²)`` rows for a subspace embedding, against ``O(d log d)``
    for the sparse sign embedding with ``ζ = 8``."""

    kind = "countsketch"

    def __init__(self, m: Any, n: Any, seed: Any = None) -> None:
        super().__init__(m, n, seed, zeta=1)


# ---------------------------------------------------------------------------------------
# Leverage-score row sampling
# ---------------------------------------------------------------------------------------

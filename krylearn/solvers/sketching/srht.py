"""Trigonometric sketches: the subsampled randomized Hadamard transform (:class:`SRHT`, Ailon &
Chazelle 2009; Tropp 2011) with a numba fast Walsh–Hadamard transform, and the subsampled
randomized trigonometric transform (:class:`SRTT`, orthonormal DCT-II, any ``n``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numba as nb
import numpy as np

from ...threads import get_num_threads
from ._base import _COLUMN_BLOCK, Sketch, _real_and_imaginary

if TYPE_CHECKING:  # annotations only
    from typing import Any
    from ...typing import ArrayLike


# ---------------------------------------------------------------------------------------
# SRHT with a numba fast Walsh–Hadamard transform
# ---------------------------------------------------------------------------------------
_FWHT_BLOCK = 1024


@nb.njit(cache=True, fastmath=True, inline="always")
def _butterflies(X, lo, hi, h):
    """One Walsh–Hadamard level on rows ``lo:hi`` of ``X``: ``(a, b) ← (a + b, a − b)`` for rows
    ``j`` and ``j + h`` of every pair of ``h``-blocks."""
    w = X.shape[1]
    for i in range(lo, hi, 2 * h):
        for j in range(i, i + h):
            for k in range(w):
                a = X[j, k]
                b = X[j + h, k]
                X[j, k] = a + b
                X[j + h, k] = a - b


@nb.njit(cache=True, fastmath=True)
def _fwht_inplace(X):
    """Unnormalised Walsh–Hadamard transform of the rows axis of ``X`` (N x w, N = 2^k), in place.

    The first log2(1024) levels run on cache-resident blocks of rows, the rest stream."""
    N = X.shape[0]
    B = min(N, _FWHT_BLOCK)
    for s in range(0, N, B):
        h = 1
        while h < B:
            _butterflies(X, s, s + B, h)
            h *= 2
    h = B
    while h < N:
        _butterflies(X, 0, N, h)
        h *= 2


@nb.njit(cache=True)
def _srht_block(A, signs, rows, scale, N, out, c0, c1):
    n = A.shape[0]
    m = rows.shape[0]
    w = c1 - c0
    buf = np.zeros((N, w))
    for i in range(n):
        si = signs[i]
        for k in range(w):
            buf[i, k] = si * A[i, c0 + k]
    _fwht_inplace(buf)
    for r in range(m):
        ri = rows[r]
        for k in range(w):
            out[r, c0 + k] = scale * buf[ri, k]


@nb.njit(cache=True, parallel=True)
def _srht_dense_par(A, signs, rows, scale, N, width):
    d = A.shape[1]
    out = np.empty((rows.shape[0], d))
    nblk = (d + width - 1) // width
    for blk in nb.prange(nblk):
        _srht_block(A, signs, rows, scale, N, out, blk * width, min(d, (blk + 1) * width))
    return out


@nb.njit(cache=True)
def _srht_dense_ser(A, signs, rows, scale, N, width):
    d = A.shape[1]
    out = np.empty((rows.shape[0], d))
    for c0 in range(0, d, width):
        _srht_block(A, signs, rows, scale, N, out, c0, min(d, c0 + width))
    return out


def _srht_dense(A, signs, rows, scale, N, width):
    """``S A`` by column blocks of ``width``; parallel over blocks only when there are several
    blocks and threads (the thread pool's wake-up costs milliseconds on a loaded machine)."""
    if A.shape[1] <= width or get_num_threads() == 1:
        return _srht_dense_ser(A, signs, rows, scale, N, width)
    return _srht_dense_par(A, signs, rows, scale, N, width)


def fwht(x: ArrayLike) -> Any:
    """Unnormalised fast Walsh–Hadamard transform along axis 0 (length a power of two).

    ``fwht(x) == H @ x`` with the Sylvester–Hadamard matrix ``H`` (entries ±1)."""
    X = np.array(x, dtype=np.float64, copy=True)
    squeeze = X.ndim == 1
    if squeeze:
        X = X[:, None]
    N = X.shape[0]
    if N & (N - 1):
        raise ValueError(f"the Walsh–Hadamard transform needs a power-of-two length, got {N}")
    X = np.ascontiguousarray(X)
    _fwht_inplace(X)
    return X[:, 0] if squeeze else X


class SRHT(Sketch):
    """Subsampled randomized Hadamard transform ``S = √(N/m) · P · (H/√N) · D``.

    ``D`` is a diagonal of random signs, ``H`` the ``N x N`` Walsh–Hadamard matrix with
    ``N = 2^⌈log2 n⌉`` (rows of ``A`` zero-padded to ``N``), ``P`` samples ``m`` of the ``N``
    rows uniformly without replacement. ``S A`` is a numba fast Walsh–Hadamard transform of
    column blocks of ``D A`` (``O(N d log N)``, parallel over column blocks, cache-blocked), of which
    only the ``m`` sampled rows are kept.
    """

    kind = "srht"

    def __init__(self, m: Any, n: Any, seed: Any = None) -> None:
        super().__init__(m, n, seed)
        n = self.shape[1]
        self.N = 1 << max(0, int(np.ceil(np.log2(n))))
        if self.shape[0] > self.N:
            raise ValueError(f"SRHT sketch size m = {self.shape[0]} exceeds the padded length {self.N}")
        rng = self._rng(0)
        self.signs = rng.choice(np.array([-1.0, 1.0]), size=n)
        self.rows = np.sort(rng.choice(self.N, size=self.shape[0], replace=False)).astype(np.int64)
        self.scale = 1.0 / np.sqrt(self.shape[0])      # √(N/m) / √N

    @_real_and_imaginary
    def _apply_dense(self, A):
        A = np.asarray(A, dtype=np.float64)
        squeeze = A.ndim == 1
        A2 = np.ascontiguousarray(A[:, None] if squeeze else A)
        width = 16 if A2.shape[1] >= 32 else max(1, A2.shape[1])
        out = _srht_dense(A2, self.signs, self.rows, self.scale, self.N, width)
        return out[:, 0] if squeeze else out

    def _matvec(self, x):
        return self._apply_dense(x)

    @_real_and_imaginary
    def _rmatvec(self, y):
        buf = np.zeros((self.N, 1))
        buf[self.rows, 0] = self.scale * np.asarray(y, dtype=np.float64)
        _fwht_inplace(buf)
        return self.signs * buf[: self.shape[1], 0]


class SRTT(Sketch):
    """Subsampled randomized trigonometric transform ``S = √(n/m) · P · C · D``.

    ``D`` is a diagonal of random signs, ``C`` the orthonormal ``n x n`` DCT-II
    (``scipy.fft.dct(type=2, norm="ortho")``, any ``n``: no padding to a power of two) and ``P``
    samples ``m`` of the ``n`` rows uniformly without replacement. ``S A`` costs ``O(n d log n)``
    (FFT-based DCT of column blocks of ``D A``). Same guarantees as the SRHT (Tropp 2011;
    Avron, Maymounkov, Toledo 2010 use the DCT in Blendenpik).
    """

    kind = "srtt"

    def __init__(self, m: Any, n: Any, seed: Any = None) -> None:
        super().__init__(m, n, seed)
        m, n = self.shape
        if m > n:
            raise ValueError(f"SRTT sketch size m = {m} exceeds the number of rows n = {n}")
        rng = self._rng(0)
        self.signs = rng.choice(np.array([-1.0, 1.0]), size=n)
        self.rows = np.sort(rng.choice(n, size=m, replace=False)).astype(np.int64)
        self.scale = float(np.sqrt(n / m))

    @_real_and_imaginary
    def _apply_dense(self, A):
        import scipy.fft as sfft
        A = np.asarray(A, dtype=np.float64)
        squeeze = A.ndim == 1
        A2 = A[:, None] if squeeze else A
        out = np.empty((self.shape[0], A2.shape[1]))
        for c0 in range(0, A2.shape[1], _COLUMN_BLOCK):
            c1 = min(A2.shape[1], c0 + _COLUMN_BLOCK)
            B = np.ascontiguousarray((A2[:, c0:c1] * self.signs[:, None]).T)     # (w, n), rows contiguous
            T = sfft.dct(B, type=2, norm="ortho", axis=-1, overwrite_x=True)
            out[:, c0:c1] = self.scale * T[:, self.rows].T
        return out[:, 0] if squeeze else out

    def _matvec(self, x):
        return self._apply_dense(x)

    @_real_and_imaginary
    def _rmatvec(self, y):
        import scipy.fft as sfft
        z = np.zeros(self.shape[1])
        z[self.rows] = self.scale * np.asarray(y, dtype=np.float64)
        return self.signs * sfft.idct(z, type=2, norm="ortho")


# ---------------------------------------------------------------------------------------
# Sparse sketches: CountSketch (ζ = 1) and sparse sign embeddings (ζ nonzeros per column)
# ---------------------------------------------------------------------------------------

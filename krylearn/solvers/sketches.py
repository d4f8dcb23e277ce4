"""Random sketching operators for tall least-squares problems.

A sketch ``S`` (``m x n`` with ``m << n``) is a random linear map that approximately preserves
the norms of all vectors in the column space of a tall ``A`` (a *subspace embedding*):
``(1 - ε)‖Ax‖ ≤ ‖SAx‖ ≤ (1 + ε)‖Ax‖``. Every sketch here is a krylearn
:class:`~krylearn.LinearOperator` of shape ``(m, n)`` built from a ``seed`` (same seed, same
sketch), normalised so that ``E[SᵀS] = I``, with :meth:`Sketch.apply` computing the dense
``m x d`` matrix ``S A`` at the sketch's natural cost for a dense ``A`` (ndarray), a
``scipy.sparse`` ``A`` (never densified as a whole) and a matrix-free ``A`` (column blocks through
``A.matmat``).

=======================  ==========================================  ===========================
sketch                   ``S``                                       cost of ``S A``
=======================  ==========================================  ===========================
:class:`GaussianSketch`  i.i.d. ``N(0, 1/m)``                        ``O(m nnz(A))`` + ``m n`` draws
:class:`SRHT`            ``√(N/m) P H D / √N`` (Walsh–Hadamard, pad   ``O(N d log N)``, ``N=2^⌈log2 n⌉``
                         to ``N``)
:class:`SRTT`            ``√(n/m) P C D`` (orthonormal DCT-II,      ``O(n d log n)``
                         any ``n``)
:class:`CountSketch`     one ``±1`` per column                       ``O(nnz(A))``
:class:`SparseSign`      ``ζ`` entries ``±1/√ζ`` per column (ζ = 8)  ``O(ζ nnz(A))``
:class:`LeverageScore`   rows sampled ∝ leverage scores, rescaled    ``O(m d)`` after the scores
=======================  ==========================================  ===========================

References
----------
- N. Ailon and B. Chazelle, "The fast Johnson–Lindenstrauss transform", SIAM J. Comput. 39 (2009).
- J. A. Tropp, "Improved analysis of the subsampled randomized Hadamard transform" (2011).
- K. L. Clarkson and D. P. Woodruff, "Low-rank approximation and regression in input sparsity
  time", J. ACM 63 (2017) (CountSketch).
- J. Nelson and H. L. Nguyen, "OSNAP: faster numerical linear algebra algorithms via sparser
  subspace embeddings", FOCS 2013 (sparse sign embeddings); E. N. Epperly, "Which sketch should I
  use?" (2023) for ζ = 8.
- P. Drineas, M. Magdon-Ismail, M. W. Mahoney, D. P. Woodruff, "Fast approximation of matrix
  coherence and statistical leverage", JMLR 13 (2012).
"""

from __future__ import annotations

import numbers

import numba as nb
import numpy as np
import scipy.sparse as sp

from ..operators.base import LinearOperator
from ..operators.convert import MatrixOperator, SparseOperator, aslinearoperator
from ..threads import get_num_threads

__all__ = ["Sketch", "GaussianSketch", "SRHT", "CountSketch", "SparseSign", "LeverageScore",
           "make_sketch", "SKETCHES", "fwht", "SRTT"]

_COLUMN_BLOCK = 64        # columns of A per block for matrix-free A
_GAUSS_CHUNK = 4096       # columns of S generated per RNG stream (fixed: results do not depend on A's type)


def _check_size(value, name, lo=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    if value < lo:
        raise ValueError(f"{name} must be at least {lo}, got {value}")
    return int(value)


def _unwrap(A):
    """Return ``("dense", ndarray) | ("sparse", csr) | ("operator", LinearOperator)``."""
    if isinstance(A, np.ndarray):
        if A.ndim != 2:
            raise ValueError(f"A must be 2-D, got shape {A.shape}")
        return "dense", A
    if sp.issparse(A):
        return "sparse", sp.csr_matrix(A)
    op = aslinearoperator(A)
    inner = op
    while type(inner).__name__ == "_Retagged":
        inner = inner.args[0]
    if isinstance(inner, MatrixOperator):
        return "dense", inner.A
    if isinstance(inner, SparseOperator):
        return "sparse", inner.A
    return "operator", op


def _column_blocks(A, width=_COLUMN_BLOCK):
    """Yield ``(c0, c1, dense block A[:, c0:c1])`` for a matrix-free operator via ``matmat``."""
    n, d = A.shape
    for c0 in range(0, d, width):
        c1 = min(d, c0 + width)
        E = np.zeros((d, c1 - c0), dtype=A.dtype)
        E[np.arange(c0, c1), np.arange(c1 - c0)] = 1.0
        yield c0, c1, np.asarray(A.matmat(E))


class Sketch(LinearOperator):
    """Base class: a seeded random ``m x n`` sketch with ``E[SᵀS] = I``.

    Subclasses implement ``_matvec`` (``S x``), ``_rmatvec`` (``Sᵀ y``) and the three
    ``_apply_dense`` / ``_apply_sparse`` / ``_apply_operator`` paths of :meth:`apply`.
    """

    kind = "sketch"

    def __init__(self, m, n, seed=None):
        m = _check_size(m, "sketch size m")
        n = _check_size(n, "number of rows n")
        super().__init__((m, n), dtype=np.float64)
        self.seed = seed
        self._ss = np.random.SeedSequence(seed if not isinstance(seed, np.random.SeedSequence) else seed.entropy)

    def _rng(self, *key):
        return np.random.default_rng(np.random.SeedSequence(self._ss.entropy, spawn_key=key))

    def apply(self, A):
        """Return the dense ``m x d`` array ``S A``.

        ``A`` may be a NumPy array, a ``scipy.sparse`` matrix (kept sparse) or anything
        :func:`krylearn.aslinearoperator` accepts (applied in column blocks via ``matmat``).
        """
        kind, M = _unwrap(A)
        if M.shape[0] != self.shape[1]:
            raise ValueError(f"the sketch has {self.shape[1]} columns but A has {M.shape[0]} rows")
        if kind == "dense":
            return self._apply_dense(np.asarray(M, dtype=np.float64))
        if kind == "sparse":
            return self._apply_sparse(M.astype(np.float64))
        return self._apply_operator(M)

    # default: column blocks through the dense path
    def _apply_operator(self, A):
        out = np.empty((self.shape[0], A.shape[1]))
        for c0, c1, B in _column_blocks(A):
            out[:, c0:c1] = self._apply_dense(np.asarray(B, dtype=np.float64))
        return out

    def _apply_sparse(self, A):
        out = np.empty((self.shape[0], A.shape[1]))
        Acsc = A.tocsc()
        for c0 in range(0, A.shape[1], _COLUMN_BLOCK):
            c1 = min(A.shape[1], c0 + _COLUMN_BLOCK)
            out[:, c0:c1] = self._apply_dense(Acsc[:, c0:c1].toarray())
        return out

    def todense(self):
        return self._apply_dense(np.eye(self.shape[1]))

    def __repr__(self):
        return f"<{self.shape[0]}x{self.shape[1]} {type(self).__name__} seed={self.seed!r}>"


class IdentitySketch(Sketch):
    """``S = I`` (``n × n``): no sketching. What :func:`krylearn.lstsq` uses for a matrix that is not tall
    enough to sketch (the default sketch would need as many rows as ``A`` has, and a square random
    sketch may lose rank): the "preconditioner" is then ``A``'s own QR, exact."""

    kind = "identity"

    def __init__(self, n):
        super().__init__(n, n, seed=None)

    def _apply_dense(self, A):
        return np.array(A, dtype=np.float64, copy=True)

    def _apply_sparse(self, A):
        return A.toarray().astype(np.float64, copy=False)

    def _matvec(self, x):
        return np.array(x, dtype=np.float64, copy=True)

    def _rmatvec(self, y):
        return np.array(y, dtype=np.float64, copy=True)


# ---------------------------------------------------------------------------------------
# Gaussian
# ---------------------------------------------------------------------------------------
class GaussianSketch(Sketch):
    """Dense Gaussian sketch, entries i.i.d. ``N(0, 1/m)``.

    The columns of ``S`` are generated in fixed chunks of 4096 from per-chunk RNG streams,
    so ``S A`` is computed without ever storing ``S`` (``O(m·chunk)`` memory) and the same seed
    gives the same ``S`` whatever ``A`` is. Cost ``O(m nnz(A))`` plus ``m n`` normal draws.
    """

    kind = "gaussian"

    def _block(self, k):
        c0 = k * _GAUSS_CHUNK
        c1 = min(self.shape[1], c0 + _GAUSS_CHUNK)
        G = self._rng(k).standard_normal((self.shape[0], c1 - c0))
        G *= 1.0 / np.sqrt(self.shape[0])
        return c0, c1, G

    def _nblocks(self):
        return -(-self.shape[1] // _GAUSS_CHUNK)

    def _apply_dense(self, A):
        A = np.asarray(A)
        squeeze = A.ndim == 1
        A2 = A[:, None] if squeeze else A
        out = np.zeros((self.shape[0], A2.shape[1]), dtype=np.result_type(A2.dtype, np.float64))
        for k in range(self._nblocks()):
            c0, c1, G = self._block(k)
            out += G @ A2[c0:c1]
        return out[:, 0] if squeeze else out

    def _apply_sparse(self, A):
        out = np.zeros((self.shape[0], A.shape[1]))
        for k in range(self._nblocks()):
            c0, c1, G = self._block(k)
            out += (A[c0:c1].T @ G.T).T
        return out

    def _matvec(self, x):
        return self._apply_dense(x)

    def _rmatvec(self, y):
        out = np.empty(self.shape[1], dtype=np.result_type(y.dtype, np.float64))
        for k in range(self._nblocks()):
            c0, c1, G = self._block(k)
            out[c0:c1] = G.T @ y
        return out


# ---------------------------------------------------------------------------------------
# SRHT with a numba fast Walsh–Hadamard transform
# ---------------------------------------------------------------------------------------
_FWHT_BLOCK = 1024


@nb.njit(cache=True, fastmath=True)
def _fwht_inplace(X):
    """Unnormalised Walsh–Hadamard transform of the rows axis of ``X`` (N x w, N = 2^k), in place.

    The first log2(1024) levels run on cache-resident blocks of rows, the rest stream."""
    N, w = X.shape
    B = min(N, _FWHT_BLOCK)
    for s in range(0, N, B):
        h = 1
        while h < B:
            for i in range(s, s + B, 2 * h):
                for j in range(i, i + h):
                    for k in range(w):
                        a = X[j, k]
                        b = X[j + h, k]
                        X[j, k] = a + b
                        X[j + h, k] = a - b
            h *= 2
    h = B
    while h < N:
        for i in range(0, N, 2 * h):
            for j in range(i, i + h):
                for k in range(w):
                    a = X[j, k]
                    b = X[j + h, k]
                    X[j, k] = a + b
                    X[j + h, k] = a - b
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


def fwht(x):
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

    def __init__(self, m, n, seed=None):
        super().__init__(m, n, seed)
        n = self.shape[1]
        self.N = 1 << max(0, int(np.ceil(np.log2(n))))
        if self.shape[0] > self.N:
            raise ValueError(f"SRHT sketch size m = {self.shape[0]} exceeds the padded length {self.N}")
        rng = self._rng(0)
        self.signs = rng.choice(np.array([-1.0, 1.0]), size=n)
        self.rows = np.sort(rng.choice(self.N, size=self.shape[0], replace=False)).astype(np.int64)
        self.scale = 1.0 / np.sqrt(self.shape[0])      # √(N/m) / √N

    def _apply_dense(self, A):
        A = np.asarray(A, dtype=np.float64)
        squeeze = A.ndim == 1
        A2 = np.ascontiguousarray(A[:, None] if squeeze else A)
        width = 16 if A2.shape[1] >= 32 else max(1, A2.shape[1])
        out = _srht_dense(A2, self.signs, self.rows, self.scale, self.N, width)
        return out[:, 0] if squeeze else out

    def _matvec(self, x):
        return self._apply_dense(x)

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

    def __init__(self, m, n, seed=None):
        super().__init__(m, n, seed)
        m, n = self.shape
        if m > n:
            raise ValueError(f"SRTT sketch size m = {m} exceeds the number of rows n = {n}")
        rng = self._rng(0)
        self.signs = rng.choice(np.array([-1.0, 1.0]), size=n)
        self.rows = np.sort(rng.choice(n, size=m, replace=False)).astype(np.int64)
        self.scale = float(np.sqrt(n / m))

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

    def _rmatvec(self, y):
        import scipy.fft as sfft
        z = np.zeros(self.shape[1])
        z[self.rows] = self.scale * np.asarray(y, dtype=np.float64)
        return self.signs * sfft.idct(z, type=2, norm="ortho")


# ---------------------------------------------------------------------------------------
# Sparse sketches: CountSketch (ζ = 1) and sparse sign embeddings (ζ nonzeros per column)
# ---------------------------------------------------------------------------------------
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

    def __init__(self, m, n, seed=None, zeta=8):
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

    def tosparse(self):
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

    def todense(self):
        return self.tosparse().toarray()


class CountSketch(SparseSign):
    """CountSketch (Clarkson–Woodruff): one ``±1`` per column of ``S`` in a random row; ``O(nnz(A))``.

    A weak embedding: it needs ``m = O(d²)`` rows for a subspace embedding, against ``O(d log d)``
    for the sparse sign embedding with ``ζ = 8``."""

    kind = "countsketch"

    def __init__(self, m, n, seed=None):
        super().__init__(m, n, seed, zeta=1)


# ---------------------------------------------------------------------------------------
# Leverage-score row sampling
# ---------------------------------------------------------------------------------------
def leverage_scores(A, *, seed=None, exact=False, oversampling=4, jl_dim=None):
    """Leverage scores ``ℓ_i = ‖(A R⁻¹)_i‖²`` of the rows of a tall ``A``.

    ``exact=True`` uses a thin QR of ``A`` (dense only). Otherwise (Drineas et al. 2012) ``R``
    comes from a sparse sign sketch of ``4d`` rows and the row norms of ``A R⁻¹`` are estimated
    with a Gaussian JL projection ``A (R⁻¹ G)`` of ``jl_dim`` (default 32) columns: ``O(nnz(A) log n)``."""
    kind, M = _unwrap(A)
    n, d = M.shape
    if exact:
        if kind != "dense":
            raise ValueError("exact leverage scores need a dense A")
        Q = np.linalg.qr(M, mode="reduced")[0]
        return np.einsum("ij,ij->i", Q, Q)
    S = SparseSign(min(n, oversampling * d), n, seed=seed)
    SA = S.apply(M)
    _, s, Vt = np.linalg.svd(SA, full_matrices=False)
    keep = s > s[0] * max(SA.shape) * np.finfo(float).eps
    k = jl_dim or 32
    G = np.random.default_rng(np.random.SeedSequence(S._ss.entropy, spawn_key=(7,))).standard_normal(
        (int(keep.sum()), k)) / np.sqrt(k)
    Z = Vt[keep].T @ (G / s[keep, None])            # d x k:  R⁻¹ G with R = Σ Vᵀ
    if kind == "operator":
        AZ = M.matmat(Z)
    else:
        AZ = M @ Z
    return np.einsum("ij,ij->i", AZ, AZ)


class LeverageScore(Sketch):
    """Leverage-score row sampling: ``m`` rows drawn i.i.d. with probabilities ``p_i ∝ ℓ_i``
    (mixed with 10 % uniform for robustness), each scaled by ``1/√(m p_i)`` so ``E[SᵀS] = I``.

    Parameters
    ----------
    m, n : int
    seed : int, optional
    A : matrix or operator, optional
        The matrix whose leverage scores define the distribution (approximated as in
        :func:`leverage_scores`). Or pass ``scores`` directly.
    scores : array_like, optional
    """

    kind = "leverage"

    def __init__(self, m, n, seed=None, *, A=None, scores=None, uniform_mix=0.1):
        super().__init__(m, n, seed)
        if scores is None:
            if A is None:
                raise ValueError("LeverageScore needs A or scores")
            scores = leverage_scores(A, seed=self._rng(1).integers(2**63))
        scores = np.asarray(scores, dtype=np.float64)
        if scores.shape != (self.shape[1],) or not np.all(np.isfinite(scores)) or np.any(scores < 0):
            raise ValueError("scores must be a finite non-negative vector of length n")
        p = scores / scores.sum() if scores.sum() > 0 else np.full(self.shape[1], 1.0 / self.shape[1])
        p = (1 - uniform_mix) * p + uniform_mix / self.shape[1]
        rng = self._rng(0)
        self.rows = rng.choice(self.shape[1], size=self.shape[0], replace=True, p=p)
        self.weights = 1.0 / np.sqrt(self.shape[0] * p[self.rows])

    def _apply_dense(self, A):
        A = np.asarray(A, dtype=np.float64)
        if A.ndim == 1:
            return self.weights * A[self.rows]
        return self.weights[:, None] * A[self.rows]

    def _apply_sparse(self, A):
        return np.asarray((sp.diags(self.weights) @ A[self.rows]).toarray())

    def _apply_operator(self, A):
        # rows of a matrix-free A: (A^T e_rows)^T through rmatmat
        E = np.zeros((self.shape[1], self.shape[0]))
        E[self.rows, np.arange(self.shape[0])] = 1.0
        return self.weights[:, None] * np.asarray(A.rmatmat(E)).T.conj()

    def _matvec(self, x):
        return self.weights * x[self.rows]

    def _rmatvec(self, y):
        out = np.zeros(self.shape[1], dtype=np.result_type(y.dtype, np.float64))
        np.add.at(out, self.rows, self.weights * y)
        return out

    def todense(self):
        D = np.zeros(self.shape)
        D[np.arange(self.shape[0]), self.rows] = self.weights
        return D


SKETCHES = {
    "gaussian": GaussianSketch,
    "srht": SRHT,
    "srtt": SRTT,
    "countsketch": CountSketch,
    "sparse_sign": SparseSign,
    "leverage": LeverageScore,
}


def make_sketch(kind, m, n, seed=None, *, A=None, **options):
    """Build a sketch by name: ``"gaussian"``, ``"srht"``, ``"srtt"``, ``"countsketch"``, ``"sparse_sign"``
    (options: ``zeta``) or ``"leverage"`` (needs ``A`` or ``scores``). A :class:`Sketch` instance
    is returned unchanged after a shape check.

    Examples
    --------
    >>> import numpy as np
    >>> from krylearn.solvers.sketches import make_sketch
    >>> A = np.random.default_rng(0).standard_normal((1000, 10))
    >>> S = make_sketch("sparse_sign", 80, 1000, seed=1)
    >>> S.apply(A).shape
    (80, 10)
    """
    if isinstance(kind, Sketch):
        if kind.shape[1] != n:
            raise ValueError(f"the given sketch has {kind.shape[1]} columns, A has {n} rows")
        return kind
    if not isinstance(kind, str) or kind not in SKETCHES:
        raise ValueError(f"unknown sketch {kind!r}; choose one of {sorted(SKETCHES)}")
    cls = SKETCHES[kind]
    if cls is LeverageScore:
        return cls(m, n, seed, A=A, **options)
    return cls(m, n, seed, **options)

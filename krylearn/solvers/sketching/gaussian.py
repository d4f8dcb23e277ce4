"""Gaussian sketch: i.i.d. ``N(0, 1/m)`` entries, generated in fixed column chunks so that the
sketch depends only on the seed, never on the type of ``A``."""

from __future__ import annotations

import numpy as np

from ._base import _GAUSS_CHUNK, Sketch


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
        out = np.empty((self.shape[1],) + y.shape[1:], dtype=np.result_type(y.dtype, np.float64))
        for k in range(self._nblocks()):
            c0, c1, G = self._block(k)
            out[c0:c1] = G.T @ y
        return out

    # a block in one pass: S is generated once, not once per column
    _rmatmat = _rmatvec

"""Every sketch as an operator (OperatorTestCase), against a reference built from its definition.

``dense()`` is the matrix the class docstring defines, assembled here from the sketch's drawn
randomness (rows, signs, weights) with independent dense tools — ``scipy.linalg.hadamard`` for
the SRHT, the orthonormal DCT-II matrix for the SRTT, explicit loops for the sparse sign
embeddings, the docstring's probabilities for leverage-score sampling. For the Gaussian sketch,
whose entries are the draws themselves, the reference is ``S.apply`` of a sparse identity (the
sparse-input path, a different code path from the products) plus a check of the entry statistics.
Every case also checks ``S.apply`` for dense, sparse and matrix-free inputs against ``dense() @ A``
and ``todense()`` against ``apply(I)``.
"""

import numpy as np
import pytest
import scipy.fft as sfft
import scipy.sparse as sp
from scipy.linalg import hadamard

import krylearn as kl
from krylearn.operators.testing import OperatorTestCase
from krylearn.solvers.sketching.sketches import (SRHT, SRTT, CountSketch, GaussianSketch, IdentitySketch,
                                                 LeverageScore, SparseSign)

RNG = np.random.default_rng(42)


class _SketchCase(OperatorTestCase):
    """Checks every sketch shares, on top of the operator checks."""

    def test_apply_every_input_kind(self):
        S, D = self.create(), self.dense()
        n = S.shape[1]
        A = RNG.standard_normal((n, 5))
        A[RNG.random(A.shape) < 0.5] = 0.0
        want = D @ A
        self._close(S.apply(A), want)
        self._close(S.apply(sp.csr_matrix(A)), want)
        self._close(S.apply(kl.LinearOperator(A.shape, matvec=lambda x: A @ x, rmatvec=lambda y: A.T @ y)), want)
        self._close(S.apply(A[:, 0:1]), want[:, 0:1])

    def test_todense_is_apply_identity(self):
        S = self.create()
        n = S.shape[1]
        self._close(S.todense(), S.apply(np.eye(n)))
        self._close(S.todense(), S.apply(sp.identity(n, format="csr")))

    def test_same_seed_same_sketch(self):
        np.testing.assert_array_equal(self.create().todense(), self.create().todense())


class TestIdentitySketch(_SketchCase):
    covers = (IdentitySketch,)

    def create(self):
        return IdentitySketch(17)

    def dense(self):
        return np.eye(17)


class TestGaussian(_SketchCase):
    """``n`` above the 4096-column chunk, so that products cross a chunk boundary."""
    covers = (GaussianSketch,)
    m, n = 5, 4500

    def create(self):
        return GaussianSketch(self.m, self.n, seed=3)

    def dense(self):
        return self.create().apply(sp.identity(self.n, format="csc"))

    def test_entries_are_normal_with_variance_one_over_m(self):
        G = self.dense()
        assert abs(G.mean()) < 4 * np.sqrt(1 / self.m / G.size)
        assert G.var() * self.m == pytest.approx(1.0, rel=0.06)
        assert not np.array_equal(G, GaussianSketch(self.m, self.n, seed=4).todense())


class TestSRHT(_SketchCase):
    """``S = √(N/m) P (H/√N) D`` with ``n = 100`` padded to ``N = 128``."""
    covers = (SRHT,)

    def create(self):
        return SRHT(24, 100, seed=1)

    def dense(self):
        S = self.create()
        assert S.N == 128 and len(set(S.rows)) == 24 and set(np.abs(S.signs)) == {1.0}
        H = hadamard(128)[S.rows][:, :100]
        return np.sqrt(128 / 24) * H / np.sqrt(128) * S.signs


class TestSRHTPowerOfTwo(TestSRHT):
    def create(self):
        return SRHT(16, 64, seed=2)

    def dense(self):
        S = self.create()
        return hadamard(64)[S.rows] * S.signs / np.sqrt(16)

    def test_rows_are_orthogonal(self):
        D = self.dense()
        np.testing.assert_allclose(D @ D.T, 64 / 16 * np.eye(16), atol=1e-12)


class TestSRTT(_SketchCase):
    """``S = √(n/m) P C D`` with ``C`` the orthonormal DCT-II matrix."""
    covers = (SRTT,)
    m, n = 13, 50

    def create(self):
        return SRTT(self.m, self.n, seed=5)

    def dense(self):
        S = self.create()
        k, j = np.meshgrid(np.arange(self.n), np.arange(self.n), indexing="ij")
        C = np.sqrt(2 / self.n) * np.cos(np.pi * (2 * j + 1) * k / (2 * self.n))
        C[0] /= np.sqrt(2)
        np.testing.assert_allclose(C, sfft.dct(np.eye(self.n), norm="ortho", axis=0), atol=1e-13)
        return np.sqrt(self.n / self.m) * C[S.rows] * S.signs

    def test_rows_are_orthogonal(self):
        D = self.dense()
        np.testing.assert_allclose(D @ D.T, self.n / self.m * np.eye(self.m), atol=1e-12)


def _sparse_sign_dense(S):
    m, n = S.shape
    D = np.zeros((m, n))
    for i in range(n):
        for z in range(S.zeta):
            D[S.rows[i, z], i] += S.vals[i, z]
    return D


@pytest.mark.parametrize("zeta", [8, 3])
class TestSparseSign(_SketchCase):
    covers = (SparseSign,)

    @pytest.fixture(autouse=True)
    def _zeta(self, zeta):
        self.zeta = zeta

    def create(self):
        return SparseSign(30, 200, seed=7, zeta=self.zeta)

    def dense(self):
        return _sparse_sign_dense(self.create())

    def test_columns_have_zeta_signs(self):
        D = self.dense()
        assert np.all((D != 0).sum(axis=0) == self.zeta)           # distinct rows
        np.testing.assert_allclose(np.abs(D[D != 0]), 1 / np.sqrt(self.zeta))


class TestCountSketch(_SketchCase):
    covers = (CountSketch,)

    def create(self):
        return CountSketch(25, 300, seed=8)

    def dense(self):
        return _sparse_sign_dense(self.create())

    def test_one_sign_per_column(self):
        D = self.dense()
        assert np.all((D != 0).sum(axis=0) == 1) and set(np.unique(D[D != 0])) <= {-1.0, 1.0}


class TestLeverageScoreGivenScores(_SketchCase):
    """Row ``i`` of ``S`` is ``e_{r_i}ᵀ / √(m p_{r_i})`` with ``p = 0.9 ℓ/Σℓ + 0.1/n`` (the docstring's
    10 % uniform mix); rows are drawn with replacement."""
    covers = (LeverageScore,)
    m, n = 40, 90
    scores = RNG.uniform(0.0, 3.0, 90)

    def create(self):
        return LeverageScore(self.m, self.n, seed=9, scores=self.scores)

    def dense(self):
        S = self.create()
        p = 0.9 * self.scores / self.scores.sum() + 0.1 / self.n
        D = np.zeros((self.m, self.n))
        for i, r in enumerate(S.rows):
            D[i, r] = 1.0 / np.sqrt(self.m * p[r])
        assert len(set(S.rows)) < self.m      # some row drawn twice: rmatvec must add them up
        return D


class TestLeverageScoreFromA(TestLeverageScoreGivenScores):
    """Scores estimated from a tall ``A`` (sketch + JL), compared with the exact ones."""
    A = RNG.standard_normal((90, 4)) * np.r_[np.full(80, 0.1), np.full(10, 5.0)][:, None]

    def create(self):
        return LeverageScore(self.m, self.n, seed=9, A=self.A)

    def dense(self):
        from krylearn.solvers.sketching.sketches import leverage_scores

        exact = leverage_scores(self.A, exact=True)
        S = self.create()
        p = self.m ** -1 * S.weights ** -2               # p_{r_i} from the weights
        assert np.corrcoef(p, 0.9 * exact[S.rows] / exact.sum() + 0.1 / self.n)[0, 1] > 0.8
        D = np.zeros((self.m, self.n))
        D[np.arange(self.m), S.rows] = S.weights
        return D

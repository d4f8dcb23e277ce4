"""Sketch operators: dense equivalence, adjoints, every input kind, embedding statistics, seeds."""

import importlib

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.linalg import hadamard

import krylearn as kl
from krylearn.solvers.sketching.sketches import (SRHT, SRTT, CountSketch, GaussianSketch, LeverageScore, SparseSign, fwht,
                                       leverage_scores, make_sketch)

N_ROWS = 600


def _all_sketches(m, n, seed=0):
    scores = np.random.default_rng(1).uniform(0.5, 2.0, n)
    return [GaussianSketch(m, n, seed=seed), SRHT(m, n, seed=seed), SRTT(m, n, seed=seed), CountSketch(m, n, seed=seed),
            SparseSign(m, n, seed=seed), SparseSign(m, n, seed=seed, zeta=3),
            LeverageScore(m, n, seed=seed, scores=scores)]


def _ids(sketches):
    return [f"{type(s).__name__}" for s in sketches]


SK = _all_sketches(40, N_ROWS)


def test_fwht_matches_hadamard():
    rng = np.random.default_rng(0)
    for N in (1, 2, 8, 64):
        X = rng.standard_normal((N, 3))
        np.testing.assert_allclose(fwht(X), hadamard(N) @ X, atol=1e-12)
        np.testing.assert_allclose(fwht(X[:, 0]), hadamard(N) @ X[:, 0], atol=1e-12)
    with pytest.raises(ValueError, match="power-of-two"):
        fwht(np.ones(6))


@pytest.mark.parametrize("n", [16, 12, 100])
def test_srht_equals_its_dense_matrix(n):
    S = SRHT(7, n, seed=3)
    N = S.N
    H = hadamard(N)
    dense = np.sqrt(N / 7) * (H[S.rows][:, :n] / np.sqrt(N)) * S.signs
    np.testing.assert_allclose(S.todense(), dense, atol=1e-13)
    x = np.random.default_rng(0).standard_normal(n)
    np.testing.assert_allclose(S @ x, dense @ x, atol=1e-12)


@pytest.mark.parametrize("n", [12, 100])
def test_srtt_equals_its_dense_matrix(n):
    from scipy.fft import dct
    S = SRTT(7, n, seed=3)
    C = dct(np.eye(n), type=2, norm="ortho", axis=0)          # orthonormal DCT-II matrix
    np.testing.assert_allclose(C.T @ C, np.eye(n), atol=1e-12)
    dense = np.sqrt(n / 7) * C[S.rows] * S.signs
    np.testing.assert_allclose(S.todense(), dense, atol=1e-13)
    x = np.random.default_rng(0).standard_normal(n)
    np.testing.assert_allclose(S @ x, dense @ x, atol=1e-12)
    np.testing.assert_allclose(S.rmatvec(x[:7]), dense.T @ x[:7], atol=1e-12)
    with pytest.raises(ValueError, match="exceeds"):
        SRTT(13, 12)


@pytest.mark.parametrize("S", SK, ids=_ids(SK))
def test_products_match_dense_and_adjoint(S):
    rng = np.random.default_rng(0)
    D = S.todense()
    assert D.shape == (40, N_ROWS)
    x = rng.standard_normal(N_ROWS)
    y = rng.standard_normal(40)
    np.testing.assert_allclose(S @ x, D @ x, atol=1e-12)
    np.testing.assert_allclose(S.rmatvec(y), D.T @ y, atol=1e-12)
    assert abs(np.dot(S @ x, y) - np.dot(x, S.rmatvec(y))) < 1e-10 * np.linalg.norm(x) * np.linalg.norm(y)


@pytest.mark.parametrize("S", SK, ids=_ids(SK))
def test_apply_dense_sparse_operator(S):
    rng = np.random.default_rng(1)
    A = sp.random(N_ROWS, 70, density=0.05, random_state=2, format="csr")
    Ad = A.toarray()
    ref = S.todense() @ Ad
    np.testing.assert_allclose(S.apply(Ad), ref, atol=1e-12)
    np.testing.assert_allclose(S.apply(A), ref, atol=1e-12)
    np.testing.assert_allclose(S.apply(kl.aslinearoperator(A)), ref, atol=1e-12)

    calls = []

    def matmat(X):   # a matrix-free operator, applied in column blocks (never all 70 columns at once)
        calls.append(X.shape[1])
        return A @ X

    op = kl.LinearOperator(A.shape, matvec=lambda v: A @ v, rmatvec=lambda v: A.T @ v, matmat=matmat)
    if isinstance(S, LeverageScore):
        op = kl.LinearOperator(A.shape, matvec=lambda v: A @ v, rmatvec=lambda v: A.T @ v)
    np.testing.assert_allclose(S.apply(op), ref, atol=1e-12)
    assert all(c <= 64 for c in calls)
    del rng


def _embedding_distortion(S, Q):
    s = np.linalg.svd(S.apply(Q), compute_uv=False)
    return max(s.max() - 1.0, 1.0 - s.min())


@pytest.mark.parametrize("kind,m", [("gaussian", 200), ("srht", 200), ("srtt", 200), ("sparse_sign", 200),
                                    ("countsketch", 600), ("leverage", 400)])
def test_subspace_embedding(kind, m):
    """‖SQx‖ ≈ ‖x‖ for an orthonormal Q: distortion below 3√(d/m) (CountSketch: 3d/√m), fixed seed;
    and E‖Sx‖² = ‖x‖² checked over 30 seeds within 5 standard errors."""
    n, d = 3000, 10
    rng = np.random.default_rng(5)
    Q = np.linalg.qr(rng.standard_normal((n, d)))[0]
    S = make_sketch(kind, m, n, seed=11, A=Q if kind == "leverage" else None)
    bound = 3 * d / np.sqrt(m) if kind == "countsketch" else 3 * np.sqrt(d / m)
    assert _embedding_distortion(S, Q) < bound
    x = Q @ rng.standard_normal(d)
    opts = {"scores": leverage_scores(Q, seed=0)} if kind == "leverage" else {}
    ratios = [np.linalg.norm(make_sketch(kind, m, n, seed=s, **opts) @ x) ** 2
              / np.linalg.norm(x) ** 2 for s in range(30)]
    assert abs(np.mean(ratios) - 1.0) < 5 * np.std(ratios) / np.sqrt(30) + 1e-12


def test_leverage_scores_approximate_exact():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((2000, 8)) * np.logspace(0, 3, 8)
    A[:10] *= 30.0                                   # coherent rows
    exact = leverage_scores(A, exact=True)
    approx = leverage_scores(A, seed=1)
    assert abs(exact.sum() - 8) < 1e-8
    rel = np.abs(approx - exact) / exact
    assert np.median(rel) < 0.5 and approx[:10].min() > 0.3 * exact[:10].min()


def test_seed_reproducibility():
    for cls in (GaussianSketch, SRHT, SRTT, CountSketch, SparseSign):
        a, b, c = cls(20, 300, seed=7).todense(), cls(20, 300, seed=7).todense(), cls(20, 300, seed=8).todense()
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)
    ss = np.random.SeedSequence(42)
    np.testing.assert_array_equal(SparseSign(20, 300, seed=ss).todense(), SparseSign(20, 300, seed=ss).todense())


def test_sparse_sign_columns():
    S = SparseSign(50, 400, seed=0).todense()
    assert np.all((S != 0).sum(axis=0) == 8)               # 8 distinct rows per column
    np.testing.assert_allclose(np.abs(S[S != 0]), 1 / np.sqrt(8))
    C = CountSketch(50, 400, seed=0).todense()
    assert np.all((C != 0).sum(axis=0) == 1)


@pytest.mark.parametrize("bad", [10.5, "10", None, True, 0, -3])
def test_bad_sizes(bad):
    with pytest.raises(ValueError):
        SparseSign(bad, 100)
    with pytest.raises(ValueError):
        GaussianSketch(bad, 100)


def test_bad_inputs():
    with pytest.raises(ValueError, match="zeta"):
        SparseSign(10, 100, zeta=2.5)
    with pytest.raises(ValueError, match="unknown sketch"):
        make_sketch("fourier", 10, 100)
    with pytest.raises(ValueError, match="rows"):
        SparseSign(10, 100).apply(np.ones((99, 3)))
    with pytest.raises(ValueError, match="padded"):
        SRHT(20, 12)
    with pytest.raises(ValueError, match="A or scores"):
        LeverageScore(10, 100)


def test_serial_and_parallel_sketch_kernels_agree():
    """The one-thread kernels (used when a thread pool would not pay) equal the parallel ones."""
    skm = importlib.import_module("krylearn.solvers.sketching.sparse_sign")
    A = np.random.default_rng(3).standard_normal((300, 40))
    S = SparseSign(30, 300, seed=0)
    one = skm._sparse_apply_dense(A, S.rows, S.vals, 30, 1)
    two = skm._sparse_apply_dense(A, S.rows, S.vals, 30, 2)
    np.testing.assert_allclose(one, two, atol=1e-12)
    np.testing.assert_allclose(one, S.todense() @ A, atol=1e-12)

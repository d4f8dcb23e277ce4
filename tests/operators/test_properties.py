"""Hypothesis property tests: adjoint dot test and composition-vs-dense over random small operators."""

import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import krylearn as kl
from krylearn.operators import DiagonalOperator, IdentityOperator, MatrixOperator, SparseOperator
from krylearn.operators.kronecker import Kronecker, KroneckerSum
from krylearn.operators.testing import dottest

SETTINGS = settings(deadline=None, max_examples=50)


def _leaf(draw, m, n):
    """A random operator of shape (m, n) and its dense matrix."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    cplx = draw(st.booleans())
    M = rng.standard_normal((m, n)) + (1j * rng.standard_normal((m, n)) if cplx else 0)
    kinds = ["dense", "sparse"] + (["diag", "identity"] if m == n else []) + \
        (["kron"] if m == n and m in (4, 6) else []) + (["kronsum"] if m == n and m in (4, 6) else []) + \
        (["stencil"] if m == n and m in (6, 12) else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "dense":
        return MatrixOperator(M), M
    if kind == "sparse":
        M = M * (rng.random((m, n)) < 0.5)
        return SparseOperator(sp.csr_matrix(M)), M
    if kind == "diag":
        d = np.diag(M).copy()
        return DiagonalOperator(d), np.diag(d)
    if kind == "identity":
        return IdentityOperator(m), np.eye(m)
    a = 2
    b = m // 2
    F1, F2 = rng.standard_normal((a, a)), rng.standard_normal((b, b))
    if kind == "kron":
        return Kronecker(F1, F2), np.kron(F1, F2)
    if kind == "kronsum":
        return KroneckerSum(F1, F2), np.kron(F1, np.eye(b)) + np.kron(np.eye(a), F2)
    shape = draw(st.sampled_from([(3, 3), (2, 2, 2)] if m == 6 else [(4, 4), (2, 3, 3)]))
    mask = np.zeros(int(np.prod(shape)), bool)
    mask[rng.permutation(mask.size)[:m]] = True           # exactly m cells inside the domain
    P = kl.pde.poisson(shape, mask=mask.reshape(shape), coefficient=rng.uniform(0.5, 2, shape),
                       bc=draw(st.sampled_from(["dirichlet", "neumann"])))
    return P, P.tocsr().toarray()


@st.composite
def operators(draw, m=None, n=None, depth=2):
    m = draw(st.sampled_from([1, 3, 4, 6])) if m is None else m
    n = draw(st.sampled_from([1, 3, 4, 6])) if n is None else n
    if depth == 0:
        return _leaf(draw, m, n)
    op = draw(st.sampled_from(["leaf", "add", "matmul", "scale", "T", "H", "neg"]))
    if op == "leaf":
        return _leaf(draw, m, n)
    if op == "add":
        A, DA = draw(operators(m, n, depth - 1))
        B, DB = draw(operators(m, n, depth - 1))
        return A + B, DA + DB
    if op == "matmul":
        k = draw(st.sampled_from([1, 3, 4, 6]))
        A, DA = draw(operators(m, k, depth - 1))
        B, DB = draw(operators(k, n, depth - 1))
        return A @ B, DA @ DB
    if op == "scale":
        c = draw(st.sampled_from([2.0, -0.5, 1j, 3 - 1j]))
        A, DA = draw(operators(m, n, depth - 1))
        return c * A, c * DA
    if op == "neg":
        A, DA = draw(operators(m, n, depth - 1))
        return -A, -DA
    A, DA = draw(operators(n, m, depth - 1))
    return (A.T, DA.T) if op == "T" else (A.H, DA.conj().T)


@SETTINGS
@given(operators())
def test_dot_test_random_expressions(pair):
    A, _ = pair
    assert dottest(A, rng=0, rtol=1e-10) <= 1e-10


@SETTINGS
@given(operators(), st.integers(0, 1000))
def test_expression_matches_dense(pair, seed):
    A, D = pair
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(A.shape[1]) + 1j * rng.standard_normal(A.shape[1])
    scale = max(1.0, np.abs(D).max())
    np.testing.assert_allclose(A @ x, D @ x, rtol=1e-10, atol=1e-10 * scale * A.shape[1])
    np.testing.assert_allclose(A.todense(), D, rtol=1e-10, atol=1e-10 * scale)
    y = rng.standard_normal(A.shape[0])
    np.testing.assert_allclose(A.rmatvec(y), D.conj().T @ y, rtol=1e-10, atol=1e-10 * scale * A.shape[0])
    assert A.shape == D.shape


@SETTINGS
@given(st.integers(2, 6), st.integers(2, 5), st.integers(0, 2**32 - 1), st.booleans(), st.booleans())
def test_poisson_random_masks(n0, n1, seed, neumann, coef):
    rng = np.random.default_rng(seed)
    mask = rng.random((n0, n1)) > 0.3
    if not mask.any():
        mask[0, 0] = True
    c = rng.uniform(0.1, 10, (n0, n1)) if coef else None
    A = kl.pde.poisson((n0, n1), mask=mask, bc="neumann" if neumann else "dirichlet", coefficient=c)
    dottest(A, rng=seed % 1000)
    C = A.tocsr()
    x = rng.standard_normal(A.shape[0])
    np.testing.assert_allclose(A @ x, C @ x, rtol=1e-12, atol=1e-12 * abs(C).max())
    ev = np.linalg.eigvalsh(C.toarray())
    tol = 1e-10 * max(ev.max(), 1e-300)
    assert ev.min() >= -tol
    assert A.positive_definite == (ev.min() > tol)
    assert A.singular_components == int(np.sum(ev <= tol))

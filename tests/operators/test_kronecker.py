"""Kronecker and KroneckerSum against numpy.kron / dense linear algebra."""

import numpy as np
import pytest
import scipy.sparse as sp

import krylearn as kl
from krylearn.operators import DiagonalOperator, MatrixOperator
from krylearn.operators.kronecker import Kronecker, KroneckerSum
from krylearn.operators.testing import OperatorTestCase

RNG = np.random.default_rng(11)


def spd(n, rng=RNG):
    B = rng.standard_normal((n, n))
    return B @ B.T + n * np.eye(n)


A3, B4, C2 = spd(3), spd(4), spd(2)
R34, R25 = RNG.standard_normal((3, 4)), RNG.standard_normal((2, 5))
Z3 = RNG.standard_normal((3, 3)) + 1j * RNG.standard_normal((3, 3))


def second_diff(n):
    return (2 * np.eye(n) - np.eye(n, k=1) - np.eye(n, k=-1)) * (n + 1) ** 2


class TestKroneckerRect(OperatorTestCase):
    covers = (Kronecker,)
    def create(self):
        return Kronecker(R34, R25)

    def dense(self):
        return np.kron(R34, R25)


class TestKronecker3(OperatorTestCase):
    covers = (Kronecker,)
    def create(self):
        return Kronecker(A3, B4, C2)

    def dense(self):
        return np.kron(np.kron(A3, B4), C2)


class TestKroneckerComplexMixed(OperatorTestCase):
    covers = (Kronecker,)
    def create(self):
        return Kronecker(Z3, sp.csr_matrix(B4), DiagonalOperator(np.array([1.0, -2.0])))

    def dense(self):
        return np.kron(np.kron(Z3, B4), np.diag([1.0, -2.0]))


class TestKroneckerSum2(OperatorTestCase):
    covers = (KroneckerSum,)
    def create(self):
        return KroneckerSum(second_diff(5), second_diff(4))

    def dense(self):
        return np.kron(second_diff(5), np.eye(4)) + np.kron(np.eye(5), second_diff(4))


class TestKroneckerSum3(OperatorTestCase):
    covers = (KroneckerSum,)
    def create(self):
        return KroneckerSum(A3, MatrixOperator(B4, symmetric=True, positive_definite=True), C2)

    def dense(self):
        return (np.kron(np.kron(A3, np.eye(4)), np.eye(2)) + np.kron(np.kron(np.eye(3), B4), np.eye(2))
                + np.kron(np.kron(np.eye(3), np.eye(4)), C2))


class TestKroneckerSumNonsymmetric(OperatorTestCase):
    covers = (KroneckerSum,)
    def create(self):
        return KroneckerSum(R34 @ R34.T + R34[:, :3], Z3)

    def dense(self):
        M = R34 @ R34.T + R34[:, :3]
        return np.kron(M, np.eye(3)) + np.kron(np.eye(3), Z3)


def test_kronecker_tags():
    K = Kronecker(A3, B4)
    assert K.symmetric and K.positive_definite
    assert not Kronecker(A3, R34).symmetric
    assert not Kronecker(A3, -B4).positive_definite
    assert KroneckerSum(A3, B4).positive_definite


@pytest.mark.parametrize("factors", [(A3, B4), (A3, B4, C2), (Z3 + 4 * np.eye(3), B4)])
def test_kronecker_solve_logdet(factors):
    K = Kronecker(*factors)
    D = K.todense()
    b = RNG.standard_normal(K.shape[0])
    np.testing.assert_allclose(K.solve(b), np.linalg.solve(D, b), rtol=1e-9, atol=1e-12)
    Bm = RNG.standard_normal((K.shape[0], 3))
    np.testing.assert_allclose(K.solve(Bm), np.linalg.solve(D, Bm), rtol=1e-9, atol=1e-12)
    sign, ld = np.linalg.slogdet(D)
    s2, ld2 = K.slogdet()
    assert np.isclose(ld2, ld, rtol=1e-10) and np.isclose(s2, sign)


@pytest.mark.parametrize("shift", [0.0, 0.37])
def test_kronecker_eigh_shifted_solve(shift):
    K = Kronecker(A3, B4, C2)
    D = K.todense() + shift * np.eye(K.shape[0])
    w, Q = K.eigh()
    Qd = Q.todense()
    np.testing.assert_allclose(Qd @ np.diag(w) @ Qd.T, K.todense(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(np.sort(w), np.linalg.eigvalsh(K.todense()), rtol=1e-10)
    b = RNG.standard_normal(K.shape[0])
    np.testing.assert_allclose(K.solve(b, shift=shift), np.linalg.solve(D, b), rtol=1e-9)
    assert np.isclose(K.logdet(shift), np.linalg.slogdet(D)[1], rtol=1e-10)
    np.testing.assert_allclose(K.diagonal(), np.diag(K.todense()))


def test_kronecker_never_materialises_large():
    n = 300
    T = second_diff(n)
    K = Kronecker(T, T, np.eye(4))             # 360,000 x 360,000: products only through the factors
    x = RNG.standard_normal(K.shape[1])
    y = K @ x
    X = x.reshape(n, n, 4)
    np.testing.assert_allclose(y.reshape(n, n, 4), np.einsum("ia,ajk->ijk", T, np.einsum("jb,abk->ajk", T, X)), rtol=1e-9, atol=1e-6)


@pytest.mark.parametrize("shift", [0.0, 2.5])
def test_kronecker_sum_fast_diagonalization(shift):
    L = KroneckerSum(second_diff(7), second_diff(5), second_diff(4))
    A = kl.pde.poisson((7, 5, 4))
    np.testing.assert_allclose(L.todense(), A.todense(), rtol=1e-13)
    D = L.todense() + shift * np.eye(L.shape[0])
    b = RNG.standard_normal(L.shape[0])
    np.testing.assert_allclose(L.solve(b, shift=shift), np.linalg.solve(D, b), rtol=1e-9)
    np.testing.assert_allclose(L.solve(np.c_[b, b], shift=shift), np.linalg.solve(D, np.c_[b, b]), rtol=1e-9)
    assert np.isclose(L.logdet(shift), np.linalg.slogdet(D)[1], rtol=1e-11)
    w, Q = L.eigh()
    np.testing.assert_allclose(np.sort(w), np.linalg.eigvalsh(L.todense()), rtol=1e-10)
    np.testing.assert_allclose(L.diagonal(), np.diag(L.todense()))


def test_kronecker_sum_solves_poisson_like_cg():
    A = kl.pde.poisson((24, 20))
    L = KroneckerSum(second_diff(24), second_diff(20))
    b = RNG.standard_normal(A.shape[0])
    x = L.solve(b)
    res = kl.cg(A, b, rtol=1e-12)
    np.testing.assert_allclose(x, res.x, rtol=1e-8, atol=1e-12)


def test_errors():
    with pytest.raises(ValueError):
        KroneckerSum(R34, A3)
    with pytest.raises(ValueError):
        Kronecker(R34, A3).solve(np.ones(36))
    with pytest.raises(ValueError, match="Hermitian"):
        Kronecker(R34[:, :3], A3).eigh()
    with pytest.raises(ValueError):
        Kronecker(A3, B4).solve(np.ones(5))
    with pytest.raises(ValueError):
        Kronecker(np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="singular"):
        KroneckerSum(np.zeros((2, 2)), np.zeros((3, 3))).solve(np.ones(6))
    with pytest.raises(ValueError, match="not positive"):
        Kronecker(-A3, np.eye(1)).logdet()         # det(-A3) < 0 (odd size)

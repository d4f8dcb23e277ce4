"""The shared operator test case over the core wrappers and the lazy algebra (operators/base, convert)."""

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import krylearn as kl
from krylearn.operators import (AdjointOperator, DiagonalOperator, IdentityOperator, MatrixOperator,
                                ProductOperator, ScaledOperator, ScipyOperator, SparseOperator, SumOperator,
                                TransposeOperator)
from krylearn.operators.convert import _Retagged
from krylearn.operators.testing import OperatorTestCase

RNG = np.random.default_rng(1234)
M_RECT = RNG.standard_normal((5, 4))
M_SQ = RNG.standard_normal((5, 5))
M_CPLX = RNG.standard_normal((4, 4)) + 1j * RNG.standard_normal((4, 4))
_B = RNG.standard_normal((6, 6))
M_SPD = _B @ _B.T + 6 * np.eye(6)
S_SQ = sp.random(7, 7, density=0.4, random_state=3, format="csr") + sp.eye(7)


class TestMatrixRect(OperatorTestCase):
    covers = (MatrixOperator,)
    def create(self):
        return MatrixOperator(M_RECT)

    def dense(self):
        return M_RECT


class TestMatrixComplex(OperatorTestCase):
    covers = (MatrixOperator,)
    def create(self):
        return kl.aslinearoperator(M_CPLX)

    def dense(self):
        return M_CPLX


class TestMatrixSPD(OperatorTestCase):
    covers = (MatrixOperator,)
    def create(self):
        return kl.aslinearoperator(M_SPD, symmetric=True, positive_definite=True)

    def dense(self):
        return M_SPD


class TestSparse(OperatorTestCase):
    covers = (SparseOperator,)
    def create(self):
        return SparseOperator(S_SQ)

    def dense(self):
        return S_SQ.toarray()


class TestSparseRect(OperatorTestCase):
    covers = (SparseOperator,)
    def create(self):
        return kl.aslinearoperator(sp.csc_matrix(M_RECT))

    def dense(self):
        return M_RECT


class TestScipy(OperatorTestCase):
    covers = (ScipyOperator,)
    def create(self):
        return kl.aslinearoperator(spla.aslinearoperator(M_RECT))

    def dense(self):
        return M_RECT


class TestCallable(OperatorTestCase):
    covers = (kl.LinearOperator,)
    def create(self):
        return kl.LinearOperator(M_RECT.shape, matvec=lambda x: M_RECT @ x, rmatvec=lambda y: M_RECT.T @ y)

    def dense(self):
        return M_RECT


class TestTorch(OperatorTestCase):
    covers = ("krylearn.operators.torch_operator.TorchOperator",)
    def create(self):
        torch = pytest.importorskip("torch")
        return kl.aslinearoperator(torch.tensor(M_SQ))

    def dense(self):
        return M_SQ


class TestIdentity(OperatorTestCase):
    covers = (IdentityOperator,)
    def create(self):
        return IdentityOperator(4)

    def dense(self):
        return np.eye(4)


class TestDiagonal(OperatorTestCase):
    covers = (DiagonalOperator,)
    def create(self):
        return DiagonalOperator(np.arange(1.0, 6.0))

    def dense(self):
        return np.diag(np.arange(1.0, 6.0))


class TestDiagonalComplex(OperatorTestCase):
    covers = (DiagonalOperator,)
    def create(self):
        return DiagonalOperator(np.array([1 + 2j, 3, -1j]))

    def dense(self):
        return np.diag([1 + 2j, 3, -1j])


class TestSum(OperatorTestCase):
    covers = (SumOperator,)
    def create(self):
        return SumOperator(MatrixOperator(M_SQ), SparseOperator(sp.eye(5) * 2.0))

    def dense(self):
        return M_SQ + 2 * np.eye(5)


class TestProduct(OperatorTestCase):
    covers = (ProductOperator,)
    def create(self):
        return ProductOperator(MatrixOperator(M_RECT), MatrixOperator(M_RECT.T))

    def dense(self):
        return M_RECT @ M_RECT.T


class TestScaled(OperatorTestCase):
    covers = (ScaledOperator,)
    def create(self):
        return ScaledOperator(MatrixOperator(M_RECT), -2.5)

    def dense(self):
        return -2.5 * M_RECT


class TestScaledComplex(OperatorTestCase):
    covers = (ScaledOperator,)
    def create(self):
        return (1 - 2j) * MatrixOperator(M_SQ)

    def dense(self):
        return (1 - 2j) * M_SQ


class TestAdjoint(OperatorTestCase):
    covers = (AdjointOperator,)
    def create(self):
        return AdjointOperator(MatrixOperator(M_CPLX))

    def dense(self):
        return M_CPLX.conj().T


class TestTranspose(OperatorTestCase):
    covers = (TransposeOperator,)
    def create(self):
        return TransposeOperator(MatrixOperator(M_CPLX))

    def dense(self):
        return M_CPLX.T


class TestMixedExpression(OperatorTestCase):
    covers = (SumOperator,)
    def create(self):
        A = MatrixOperator(M_RECT)
        return A.T @ A + 0.5 * IdentityOperator(4) - DiagonalOperator(np.arange(4.0))

    def dense(self):
        return M_RECT.T @ M_RECT + 0.5 * np.eye(4) - np.diag(np.arange(4.0))


class TestRetagged(OperatorTestCase):
    """``aslinearoperator(op, tags)`` of an existing operator: a re-tagged view (convert._Retagged)."""
    covers = (_Retagged,)
    expected_tags = {"symmetric": True, "hermitian": True, "positive_definite": True}

    def create(self):
        return kl.aslinearoperator(SparseOperator(sp.csr_matrix(M_SPD)), symmetric=True, positive_definite=True)

    def dense(self):
        return M_SPD

    def test_view_keeps_the_operator(self):
        A = self.create()
        assert type(A.args[0]) is SparseOperator and not A.args[0].symmetric
        assert A.tocsr() is A.args[0].tocsr()


def test_to_scipy_with_scipy_cg_and_pyamg():
    A = kl.aslinearoperator(M_SPD, symmetric=True, positive_definite=True)
    b = np.arange(6.0)
    x, info = spla.cg(A.to_scipy(), b, rtol=1e-12, atol=0.0, maxiter=100)
    assert info == 0
    np.testing.assert_allclose(x, np.linalg.solve(M_SPD, b), rtol=1e-8)
    pyamg = pytest.importorskip("pyamg")
    x, info = pyamg.krylov.cg(A.to_scipy(), b, tol=1e-12, maxiter=100)
    assert info == 0
    np.testing.assert_allclose(x, np.linalg.solve(M_SPD, b), rtol=1e-8)

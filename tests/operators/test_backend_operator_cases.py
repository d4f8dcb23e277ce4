"""OperatorTestCases of the back-end wrappers: PETSc matrices (PetscMatOperator), sparse torch
tensors (TorchOperator; dense ones are in test_base) and the single-precision view of a solve
(solvers._common._InPrecision). Optional back-ends skip inside ``create`` so that this module
always imports (tests/operators/test_every_operator_is_tested.py reads its ``covers``)."""

import numpy as np
import pytest
import scipy.sparse as sp

import krylearn as kl
from krylearn.operators.testing import OperatorTestCase
from krylearn.solvers._common import _InPrecision, in_precision

RNG = np.random.default_rng(7)
R65 = RNG.standard_normal((6, 5))
NONSYM = RNG.standard_normal((7, 7)) + 3 * np.eye(7)
POISSON = kl.pde.poisson((5, 4))


def _petsc():
    return pytest.importorskip("petsc4py.PETSc")


class TestPetscAIJRect(OperatorTestCase):
    covers = ("krylearn.operators.petsc_mat.PetscMatOperator",)

    def create(self):
        PETSc = _petsc()
        mat = PETSc.Mat().createDense(R65.shape, array=R65.copy(), comm=PETSc.COMM_SELF).convert("aij")
        return kl.aslinearoperator(mat)

    def dense(self):
        return R65


class TestPetscAIJSPD(OperatorTestCase):
    """An assembled SPD Poisson matrix: the tags come from the Mat's options (as_aij sets them)."""
    covers = ("krylearn.operators.petsc_mat.PetscMatOperator",)
    expected_tags = {"symmetric": True, "positive_definite": True}

    def create(self):
        _petsc()
        import krylearn.petsc as klp

        return kl.aslinearoperator(klp.as_aij(POISSON))

    def dense(self):
        return POISSON.tocsr().toarray()


class TestPetscPythonMat(OperatorTestCase):
    """A python Mat over a krylearn operator (MatMult calls back into NumPy)."""
    covers = ("krylearn.operators.petsc_mat.PetscMatOperator",)

    def create(self):
        _petsc()
        import krylearn.petsc as klp

        return kl.aslinearoperator(klp.as_mat(kl.aslinearoperator(NONSYM)))

    def dense(self):
        return NONSYM


class TestTorchSparse(OperatorTestCase):
    covers = ("krylearn.operators.torch_operator.TorchOperator",)

    def create(self):
        torch = pytest.importorskip("torch")
        C = sp.coo_matrix(NONSYM * (np.abs(NONSYM) > 0.5))
        T = torch.sparse_coo_tensor(np.vstack([C.row, C.col]), C.data, C.shape, dtype=torch.float64,
                                    check_invariants=True)
        return kl.aslinearoperator(T)

    def dense(self):
        return NONSYM * (np.abs(NONSYM) > 0.5)


class TestTorchComplex64(OperatorTestCase):
    covers = ("krylearn.operators.torch_operator.TorchOperator",)
    rtol, atol, dottest_rtol = 2e-5, 1e-6, 1e-5
    Z = (RNG.standard_normal((4, 4)) + 1j * RNG.standard_normal((4, 4))).astype(np.complex64)

    def create(self):
        torch = pytest.importorskip("torch")
        return kl.aslinearoperator(torch.tensor(self.Z))

    def dense(self):
        return self.Z


class TestInPrecisionFloat32(OperatorTestCase):
    """A stencil's products cast to float32, what a single-precision solve uses for matrix-free A."""
    covers = (_InPrecision,)
    rtol, atol, dottest_rtol = 1e-5, 1e-6, 1e-5
    A = kl.LinearOperator(NONSYM.shape, matvec=lambda x: NONSYM @ x, rmatvec=lambda y: NONSYM.T @ y,
                          diagonal=np.diag(NONSYM))

    def create(self):
        op = in_precision(self.A, np.float32)
        assert op.dtype == np.float32 and op.matvec(np.ones(7)).dtype == np.float32
        return op

    def dense(self):
        return NONSYM.astype(np.float32)


class TestInPrecisionComplex64(OperatorTestCase):
    covers = (_InPrecision,)
    rtol, atol, dottest_rtol = 1e-5, 1e-6, 1e-5
    expected_tags = {"symmetric": True, "positive_definite": True}

    def create(self):
        op = _InPrecision(kl.precond.jacobi(POISSON), np.complex64)
        assert op.info["type"] == "jacobi"          # attributes of the wrapped operator show through
        return op

    def dense(self):
        return np.diag(1.0 / POISSON.tocsr().diagonal()).astype(np.complex64)

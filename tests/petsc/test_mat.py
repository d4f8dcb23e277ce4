"""Operators both ways: krylearn.petsc.as_mat / as_aij / PetscMatOperator (krylearn.operators.petsc_mat)."""

import numpy as np
import pytest
import scipy.sparse as sp

PETSc = pytest.importorskip("petsc4py.PETSc")

import krylearn as kl  # noqa: E402
import krylearn.petsc as klp  # noqa: E402


@pytest.mark.parametrize("shape", [(20, 24), (8, 9, 10)])
@pytest.mark.parametrize("pc", [None, "jacobi"])
def test_python_mat_over_stencil_solves_like_aij(shape, pc):
    """A python Mat over the matrix-free stencil gives the same KSPCG run as the assembled AIJ."""
    A = kl.pde.poisson(shape)
    b = np.random.default_rng(0).standard_normal(A.shape[0])
    pymat = klp.as_mat(A)
    aij = klp.as_aij(A)
    assert pymat.getType() == "python" and aij.getType() == "seqaij"
    r_py = klp.solve(pymat, b, pc=pc, rtol=1e-10)
    r_aij = klp.solve(aij, b, pc=pc, rtol=1e-10)
    assert r_py.converged and r_aij.converged
    assert abs(r_py.iterations - r_aij.iterations) <= 1
    np.testing.assert_allclose(r_py.x, r_aij.x, atol=1e-10 * np.abs(r_aij.x).max())
    np.testing.assert_allclose(r_py.residuals[: len(r_aij.residuals) - 1], r_aij.residuals[:len(r_py.residuals) - 1],
                               rtol=1e-6)
    assert pymat.getPythonContext().n_mult >= r_py.iterations


def test_python_mat_products_and_flags(rng):
    n = 15
    D = rng.standard_normal((n, n))
    mat = klp.as_mat(kl.aslinearoperator(D))
    x, y = mat.createVecs()
    x.array_w[...] = rng.standard_normal(n)
    mat.mult(x, y)
    np.testing.assert_allclose(y.array_r, D @ x.array_r)
    mat.multTranspose(x, y)
    np.testing.assert_allclose(y.array_r, D.T @ x.array_r)
    d = mat.createVecLeft()
    mat.getDiagonal(d)
    np.testing.assert_allclose(d.array_r, np.diag(D))
    spd = klp.as_mat(kl.pde.poisson((6, 6)))
    assert spd.isSymmetricKnown() == (True, True)


def test_python_mat_without_diagonal_is_a_petsc_error():
    n = 10
    op = kl.LinearOperator((n, n), matvec=lambda v: 2 * v, rmatvec=lambda v: 2 * v)
    with pytest.raises(PETSc.Error, match="diagonal"):
        klp.solve(klp.as_mat(op), np.ones(n), pc="jacobi")


def test_as_mat_rejects_parallel_comm_and_complex():
    with pytest.raises(ValueError, match="complex"):
        klp.as_mat(kl.aslinearoperator(np.eye(3, dtype=complex)))


def test_petsc_mat_operator(rng):
    n = 30
    S = sp.random(n, n, density=0.2, random_state=1, format="csr") + sp.eye(n) * 3
    mat = klp.as_aij(S)
    A = kl.aslinearoperator(mat)
    assert isinstance(A, klp.PetscMatOperator) and A.shape == (n, n)
    x = rng.standard_normal(n)
    np.testing.assert_allclose(A @ x, S @ x)
    np.testing.assert_allclose(A.rmatvec(x), S.T @ x)
    np.testing.assert_allclose(A.diagonal(), S.diagonal())
    assert (A.tocsr() != S).nnz == 0
    np.testing.assert_allclose(A.todense(), S.toarray())
    # adjoint dot test
    y = rng.standard_normal(n)
    assert np.isclose(np.dot(A @ x, y), np.dot(x, A.rmatvec(y)))


def test_krylearn_solvers_accept_petsc_mat():
    P = kl.pde.poisson((12, 12))
    mat = klp.as_aij(P)
    A = kl.aslinearoperator(mat)
    assert A.symmetric and A.positive_definite  # read from the Mat's SYMMETRIC/SPD options
    b = np.ones(P.shape[0])
    res = kl.cg(A, b, rtol=1e-10)
    ref = kl.cg(P, b, rtol=1e-10)
    assert res.converged and res.iterations == ref.iterations
    np.testing.assert_allclose(res.x, ref.x, atol=1e-12)
    # a python Mat round trip gives back the krylearn operator's products
    B = kl.aslinearoperator(klp.as_mat(P))
    np.testing.assert_allclose(B @ b, P @ b)
    np.testing.assert_allclose(B.tocsr().toarray(), P.tocsr().toarray())

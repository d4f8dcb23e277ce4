"""kl.minres_qlp: minimum-length solutions of singular symmetric systems, and MINRES's answers elsewhere."""

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import krylearn as kl


def _neumann(n):
    L = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(n, n), format="lil")
    L[0, 0] = L[n - 1, n - 1] = 1.0
    return L.tocsr()


@pytest.mark.parametrize("n", [30, 50])
def test_minimum_length_solution_of_an_inconsistent_singular_system(n):
    """The target of issue 16: within 1e-8 relative of numpy.linalg.lstsq's minimum-norm solution."""
    L = _neumann(n)
    b = np.random.default_rng(n).standard_normal(n)
    res = kl.minres_qlp(kl.aslinearoperator(L, symmetric=True), b, rtol=1e-12)
    x_ref = np.linalg.lstsq(L.toarray(), b, rcond=None)[0]
    assert res.converged and res.info["least_squares"], res
    assert np.linalg.norm(res.x - x_ref) <= 1e-8 * np.linalg.norm(x_ref)
    assert res.residuals[-1] == pytest.approx(np.linalg.norm(b - L @ res.x), rel=1e-10)


def test_singular_indefinite_dense():
    rng = np.random.default_rng(2)
    n = 40
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    lam = np.concatenate([np.zeros(5), -np.linspace(1, 3, 15), np.linspace(0.5, 4, 20)])
    A = Q @ np.diag(lam) @ Q.T
    A = 0.5 * (A + A.T)
    b = rng.standard_normal(n)
    res = kl.minres_qlp(kl.aslinearoperator(A, symmetric=True), b, rtol=1e-12)
    x_ref = np.linalg.pinv(A, rcond=1e-10) @ b
    assert res.info["least_squares"]
    assert np.linalg.norm(res.x - x_ref) <= 1e-7 * np.linalg.norm(x_ref)


@pytest.mark.parametrize("kind", ["spd", "indefinite"])
def test_nonsingular_systems_match_minres(kind):
    A = kl.pde.poisson((20, 20)).tocsr()
    if kind == "indefinite":
        A = (A - 1500.0 * sp.identity(A.shape[0])).tocsr()
    b = np.random.default_rng(0).standard_normal(A.shape[0])
    op = kl.aslinearoperator(A, symmetric=True)
    res = kl.minres_qlp(op, b, rtol=1e-10)
    ref = kl.minres(op, b, rtol=1e-10)
    assert res.converged and not res.info["least_squares"]
    np.testing.assert_allclose(res.x, spla.spsolve(A.tocsc(), b), rtol=1e-6, atol=1e-9)
    assert abs(res.iterations - ref.iterations) <= max(3, 0.05 * ref.iterations)


def test_x0_shift_and_preconditioner():
    A = kl.pde.poisson((16, 16))
    b = np.ones(A.shape[0])
    x0 = np.random.default_rng(1).standard_normal(A.shape[0])
    csr = A.tocsr()
    shifted = (csr - 10.0 * sp.identity(csr.shape[0])).tocsc()
    res = kl.minres_qlp(A, b, x0=x0, shift=10.0, rtol=1e-10)
    np.testing.assert_allclose(res.x, spla.spsolve(shifted, b), rtol=1e-6, atol=1e-9)
    res = kl.minres_qlp(A, b, M=kl.precond.jacobi(A), rtol=1e-10)
    assert res.converged and res.method == "pminres_qlp"
    np.testing.assert_allclose(res.x, spla.spsolve(csr.tocsc(), b), rtol=1e-6)
    assert kl.solve(A, b, method="minres_qlp", rtol=1e-8).converged
    with pytest.raises(ValueError):
        kl.minres_qlp(A, b[:-1])

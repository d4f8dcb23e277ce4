"""kl.chebyshev: Chebyshev iteration with given or estimated spectrum bounds."""

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import krylearn as kl
from krylearn.solvers.krylov.chebyshev import spectrum_bounds


def test_exact_bounds_converge_at_the_chebyshev_rate():
    n = 100
    A = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(n, n), format="csr")
    lam = 2.0 - 2.0 * np.cos(np.array([1, n]) * np.pi / (n + 1))
    b = np.random.default_rng(0).standard_normal(n)
    res = kl.chebyshev(A, b, rtol=1e-8, eigenvalue_bounds=tuple(lam))
    assert res.converged
    np.testing.assert_allclose(res.x, spla.spsolve(A.tocsc(), b), rtol=1e-5)
    kappa = lam[1] / lam[0]
    rate = (np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1)
    bound = np.log(1e-8 / (2 * np.sqrt(kappa))) / np.log(rate)   # ‖r‖ ≤ √κ·2ρ^k ‖r0‖
    assert res.iterations <= 1.05 * bound + 2


def test_estimated_bounds_with_a_preconditioner():
    A = kl.pde.poisson((24, 24), coefficient=np.exp(np.random.default_rng(1).uniform(-1, 1, (24, 24))))
    b = np.ones(A.shape[0])
    M = kl.precond.jacobi(A)
    res = kl.chebyshev(A, b, M=M, rtol=1e-8)
    assert res.converged and res.method == "pchebyshev"
    lo, hi = res.info["eigenvalue_bounds"]
    lam = np.linalg.eigvals(np.diag(1 / A.diagonal()) @ A.tocsr().toarray()).real
    assert lo >= lam.min() * (1 - 1e-8) and hi >= lam.max()
    assert np.linalg.norm(b - A @ res.x) <= 1e-8 * np.linalg.norm(b) * 1.0001


def test_interval_missing_the_top_of_the_spectrum_is_reported():
    A = sp.diags(np.linspace(1, 10, 50), format="csr")
    res = kl.chebyshev(A, np.ones(50), eigenvalue_bounds=(1.0, 3.0), rtol=1e-10, maxiter=500)
    assert not res.converged and str(res.status) == "stagnation" and "interval" in res.info["reason"]


def test_bad_input():
    A = sp.identity(5, format="csr")
    with pytest.raises(ValueError):
        kl.chebyshev(A, np.ones(5), eigenvalue_bounds=(2.0, 1.0))
    with pytest.raises(ValueError):
        kl.chebyshev(A, np.ones(5), eigenvalue_bounds=(0.0, 1.0))
    with pytest.raises(ValueError):
        kl.chebyshev(A, np.ones(5), safety=0.5)
    with pytest.raises(ValueError):
        spectrum_bounds(kl.aslinearoperator(-sp.identity(5, format="csr")))
    res = kl.chebyshev(A, np.ones(5), eigenvalue_bounds=(1.0, 1.0))
    assert res.converged and res.iterations <= 1


@pytest.mark.parametrize("degree", [1, 2, 4])
def test_polynomial_preconditioner_is_spd_and_helps_cg(degree):
    A = kl.pde.poisson((20, 20))
    J = kl.precond.jacobi(A)
    P = kl.precond.chebyshev(A, degree, M=J)
    D = np.column_stack([P.matvec(e) for e in np.eye(A.shape[0])])
    np.testing.assert_allclose(D, D.T, atol=1e-12 * np.abs(D).max())
    assert np.linalg.eigvalsh(0.5 * (D + D.T)).min() > 0
    b = np.ones(A.shape[0])
    plain = kl.cg(A, b, rtol=1e-8, M=J)
    res = kl.cg(A, b, rtol=1e-8, M=P)
    assert res.converged
    if degree > 1:
        assert res.iterations < plain.iterations


def test_smoother_interval_and_bad_input():
    A = kl.pde.poisson((16, 16))
    S = kl.precond.chebyshev(A, 3, smoother=True)
    lo, hi = S.bounds
    assert lo == pytest.approx(0.1 * hi / 1.1)
    with pytest.raises(ValueError):
        kl.precond.chebyshev(A, 0)
    with pytest.raises(ValueError):
        kl.precond.chebyshev(A, 2, bounds=(3.0, 1.0))

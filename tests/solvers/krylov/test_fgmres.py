"""kl.fgmres: flexible GMRES against GMRES (fixed preconditioner) and with variable preconditioners."""

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import krylearn as kl


@pytest.fixture(scope="module")
def convection():
    """A nonsymmetric convection–diffusion matrix (upwind), 30×30 grid."""
    n = 30
    T = sp.diags([-1.3, 2.6, -1.0], [-1, 0, 1], shape=(n, n))       # upwinded convection along x
    I = sp.identity(n)
    A = (sp.kron(I, T) + sp.kron(sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(n, n)), I)).tocsr()
    b = np.random.default_rng(0).standard_normal(A.shape[0])
    return A, b, spla.spsolve(A.tocsc(), b)


def test_fixed_preconditioner_matches_gmres(convection):
    A, b, x_ref = convection
    M = kl.precond.ilu(A)
    r1 = kl.gmres(A, b, M=M, rtol=1e-10, restart=20)
    r2 = kl.fgmres(A, b, M=M, rtol=1e-10, restart=20)
    assert r1.converged and r2.converged and r2.method == "fgmres"
    assert abs(r1.iterations - r2.iterations) <= 1
    np.testing.assert_allclose(r2.x, x_ref, rtol=1e-7, atol=1e-9 * np.abs(x_ref).max())
    np.testing.assert_allclose(r2.residuals[: min(len(r1.residuals), len(r2.residuals)) - 1],
                               r1.residuals[: min(len(r1.residuals), len(r2.residuals)) - 1], rtol=1e-6)


def test_unpreconditioned_equals_gmres(convection):
    A, b, _ = convection
    r1 = kl.gmres(A, b, rtol=1e-8, restart=25)
    r2 = kl.fgmres(A, b, rtol=1e-8, restart=25)
    assert r1.iterations == r2.iterations
    np.testing.assert_allclose(r1.x, r2.x, rtol=1e-8, atol=1e-12)


def test_variable_preconditioner(convection):
    """An inner GMRES solve to a loose tolerance is a different map at every step: FGMRES converges in a
    handful of outer steps, true residual below the tolerance."""
    A, b, x_ref = convection
    calls = []

    def inner(r):
        calls.append(1)
        return kl.gmres(A, r, rtol=1e-1, restart=10, maxiter=10).x

    res = kl.fgmres(A, b, M=inner, rtol=1e-10, restart=30)
    assert res.converged and res.iterations <= 30
    assert np.linalg.norm(b - A @ res.x) <= 1e-10 * np.linalg.norm(b)
    assert len(calls) == res.iterations
    np.testing.assert_allclose(res.x, x_ref, rtol=1e-6, atol=1e-8 * np.abs(x_ref).max())


def test_nonlinear_preconditioner_spd_problem():
    A = kl.pde.poisson((24, 24))
    b = np.ones(A.shape[0])
    res = kl.fgmres(A, b, M=lambda r: kl.cg(A, r, rtol=0.3).x, rtol=1e-9)
    assert res.converged
    assert np.linalg.norm(b - A @ res.x) <= 1e-9 * np.linalg.norm(b)


def test_bad_input_and_dispatch(convection):
    A, b, _ = convection
    with pytest.raises(ValueError):
        kl.fgmres(A, b[:-1])
    with pytest.raises(ValueError):
        kl.fgmres(A, b, restart=0)
    res = kl.solve(A, b, method="fgmres", rtol=1e-8)
    assert res.converged and res.method == "fgmres"
    nan_M = lambda r: np.full_like(r, np.nan)  # noqa: E731
    res = kl.fgmres(A, b, M=nan_M, rtol=1e-8)
    assert not res.converged and str(res.status) == "not_finite"

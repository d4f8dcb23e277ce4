"""GP-HM kernels: analytic derivatives against torch autograd, Toeplitz fast path, bad input."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from krylearn.pde.gp_kernels import Matern52, SpectralMixture, SquaredExponential, make_kernel  # noqa: E402


def _kernels():
    sm = SpectralMixture(num_components=5, freq_scale=8.0, spectrum="gaussian", init_rho=3.0)
    st = SpectralMixture(num_components=5, freq_scale=8.0, spectrum="student", init_rho=3.0)
    torch.manual_seed(0)
    for k in (sm, st):
        k.params["log_w"] = torch.randn(5, dtype=torch.float64)
        k.params["log_rho"] = 0.5 * torch.randn(5, dtype=torch.float64) + 1.0
        k.params["mu"] = 8 * torch.rand(5, dtype=torch.float64)
    return [sm, st, SquaredExponential(0.3, 2.0), Matern52(0.4, 1.5)]


@pytest.mark.parametrize("kern", _kernels(), ids=["sm-gauss", "sm-student", "se", "matern52"])
def test_derivatives_match_autograd(kern):
    # avoid r = 0 where |r| is not differentiable (the Matérn envelope)
    r = torch.linspace(-1.3, 1.3, 40, dtype=torch.float64) + 0.0123
    r.requires_grad_(True)
    k0, k1, k2 = kern.derivatives(r)
    g1 = torch.autograd.grad(k0.sum(), r, create_graph=True)[0]
    g2 = torch.autograd.grad(g1.sum(), r)[0]
    np.testing.assert_allclose(k1.detach().numpy(), g1.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(k2.detach().numpy(), g2.detach().numpy(), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("kern", _kernels(), ids=["sm-gauss", "sm-student", "se", "matern52"])
def test_cross_covariance_is_derivative_in_first_argument(kern):
    x = torch.linspace(0, 1, 7, dtype=torch.float64).requires_grad_(True)
    y = torch.linspace(0.05, 0.9, 5, dtype=torch.float64)
    K0 = kern.cross(x, y, 0)
    K1 = kern.cross(x, y, 1)
    g = torch.autograd.grad(K0.sum(1).sum(), x, create_graph=True)[0]  # d/dx_i sum_j k(x_i, y_j)
    np.testing.assert_allclose(K1.sum(1).detach().numpy(), g.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert np.allclose(kern.cross(x, y, 2).detach().numpy().shape, (7, 5))


@pytest.mark.parametrize("kern", _kernels(), ids=["sm-gauss", "sm-student", "se", "matern52"])
def test_toeplitz_grid_path_equals_direct(kern):
    x = torch.linspace(-0.5, 2.0, 23, dtype=torch.float64)
    fast = kern.all_cross(x)
    r = x[:, None] - x[None, :]
    direct = kern.derivatives(r)
    for a, b in zip(fast, direct):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-12)


def test_kernel_matrix_positive_definite_and_symmetric():
    k = SpectralMixture(num_components=30, freq_scale=20.0, init_rho=3.0)
    x = torch.linspace(0, 1, 50, dtype=torch.float64)
    K = k(x).numpy()
    np.testing.assert_allclose(K, K.T, atol=1e-14)
    assert np.linalg.eigvalsh(K + 1e-6 * np.eye(50)).min() > 0
    K2 = k.cross(x, order=2).numpy()  # cov(u'', u) = k'' is symmetric and negative semidefinite
    np.testing.assert_allclose(K2, K2.T, atol=1e-9)
    assert np.linalg.eigvalsh(K2).max() < 1e-8 * np.abs(K2).max()


def test_spectrum_and_bad_input():
    k = SpectralMixture(num_components=4, freq_scale=6.0)
    mu, w, rho = k.spectrum()
    np.testing.assert_allclose(mu, [0, 2, 4, 6])
    np.testing.assert_allclose(w.sum(), 1.0)
    with pytest.raises(ValueError, match="spectrum"):
        SpectralMixture(spectrum="cauchy")
    with pytest.raises(ValueError, match="freq_scale"):
        SpectralMixture(freq_scale=-1.0)
    with pytest.raises(ValueError, match="order"):
        k.cross(torch.zeros(3), order=3)
    with pytest.raises(ValueError, match="unknown kernel"):
        make_kernel("laplace")
    assert isinstance(make_kernel("se"), SquaredExponential)

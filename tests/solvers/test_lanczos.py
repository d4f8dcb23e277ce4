"""The one Lanczos routine (krylearn/solvers/lanczos.py) against a dense eigensolver."""

import numpy as np
import pytest
from scipy.linalg import eigh_tridiagonal

from krylearn.solvers.lanczos import lanczos


def _spd(n, seed=0):
    rng = np.random.default_rng(seed)
    Q = np.linalg.qr(rng.standard_normal((n, n)))[0]
    return (Q * np.linspace(1.0, 50.0, n)) @ Q.T


def test_full_run_gives_the_spectrum_and_orthonormal_vectors():
    A = _spd(40)
    alpha, beta, V = lanczos(lambda v: A @ v, np.ones(40), 40)
    assert alpha.shape == (40,) and beta.shape == (39,)
    assert np.allclose(V @ V.T, np.eye(40), atol=1e-10)
    theta = eigh_tridiagonal(alpha, beta, eigvals_only=True)
    assert np.allclose(theta, np.linalg.eigvalsh(A), atol=1e-8)
    T = np.diag(alpha) + np.diag(beta, 1) + np.diag(beta, -1)
    assert np.allclose(V @ A @ V.T, T, atol=1e-9)


def test_extreme_ritz_values_converge_first():
    A = _spd(200, seed=1)
    alpha, beta, _ = lanczos(lambda v: A @ v, np.random.default_rng(2).standard_normal(200), 40)
    theta = eigh_tridiagonal(alpha, beta, eigvals_only=True)
    lam = np.linalg.eigvalsh(A)
    assert theta[0] >= lam[0] - 1e-10 and theta[-1] <= lam[-1] + 1e-10  # inside the spectrum
    assert abs(theta[-1] - lam[-1]) < 1e-3 * lam[-1]


def test_invariant_subspace_stops_early():
    A = np.diag(np.arange(1.0, 11.0))
    start = np.zeros(10)
    start[[1, 4, 7]] = 1.0  # lies in a 3-dimensional invariant subspace
    alpha, beta, V = lanczos(lambda v: A @ v, start, 10)
    assert alpha.shape == (3,) and V.shape == (3, 10)
    assert np.allclose(np.sort(eigh_tridiagonal(alpha, beta, eigvals_only=True)), [2.0, 5.0, 8.0])


def test_zero_start_is_rejected():
    with pytest.raises(ValueError, match="zero"):
        lanczos(lambda v: v, np.zeros(5), 3)

"""Eigenvalue and condition estimates from CG's implicit Lanczos tridiagonal."""

import numpy as np
import pytest
import scipy.sparse as sp

import krylearn as kl


def test_ritz_values_of_the_laplacian():
    n = 60
    A = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(n, n), format="csr")
    lam = 2.0 - 2.0 * np.cos(np.arange(1, n + 1) * np.pi / (n + 1))
    res = kl.cg(kl.aslinearoperator(A, positive_definite=True), np.random.default_rng(0).standard_normal(n),
                rtol=1e-12, estimate_eigenvalues=True)
    lo, hi = res.info["eigenvalue_estimates"]
    assert lo == pytest.approx(lam[0], rel=1e-6) and hi == pytest.approx(lam[-1], rel=1e-6)
    assert res.info["condition_estimate"] == pytest.approx(lam[-1] / lam[0], rel=1e-5)
    theta = res.info["ritz_values"]
    assert len(theta) == res.iterations and np.all(np.diff(theta) >= 0)
    # interlacing: every Ritz value lies in the spectrum's hull
    assert theta.min() >= lam[0] * (1 - 1e-10) and theta.max() <= lam[-1] * (1 + 1e-10)


def test_preconditioned_estimates_are_those_of_MA():
    """With M, the estimates are of the preconditioned operator M A (here M = D⁻¹ of a badly scaled
    SPD matrix; the dense generalized eigenvalues are the reference)."""
    rng = np.random.default_rng(1)
    n = 50
    d = 10.0 ** rng.uniform(-2, 2, n)
    T = sp.diags([-1.0, 2.5, -1.0], [-1, 0, 1], shape=(n, n))
    A = (sp.diags(np.sqrt(d)) @ T @ sp.diags(np.sqrt(d))).tocsr()
    Minv = A.diagonal()
    lam = np.sort(np.linalg.eigvals(np.diag(1.0 / Minv) @ A.toarray()).real)
    res = kl.cg(kl.aslinearoperator(A, positive_definite=True), rng.standard_normal(n), rtol=1e-12,
                M=kl.precond.jacobi(A), estimate_eigenvalues=True)
    lo, hi = res.info["eigenvalue_estimates"]
    assert lo == pytest.approx(lam[0], rel=1e-3) and hi == pytest.approx(lam[-1], rel=1e-3)


def test_early_iterations_bound_the_spectrum_from_inside():
    A = kl.pde.poisson((30, 30))
    lam_max = float(np.linalg.eigvalsh(A.tocsr().toarray())[-1])
    res = kl.cg(A, np.random.default_rng(2).standard_normal(A.shape[0]), maxiter=8, estimate_eigenvalues=True)
    lo, hi = res.info["eigenvalue_estimates"]
    assert 0 < lo < hi <= lam_max * (1 + 1e-12)
    assert hi > 0.5 * lam_max
    assert "ritz_values" not in kl.cg(A, np.ones(A.shape[0]), maxiter=3).info


def test_minres_ritz_values_of_an_indefinite_matrix():
    rng = np.random.default_rng(3)
    n = 60
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    lam = np.concatenate([-np.linspace(1, 5, 20), np.linspace(0.5, 10, 40)])
    A = Q @ np.diag(lam) @ Q.T
    A = 0.5 * (A + A.T)
    res = kl.minres(kl.aslinearoperator(A, symmetric=True), rng.standard_normal(n), rtol=1e-12,
                    estimate_eigenvalues=True)
    lo, hi = res.info["eigenvalue_estimates"]
    assert lo == pytest.approx(-5.0, rel=1e-6) and hi == pytest.approx(10.0, rel=1e-6)
    assert res.info["condition_estimate"] == pytest.approx(20.0, rel=1e-3)

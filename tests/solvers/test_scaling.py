"""Solvers at any scale of the data (issue 16, bugs 1 and 2): right-hand sides near the under- and
overflow limits, and MINRES with ‖b‖ large relative to A."""

import math

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import krylearn as kl
from krylearn.solvers._common import safe_norm

N = 40
TRIDIAG = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(N, N), format="csr")
SPD = kl.aslinearoperator(TRIDIAG, positive_definite=True)


@pytest.mark.parametrize("scale", [1.0, 1e-170, 1e-160, 1e-200, 1e160, 1e200, 1e-300])
def test_safe_norm(scale):
    v = scale * np.arange(1, 41.0)
    ref = scale * float(np.linalg.norm(np.arange(1, 41.0)))
    assert safe_norm(v) == pytest.approx(ref, rel=1e-13)
    assert safe_norm(np.zeros(3)) == 0.0


SOLVERS = {
    "cg": lambda A, b, **kw: kl.cg(SPD, b, **kw),
    "fcg": lambda A, b, **kw: kl.fcg(SPD, b, **kw),
    "minres": lambda A, b, **kw: kl.minres(SPD, b, **kw),
    "gmres": lambda A, b, **kw: kl.gmres(A, b, restart=N, **kw),
    "fgmres": lambda A, b, **kw: kl.fgmres(A, b, restart=N, **kw),
    "bicgstab": lambda A, b, **kw: kl.bicgstab(A, b, **kw),
}


@pytest.mark.parametrize("name", list(SOLVERS))
@pytest.mark.parametrize("scale", [1e-170, 1e-160, 1e160, 1e-300, 1e250])
def test_tiny_and_huge_right_hand_sides(name, scale):
    """Bug 2: ``kl.cg(A, 1e-170*b)`` claimed CONVERGED with x = 0 (‖b‖ underflowed to 0); at 1e-160 it
    stopped at relative residual 8e-7 for rtol 1e-8; at 1e160 ‖b‖ overflowed. Now every Krylov solver
    returns scale·x_ref, with a true relative residual below rtol, in the user's units."""
    b_unit = np.arange(1, N + 1.0)
    x_ref = spla.spsolve(TRIDIAG.tocsc(), b_unit)
    res = SOLVERS[name](TRIDIAG, scale * b_unit, rtol=1e-8)
    assert res.converged, (name, res)
    assert res.info["rescaled_by"] == pytest.approx(scale * np.linalg.norm(b_unit), rel=1e-12)
    np.testing.assert_allclose(res.x / scale, x_ref, rtol=1e-6)
    r = scale * b_unit - TRIDIAG @ res.x
    assert safe_norm(r) <= 1.01e-8 * safe_norm(scale * b_unit)
    assert res.b_norm == pytest.approx(scale * np.linalg.norm(b_unit), rel=1e-12)
    assert res.relative_residual <= 1e-8 * 1.01
    assert np.all(np.isfinite(res.residuals)) and res.residuals[0] == pytest.approx(res.b_norm, rel=1e-12)


def test_callback_sees_user_units():
    b = 1e-170 * np.arange(1, N + 1.0)
    seen = []
    kl.cg(SPD, b, rtol=1e-8, callback=lambda s: seen.append((s.residual_norm, s.tol, safe_norm(s.x))) or False)
    assert seen and all(t == pytest.approx(1e-8 * safe_norm(b), rel=1e-10) for _, t, _ in seen)
    assert 1e-185 < seen[0][0] < 1e-166 and 1e-175 < seen[-1][2] < 1e-160


def test_x0_and_atol_scale_with_b():
    b = 1e200 * np.arange(1, N + 1.0)
    x_ref = spla.spsolve(TRIDIAG.tocsc(), np.arange(1, N + 1.0))
    res = kl.cg(SPD, b, x0=1e200 * x_ref, rtol=0.0, atol=1e190)
    assert res.converged and res.iterations == 0
    res = kl.cg(SPD, b, rtol=0.0, atol=1e195)
    assert res.converged and safe_norm(b - TRIDIAG @ res.x) <= 1e195


@pytest.mark.parametrize("method", ["jacobi", "gauss_seidel", "sor", "ssor"])
def test_stationary_methods_at_tiny_scale(method):
    A = sp.diags([-1.0, 4.0, -1.0], [-1, 0, 1], shape=(N, N), format="csr")
    b = 1e-170 * np.ones(N)
    res = kl.solve(A, b, method=method, rtol=1e-10)
    assert res.converged
    np.testing.assert_allclose(res.x * 1e170, spla.spsolve(A.tocsc(), np.ones(N)), rtol=1e-8)


def test_minres_with_large_rhs_relative_to_the_operator():
    """Bug 1: MINRES reported BREAKDOWN after one iteration with x = 0 when ‖b‖ ≫ ‖A‖ (its singularity
    test was scaled by a norm estimate that included β₁ = ‖b‖)."""
    x_ref = spla.spsolve(TRIDIAG.tocsc(), np.arange(N, dtype=float))
    res = kl.minres(TRIDIAG, 1e12 * np.arange(N, dtype=float), rtol=1e-8)
    assert res.converged, res
    np.testing.assert_allclose(res.x, 1e12 * x_ref, rtol=1e-6)
    res = kl.minres(1e-6 * TRIDIAG, 1e6 * np.arange(N, dtype=float), rtol=1e-8)
    assert res.converged, res
    np.testing.assert_allclose(res.x, 1e12 * x_ref, rtol=1e-6)


def test_minres_on_a_singular_inconsistent_system_is_honest():
    """Bug 4: MINRES on the 1D all-Neumann Laplacian with a random b reported MAX_ITERATIONS with
    ‖x‖ ≈ 1e16 while its residual history ended at 0.11. Now it stops at a least-squares solution
    (BREAKDOWN, info["least_squares"]) with a residual history that ends at the true residual, close to
    the least-squares optimum."""
    n = 50
    L = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(n, n), format="lil")
    L[0, 0] = L[n - 1, n - 1] = 1.0
    L = L.tocsr()
    b = np.random.default_rng(0).standard_normal(n)
    res = kl.minres(kl.aslinearoperator(L, symmetric=True), b, rtol=1e-10)
    assert not res.converged
    assert res.info.get("least_squares") is True
    true = np.linalg.norm(b - L @ res.x)
    assert res.residuals[-1] == pytest.approx(true, rel=1e-8)
    optimum = abs(b.sum()) / np.sqrt(n)          # the null-space part of b
    assert true == pytest.approx(optimum, rel=1e-5)
    # (x itself is a least-squares solution of growing length: the minimum-length one needs MINRES-QLP)


@pytest.mark.parametrize("method", ["sketch_and_solve", "sketch_precondition", "iterative_sketching"])
@pytest.mark.parametrize("n", [20, 200])
def test_lstsq_on_square_systems(method, n):
    """Bug 3: the default sketch capped at n rows lost rank on square systems (sketch_and_solve claimed
    CONVERGED at relative residual 0.66; sketch_precondition reported STAGNATION at 3e-16)."""
    rng = np.random.default_rng(n)
    A = rng.standard_normal((n, n))
    x_true = rng.standard_normal(n)
    b = A @ x_true
    res = kl.lstsq(A, b, method=method, seed=0)
    assert res.converged, res
    assert res.info["sketch"] == "identity"
    assert np.linalg.norm(b - A @ res.x) <= 1e-10 * np.linalg.norm(b)
    np.testing.assert_allclose(res.x, x_true, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("scale", [1e-170, 1e160])
def test_lstsq_at_extreme_scales(scale):
    rng = np.random.default_rng(1)
    A = rng.standard_normal((400, 10))
    b = rng.standard_normal(400)
    x_ref = np.linalg.lstsq(A, b, rcond=None)[0]
    res = kl.lstsq(A, scale * b, seed=0)
    assert res.converged
    np.testing.assert_allclose(res.x / scale, x_ref, rtol=1e-8)

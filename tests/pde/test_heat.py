"""Tests of the 2D heat-equation Crank–Nicolson sequence (krylearn.pde.heat)."""

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import krylearn as kl
from krylearn.pde.heat import HeatEquation2D, bump, default_coefficient, sine_coefficient


def test_operator_matches_poisson_stencil_and_is_spd():
    heat = HeatEquation2D(nx=9, steps=3)
    K_ref = kl.pde.poisson((8, 8)).tocsr()           # spacing 1/(N+1) = 1/nx
    assert abs(heat.K - K_ref).max() < 1e-9 * abs(K_ref).max()
    A = heat.matrix(2.0)
    ref = sp.identity(64) + 0.5 * 2.0 * heat.dt * heat.K
    assert abs(A - ref).max() < 1e-12
    Ad = A.toarray()
    assert np.allclose(Ad, Ad.T) and np.linalg.eigvalsh(Ad).min() > 0


def test_crank_nicolson_amplification_of_an_eigenmode():
    nx, kappa, dt = 16, 0.7, 1e-2
    heat = HeatEquation2D(nx=nx, dt=dt, steps=5, coefficient=lambda t: kappa + 0 * np.asarray(t),
                          forcing=lambda t, p: np.zeros(len(p)),
                          initial=lambda p: np.sin(np.pi * p[:, 0]) * np.sin(np.pi * p[:, 1]))
    h = 1.0 / nx
    lam = 2 * (4 / h ** 2) * np.sin(np.pi * h / 2) ** 2        # discrete eigenvalue of K
    g = (1 - 0.5 * kappa * dt * lam) / (1 + 0.5 * kappa * dt * lam)
    u0 = None
    for k, (A, b, ctx) in enumerate(heat):
        if u0 is None:
            u0 = heat.u.copy()
        assert ctx == pytest.approx(kappa)
        heat.advance(spla.spsolve(A.tocsc(), b))
        np.testing.assert_allclose(heat.u, g ** (k + 1) * u0, rtol=1e-9, atol=1e-12)
    assert heat.step == 5 and heat.t == pytest.approx(5 * dt)


def test_default_problem_settings():
    t = np.linspace(0, 5, 1001)
    k = default_coefficient(t)
    assert k.min() >= 0 and abs(k.max() - 10) < 1e-3
    assert default_coefficient(0.25) == pytest.approx(0.1)
    assert default_coefficient(0.75) == pytest.approx(10.0)
    heat = HeatEquation2D(nx=20, steps=5000)
    assert heat.dt == 1e-3 and heat.n == 19 * 19
    lo, hi = heat.context_range
    assert lo == 0.0 and 9.9 < hi <= 10.0
    A, b, ctx = next(iter(heat))
    assert ctx == 0.0 and b.shape == (361,)
    assert heat.u.max() == pytest.approx(1.0, abs=0.05)        # the initial bump


def test_sine_coefficient_variants():
    t = np.linspace(0, 5, 1001)
    np.testing.assert_array_equal(sine_coefficient()(t), default_coefficient(t))      # public code
    paper_text = sine_coefficient(0.01)
    assert paper_text(0.25) == pytest.approx(0.01) and paper_text(0.75) == pytest.approx(10.0)
    heat = HeatEquation2D(nx=8, steps=1000, coefficient=paper_text)
    assert heat.context_range[1] == pytest.approx(10.0, abs=1e-3)
    with pytest.raises(ValueError, match="non-negative"):
        sine_coefficient(-0.1)


def test_bump():
    p = np.array([[0.5, 0.5], [0.5, 0.74], [0.5, 0.76], [0.0, 0.0]])
    v = bump(p, (0.5, 0.5), 0.25)
    assert v[0] == 1.0 and 0 < v[1] < 1 and v[2] == 0.0 and v[3] == 0.0


def test_iteration_protocol():
    heat = HeatEquation2D(nx=8, steps=4)
    it = iter(heat)
    A, b, _ = next(it)
    with pytest.raises(RuntimeError, match="advance"):
        next(it)
    heat2 = HeatEquation2D(nx=8, steps=4)
    res = kl.solvers.solve_sequence(heat2, "ssor_cg", 1.2, warm_start=True)
    assert len(res) == 4 and np.all(res.converged) and heat2.step == 4
    u_end = heat2.u.copy()
    res2 = kl.solvers.solve_sequence(heat2, "ssor_cg", 1.2, warm_start=True)   # restarts
    np.testing.assert_allclose(heat2.u, u_end)
    with pytest.raises(ValueError, match="shape"):
        heat2.advance(np.zeros(3))
    with pytest.raises(ValueError, match="nx"):
        HeatEquation2D(nx=2)
    with pytest.raises(ValueError, match="dt"):
        HeatEquation2D(dt=0)
    del res2

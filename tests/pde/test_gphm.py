"""GP-HM solver: Kronecker algebra vs dense, fast inner solve vs dense solve, accuracy, bad input."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from krylearn.pde import equations  # noqa: E402
from krylearn.pde.equations import Equation  # noqa: E402
from krylearn.pde.gp_kernels import SquaredExponential  # noqa: E402
from krylearn.pde.gphm import GPHMSolver  # noqa: E402


def _poisson2d(fx=2.0, fy=1.0):
    return equations.poisson(lambda x, y: torch.sin(fx * x) * torch.cos(fy * y) + x * y, dim=2,
                             domain=[(0, 1), (0, 1.5)])


def _set_random_params(gp, seed=0):
    g = torch.Generator().manual_seed(seed)
    for k in gp.kernels:
        q = k.params["mu"].numel()
        k.params["log_w"] = torch.randn(q, generator=g, dtype=torch.float64) - 1.0
        k.params["log_rho"] = 0.3 * torch.randn(q, generator=g, dtype=torch.float64) + 1.0
        k.params["mu"] = 3.0 * torch.rand(q, generator=g, dtype=torch.float64)


def _dense_objective(gp, U):
    """Φ/n of the module docstring with dense Kronecker matrices (numpy.kron)."""
    Ks, derivs = [], []
    for k, x in zip(gp.kernels, gp.axes_t):
        K0, K1, K2 = (m.detach().numpy() for m in k.all_cross(x))
        Ks.append(K0 + gp.jitter * np.mean(np.diag(K0)) * np.eye(len(x)))
        derivs.append({0: K0, 1: K1, 2: K2})
    K = Ks[0]
    for Kj in Ks[1:]:
        K = np.kron(K, Kj)
    u = U.reshape(-1)
    quad = u @ np.linalg.solve(K, u)
    logdet = np.linalg.slogdet(K)[1]
    fields = {}
    for name, (axis, order) in gp.field_axes.items():
        if order == 0:
            fields[name] = U
            continue
        mats = [derivs[j][order] @ np.linalg.inv(Ks[j]) if j == axis else np.eye(gp.grid[j])
                for j in range(len(gp.grid))]
        D = mats[0]
        for M in mats[1:]:
            D = np.kron(D, M)
        fields[name] = (D @ u).reshape(gp.grid)
    r = gp.equation.residual(fields, gp.f)
    tb, tr = np.exp(gp.log_tau.detach().numpy())
    ub = U[gp.bmask]
    val = (0.5 * quad + 0.5 * logdet
           + gp.lambda_b * (0.5 * tb * np.sum((ub - gp.g) ** 2) - 0.5 * gp.n_b * math.log(tb))
           + 0.5 * tr * np.sum(r ** 2) - 0.5 * gp.n * math.log(tr))
    return val / gp.n


@pytest.mark.parametrize("kernel", ["sm", "student", "se"])
def test_kronecker_objective_matches_dense(kernel):
    """Per-factor Cholesky logdet / solves and derivative maps agree with dense Kronecker matrices."""
    if kernel == "se":  # short lengthscales keep the dense reference well conditioned
        kernel = [SquaredExponential(0.12, 1.0), SquaredExponential(0.15, 2.0)]
    gp = GPHMSolver(_poisson2d(), grid=(6, 7), kernel=kernel, num_components=3, freq_scale=2.0,
                    progress=False)
    if not isinstance(kernel, list):
        _set_random_params(gp)
    U = np.random.default_rng(1).standard_normal(gp.grid)
    got = float(gp.objective(torch.as_tensor(U)))
    np.testing.assert_allclose(got, _dense_objective(gp, U), rtol=1e-8)


def test_kronecker_logdet_and_solve_match_dense():
    """kl.operators.Kronecker of the jittered factors: logdet and solve against numpy.kron, and the
    prior terms of the objective (per-factor Cholesky in torch) agree with it."""
    from krylearn.operators import Kronecker

    gp = GPHMSolver(_poisson2d(), grid=(5, 6), num_components=3, freq_scale=2.0, progress=False)
    _set_random_params(gp)
    Ks = []
    for k, x in zip(gp.kernels, gp.axes_t):
        K0 = k(x).detach().numpy()
        Ks.append(K0 + gp.jitter * np.mean(np.diag(K0)) * np.eye(len(x)))
    dense = np.kron(Ks[0], Ks[1])
    op = Kronecker(*Ks)
    u = np.random.default_rng(2).standard_normal(30)
    np.testing.assert_allclose(op.logdet(), np.linalg.slogdet(dense)[1], rtol=1e-10)
    np.testing.assert_allclose(op.solve(u), np.linalg.solve(dense, u), rtol=1e-6, atol=1e-8 * np.abs(
        np.linalg.solve(dense, u)).max())
    # objective with U = u and no PDE/boundary terms: ½ uᵀK⁻¹u + ½ log|K| (noise terms switched off)
    U = torch.as_tensor(u.reshape(gp.grid))
    fac = gp._factors_t()
    logdet = sum((gp.n / gp.grid[i]) * 2 * torch.log(torch.diagonal(L)).sum() for i, (L, _) in enumerate(fac))
    np.testing.assert_allclose(float(logdet), op.logdet(), rtol=1e-10)
    # prediction weights α = K⁻¹ vec U go through Kronecker.solve
    gp.U_ = u.reshape(gp.grid)
    gp._alpha = None
    np.testing.assert_allclose(gp._weights().reshape(-1), np.linalg.solve(dense, u), rtol=1e-6,
                               atol=1e-8 * np.abs(np.linalg.solve(dense, u)).max())


@pytest.mark.parametrize("problem", ["poisson", "advection", "allen_cahn"])
def test_fast_inner_solve_equals_dense_solve(problem):
    """Matrix-free PCG (Kronecker products, eigenbasis-diagonal preconditioner) == dense least squares,
    and both minimise the objective: its gradient in U vanishes."""
    if problem == "poisson":
        eq = _poisson2d()
    elif problem == "advection":
        eq = equations.advection(beta=3.0, domain=[(0, 2.0), (0, 1.0)])
    else:
        eq = equations.allen_cahn(lambda x, y: torch.sin(2 * x) * torch.cos(y), dim=2, domain=[(0, 1), (0, 1)])
    kw = dict(grid=(9, 8), num_components=3, freq_scale=2.0, progress=False, tau_b=1e3, tau_r=1e2)
    dense = GPHMSolver(eq, inner="dense", **kw)
    fast = GPHMSolver(eq, inner="cg", inner_rtol=1e-13, inner_maxiter=20000, **kw)
    for gp in (dense, fast):
        _set_random_params(gp, seed=3)
        gp._solve_U()
    np.testing.assert_allclose(fast.U_, dense.U_, rtol=1e-6, atol=1e-7 * np.abs(dense.U_).max())
    U = torch.tensor(dense.U_, requires_grad=True)
    loss = dense.objective(U)
    (gU,) = torch.autograd.grad(loss, U)
    # stationarity, relative to the size of the individual gradient terms
    U0 = torch.zeros_like(U, requires_grad=True)
    (g0,) = torch.autograd.grad(dense.objective(U0), U0)
    assert float(gU.abs().max()) <= 1e-6 * float(g0.abs().max())


def test_low_frequency_poisson_1d_reaches_1e6():
    """u = sin(2πx) on 30 points: relative L2 error below 1e-6 within a few seconds (measured 1.3e-7)."""
    eq = equations.poisson(lambda x: torch.sin(2 * math.pi * x), dim=1, domain=[(0, 1)])
    gp = GPHMSolver(eq, grid=30, jitter=1e-8, min_misfit=1e-8, max_outer=60, progress=False).fit()
    assert gp.error() < 1e-6
    # derivatives anywhere: u' and u'' at off-grid points
    pts = np.linspace(0.05, 0.95, 17)
    out = gp.predict(pts[:, None], derivatives=("u", "u_x", "u_xx"))
    exact_xx = -(2 * math.pi) ** 2 * np.sin(2 * math.pi * pts)
    assert np.max(np.abs(out["u_xx"] - exact_xx)) < 1e-3 * np.max(np.abs(exact_xx))
    np.testing.assert_allclose(out["u_x"], 2 * math.pi * np.cos(2 * math.pi * pts), atol=1e-4)


def test_high_frequency_reduced_size():
    """1D Poisson with u = sin(50x) on 80 points (Q = 30): relative L2 error below 1e-4 (measured
    1.4e-5) and the heaviest component sits at the true frequency 50/2π ≈ 7.96."""
    eq = equations.poisson(lambda x: torch.sin(50 * x), dim=1, domain=[(0, 1)])
    gp = GPHMSolver(eq, grid=80, max_outer=60, progress=False).fit()
    assert gp.error() < 1e-4
    spec = gp.spectrum()[0]
    top = spec["freq"][np.argmax(spec["weight"])]
    assert abs(top - 50 / (2 * math.pi)) < 0.5


def test_allen_cahn_gauss_newton_1d():
    eq = equations.allen_cahn(lambda x: torch.sin(3 * math.pi * x), dim=1, domain=[(0, 1)])
    gp = GPHMSolver(eq, grid=40, max_outer=60, progress=False).fit()
    assert gp.error() < 1e-4  # measured 2.3e-5


def test_predict_scattered_equals_grid_2d():
    gp = GPHMSolver(_poisson2d(), grid=(10, 12), num_components=3, freq_scale=2.0, max_outer=0,
                    progress=False).fit()
    ax = [np.linspace(0, 1, 4), np.linspace(0, 1.5, 5)]
    grid = gp.predict_grid(ax, ("u", "u_yy"))
    X, Y = np.meshgrid(*ax, indexing="ij")
    pts = np.column_stack([X.ravel(), Y.ravel()])
    sc = gp.predict(pts, ("u", "u_yy"))
    for k in grid:
        np.testing.assert_allclose(sc[k], grid[k].ravel(), rtol=1e-10, atol=1e-10)
    # interpolation: the conditional mean reproduces U at the grid
    np.testing.assert_allclose(gp.predict_grid(gp.axes, "u"), gp.U_, atol=1e-4 * np.abs(gp.U_).max())


def test_adam_reference_mode_decreases_objective():
    eq = equations.poisson(lambda x: torch.sin(4 * x), dim=1, domain=[(0, 1)])
    gp = GPHMSolver(eq, grid=20, num_components=3, freq_scale=2.0, mode="adam", max_outer=50, lr=0.01,
                    progress=False).fit()
    assert gp.history_[-1] < gp.history_[0]
    assert len(gp.history_) == 50


def test_bad_input():
    eq = equations.poisson(lambda x: torch.sin(x), dim=1, domain=[(0, 1)])
    with pytest.raises(ValueError, match="at least 2 points"):
        GPHMSolver(eq, grid=1)
    with pytest.raises(ValueError, match="lower bound"):
        GPHMSolver(eq, domain=[(1.0, 0.0)], grid=10)
    with pytest.raises(ValueError, match="lower bound"):
        GPHMSolver(eq, domain=[(0.5, 0.5)], grid=10)
    with pytest.raises(ValueError, match="dimensions"):
        GPHMSolver(eq, grid=(10, 10))
    with pytest.raises(ValueError, match="mode"):
        GPHMSolver(eq, grid=10, mode="sgd")
    bad = Equation(lambda f: f["u_xx"][:-1], ("u_xx",), 1, exact=lambda x: torch.sin(x), domain=[(0, 1)])
    with pytest.raises(ValueError, match="shape"):
        GPHMSolver(bad, grid=10)
    bad2 = Equation(lambda f: f["u_xx"].sum(), ("u_xx",), 1, exact=lambda x: torch.sin(x), domain=[(0, 1)])
    with pytest.raises(ValueError, match="shape"):
        GPHMSolver(bad2, grid=10)
    with pytest.raises(ValueError, match="axis"):
        Equation(lambda f: f["u_yy"], ("u_yy",), 1, exact=lambda x: torch.sin(x))
    with pytest.raises(ValueError, match="unknown benchmark"):
        equations.benchmark_problem("heat3d")
    gp = GPHMSolver(eq, grid=10, max_outer=0, progress=False)
    with pytest.raises(ValueError, match="points"):
        gp.predict(np.zeros((3, 2)))


def test_zero_source_advection_keeps_boundary():
    """β u_x + u_y = 0 (zero source), u = sin(x − 5y): the initial residual precision comes from the
    operator's scale (not the 1e-6 misfit floor that made U ≈ 0 optimal), the noise is not learned
    (the objective is unbounded along U → 0, τ_r → ∞) and the fit stays accurate (measured 3.6e-4 after
    20 outer steps; the same fit with learned noise ends at 1.05)."""
    eq = equations.advection(beta=5.0)
    gp = GPHMSolver(eq, grid=(16, 40), lambda_b=500.0, max_outer=0, progress=False)
    assert not gp.learn_noise
    assert float(gp.log_tau[1].exp()) < 1e10
    gp.fit()
    assert gp.error() < 1e-2  # measured 5.5e-4 with the initial kernel
    tau0 = gp.log_tau.clone()
    gp.fit(max_outer=5)
    assert torch.equal(gp.log_tau, tau0)
    assert gp.error() < 1e-2


def test_warm_start_from_coarse_grid():
    """Multigrid-style continuation: the kernel learned on 60 points, reused on 120 points with only the
    inner solve, beats the cold start on 120 points (measured 3.5e-5 vs 2.6e-4)."""
    eq = equations.poisson(lambda x: torch.sin(50 * x), dim=1, domain=[(0, 1)])
    coarse = GPHMSolver(eq, grid=60, max_outer=60, progress=False).fit()
    fine = GPHMSolver(eq, grid=120, max_outer=0, progress=False).warm_start(coarse)
    for a, b in zip(fine.kernels, coarse.kernels):
        for k in a.params:
            np.testing.assert_array_equal(a.params[k].numpy(), b.params[k].numpy())
    assert fine.fit().error() < 1e-4
    with pytest.raises(ValueError, match="kernel"):
        GPHMSolver(eq, grid=120, kernel="se", progress=False).warm_start(coarse)
    with pytest.raises(ValueError, match="GPHMSolver"):
        fine.warm_start(object())
    with pytest.raises(ValueError, match="learn_noise"):
        GPHMSolver(eq, grid=20, learn_noise="sometimes")

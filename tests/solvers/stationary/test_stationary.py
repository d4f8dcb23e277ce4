"""Stationary solvers (Jacobi, Gauss-Seidel, SOR, SSOR) against the dense iteration formulas."""

import numpy as np
import pytest
import scipy.sparse as sp

import krylearn as kl
from krylearn.solvers.stationary.sor import SOR
from krylearn.solvers.stationary.ssor import SSOR
from krylearn.solvers.stationary.jacobi import Jacobi
from krylearn.solvers.stationary.gauss_seidel import GaussSeidel

from problems import PROBLEMS, problem


def _split(A):
    D = np.diag(np.diag(A))
    return D, np.tril(A, -1), np.triu(A, 1)


def dense_step(kind, A, b, x, omega):
    D, L, U = _split(A)
    if kind == "jacobi":
        return x + omega * (b - A @ x) / np.diag(A)
    if kind == "sor":
        return np.linalg.solve(D + omega * L, omega * b - (omega * U + (omega - 1) * D) @ x)
    if kind == "ssor":
        h = np.linalg.solve(D + omega * L, omega * b - (omega * U + (omega - 1) * D) @ x)
        return np.linalg.solve(D + omega * U, omega * b - (omega * L + (omega - 1) * D) @ h)
    raise ValueError(kind)


def _run(kind, A, b, omega, **kw):
    if kind == "jacobi":
        return kl.jacobi(A, b, omega=omega, **kw)
    if kind == "sor":
        return kl.sor(A, b, omega=omega, **kw)
    return kl.ssor(A, b, omega=omega, **kw)


def _rand_diagdom(rng, n, complex_=False):
    A = rng.standard_normal((n, n)) * (rng.random((n, n)) < 0.3)
    if complex_:
        A = A + 1j * rng.standard_normal((n, n)) * (A != 0)
    np.fill_diagonal(A, np.abs(A).sum(axis=1) + 1.0)
    return A


CASES = [("jacobi", 1.0), ("jacobi", 0.7), ("sor", 1.0), ("sor", 1.3), ("sor", 0.6), ("ssor", 1.0), ("ssor", 1.4)]


@pytest.mark.parametrize("kind,omega", CASES)
@pytest.mark.parametrize("complex_", [False, True])
def test_iterates_match_dense_formula(kind, omega, complex_, rng):
    n = 12
    A = _rand_diagdom(rng, n, complex_)
    b = rng.standard_normal(n) + (1j * rng.standard_normal(n) if complex_ else 0)
    x0 = rng.standard_normal(n)
    xs = [x0.astype(A.dtype)]
    for _ in range(6):
        xs.append(dense_step(kind, A, b, xs[-1], omega))
    res = _run(kind, sp.csr_matrix(A), b, omega, x0=x0, rtol=0.0, maxiter=6)
    assert res.status is kl.Status.MAX_ITERATIONS
    assert res.iterations == 6
    np.testing.assert_allclose(res.x, xs[6], rtol=1e-12, atol=1e-12)
    want = [np.linalg.norm(b - A @ x) for x in xs]
    np.testing.assert_allclose(res.residuals, want, rtol=1e-10)


@pytest.mark.parametrize("kind,omega", CASES)
def test_callback_path_equals_numba_path(kind, omega, rng):
    A = _rand_diagdom(rng, 15)
    b = rng.standard_normal(15)
    seen = []

    def cb(state):
        seen.append((state.iteration, state.residual_norm, np.linalg.norm(b - A @ state.x)))
        return False

    r1 = _run(kind, A, b, omega, rtol=1e-10)
    r2 = _run(kind, A, b, omega, rtol=1e-10, callback=cb)
    assert r1.converged and r2.converged
    assert r1.iterations == r2.iterations
    np.testing.assert_array_equal(r1.x, r2.x)
    np.testing.assert_array_equal(r1.residuals, r2.residuals)
    # the callback sees x_k with the residual tested for it
    for k, rn, true in seen:
        assert rn == pytest.approx(true, rel=1e-8, abs=1e-13)
    assert [s[0] for s in seen] == list(range(r1.iterations))


@pytest.mark.parametrize("name", [p.name for p in PROBLEMS if p.diag_dominant or p.name == "spd_poisson2d"])
@pytest.mark.parametrize("solver", ["jacobi", "gauss_seidel", "sor", "ssor"])
def test_converges_to_numpy_solution(name, solver):
    p = problem(name)
    if solver == "jacobi" and not p.diag_dominant:
        pytest.skip("Jacobi on the weakly dominant Poisson problem is slow")
    kw = {"omega": 1.2} if solver in ("sor", "ssor") else {}
    for form in (p.A, sp.csr_matrix(p.A), kl.aslinearoperator(sp.csr_matrix(p.A))):
        res = getattr(kl, solver)(form, p.b, rtol=1e-10, maxiter=20000, **kw)
        assert res.converged, res
        true = np.linalg.norm(p.b - p.A @ res.x)
        assert true <= res.tol * (1 + 1e-8)
        assert res.residuals[-1] == pytest.approx(true, rel=1e-6)
        assert len(res.residuals) == res.iterations + 1
        np.testing.assert_allclose(res.x, p.x_true, atol=1e-7 * np.linalg.norm(p.x_true))


def test_gauss_seidel_is_sor_with_omega_one(rng):
    A = _rand_diagdom(rng, 20)
    b = rng.standard_normal(20)
    r1 = kl.gauss_seidel(A, b, rtol=1e-9)
    r2 = kl.sor(A, b, omega=1.0, rtol=1e-9)
    np.testing.assert_array_equal(r1.x, r2.x)
    assert r1.method == "gauss_seidel" and r2.method == "sor"


def test_poisson_stencil_input():
    A = kl.pde.poisson((12, 12))
    b = np.ones(A.shape[0])
    res = kl.sor(A, b, omega=1.6, rtol=1e-8)
    assert res.converged
    assert np.linalg.norm(b - A @ res.x) <= 1e-8 * np.linalg.norm(b) * (1 + 1e-8)
    # the optimal omega beats Gauss-Seidel by a wide margin
    assert res.iterations < kl.gauss_seidel(A, b, rtol=1e-8).iterations / 3


def test_prepared_solver_reuse_and_relative_to_r0(rng):
    A = kl.pde.poisson((10, 10)).tocsr()
    S = SOR(A)
    b = rng.standard_normal(100)
    x0 = rng.standard_normal(100)
    for omega in (1.0, 1.5, 1.9):
        r1 = S.solve(b, x0, omega=omega, rtol=1e-8)
        r2 = kl.sor(A, b, x0, omega=omega, rtol=1e-8)
        np.testing.assert_array_equal(r1.x, r2.x)
        r3 = S.solve(b, x0, omega=omega, rtol=1e-8, relative_to="r0")
        r0 = np.linalg.norm(b - A @ x0)
        assert r3.tol == pytest.approx(1e-8 * r0)
        assert r3.residuals[0] == pytest.approx(r0)
        assert r3.residuals[-1] <= 1e-8 * r0 and r3.residuals[-2] > 1e-8 * r0
    assert SSOR(A).solve(b, omega=1.5, rtol=1e-8).converged
    assert Jacobi(A).solve(b, omega=0.8, rtol=1e-3).converged
    assert GaussSeidel(A).solve(b, rtol=1e-6).converged
    np.testing.assert_array_equal(x0, x0.copy())  # x0 untouched


def test_maxiter_and_zero_rhs(rng):
    A = kl.pde.poisson((8, 8)).tocsr()
    res = kl.sor(A, np.ones(64), omega=1.2, rtol=1e-12, maxiter=3)
    assert res.status is kl.Status.MAX_ITERATIONS and not res.converged
    assert res.iterations == 3 and len(res.residuals) == 4
    res = kl.ssor(A, np.zeros(64))
    assert res.converged and res.iterations == 0 and not np.any(res.x)
    res = kl.jacobi(A, np.ones(64), maxiter=0)
    assert res.iterations == 0 and not np.any(res.x)


def test_divergent_jacobi_ends_with_a_status():
    # SPD but not diagonally dominant: rho(D^-1 (L+U)) = 1.8
    A = np.full((3, 3), 0.9) + 0.1 * np.eye(3)
    res = kl.jacobi(A, np.ones(3), rtol=1e-8)
    assert not res.converged
    assert res.status in (kl.Status.NOT_FINITE, kl.Status.STAGNATION, kl.Status.MAX_ITERATIONS)
    if res.status is kl.Status.STAGNATION:
        assert "diverging" in res.info["reason"]
    assert np.all(np.isfinite(res.x)) or res.status is kl.Status.NOT_FINITE
    # the same with a callback
    res2 = kl.jacobi(A, np.ones(3), rtol=1e-8, callback=lambda s: False)
    assert res2.status is res.status and res2.iterations == res.iterations


def test_stagnation_at_rounding_level(rng):
    A = kl.pde.poisson((5, 5)).tocsr()
    b = rng.standard_normal(25)
    res = kl.sor(A, b, omega=1.3, rtol=0.0, atol=0.0, maxiter=100000)
    assert res.status is kl.Status.STAGNATION
    assert res.iterations < 5000
    assert res.residuals[-1] < 1e-12 * np.linalg.norm(b) * 100


def test_user_stop(rng):
    A = _rand_diagdom(rng, 10)
    res = kl.ssor(A, np.ones(10), omega=1.1, rtol=1e-12, callback=lambda s: s.iteration == 2)
    assert res.status is kl.Status.USER_STOP and res.iterations == 2


@pytest.mark.parametrize("omega", [0.0, 2.0, -0.5, 2.5, float("nan")])
@pytest.mark.parametrize("fn", [kl.sor, kl.ssor])
def test_omega_outside_interval_raises(fn, omega):
    A = kl.pde.poisson((4, 4))
    with pytest.raises(ValueError, match="omega"):
        fn(A, np.ones(16), omega=omega)


def test_bad_input():
    A = kl.pde.poisson((4, 4)).tocsr()
    b = np.ones(16)
    with pytest.raises(ValueError, match="omega"):
        kl.jacobi(A, b, omega=0.0)
    Z = A.copy()
    Z[3, 3] = 0.0  # an explicit stored zero
    with pytest.raises(ValueError, match=r"diagonal.*A\[3, 3\]"):
        kl.sor(Z, b)
    Z = sp.csr_matrix(np.array([[1.0, 2.0], [3.0, 0.0]]))
    Z.eliminate_zeros()
    with pytest.raises(ValueError, match="row 1 has no diagonal"):
        kl.gauss_seidel(Z, np.ones(2))
    free = kl.LinearOperator((16, 16), matvec=lambda x: A @ x, rmatvec=lambda x: A @ x)
    with pytest.raises(ValueError, match="matrix-free"):
        kl.sor(free, b)
    with pytest.raises(ValueError, match="square"):
        kl.jacobi(sp.random(4, 5, density=0.5, format="csr"), np.ones(4))
    with pytest.raises(ValueError, match="length 16"):
        kl.sor(A, np.ones(15))
    with pytest.raises(ValueError, match="NaN"):
        kl.ssor(A, np.full(16, np.nan))
    bad = A.copy()
    bad.data[0] = np.inf
    with pytest.raises(ValueError, match="NaN or Inf"):
        kl.sor(bad, b)
    with pytest.raises(ValueError, match="maxiter"):
        kl.sor(A, b, maxiter=-1)
    with pytest.raises(ValueError, match="rtol"):
        kl.sor(A, b, rtol=-1.0)
    with pytest.raises(ValueError, match="relative_to"):
        kl.sor(A, b, relative_to="x")


def test_sor_matches_dense_formula_hypothesis():
    hyp = pytest.importorskip("hypothesis")
    st = pytest.importorskip("hypothesis.strategies")

    @hyp.settings(deadline=None, max_examples=30)
    @hyp.given(n=st.integers(1, 9), seed=st.integers(0, 2**31 - 1), omega=st.floats(0.05, 1.95),
               kind=st.sampled_from(["sor", "ssor", "jacobi"]))
    def check(n, seed, omega, kind):
        rng = np.random.default_rng(seed)
        A = _rand_diagdom(rng, n)
        b = rng.standard_normal(n)
        x = rng.standard_normal(n)
        res = _run(kind, sp.csr_matrix(A), b, omega, x0=x, rtol=0.0, maxiter=3)
        for _ in range(3):
            x = dense_step(kind, A, b, x, omega)
        np.testing.assert_allclose(res.x, x, rtol=1e-9, atol=1e-9)

    check()

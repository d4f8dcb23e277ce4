"""Krylov solvers (cg, fcg, minres, gmres, bicgstab) and kl.solve over a table of problems.

Every solver runs on every problem whose structure it allows, in every input form (dense,
CSR, untagged LinearOperator), against ``numpy.linalg.solve``; the stopping rule is checked on
a freshly computed true residual. Then the behaviours every solver shares (bad input, zero
right-hand side, maxiter, callback stop, history length, x0 untouched, preconditioning) and
the method-specific breakdowns; iteration counts are compared with SciPy's implementations of
the same algorithms.
"""

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from hypothesis import given, settings
from hypothesis import strategies as st

import krylearn as kl
from krylearn import Status
from problems import FORMS, SOLVERS, as_form, cases, problem

RTOL = 1e-8
ALL = list(SOLVERS)


def _solver(name):
    return getattr(kl, name)


def _true_residual(A, x, b):
    return float(np.linalg.norm(b - A @ x))


# ---- the table: every (problem, solver, form) against numpy.linalg.solve -------------------
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("prob, name", cases(), ids=lambda v: v.name if hasattr(v, "name") else str(v))
def test_against_numpy_solve(prob, name, form):
    A = as_form(prob, form)
    res = _solver(name)(A, prob.b, rtol=RTOL, maxiter=20 * prob.n)
    assert res.converged, (res, res.info)
    assert res.status is Status.CONVERGED
    # the stopping rule holds for the true residual
    tr = _true_residual(prob.A, res.x, prob.b)
    assert tr <= res.tol * (1 + 1e-6)
    assert res.tol == pytest.approx(RTOL * np.linalg.norm(prob.b))
    # the last recorded residual is the true one
    assert res.residuals[-1] == pytest.approx(tr, rel=1e-6, abs=1e-14)
    # forward error bounded by cond * relative residual
    xt = prob.x_true
    assert np.linalg.norm(res.x - xt) <= 10 * prob.cond * RTOL * np.linalg.norm(xt)
    assert len(res.residuals) == res.iterations + 1
    assert res.x.dtype == np.result_type(prob.A.dtype, prob.b.dtype)


@pytest.mark.parametrize("name", ALL)
def test_atol_alone(name):
    p = problem("spd_random")
    res = _solver(name)(p.A, p.b, rtol=0.0, atol=1e-6)
    assert res.converged and res.tol == 1e-6
    assert _true_residual(p.A, res.x, p.b) <= 1e-6


# ---- bad input: ValueError before iterating -----------------------------------------------
def _never_called(*a):
    raise AssertionError("the callback must not run on bad input")


@pytest.mark.parametrize("name", ALL)
def test_bad_input(name):
    fn = _solver(name)
    A = problem("spd_diagdom").A
    n = A.shape[0]
    b = np.ones(n)
    with pytest.raises(ValueError, match="length"):
        fn(A, np.ones(n + 1), callback=_never_called)
    with pytest.raises(ValueError, match="square"):
        fn(np.ones((n, n + 1)), b, callback=_never_called)
    bad = A.copy()
    bad[3, 4] = np.nan
    with pytest.raises(ValueError, match="NaN or Inf"):
        fn(bad, b, callback=_never_called)
    bad[3, 4] = np.inf
    with pytest.raises(ValueError, match="NaN or Inf"):
        fn(sp.csr_matrix(bad), b, callback=_never_called)
    bb = b.copy()
    bb[0] = np.nan
    with pytest.raises(ValueError, match="b contains NaN"):
        fn(A, bb, callback=_never_called)
    bb[0] = -np.inf
    with pytest.raises(ValueError, match="b contains NaN"):
        fn(A, bb, callback=_never_called)
    with pytest.raises(ValueError, match="x0"):
        fn(A, b, x0=np.ones(n - 1), callback=_never_called)
    with pytest.raises(ValueError, match="rtol"):
        fn(A, b, rtol=-1.0, callback=_never_called)
    with pytest.raises(ValueError, match="maxiter"):
        fn(A, b, maxiter=-3, callback=_never_called)
    with pytest.raises(ValueError, match="preconditioner"):
        fn(A, b, M=np.eye(n + 2), callback=_never_called)
    # a matrix-free operator producing NaN is caught by its first product
    op = kl.LinearOperator((n, n), matvec=lambda x: np.full(n, np.nan))
    with pytest.raises(ValueError, match="NaN or Inf"):
        fn(op, b, x0=np.ones(n), callback=_never_called)


def test_bad_options():
    A = problem("nonsymmetric").A
    b = np.ones(A.shape[0])
    with pytest.raises(ValueError, match="restart"):
        kl.gmres(A, b, restart=0)
    with pytest.raises(ValueError, match="orthogonalization"):
        kl.gmres(A, b, orthogonalization="householder-ish")
    with pytest.raises(ValueError, match="truncation"):
        kl.fcg(A, b, truncation=0)
    with pytest.raises(ValueError, match="shift"):
        kl.minres(A, b, shift=np.nan)


# ---- shared behaviours ---------------------------------------------------------------------
@pytest.mark.parametrize("name", ALL)
def test_zero_rhs_returns_zero_at_once(name):
    A = problem("spd_random").A
    calls = []
    res = _solver(name)(A, np.zeros(A.shape[0]), callback=lambda s: calls.append(1))
    assert res.converged and res.iterations == 0
    assert np.array_equal(res.x, np.zeros(A.shape[0]))
    assert len(res.residuals) == 1 and res.residuals[0] == 0.0
    assert not calls
    # also with a non-zero starting guess: x = 0 is the answer (SciPy does the same)
    x0 = np.ones(A.shape[0])
    res = _solver(name)(A, np.zeros(A.shape[0]), x0=x0, callback=lambda s: calls.append(1))
    assert res.converged and res.iterations == 0 and not np.any(res.x) and not calls
    assert np.array_equal(x0, np.ones(A.shape[0]))


@pytest.mark.parametrize("name", ALL)
def test_maxiter_reached(name):
    p = problem("spd_random")
    res = _solver(name)(p.A, p.b, rtol=1e-12, maxiter=3)
    assert not res.converged
    assert res.status is Status.MAX_ITERATIONS
    assert res.iterations == 3
    assert len(res.residuals) == 4
    assert "maxiter" in res.message
    with pytest.raises(kl.SolverError):
        res.raise_if_failed()


@pytest.mark.parametrize("name", ALL)
def test_maxiter_zero(name):
    p = problem("spd_random")
    res = _solver(name)(p.A, p.b, maxiter=0)
    assert res.status is Status.MAX_ITERATIONS and res.iterations == 0
    assert np.array_equal(res.x, np.zeros(p.n)) and len(res.residuals) == 1


@pytest.mark.parametrize("name", ALL)
def test_callback_stop_and_state(name):
    p = problem("spd_random")
    seen = []

    def cb(state):
        seen.append((state.iteration, state.residual_norm))
        # the state's x is the current iterate: its true residual matches the reported norm
        assert np.linalg.norm(p.b - p.A @ state.x) == pytest.approx(state.residual_norm, rel=1e-6)
        return state.iteration >= 4

    res = _solver(name)(p.A, p.b, rtol=1e-12, callback=cb)
    assert res.status is Status.USER_STOP and not res.converged
    assert res.iterations == 4
    assert [k for k, _ in seen] == [0, 1, 2, 3, 4]
    assert np.allclose([r for _, r in seen], res.residuals[:5])
    assert len(res.residuals) == res.iterations + 1


@pytest.mark.parametrize("name", ALL)
def test_callback_stop_at_start(name):
    p = problem("spd_random")
    res = _solver(name)(p.A, p.b, callback=lambda s: True)
    assert res.status is Status.USER_STOP and res.iterations == 0


@pytest.mark.parametrize("name", ALL)
def test_x0_not_modified_and_used(name):
    p = problem("spd_random")
    x0 = p.x_true + 1e-6 * np.ones(p.n)
    x0_copy = x0.copy()
    res = _solver(name)(p.A, p.b, x0=x0, rtol=RTOL)
    assert np.array_equal(x0, x0_copy)
    assert res.converged and res.x is not x0
    assert res.residuals[0] == pytest.approx(np.linalg.norm(p.b - p.A @ x0_copy))
    cold = _solver(name)(p.A, p.b, rtol=RTOL)
    assert res.iterations < cold.iterations


@pytest.mark.parametrize("name", ALL)
def test_exact_x0_converges_at_once(name):
    p = problem("spd_random")
    res = _solver(name)(p.A, p.b, x0=p.x_true, rtol=1e-6)
    assert res.converged and res.iterations == 0


@pytest.mark.parametrize("name", ALL)
def test_column_vector_rhs_and_int_matrix(name):
    A = np.array([[4, 1, 0], [1, 3, 1], [0, 1, 5]])   # integer SPD
    b = np.array([[1], [2], [3]])
    res = _solver(name)(A, b, rtol=1e-12)
    assert res.converged and res.x.shape == (3,)
    assert np.allclose(res.x, np.linalg.solve(A, b[:, 0]))


# ---- preconditioned variants -----------------------------------------------------------------
def _jacobi(A):
    return kl.operators.base.DiagonalOperator(1.0 / np.abs(np.diag(A)))


@pytest.mark.parametrize("prob, name", cases(), ids=lambda v: v.name if hasattr(v, "name") else str(v))
def test_preconditioned(prob, name):
    # a badly scaled copy of the problem: D A D, which Jacobi undoes
    d = np.exp(np.linspace(-2, 2, prob.n))
    A = d[:, None] * prob.A * d[None, :]
    b = d * prob.b
    M = _jacobi(A)
    res = _solver(name)(A, b, rtol=RTOL, M=M, maxiter=20 * prob.n)
    assert res.converged, (res, res.info)
    assert _true_residual(A, res.x, b) <= res.tol * (1 + 1e-6)
    plain = _solver(name)(A, b, rtol=RTOL, maxiter=20 * prob.n)
    assert res.iterations < plain.iterations or not plain.converged


@pytest.mark.parametrize("name", ALL)
def test_preconditioner_as_callable_and_matrix(name):
    p = problem("spd_random")
    Minv = np.linalg.inv(p.A)   # exact preconditioner: (at most) one or two iterations
    for M in (Minv, sp.csr_matrix(Minv), lambda r: Minv @ r):
        res = _solver(name)(p.A, p.b, rtol=1e-10, M=M)
        assert res.converged and res.iterations <= 2, res


# ---- SciPy comparisons: same algorithm, same iteration count -------------------------------
def _count_scipy(fn, *args, **kw):
    n = [0]

    def cb(*_):
        n[0] += 1

    x, info = fn(*args, callback=cb, **kw)
    return x, info, n[0]


def _poisson(k):
    T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(k, k))
    return (sp.kron(sp.identity(k), T) + sp.kron(T, sp.identity(k))).tocsr()


def _convdiff(k, peclet=0.6):
    # 2D convection-diffusion, central differences: nonsymmetric
    T = sp.diags([-1.0 - peclet, 2.0, -1.0 + peclet], [-1, 0, 1], shape=(k, k))
    S = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(k, k))
    return (sp.kron(sp.identity(k), T) + sp.kron(S, sp.identity(k))).tocsr()


def test_cg_iterations_match_scipy(rng):
    A = _poisson(20)
    b = rng.standard_normal(A.shape[0])
    res = kl.cg(A, b, rtol=1e-8)
    _, info, its = _count_scipy(spla.cg, A, b, rtol=1e-8)
    assert info == 0 and res.converged
    assert abs(res.iterations - its) <= 1


def _scipy_residual_history(fn, A, b, shift=0.0, **kw):
    hist = []
    fn(A, b, callback=lambda xk: hist.append(np.linalg.norm(b - A @ xk + shift * xk)), shift=shift, **kw)
    return np.array(hist)


def test_minres_same_iterates_as_scipy(rng):
    # SciPy's minres stops on a backward-error test (‖r‖ ≤ rtol(‖A‖‖x‖ + ‖b‖)), not on
    # ‖r‖ ≤ rtol‖b‖, so compare the iterates (residual histories) rather than the counts
    p = problem("sym_indefinite")
    res = kl.minres(p.A, p.b, rtol=1e-8)
    ref = _scipy_residual_history(spla.minres, p.A, p.b, rtol=1e-8)
    k = min(len(ref), res.iterations) - 1   # the very last step may differ at rounding level
    assert k > 10
    assert np.allclose(res.residuals[1:k + 1], ref[:k], rtol=1e-5, atol=1e-12)
    A = _poisson(15)
    b = rng.standard_normal(A.shape[0])
    res = kl.minres(A, b, rtol=1e-8, shift=0.5)  # shifted: indefinite
    ref = _scipy_residual_history(spla.minres, A, b, rtol=1e-8, shift=0.5)
    k = min(len(ref), res.iterations) - 1   # the very last step may differ at rounding level
    assert res.converged and k > 10
    assert np.allclose(res.residuals[1:k + 1], ref[:k], rtol=1e-5, atol=1e-12)
    assert np.linalg.norm(b - (A @ res.x - 0.5 * res.x)) <= res.tol * (1 + 1e-6)
    # with SciPy's looser test SciPy stops no later than we do
    assert len(ref) <= res.iterations + 1


def test_preconditioned_minres_residuals_are_true_2norm_residuals():
    p = problem("sym_indefinite")
    d = np.exp(np.linspace(-1, 1, p.n))
    A = d[:, None] * p.A * d[None, :]
    b = d * p.b
    M = np.diag(1.0 / np.abs(np.diag(A)))
    true = []
    res = kl.minres(A, b, rtol=1e-8, M=M, callback=lambda s: true.append(np.linalg.norm(b - A @ s.x)) and False)
    assert res.converged and res.method == "pminres"
    # the tested norm is the unpreconditioned 2-norm (not MINRES' own M-norm)
    assert np.allclose(res.residuals, true, rtol=1e-8, atol=1e-12 * np.linalg.norm(b))
    # the same iterates as SciPy's preconditioned MINRES (until rounding makes the two drift apart)
    ref = _scipy_residual_history(spla.minres, A, b, rtol=1e-8, M=M)
    assert np.allclose(res.residuals[1:13], ref[:12], rtol=1e-6)


@pytest.mark.parametrize("restart", [10, 30])
@pytest.mark.parametrize("ortho", ["mgs", "cgs2"])
def test_gmres_iterations_match_scipy(rng, restart, ortho):
    A = _convdiff(14)
    b = rng.standard_normal(A.shape[0])
    res = kl.gmres(A, b, rtol=1e-8, restart=restart, orthogonalization=ortho)
    x, info, its = _count_scipy(spla.gmres, A, b, rtol=1e-8, restart=restart, maxiter=1000,
                                callback_type="pr_norm")
    assert info == 0 and res.converged
    assert abs(res.iterations - its) <= 1
    assert res.info["cycles"] == -(-res.iterations // restart)


def test_bicgstab_iterations_match_scipy(rng):
    A = _convdiff(14)
    b = rng.standard_normal(A.shape[0])
    res = kl.bicgstab(A, b, rtol=1e-8)
    _, info, its = _count_scipy(spla.bicgstab, A, b, rtol=1e-8)
    assert info == 0 and res.converged
    assert abs(res.iterations - its) <= 1
    M = sp.diags(1.0 / A.diagonal())
    res = kl.bicgstab(A, b, rtol=1e-8, M=M)
    _, info, its = _count_scipy(spla.bicgstab, A, b, rtol=1e-8, M=M)
    assert abs(res.iterations - its) <= 1


# ---- method-specific behaviour ---------------------------------------------------------------
def test_minres_singular_inconsistent_is_breakdown():
    D = np.diag([0.0, 1.0, 2.0, 3.0])
    res = kl.minres(D, np.ones(4), rtol=1e-10)
    assert res.status is Status.BREAKDOWN and not res.converged
    assert np.all(np.isfinite(res.x))
    # the least-squares residual (the part of b outside the range) is reached
    assert res.residuals[-1] == pytest.approx(1.0, rel=1e-8)


def test_minres_singular_consistent_converges():
    D = np.diag([0.0, 1.0, 2.0, 3.0])
    b = np.array([0.0, 1.0, 1.0, 1.0])
    res = kl.minres(D, b, rtol=1e-10)
    assert res.converged and np.allclose(D @ res.x, b)


def test_minres_indefinite_preconditioner():
    p = problem("sym_indefinite")
    res = kl.minres(p.A, p.b, M=-np.eye(p.n))
    assert res.status is Status.INDEFINITE


def test_minres_reports_condition_estimate():
    p = problem("spd_random")
    res = kl.minres(p.A, p.b, rtol=1e-10)
    assert 1 < res.info["acond"] < 1000   # a (crude, lower) estimate of cond = 100
    assert res.info["anorm"] >= 100 / 2


def test_gmres_lucky_breakdown_converges():
    D = np.diag(np.arange(1.0, 11.0))
    b = np.zeros(10)
    b[:3] = 1.0
    res = kl.gmres(D, b, rtol=1e-14)
    assert res.converged and res.iterations == 3


def test_gmres_stagnation_on_cyclic_shift():
    # GMRES(m) with m < n makes no progress at all on the cyclic shift with b = e_1
    P = np.roll(np.eye(10), 1, axis=0)
    e = np.eye(10)[0]
    res = kl.gmres(P, e, restart=5, maxiter=1000)
    assert res.status is Status.STAGNATION and res.iterations < 1000
    full = kl.gmres(P, e, restart=10)
    assert full.converged and full.iterations == 10


def test_gmres_singular_hessenberg_is_breakdown():
    # A singular, b outside the range: GMRES cannot converge
    A = np.array([[0.0, 1.0], [0.0, 0.0]])
    res = kl.gmres(A, np.array([0.0, 1.0]))
    assert res.status in (Status.BREAKDOWN, Status.STAGNATION)
    assert not res.converged and np.all(np.isfinite(res.x))


def test_gmres_callback_x_is_current_iterate():
    p = problem("nonsymmetric")
    xs = []
    kl.gmres(p.A, p.b, restart=5, rtol=1e-10, callback=lambda s: xs.append((s.residual_norm, s.x)) and False)
    for rn, x in xs[1:]:
        assert np.linalg.norm(p.b - p.A @ x) == pytest.approx(rn, rel=1e-6)


def test_bicgstab_breakdowns():
    S = np.array([[0.0, 1.0], [-1.0, 0.0]])        # (r, A r) = 0 for every r
    res = kl.bicgstab(S, np.array([1.0, 0.0]))
    assert res.status is Status.BREAKDOWN and "A M p" in res.info["reason"]
    # omega = (t, s)/(t, t) = 0: here (A s, s) = s1² − s2²/2 = 0 after the first half step
    A = np.array([[1.0, 2.0], [-2.0, -0.5]])
    b = np.array([np.sqrt(2.0), 1.0])
    res = kl.bicgstab(A, b)
    assert res.status is Status.BREAKDOWN and "omega" in res.info["reason"]
    assert res.iterations == 1 and len(res.residuals) == 2   # the BiCG half step is kept
    assert np.linalg.norm(b - A @ res.x) == pytest.approx(res.residuals[-1])
    # skew-symmetric systems (hard for BiCGSTAB): never a wrong answer flagged converged
    rng = np.random.default_rng(3)
    for _ in range(5):
        S = rng.standard_normal((6, 6))
        S = S - S.T
        rhs = rng.standard_normal(6)
        r = kl.bicgstab(S, rhs, maxiter=200)
        assert r.status in (Status.CONVERGED, Status.BREAKDOWN, Status.MAX_ITERATIONS, Status.STAGNATION)
        if r.converged:
            assert np.linalg.norm(rhs - S @ r.x) <= r.tol * (1 + 1e-6)


def test_fcg_equals_cg_with_fixed_preconditioner(rng):
    A = _poisson(16)
    b = rng.standard_normal(A.shape[0])
    M = sp.diags(1.0 / (A.diagonal() * (1 + rng.random(A.shape[0]))))   # SPD, not a multiple of I
    a = kl.cg(A, b, rtol=1e-8, M=M)
    for m in (1, 3):
        f = kl.fcg(A, b, rtol=1e-8, M=M, truncation=m)
        assert f.converged and abs(f.iterations - a.iterations) <= 1
        assert np.allclose(f.residuals[:10], a.residuals[:10], rtol=1e-6)


def test_fcg_variable_preconditioner_beats_pcg(rng):
    A = _poisson(16)
    b = rng.standard_normal(A.shape[0])

    def inner(r):   # a few CG steps: a nonlinear, varying preconditioner
        return kl.cg(A, r, rtol=1e-1, maxiter=4).x

    f = kl.fcg(A, b, rtol=1e-8, M=inner, truncation=2)
    assert f.converged
    assert np.linalg.norm(b - A @ f.x) <= f.tol * (1 + 1e-6)
    plain = kl.cg(A, b, rtol=1e-8)
    assert f.iterations < plain.iterations / 2


def test_fcg_scale_of_preconditioner_output_does_not_matter(rng):
    p = problem("spd_random")
    scales = iter(10.0 ** rng.uniform(-6, 6, size=10_000))
    res = kl.fcg(p.A, p.b, rtol=1e-10, M=lambda r: next(scales) * r, truncation=2)
    ref = kl.fcg(p.A, p.b, rtol=1e-10, truncation=2)
    assert res.converged and abs(res.iterations - ref.iterations) <= 1


def test_fcg_indefinite():
    p = problem("sym_indefinite")
    b = np.ones(p.n)
    A = -np.eye(p.n)
    res = kl.fcg(A, b)
    assert res.status is Status.INDEFINITE
    with pytest.raises(kl.SolverError):
        kl.fcg(A, b, raise_on_indefinite=True)


def test_fcg_preconditioner_returning_nan():
    p = problem("spd_random")
    res = kl.fcg(p.A, p.b, M=lambda r: np.full_like(r, np.nan))
    assert res.status is Status.NOT_FINITE


# ---- kl.solve ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ALL)
def test_solve_dispatch(name):
    p = problem("spd_random")
    res = kl.solve(p.A, p.b, method=name, rtol=1e-9)
    ref = _solver(name)(p.A, p.b, rtol=1e-9)
    assert res.converged and res.iterations == ref.iterations
    assert np.allclose(res.x, ref.x)


def test_solve_unknown_method_lists_names():
    with pytest.raises(ValueError) as e:
        kl.solve(np.eye(2), np.ones(2), method="conjugate-gradients")
    msg = str(e.value)
    for name in ("cg", "minres", "gmres", "bicgstab", "fcg", "jacobi", "gauss_seidel", "sor", "ssor", "auto"):
        assert repr(name) in msg
    with pytest.raises(TypeError):
        kl.solve(np.eye(2), np.ones(2), method=None)


def test_solve_passes_options_and_rejects_unknown_ones():
    p = problem("nonsymmetric")
    res = kl.solve(p.A, p.b, method="GMRES", restart=5, rtol=1e-9)
    assert res.converged and res.info["cycles"] > 1
    with pytest.raises(TypeError):
        kl.solve(p.A, p.b, method="cg", restart=5)


def test_solve_auto():
    spd = problem("spd_random")
    ind = problem("sym_indefinite")
    ns = problem("nonsymmetric")
    r = kl.solve(kl.aslinearoperator(spd.A, positive_definite=True), spd.b, method="auto", rtol=1e-9)
    assert r.converged and r.info["auto_method"] == "cg"
    r = kl.solve(kl.aslinearoperator(ind.A, symmetric=True), ind.b, method="auto", rtol=1e-9)
    assert r.converged and r.info["auto_method"] == "minres"
    r = kl.solve(ns.A, ns.b, method="auto", rtol=1e-9)
    assert r.converged and r.info["auto_method"] == "gmres"
    ch = problem("complex_hermitian_indefinite")
    r = kl.solve(kl.aslinearoperator(ch.A, hermitian=True), ch.b, method="auto", rtol=1e-9)
    assert r.converged and r.info["auto_method"] == "minres"


def test_solve_stationary_methods():
    p = problem("spd_diagdom")
    for name in ("jacobi", "gauss_seidel", "sor", "ssor"):
        res = kl.solve(p.A, p.b, method=name, rtol=1e-8, maxiter=20_000)
        assert res.converged, (name, res)
        assert np.linalg.norm(p.b - p.A @ res.x) <= res.tol * (1 + 1e-6)


# ---- property test: random SPD / indefinite / nonsymmetric systems ---------------------------
@settings(deadline=None, max_examples=25)
@given(n=st.integers(1, 25), seed=st.integers(0, 2**31 - 1), kind=st.sampled_from(["spd", "sym", "gen"]))
def test_random_systems(n, seed, kind):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    if kind == "spd":
        ev = rng.uniform(1, 50, n)
        names = ALL
    elif kind == "sym":
        ev = rng.uniform(1, 50, n) * rng.choice([-1, 1], n)
        names = ["minres", "gmres"]
    else:
        ev = None
        names = ["gmres", "bicgstab"]
    if ev is not None:
        A = (Q * ev) @ Q.T
        A = (A + A.T) / 2
    else:
        A = rng.standard_normal((n, n)) / np.sqrt(n) + 4 * np.eye(n)
    b = rng.standard_normal(n)
    for name in names:
        res = _solver(name)(A, b, rtol=1e-9, maxiter=50 * n + 50)
        if name == "bicgstab" and res.status is Status.BREAKDOWN:
            continue   # a legitimate (rare) outcome: never flagged converged
        assert res.converged, (name, res, res.info)
        assert np.linalg.norm(b - A @ res.x) <= res.tol * (1 + 1e-6)
        assert len(res.residuals) == res.iterations + 1

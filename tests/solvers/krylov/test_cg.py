"""CG-specific behaviour: indefinite detection, SciPy agreement, fused paths, stagnation.

(The behaviours CG shares with every Krylov solver run in ``test_krylov.py``.)
"""

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import krylearn as kl
from krylearn import Status
from problems import as_form, problem


def _poisson(k):
    T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(k, k))
    return (sp.kron(sp.identity(k), T) + sp.kron(T, sp.identity(k))).tocsr()


def _scipy_iterations(A, b, **kw):
    n = [0]
    x, info = spla.cg(A, b, callback=lambda xk: n.__setitem__(0, n[0] + 1), **kw)
    return x, info, n[0]


@pytest.mark.parametrize("form", ["dense", "csr", "linop"])
def test_indefinite_matrix_status(form):
    A = np.diag(np.r_[np.linspace(1.0, 2.0, 10), -np.linspace(5.0, 10.0, 10)])
    p = type("P", (), {"A": A})
    res = kl.cg(as_form(p, form) if form != "dense" else A, np.ones(20))
    assert res.status is Status.INDEFINITE and not res.converged
    assert "positive definite" in res.message
    assert "reason" in res.info
    assert len(res.residuals) == res.iterations + 1
    with pytest.raises(kl.SolverError, match="positive definite"):
        kl.cg(A, np.ones(20), raise_on_indefinite=True)


def test_indefinite_never_flagged_converged_with_wrong_x():
    p = problem("sym_indefinite")
    for seed in range(5):
        b = np.random.default_rng(seed).standard_normal(p.n)
        res = kl.cg(p.A, b, rtol=1e-8, maxiter=400)
        if res.converged:   # CG may succeed on an indefinite matrix; then x must be right
            assert np.linalg.norm(b - p.A @ res.x) <= res.tol * (1 + 1e-6)
        else:
            assert res.status in (Status.INDEFINITE, Status.MAX_ITERATIONS, Status.STAGNATION)


def test_negative_definite_detected_at_first_step():
    res = kl.cg(-np.eye(5), np.ones(5))
    assert res.status is Status.INDEFINITE and res.iterations == 0


def test_indefinite_preconditioner():
    p = problem("spd_random")
    res = kl.cg(p.A, p.b, M=-np.eye(p.n))
    assert res.status is Status.INDEFINITE
    assert "preconditioner" in res.info["reason"]


@pytest.mark.parametrize("k", [10, 24])
def test_iterations_match_scipy(k):
    A = _poisson(k)
    b = np.random.default_rng(k).standard_normal(A.shape[0])
    for rtol in (1e-5, 1e-10):
        res = kl.cg(A, b, rtol=rtol)
        x, info, its = _scipy_iterations(A, b, rtol=rtol)
        assert info == 0 and res.converged
        assert abs(res.iterations - its) <= 1
        assert np.linalg.norm(res.x - x) <= 10 * rtol * np.linalg.norm(x) * 100


def test_preconditioned_iterations_match_scipy():
    A = _poisson(20)
    rng = np.random.default_rng(1)
    b = rng.standard_normal(A.shape[0])
    M = sp.diags(1.0 / (A.diagonal() * (1.0 + rng.random(A.shape[0]))))
    res = kl.cg(A, b, rtol=1e-8, M=M)
    _, info, its = _scipy_iterations(A, b, rtol=1e-8, M=M)
    assert res.method == "pcg" and res.converged
    assert abs(res.iterations - its) <= 1


def test_residual_history_matches_true_residuals():
    A = _poisson(12)
    b = np.random.default_rng(2).standard_normal(A.shape[0])
    xs = []
    res = kl.cg(A, b, rtol=1e-8, callback=lambda s: xs.append(s.x.copy()) and False)
    true = [np.linalg.norm(b - A @ x) for x in xs]
    assert len(true) == len(res.residuals) == res.iterations + 1
    assert np.allclose(res.residuals, true, rtol=1e-6, atol=1e-12 * np.linalg.norm(b))


def test_dense_csr_linop_agree():
    p = problem("spd_poisson2d")
    out = [kl.cg(as_form(p, f), p.b, rtol=1e-10) for f in ("dense", "csr", "linop")]
    assert len({r.iterations for r in out}) == 1
    for r in out[1:]:
        assert np.allclose(r.x, out[0].x, rtol=1e-10, atol=1e-12)


def test_complex_hpd():
    p = problem("complex_hpd")
    res = kl.cg(p.A, p.b, rtol=1e-10)
    assert res.converged and res.x.dtype == np.complex128
    assert np.allclose(res.x, p.x_true, rtol=1e-7)


def test_float32_input_is_solved_in_float32():
    # issue 18: the precision of b is the working precision (it was float64 before)
    p = problem("spd_random")
    res = kl.cg(p.A.astype(np.float32), p.b.astype(np.float32), rtol=1e-5)
    assert res.x.dtype == np.float32 and res.converged
    tight = kl.cg(p.A.astype(np.float32), p.b.astype(np.float32), rtol=1e-10)
    assert tight.x.dtype == np.float32 and tight.status is kl.Status.STAGNATION and "float32" in tight.info["reason"]
    assert kl.cg(p.A.astype(np.float32), p.b, rtol=1e-10).x.dtype == np.float64  # a float64 b: float64


def test_unreachable_tolerance_is_not_converged():
    p = problem("spd_random")
    res = kl.cg(p.A, p.b, rtol=1e-20, maxiter=2000)
    assert not res.converged
    assert res.status in (Status.STAGNATION, Status.MAX_ITERATIONS)
    assert len(res.residuals) == res.iterations + 1


def test_without_true_residual_check():
    p = problem("spd_random")
    res = kl.cg(p.A, p.b, rtol=1e-8, check_true_residual=False)
    assert res.converged and res.residuals[-1] <= res.tol


def test_tagged_positive_definite_operator():
    p = problem("spd_random")
    A = kl.aslinearoperator(p.A, positive_definite=True)
    res = kl.cg(A, p.b, rtol=1e-10)
    assert res.converged and np.allclose(res.x, p.x_true, rtol=1e-7)


class _InnerCG(kl.LinearOperator):
    """A variable preconditioner: 6, 7 or 8 unpreconditioned CG steps on A z = r, in turn (a map
    that changes from call to call, as an inexact inner solve does)."""
    variable = True

    def __init__(self, A):
        super().__init__(A.shape, dtype=np.float64)
        self.A = A
        self.calls = 0

    def _matvec(self, r):
        self.calls += 1
        return kl.cg(self.A, r, rtol=1e-14, maxiter=6 + self.calls % 3, check_true_residual=False).x


def test_cg_takes_the_flexible_update_for_a_variable_preconditioner():
    rng = np.random.default_rng(0)
    n = 300
    Q = np.linalg.qr(rng.standard_normal((n, n)))[0]
    A = (Q * np.logspace(0, 4, n)) @ Q.T
    b = rng.standard_normal(n)
    res = kl.cg(A, b, rtol=1e-10, M=_InnerCG(A), maxiter=900)
    assert res.converged and res.info["flexible"] is True
    assert np.linalg.norm(b - A @ res.x) <= 1e-10 * np.linalg.norm(b)
    ref = kl.fcg(A, b, rtol=1e-10, M=_InnerCG(A), maxiter=900)        # FCG(1): the same recurrence
    assert abs(res.iterations - ref.iterations) <= 2
    # the same preconditioner without the flag: plain PCG loses conjugacy (measured 604 vs 231 steps)
    class Plain(_InnerCG):
        variable = False
    plain = kl.cg(A, b, rtol=1e-10, M=Plain(A), maxiter=900)
    assert "flexible" not in plain.info
    assert (not plain.converged) or plain.iterations > 1.5 * res.iterations

"""The one result object: SolverResult, Status, SolverState, SolverError."""

import pickle

import numpy as np
import pytest

import krylearn as kl
from krylearn import SolverError, SolverResult, SolverState, Status


def _result(status=Status.CONVERGED, residuals=(4.0, 2.0, 1e-9), b_norm=2.0):
    return SolverResult(x=np.zeros(3), status=status, iterations=len(residuals) - 1,
                        residuals=np.asarray(residuals), time=0.5, method="cg", b_norm=b_norm, tol=1e-8)


def test_every_status_has_a_readable_message():
    for s in Status:
        assert isinstance(s.message, str) and len(s.message) > 10
        assert str(s) == s.name.lower()
    assert "converged" in Status.CONVERGED.message
    assert "maxiter" in Status.MAX_ITERATIONS.message
    assert "breakdown" in Status.BREAKDOWN.message
    assert "positive definite" in Status.INDEFINITE.message
    assert "stagnation" in Status.STAGNATION.message
    assert "callback" in Status.USER_STOP.message
    assert "NaN" in Status.NOT_FINITE.message


def test_result_properties():
    r = _result()
    assert r.converged and r.message == Status.CONVERGED.message
    assert r.final_residual == 1e-9
    assert r.relative_residual == pytest.approx(5e-10)
    assert r.raise_if_failed() is r
    assert "cg" in repr(r) and "converged" in repr(r)
    assert _result(b_norm=0.0).relative_residual == 1e-9   # absolute when b = 0


@pytest.mark.parametrize("status", [s for s in Status if s is not Status.CONVERGED])
def test_raise_if_failed(status):
    r = _result(status)
    assert not r.converged
    with pytest.raises(SolverError) as e:
        r.raise_if_failed()
    assert e.value.result is r
    assert status.message in str(e.value) and "cg" in str(e.value)


def test_not_unpackable_as_a_tuple():
    r = _result()
    with pytest.raises(TypeError, match="not a tuple"):
        x, info = r
    with pytest.raises(TypeError):
        list(r)


def test_empty_history():
    r = SolverResult(x=np.zeros(1), status=Status.USER_STOP, iterations=0, residuals=np.array([]), time=0.0)
    assert np.isnan(r.final_residual)


def test_result_pickles():
    r = pickle.loads(pickle.dumps(_result()))
    assert r.converged and r.iterations == 2


def test_state_x_is_lazy():
    st = SolverState("gmres", 1e-8)
    calls = []
    st._x_fn = lambda: calls.append(1) or np.ones(2)
    assert not calls
    assert np.array_equal(st.x, np.ones(2)) and calls == [1]
    st._x = np.zeros(2)
    assert np.array_equal(st.x, np.zeros(2))
    assert "gmres" in repr(st)


@pytest.mark.parametrize("name", ["cg", "minres", "gmres", "bicgstab", "fcg"])
def test_solvers_fill_the_result(name):
    A = np.diag(np.arange(1.0, 21.0))
    b = np.ones(20)
    res = getattr(kl, name)(A, b, rtol=1e-10)
    assert isinstance(res, SolverResult) and res.converged
    assert res.method.endswith(name) or res.method == name
    assert res.b_norm == pytest.approx(np.sqrt(20))
    assert res.tol == pytest.approx(1e-10 * np.sqrt(20))
    assert res.time >= 0 and res.residual_norm == "2-norm of b - Ax"
    assert res.residuals.dtype == float and len(res.residuals) == res.iterations + 1
    assert res.relative_residual <= 1e-10


def test_non_callable_callback_is_rejected():
    with pytest.raises(TypeError, match="callable"):
        kl.gmres(np.eye(3), np.ones(3), callback="print")

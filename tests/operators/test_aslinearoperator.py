"""Operator back-ends registered by name (krylearn.operators.register_backend)."""

import sys
import types

import numpy as np
import pytest

import krylearn as kl
from krylearn.operators import convert


class _FakeArray:
    """An array type of a library krylearn does not know (module ``fakearrays``)."""

    def __init__(self, data):
        self.data = np.asarray(data, dtype=float)


_FakeArray.__module__ = "fakearrays.core"


class FakeOperator(kl.LinearOperator):
    def __init__(self, A, **tags):
        super().__init__(A.data.shape, dtype=np.float64, **tags)
        self.M = A.data

    def _matvec(self, x):
        return self.M @ x


def test_a_registered_backend_is_loaded_by_name(monkeypatch):
    module = types.ModuleType("krylearn_test_fake_backend")
    module.FakeOperator = FakeOperator
    monkeypatch.setitem(sys.modules, "krylearn_test_fake_backend", module)
    monkeypatch.setitem(convert._BACKENDS, "fakearrays", "krylearn_test_fake_backend:FakeOperator")
    A = _FakeArray(np.diag([2.0, 3.0, 4.0]))
    op = kl.aslinearoperator(A, positive_definite=True)
    assert isinstance(op, FakeOperator) and op.positive_definite
    res = kl.cg(A, np.ones(3), rtol=1e-12)
    assert np.allclose(res.x, [1 / 2, 1 / 3, 1 / 4])


def test_unknown_types_and_bad_specs_are_refused(monkeypatch):
    with pytest.raises(TypeError, match="cannot make a linear operator"):
        kl.aslinearoperator(_FakeArray(np.eye(2)))
    with pytest.raises(ValueError, match="package.module:OperatorClass"):
        kl.operators.register_backend("fakearrays", "no_colon_here")
    monkeypatch.setattr(convert, "_BACKENDS", dict(convert._BACKENDS))
    kl.operators.register_backend("fakearrays", "krylearn_test_fake_backend:FakeOperator")
    assert convert._BACKENDS["fakearrays"] == "krylearn_test_fake_backend:FakeOperator"

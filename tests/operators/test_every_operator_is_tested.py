"""Every LinearOperator class of krylearn has an OperatorTestCase (issue 12, item 7).

The operator classes are found, not listed: every module of the package is imported (modules
whose optional dependency is missing are left out, and so are their classes) and
``LinearOperator.__subclasses__()`` is walked recursively. The test cases are found the same
way: every test module that mentions ``OperatorTestCase`` is imported and the subclasses of
``OperatorTestCase`` are read for their ``covers`` attribute (each test case checks itself, in
``test_covers``, that ``create()`` returns one of the classes it names). A new operator class
without a test case, or a test case without ``covers``, fails here.
"""

from __future__ import annotations

import importlib
import pathlib
import pkgutil
import sys
import warnings

import pytest

import krylearn
from krylearn.operators.base import LinearOperator
from krylearn.operators.testing import OperatorTestCase

TESTS = pathlib.Path(__file__).resolve().parents[1]

#: Operator classes that have no test case of their own, each with the reason. Only classes that
#: cannot be built or applied alone belong here.
ALLOWLIST = {
    # shared base of Kronecker and KroneckerSum: its products call ``self._apply`` and read
    # ``self.factors``, which only the two subclasses define (both have test cases)
    "krylearn.operators.kronecker._KronBase":
        "abstract base: _apply and factors are defined by Kronecker/KroneckerSum",
    # base of the sketches: no _matvec and no _apply_dense (LinearOperator.__init__ refuses a
    # subclass without _matvec), every concrete sketch has a test case
    "krylearn.solvers.sketching._base.Sketch":
        "abstract base: _matvec/_rmatvec/_apply_dense are defined by the concrete sketches",
}


def _qualname(cls):
    return f"{cls.__module__}.{cls.__qualname__}"


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def krylearn_modules():
    """Import every module of the package; return ``(imported names, {name: why it was left out})``.

    Only an ImportError (an optional dependency: torch, petsc4py, pyamg) leaves a module out;
    any other error fails the test."""
    imported, missing = [], {}

    def onerror(name):  # a subpackage whose __init__ fails to import
        exc = sys.exc_info()[1]
        if not isinstance(exc, ImportError):
            raise exc
        missing[name] = repr(exc)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)   # moved-module shims, if any are walked
        for info in pkgutil.walk_packages(krylearn.__path__, "krylearn.", onerror=onerror):
            if info.name in missing:
                continue
            try:
                importlib.import_module(info.name)
            except ImportError as exc:
                missing[info.name] = repr(exc)
                continue
            imported.append(info.name)
    return imported, missing


def operator_classes():
    """``{qualified name: class}`` of LinearOperator and its subclasses defined in krylearn."""
    krylearn_modules()
    found = {_qualname(LinearOperator): LinearOperator}
    for cls in _subclasses(LinearOperator):
        if cls.__module__ == "krylearn" or cls.__module__.startswith("krylearn."):
            found[_qualname(cls)] = cls
    return found


def find_test_cases():
    """Every OperatorTestCase subclass of the test suite (the modules are imported as pytest's
    "prepend" import mode imports them: by file name, with their folder on ``sys.path``)."""
    for path in sorted(TESTS.rglob("test_*.py")):
        if path.resolve() == pathlib.Path(__file__).resolve() or "OperatorTestCase" not in path.read_text():
            continue
        folder = str(path.parent)
        if folder not in sys.path:
            sys.path.insert(0, folder)
        try:
            module = importlib.import_module(path.stem)
        except pytest.skip.Exception:   # a module that skips itself (optional dependency missing)
            continue
        assert pathlib.Path(module.__file__).resolve() == path.resolve(), f"two test modules named {path.stem}"
    # the classes pytest collects (named Test*; a shared _Mixin(OperatorTestCase) is not a test case)
    return [c for c in _subclasses(OperatorTestCase)
            if c.__module__ != "krylearn.operators.testing" and c.__name__.startswith("Test")]


def covered():
    """``{qualified operator class name: [test case names]}``."""
    out = {}
    for case in find_test_cases():
        for c in case.__dict__.get("covers", ()):
            name = c if isinstance(c, str) else _qualname(c)
            out.setdefault(name, []).append(f"{case.__module__}.{case.__qualname__}")
    return out


def test_the_enumeration_is_real():
    # the walk finds the operators of every layer, the optional back-ends included when installed
    found = operator_classes()
    for name in ["krylearn.operators.base.DiagonalOperator", "krylearn.operators.stencil.PoissonStencil",
                 "krylearn.solvers.precond.ssor.SSORPreconditioner", "krylearn.solvers.sketching.srht.SRHT"]:
        assert name in found
    _, missing = krylearn_modules()
    try:
        import torch  # noqa: F401
        assert "krylearn.learned.dcdm.DCDMPreconditioner" in found
        assert "krylearn.operators.torch_operator.TorchOperator" in found
    except ImportError:
        assert "krylearn.learned" in missing
    try:
        import petsc4py.PETSc  # noqa: F401
        assert "krylearn.operators.petsc_mat.PetscMatOperator" in found
    except ImportError:
        assert "krylearn.operators.petsc_mat" in missing

    # a subclass defined later is found too (a class defined here is not krylearn's, so it is
    # then filtered out by its module name)
    class _Late(LinearOperator):
        def _matvec(self, x):
            return x

    assert _Late in list(_subclasses(LinearOperator))
    assert _qualname(_Late) not in operator_classes()


def test_every_operator_class_has_a_test_case():
    found = operator_classes()
    cov = covered()
    untested = sorted(name for name in found if name not in cov and name not in ALLOWLIST)
    assert not untested, ("LinearOperator classes without an OperatorTestCase (add a test case with "
                          f"covers = (TheClass,), or, if it cannot be tested alone, an ALLOWLIST entry): {untested}")


def test_the_allowlist_is_current():
    found = operator_classes()
    cov = covered()
    stale = sorted(name for name in ALLOWLIST if name not in found)
    assert not stale, f"ALLOWLIST names classes that no longer exist: {stale}"
    both = sorted(name for name in ALLOWLIST if name in cov)
    assert not both, f"ALLOWLIST names classes that have a test case now (remove them): {both}"


def test_every_test_case_says_what_it_covers():
    cases = find_test_cases()
    assert cases, "no OperatorTestCase subclasses found"
    bare = sorted(f"{c.__module__}.{c.__qualname__}" for c in cases if not c.covers)
    assert not bare, f"OperatorTestCase subclasses without covers = (...): {bare}"
    # names given as strings (optional back-ends) must name a class of krylearn
    found = operator_classes()
    _, missing = krylearn_modules()
    unknown = sorted(name for name in covered() if name not in found
                     and not any(name.startswith(mod + ".") for mod in missing))
    assert not unknown, f"covers names classes that do not exist: {unknown}"

"""The ``>>>`` examples of the docstrings run as part of ``make test`` (issue 12, item 5).

One test per docstring with examples, found by ``doctest.DocTestFinder`` in every module of the
package (a module whose optional dependency is missing is skipped with the reason). Options:
``ELLIPSIS`` and ``NORMALIZE_WHITESPACE``; NumPy prints with its current (not legacy) format and
8 digits. Examples that are too slow or need a GPU or data not shipped carry ``# doctest: +SKIP``.
"""

import doctest
import importlib
import pkgutil

import numpy as np
import pytest

import krylearn

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _collect():
    params = []
    for info in sorted(pkgutil.walk_packages(krylearn.__path__, "krylearn.", onerror=lambda name: None),
                       key=lambda i: i.name):
        try:
            module = importlib.import_module(info.name)
        except ImportError as exc:     # optional dependency (torch, petsc4py, pyamg) not installed
            params.append(pytest.param(info.name, None, marks=pytest.mark.skip(reason=f"{info.name}: {exc}"),
                                       id=info.name))
            continue
        finder = doctest.DocTestFinder(exclude_empty=True)
        for test in finder.find(module, info.name):
            if test.examples and (getattr(test, "filename", None) or "").endswith(".py"):
                params.append(pytest.param(info.name, test.name, id=test.name))
    return params


PARAMS = _collect()


@pytest.fixture
def numpy_print_options():
    saved = np.get_printoptions()
    np.set_printoptions(precision=8, legacy=False, linewidth=75, threshold=1000, suppress=False)
    yield
    np.set_printoptions(**saved)


@pytest.mark.parametrize("module_name, test_name", PARAMS)
def test_docstring_examples(module_name, test_name, numpy_print_options):
    module = importlib.import_module(module_name)
    tests = {t.name: t for t in doctest.DocTestFinder(exclude_empty=True).find(module, module_name)}
    test = tests[test_name]
    test.globs = dict(test.globs)          # a fresh namespace per docstring
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    out = []
    runner.run(test, out=out.append)
    assert runner.failures == 0, "".join(out)


def test_counts():
    # every docstring with examples is collected (the count is printed with -s)
    assert len(PARAMS) >= 45

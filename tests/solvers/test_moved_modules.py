"""Module paths from before the solvers subpackages (issue 12) keep working and warn."""

import importlib
import sys
import warnings

import pytest

import krylearn.solvers as solvers


@pytest.mark.parametrize("old, new", sorted(solvers._MOVED.items()))
def test_old_path_imports_the_new_module_and_warns(old, new):
    sys.modules.pop(old, None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)
    assert any(issubclass(w.category, DeprecationWarning) and new in str(w.message) for w in caught)


def test_readme_style_import_through_an_old_path():
    for name in ("krylearn.solvers.sequence", "krylearn.solvers.contextual_tuners"):
        sys.modules.pop(name, None)
    with pytest.warns(DeprecationWarning, match="moved to krylearn.solvers.tuning.sequence"):
        from krylearn.solvers.sequence import solve_sequence
    from krylearn.solvers.tuning.sequence import solve_sequence as current
    assert solve_sequence is current


def test_moved_function_names_warn():
    from krylearn.solvers.tuning import omega, sequence

    with pytest.warns(DeprecationWarning, match="tuning.omega"):
        assert sequence.young_omega is omega.young_omega
    with pytest.raises(AttributeError):
        sequence.no_such_name


def test_a_package_function_is_not_shadowed_by_its_module():
    import krylearn as kl

    importlib.import_module("krylearn.solvers.krylov.cg")
    assert callable(solvers.cg) and solvers.cg is kl.cg
    assert callable(solvers.krylov.cg)

"""The typed public API: the solver and preconditioner entry points carry annotations, and the
aliases of ``krylearn.typing`` import without pulling in the optional dependencies."""

import inspect
import subprocess
import sys

import pytest

import krylearn as kl

ANNOTATED = [kl.cg, kl.fcg, kl.minres, kl.minres_qlp, kl.gmres, kl.fgmres, kl.bicgstab, kl.chebyshev, kl.lsqr,
             kl.lsmr, kl.multigrid, kl.solve, kl.aslinearoperator, kl.pde.poisson, kl.precond.ic0, kl.precond.ilu,
             kl.precond.jacobi, kl.precond.ssor, kl.precond.amg, kl.precond.multigrid]


@pytest.mark.parametrize("fn", ANNOTATED, ids=lambda f: f.__name__)
def test_public_entry_points_are_annotated(fn):
    sig = inspect.signature(fn)
    missing = [name for name, p in sig.parameters.items() if p.annotation is inspect.Parameter.empty]
    assert not missing, f"{fn.__name__}: parameters without annotations: {missing}"
    assert sig.return_annotation is not inspect.Signature.empty


def test_solver_signatures_share_the_aliases():
    for fn in (kl.cg, kl.minres, kl.gmres, kl.bicgstab):
        params = inspect.signature(fn).parameters
        assert params["A"].annotation == "OperatorLike" and params["b"].annotation == "ArrayLike"
        assert params["M"].annotation == "PreconditionerLike"
        assert inspect.signature(fn).return_annotation == "SolverResult"


def test_typing_module_is_light():
    code = ("import sys, krylearn.typing as t; "
            "assert not any(m in sys.modules for m in ('torch', 'petsc4py')), 'heavy import'; "
            "print(t.__all__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "OperatorLike" in out.stdout


def test_py_typed_marker_ships():
    import pathlib

    root = pathlib.Path(kl.__file__).parent
    assert (root / "py.typed").is_file()
    text = (root.parent / "pyproject.toml").read_text()
    assert 'krylearn = ["py.typed"]' in text

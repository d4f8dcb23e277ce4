"""Package-level behaviour: light import, lazy optional dependencies, the CLI."""

import subprocess
import sys

import pytest


def _run(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_import_is_light():
    out = _run("import sys, krylearn as kl; kl.LinearOperator; kl.Status;"
               "print(sorted(m for m in ('torch', 'petsc4py', 'mpi4py', 'pyamg') if m in sys.modules))")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_solving_does_not_import_torch_or_petsc():
    out = _run("import sys, numpy as np, krylearn as kl; A = np.diag([1.0, 2.0, 3.0]);"
               "r = kl.cg(A, np.ones(3)); assert r.converged;"
               "print([m for m in ('torch', 'petsc4py') if m in sys.modules])")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("module, extra", [("torch", "krylearn.learned"), ("petsc4py", "krylearn.petsc")])
def test_missing_optional_dependency_says_how_to_install(module, extra):
    # Simulate the dependency being absent: a None entry in sys.modules makes its import fail.
    out = _run(f"import sys; sys.modules[{module!r}] = None\n"
               f"try:\n    import {extra}\nexcept ImportError as e:\n    print('IMPORTERROR', e)")
    assert "IMPORTERROR" in out.stdout, out.stdout + out.stderr
    assert "install" in out.stdout


def test_unknown_attribute():
    import krylearn as kl

    with pytest.raises(AttributeError, match="no attribute"):
        kl.does_not_exist


def test_cli_usage():
    out = subprocess.run([sys.executable, "-m", "krylearn", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    assert "demo" in out.stdout and "train-dcdm" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "krylearn", "nope"], capture_output=True, text=True)
    assert bad.returncode == 2


def test_lazy_functions_are_not_shadowed_by_their_modules():
    import krylearn as kl
    from krylearn.solvers.stationary.sor import SOR  # noqa: F401  (imports the same-named submodule)
    from krylearn.pde.poisson import PoissonStencil  # noqa: F401

    for _ in range(2):
        assert callable(kl.pde.poisson) and not hasattr(kl.pde.poisson, "__path__")
        A = kl.pde.poisson((4, 4))
    assert A.shape == (16, 16)
    for name in ("cg", "minres", "gmres", "bicgstab", "fcg", "jacobi", "gauss_seidel", "sor", "ssor", "solve"):
        f = getattr(kl.solvers, name)
        assert callable(f) and f.__name__ == name, name
        assert getattr(kl, name) is f

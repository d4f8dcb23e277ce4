"""Without petsc4py, ``import krylearn.petsc`` says how to install it, and krylearn still works."""

import subprocess
import sys

_BLOCK = "import sys; sys.modules['petsc4py'] = None; sys.modules['petsc4py.PETSc'] = None\n"


def _run(code):
    return subprocess.run([sys.executable, "-c", _BLOCK + code], capture_output=True, text=True, timeout=120)


def test_import_error_says_how_to_install():
    proc = _run("import krylearn.petsc")
    assert proc.returncode != 0
    assert "ImportError" in proc.stderr and "petsc4py is required" in proc.stderr
    assert "install_petsc.sh" in proc.stderr or "krylearn[petsc]" in proc.stderr


def test_krylearn_works_without_petsc4py():
    proc = _run("import numpy as np, krylearn as kl\n"
                "A = kl.pde.poisson((8, 8)); r = kl.cg(A, np.ones(64), rtol=1e-8)\n"
                "assert r.converged\n"
                "print('ok')")
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr

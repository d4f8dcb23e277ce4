"""mypy passes on the package, with the configuration of pyproject.toml ([tool.mypy]: the whole
``krylearn`` package; torch, numba, petsc4py and mpi4py read as Any; SciPy and other untyped
packages without stubs). The cache (.mypy_cache, git-ignored) makes later runs incremental."""

import importlib.util
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None,
                    reason="mypy is not installed (pip install -e '.[test]')")
def test_mypy_passes_on_the_package():
    out = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, f"mypy failed (exit {out.returncode}):\n{out.stdout}\n{out.stderr}"

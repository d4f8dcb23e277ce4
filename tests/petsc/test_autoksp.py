"""krylearn.petsc.AutoKSP: online choice among PETSc option sets, identical on every MPI rank."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _mpi import mpiexec

pytest.importorskip("petsc4py")

import scipy.sparse as sp  # noqa: E402
import scipy.sparse.linalg as spla  # noqa: E402
from petsc4py import PETSc  # noqa: E402

import krylearn as kl  # noqa: E402
import krylearn.petsc as klp  # noqa: E402
from krylearn.solvers import Status  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SETS = {"icc": {"ksp_type": "cg", "pc_type": "icc"},
        "jacobi": {"ksp_type": "cg", "pc_type": "jacobi"},
        "one-step": {"ksp_type": "cg", "pc_type": "none", "ksp_max_it": 1}}


def _system(shape, shift):
    L = klp.poisson(shape, comm=PETSc.COMM_SELF)
    A = L.copy()
    A.scale(shift)
    A.shift(1.0)
    return L, A


def test_autoksp_solves_and_falls_back():
    """Every solve converges to the direct solution; the option set that cannot converge (one CG step)
    is charged, falls back within the call, and is then rarely chosen."""
    shape = (24, 20)
    auto = klp.AutoKSP(SETS, comm=PETSc.COMM_SELF, cost="iterations")
    rng = np.random.default_rng(0)
    csr = kl.pde.poisson(shape).tocsr()
    n = csr.shape[0]
    for step in range(12):
        shift = 10.0 ** (step % 3 - 2)
        L, A = _system(shape, shift)
        b = A.createVecLeft()
        bb = rng.standard_normal(n)
        b.array[:] = bb
        x = A.createVecRight()
        res = auto.solve(A, b, x, rtol=1e-10)
        assert res.converged, res.info["attempts"]
        ref = spla.spsolve((shift * csr + sp.identity(n)).tocsc(), bb)
        np.testing.assert_allclose(res.x, ref, rtol=0, atol=1e-8 * np.abs(ref).max())
        assert res.info["candidate"] in SETS
        if res.info["chosen"] == "one-step":
            assert res.info["attempts"][0]["status"] is Status.MAX_ITERATIONS
            assert res.info["candidate"] != "one-step"
        np.testing.assert_array_equal(b.array, bb)        # the user's b is untouched
    rep = auto.report()
    assert rep["one-step"]["failures"] == rep["one-step"]["chosen"] >= 1
    assert rep["one-step"]["chosen"] <= 3


def test_autoksp_bad_input():
    with pytest.raises(ValueError, match="non-empty dict"):
        klp.AutoKSP({})
    with pytest.raises(ValueError, match="leading '-'"):
        klp.AutoKSP({"a": {"-pc_type": "icc"}})
    with pytest.raises(ValueError, match="cost"):
        klp.AutoKSP(SETS, cost="money")
    auto = klp.AutoKSP(SETS, comm=PETSc.COMM_SELF)
    L, A = _system((8, 8), 1.0)
    b, x = A.createVecLeft(), A.createVecRight()
    with pytest.raises(TypeError):
        auto.solve(A, b.array, x)
    b.set(np.nan)
    with pytest.raises(ValueError, match="NaN"):
        auto.solve(A, b, x)


def _mpiexec():
    return mpiexec()


@pytest.mark.skipif(_mpiexec() is None, reason="no mpiexec")
def test_two_ranks_make_identical_choices(tmp_path):
    """``examples/petsc_time_loop.py`` under ``mpiexec -n 2``: rank 0 decides and broadcasts, so both ranks
    record the same option set for every step, including a set that fails in parallel (SOR with global
    symmetric sweeps: PETSc error) and is rescued by the fallback."""
    out = tmp_path / "loop"
    cmd = [_mpiexec(), "-n", "2", sys.executable, str(ROOT / "examples" / "petsc_time_loop.py"), "--shape", "32", "32",
           "--steps", "24", "--quiet", "--sets", "gamg,icc,jacobi,none,sor_global", "--save", str(out)]
    env = dict(os.environ, OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    r0, r1 = (np.load(f"{out}.rank{r}.npz") for r in (0, 1))
    np.testing.assert_array_equal(r0["chosen"], r1["chosen"])
    np.testing.assert_array_equal(r0["candidate"], r1["candidate"])
    assert r0["converged"].all() and r1["converged"].all()
    assert "sor_global" in set(r0["chosen"])               # explored once at least ...
    assert "sor_global" not in set(r0["candidate"])        # ... and never the set that produced x
    assert len(set(r0["chosen"])) >= 4

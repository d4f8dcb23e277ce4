import importlib.util
import os

import pytest

pytest.importorskip("torch")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _example():
    spec = importlib.util.spec_from_file_location("dcdm_obstacles", os.path.join(ROOT, "examples", "dcdm_obstacles.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("dim,n", [(2, 64), (3, 16)])
def test_dcdm_obstacles_example_runs_and_beats_ic0_in_iterations(tmp_path, dim, n):
    out = tmp_path / "fig.png"
    results = _example().main(["--dim", str(dim), "--n", str(n), "--out", str(out)])
    dcdm, ic0, cg = results["DCDM (k = 2)"], results["IC(0)-PCG"], results["CG"]
    assert dcdm.converged and results["FCG + DCDM"].converged and ic0.converged
    assert dcdm.iterations < ic0.iterations < cg.iterations
    assert out.exists() and out.stat().st_size > 10_000

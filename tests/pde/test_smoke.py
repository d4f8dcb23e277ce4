"""Tests of the smoke simulation (krylearn.pde.smoke) and of examples/smoke.py."""

import importlib.util
import os

import numpy as np
import pytest

import krylearn as kl
from krylearn.pde.smoke import SmokeSimulation

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RTOL = 1e-8


class MGSolve:
    """``solve(A, b, x0, rtol)`` by multigrid-preconditioned CG that records each system it solved."""

    def __init__(self):
        self.calls = []

    def __call__(self, A, b, x0, rtol):
        res = kl.cg(A, b, x0, rtol=rtol, M=kl.precond.multigrid(A))
        self.calls.append({"A": A, "b": np.array(b), "x0": np.array(x0), "x": np.array(res.x), "rtol": rtol})
        return res


def _fluid_faces(sim, a):
    """Faces of axis ``a`` between two fluid cells (interior faces)."""
    n = sim.shape[a]
    lo = [slice(None)] * sim.ndim
    hi = [slice(None)] * sim.ndim
    lo[a], hi[a] = slice(0, n - 1), slice(1, n)
    return sim.mask[tuple(lo)] & sim.mask[tuple(hi)]


def _solid_faces(sim, a):
    """Faces of axis ``a`` that touch a solid cell, excluding the box faces (walls win there)."""
    n = sim.shape[a]
    solid = ~sim.mask
    touch = np.zeros(sim.velocity[a].shape, dtype=bool)
    idx = [slice(None)] * sim.ndim
    idx[a] = slice(0, n)
    touch[tuple(idx)] |= solid
    idx[a] = slice(1, n + 1)
    touch[tuple(idx)] |= solid
    idx[a] = 0
    touch[tuple(idx)] = False
    idx[a] = n
    touch[tuple(idx)] = False
    return touch


@pytest.mark.parametrize("shape, steps", [((32, 32), 5), ((12, 12, 12), 4)], ids=["2d", "3d"])
def test_projection_makes_the_flow_divergence_free(shape, steps):
    sim = SmokeSimulation(shape, period=16)
    solve = MGSolve()
    for k in range(steps):
        entry = sim.step(solve, rtol=RTOL)
        call = solve.calls[-1]
        A, b, x = call["A"], call["b"], call["x"]
        assert A is sim.operator and call["rtol"] == RTOL
        assert b.shape == (int(sim.mask.sum()),) == (A.shape[0],)
        assert entry["converged"] and entry["step"] == k + 1 and entry["unknowns"] == A.shape[0]
        assert entry["iterations"] >= 1
        div = sim.divergence()
        assert div.shape == sim.shape
        div_f = div[sim.mask]
        # before the projection the fluid divergence was -dt*b; afterwards it is -dt*(b - A x) exactly,
        # so its 2-norm is dt*||r|| <= dt*rtol*||b|| (plus rounding)
        r = b - A @ x
        dt = sim.dt
        np.testing.assert_allclose(div_f, -dt * r, rtol=0, atol=1e-6 * dt * RTOL * np.linalg.norm(b))
        assert np.linalg.norm(div_f) <= dt * RTOL * np.linalg.norm(b) * (1 + 1e-6)
        before = dt * np.abs(b).max()
        assert before > 1.0                                        # a real projection, not a no-op
        assert np.abs(div_f).max() <= 1e-5 * before
        # the pressure is the solution on the fluid cells
        np.testing.assert_array_equal(sim.pressure[sim.mask], x)
        # density in [0, 1], zero in the obstacle, one in the source
        assert sim.density.min() >= 0.0 and sim.density.max() <= 1.0
        assert np.all(sim.density[~sim.mask] == 0.0) and sim.density.max() == 1.0
        # faces touching the obstacle move with it; walls (all box faces but the top) are shut
        _, vel = sim.obstacle()
        for a, u in enumerate(sim.velocity):
            touch = _solid_faces(sim, a)
            assert touch.any()
            np.testing.assert_array_equal(u[touch], vel[a])
            idx = [slice(None)] * sim.ndim
            idx[a] = 0
            assert np.all(u[tuple(idx)] == 0.0)
            if a != 0:
                idx[a] = sim.shape[a]
                assert np.all(u[tuple(idx)] == 0.0)
            assert np.all(np.isfinite(u))
    assert len(sim.log) == steps and sim.step_count == steps
    # the flow does move: buoyancy and the source push the smoke up
    assert np.abs(sim.velocity[0][1:-1][_fluid_faces(sim, 0)]).max() > 0.1
    assert (sim.density > 0.01).sum() > 1


def test_the_obstacle_moves_and_the_operator_follows():
    sim = SmokeSimulation((32, 32), period=8)
    solve = MGSolve()
    masks, ops = [sim.mask.copy()], [sim.operator]
    for _ in range(4):
        sim.step(solve, rtol=1e-6)
        masks.append(sim.mask.copy())
        ops.append(sim.operator)
    changed = [e["operator_changed"] for e in sim.log]
    assert all(changed)
    for k in range(4):
        assert not np.array_equal(masks[k], masks[k + 1]) and ops[k] is not ops[k + 1]
        assert ops[k + 1].shape[0] == masks[k + 1].sum()
    # the solid velocity is the obstacle's: sideways only, and it follows the sine sweep
    c0, v0 = sim.obstacle(0)
    c2, v2 = sim.obstacle(2)                                      # a quarter period: at the extreme
    assert v0[1] > 0 and v0[0] == 0 and abs(v2[1]) < 1e-9 * abs(v0[1])
    assert c2[1] > c0[1] and c2[0] == c0[0]


def test_a_resting_obstacle_keeps_the_operator_object():
    # (with period=10000 the obstacle still creeps ~0.004 cells per step: a boundary cell can flip)
    sim = SmokeSimulation((32, 32), period=10**9)
    solve = MGSolve()
    sim.step(solve, rtol=1e-6)
    op, mask = sim.operator, sim.mask.copy()
    for _ in range(3):
        sim.step(solve, rtol=1e-6)
        assert sim.operator is op and np.array_equal(sim.mask, mask)
    assert [e["operator_changed"] for e in sim.log[1:]] == [False] * 3
    assert all(c["A"] is op for c in solve.calls[1:])
    # the previous pressure is the initial guess of the next solve
    np.testing.assert_array_equal(solve.calls[-1]["x0"], solve.calls[-2]["x"])


def test_with_autosolver_the_setup_is_reused_while_the_mask_is_unchanged():
    sim = SmokeSimulation((24, 24), period=10**9)
    auto = kl.solvers.AutoSolver(["mg-cg"])
    sim.run(3, lambda A, b, x0, rtol: auto.solve(A, b, x0, rtol=rtol), rtol=1e-8)
    assert [e["solver"] for e in sim.log] == ["mg-cg"] * 3
    assert all(e["converged"] for e in sim.log)
    assert auto.stats["mg-cg"]["setups"] == 1
    assert np.abs(sim.divergence()[sim.mask]).max() < 1e-5


def test_run_calls_the_callback():
    sim = SmokeSimulation((16, 16))
    seen = []
    log = sim.run(2, MGSolve(), callback=lambda s, e: seen.append((s is sim, e["step"])))
    assert seen == [(True, 1), (True, 2)] and log is sim.log and len(log) == 2


def test_bad_arguments():
    for shape in ((4, 4), (32,), (8, 8, 8, 8), (32, 7)):
        with pytest.raises(ValueError, match="shape"):
            SmokeSimulation(shape)
    with pytest.raises(ValueError, match="period"):
        SmokeSimulation((16, 16), period=0)
    for dt in (0.0, -0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="dt"):
            SmokeSimulation((16, 16), dt=dt)


# -- the example -----------------------------------------------------------------------------------
def _example():
    spec = importlib.util.spec_from_file_location("smoke_example", os.path.join(ROOT, "examples", "smoke.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _is_png(path):
    with open(path, "rb") as fh:
        return fh.read(8) == b"\x89PNG\r\n\x1a\n"


def test_example_auto(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    ex = _example()
    out = tmp_path / "out"
    sim = ex.main(["--n", "24", "--steps", "3", "--out", str(out), "--quiet"])
    assert isinstance(sim, SmokeSimulation) and sim.shape == (24, 24) and len(sim.log) == 3
    assert all(e["converged"] for e in sim.log)
    frames = sorted(p.name for p in out.glob("frame_*.png"))
    assert frames and frames[0] == "frame_00001.png"
    assert all(_is_png(out / f) for f in frames)
    assert _is_png(out / "auto.png")
    auto = kl.solvers.AutoSolver.load(out / "auto.json")
    assert len(auto.history) == 3 and auto.candidates[0] == "mg-cg"
    if importlib.util.find_spec("imageio") is not None:
        assert (out / "smoke.gif").stat().st_size > 0
    text = capsys.readouterr().out
    assert "3 steps of 24^2" in text and "all converged: True" in text
    assert "step    1" not in text                                 # --quiet


def test_example_fixed_solver(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    ex = _example()
    out = tmp_path / "out"
    sim = ex.main(["--n", "24", "--steps", "2", "--solver", "mg-cg", "--frames", "1", "--out", str(out)])
    assert [e["solver"] for e in sim.log] == ["mg-cg", "mg-cg"]
    assert sorted(p.name for p in out.glob("frame_*.png")) == ["frame_00001.png", "frame_00002.png"]
    assert not (out / "auto.json").exists()                       # no AutoSolver state for a fixed solver
    text = capsys.readouterr().out
    assert "mg-cg" in text and "step    2" in text
    with pytest.raises(SystemExit):
        ex.main(["--solver", "no-such-solver", "--out", str(out)])

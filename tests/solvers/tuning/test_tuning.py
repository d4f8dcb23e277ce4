"""Tests of the bandit ω tuners (krylearn.solvers.tuning.bandits) on synthetic bandits."""

import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import krylearn as kl
from krylearn.solvers.tuning.contextual_tuners import ChebCB, TsallisINFCB
from krylearn.solvers.tuning.bandits import Exp3, TsallisINF, load_tuner, omega_grid, tsallis_inf_distribution

GRID = np.linspace(1.0, 1.95, 20)


def _make(cls, seed=0, **kw):
    if cls in (TsallisINFCB, ChebCB):
        kw.setdefault("context_range", (0.0, 1.0))
    return cls(grid=GRID, seed=seed, **kw)


def _cost(omega, context, rng):
    """A noisy cost whose best ω moves with the context (best at 1.2 + 0.6 c)."""
    c = 0.0 if context is None else context
    return 50.0 + 4000.0 * (omega - (1.2 + 0.6 * c)) ** 2 + rng.normal(0, 2.0)


def _run(tuner, T, seed=1, contextual=False):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(T):
        c = float(rng.uniform()) if contextual else None
        w = tuner.suggest(c)
        tuner.observe(max(_cost(w, c, rng), 0.0))
        out.append(w)
    return np.array(out)


ALL = [TsallisINF, Exp3, TsallisINFCB, ChebCB]


def test_exported_names():
    assert kl.solvers.TsallisINF is TsallisINF
    assert kl.solvers.ChebCB is ChebCB
    assert kl.solvers.Exp3 is Exp3 and kl.solvers.TsallisINFCB is TsallisINFCB


@pytest.mark.parametrize("cls", ALL)
def test_deterministic_under_seed(cls):
    ctx = cls in (TsallisINFCB, ChebCB)
    a = _run(_make(cls, seed=3), 200, contextual=ctx)
    b = _run(_make(cls, seed=3), 200, contextual=ctx)
    c = _run(_make(cls, seed=4), 200, contextual=ctx)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert set(np.round(a, 12)) <= set(np.round(GRID, 12))


@settings(deadline=None, max_examples=50)
@given(st.lists(st.floats(0, 1e6), min_size=1, max_size=40), st.floats(1e-4, 10.0))
def test_tsallis_distribution_sums_to_one(losses, eta):
    p = tsallis_inf_distribution(np.array(losses), eta)
    assert np.all(p >= 0) and abs(p.sum() - 1.0) < 1e-12
    order = np.argsort(losses, kind="stable")
    assert np.all(np.diff(p[order]) <= 1e-15)  # larger loss, smaller probability


def test_tsallis_distribution_matches_definition():
    L = np.array([0.0, 1.0, 3.0, 10.0])
    eta = 0.7
    p = tsallis_inf_distribution(L, eta)
    # p_i = 4 (eta (L_i - x))^-2 for one common x < min L
    x = L - 2.0 / (eta * np.sqrt(p))
    np.testing.assert_allclose(x, x[0], rtol=0, atol=1e-9)
    assert x[0] < L.min()


def test_tsallis_inf_concentrates_on_best_arm():
    tuner = TsallisINF(grid=GRID, seed=0)
    _run(tuner, 3000)
    p = tuner.probabilities()
    assert abs(p.sum() - 1.0) < 1e-12
    best = int(np.argmin(np.abs(GRID - 1.2)))
    assert int(np.argmax(p)) == best
    assert p[best] > 0.5
    assert tuner.best_arm == best
    # and it played the best arm most of the time in the second half
    arms = np.array(tuner.history["arm"][1500:])
    assert np.mean(arms == best) > 0.5


def test_exp3_concentrates():
    tuner = Exp3(grid=GRID, seed=0)
    _run(tuner, 3000)
    p = tuner.probabilities()
    assert abs(p.sum() - 1.0) < 1e-12
    assert abs(GRID[int(np.argmax(p))] - 1.2) <= 0.051


def test_tsallis_inf_cb_learns_per_bin():
    tuner = _make(TsallisINFCB, bins=4)
    _run(tuner, 4000, contextual=True)
    assert tuner.bin_of(-5.0) == 0 and tuner.bin_of(5.0) == 3
    for c in (0.125, 0.875):
        p = tuner.probabilities(c)
        assert abs(p.sum() - 1.0) < 1e-12
        assert abs(GRID[int(np.argmax(p))] - (1.2 + 0.6 * c)) <= 0.11


def test_chebcb_regression_is_exact_for_linear_costs():
    # one arm: every observation feeds the same least-squares model
    tuner = ChebCB(grid=[1.5], context_range=(0.0, 2.0), seed=0, ridge=1e-8)
    rng = np.random.default_rng(0)
    for _ in range(200):
        c = float(rng.uniform(0, 2))
        tuner.suggest(c)
        tuner.observe(30.0 + 12.0 * c)
    for c in (0.0, 0.3, 1.0, 1.7, 2.0):
        np.testing.assert_allclose(tuner.predict(c), [30.0 + 12.0 * c], rtol=1e-6)


def test_chebcb_recovers_linear_cost_model():
    grid = np.linspace(1.0, 1.8, 5)
    alpha = np.array([60.0, 55.0, 50.0, 55.0, 60.0])
    beta = np.array([-20.0, -10.0, 0.0, 10.0, 20.0])   # arm 0 best for c > 1/2, arm 4 for c < -1/2
    tuner = ChebCB(grid=grid, context_range=(-1.0, 1.0), seed=0)
    rng = np.random.default_rng(0)
    total = best = 0.0
    for _ in range(1500):
        c = float(rng.uniform(-1, 1))
        w = tuner.suggest(c)
        i = int(np.argmin(np.abs(grid - w)))
        total += alpha[i] + beta[i] * c
        best += np.min(alpha + beta * c)
        tuner.observe(alpha[i] + beta[i] * c)
    assert total <= 1.05 * best
    counts = np.bincount(tuner.history["arm"], minlength=5)
    for c in (-0.95, -0.5, 0.0, 0.5, 0.95):
        true = alpha + beta * c
        pred = tuner.predict(c)
        np.testing.assert_allclose(pred, true, rtol=0.1)
        np.testing.assert_allclose(pred[counts >= 200], true[counts >= 200], rtol=0.05)
        p = tuner.probabilities(c)
        assert abs(p.sum() - 1.0) < 1e-12 and np.all(p >= 0)
    for c in (-0.95, 0.0, 0.95):
        assert int(np.argmax(tuner.probabilities(c))) == int(np.argmin(alpha + beta * c))


@pytest.mark.parametrize("cls", ALL)
def test_save_load_round_trip(cls, tmp_path):
    ctx = cls in (TsallisINFCB, ChebCB)
    a = _make(cls, seed=5)
    _run(a, 60, seed=2, contextual=ctx)
    path = tmp_path / "tuner.json"
    a.save(path)
    rest_a = _run(a, 40, seed=9, contextual=ctx)
    b = _make(cls, seed=123).load(path)   # the saved RNG state wins over the new seed
    assert b.t == 60 and len(b.history["cost"]) == 60
    rest_b = _run(b, 40, seed=9, contextual=ctx)
    np.testing.assert_array_equal(rest_a, rest_b)
    c = load_tuner(path)
    assert type(c) is cls and c.t == 60
    np.testing.assert_array_equal(_run(c, 40, seed=9, contextual=ctx), rest_a)


def test_save_with_pending_suggestion(tmp_path):
    a = TsallisINF(seed=0)
    w = a.suggest()
    a.save(tmp_path / "t.json")
    b = TsallisINF(seed=0).load(tmp_path / "t.json")
    b.observe(10)              # the pending suggestion survives
    assert b.history["omega"] == [w]


def test_load_rejects_mismatch_and_corruption(tmp_path):
    path = tmp_path / "t.json"
    TsallisINF(grid=GRID, seed=0).save(path)
    with pytest.raises(ValueError, match="grid"):
        TsallisINF(grid=np.linspace(1.0, 1.9, 20)).load(path)
    with pytest.raises(ValueError, match="Exp3|TsallisINF"):
        Exp3(grid=GRID).load(path)
    ChebCB(context_range=(0, 1)).save(tmp_path / "c.json")
    with pytest.raises(ValueError, match="context_range"):
        ChebCB(context_range=(0, 2)).load(tmp_path / "c.json")
    text = path.read_text()
    (tmp_path / "trunc.json").write_text(text[: len(text) // 2])
    with pytest.raises(ValueError, match="corrupt"):
        TsallisINF(grid=GRID).load(tmp_path / "trunc.json")
    (tmp_path / "other.json").write_text(json.dumps({"hello": 1}))
    with pytest.raises(ValueError, match="not a krylearn tuner"):
        load_tuner(tmp_path / "other.json")
    data = json.loads(text)
    data["state"]["L"] = [1.0, 2.0]
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="corrupt"):
        TsallisINF(grid=GRID).load(tmp_path / "bad.json")


def test_bad_input():
    t = TsallisINF()
    with pytest.raises(RuntimeError, match="pending"):
        t.observe(3)
    t.suggest()
    for bad in (-1, float("nan"), float("inf"), "x"):
        with pytest.raises(ValueError, match="cost"):
            t.observe(bad)
    with pytest.raises(ValueError, match="contextual"):
        ChebCB().suggest()
    with pytest.raises(ValueError, match="context_range"):
        ChebCB(context_range=(1, 1))
    with pytest.raises(ValueError, match="grid"):
        TsallisINF(grid=[1.0, np.nan])
    with pytest.raises(ValueError, match="seed"):
        TsallisINF(seed=1.5)
    with pytest.raises(ValueError, match="bins"):
        TsallisINFCB(bins=0)
    with pytest.raises(ValueError, match="scale"):
        TsallisINF(scale=-1)


def test_omega_grid():
    g = omega_grid()
    assert g.size == 20 and g[0] == 1.0 and g[-1] == 1.95
    g2 = omega_grid("ssor_cg", 10)
    assert g2[0] < 1.0 and abs(g2[0] - (2 * np.sqrt(2) - 2)) < 1e-15
    with pytest.raises(ValueError):
        omega_grid("foo")


def test_fixed_scale_and_exploration():
    t = TsallisINF(grid=GRID, seed=0, scale=100.0)
    p0 = t.probabilities()
    np.testing.assert_allclose(p0, 1.0 / GRID.size)
    _run(t, 100)
    assert t.t == 100

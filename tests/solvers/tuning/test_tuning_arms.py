"""Tests of the discrete-arm interface of the bandit tuners (krylearn.solvers.tuning.bandits) and of UCB."""

import json
import math

import numpy as np
import pytest

import krylearn as kl
from krylearn.solvers.tuning.contextual_tuners import ChebCB, TsallisINFCB
from krylearn.solvers.tuning.bandits import Exp3, TsallisINF, load_tuner, omega_grid, tuner_from_state
from krylearn.solvers.tuning.ucb import UCB

ARMS = ["a", "b", "c"]
COST = {"a": 1.0, "b": 3.0, "c": 5.0}
CONTEXTUAL = (TsallisINFCB, ChebCB)
ALL = [TsallisINF, Exp3, TsallisINFCB, ChebCB, UCB]


def _make(cls, seed=0, **kw):
    if cls in CONTEXTUAL:
        kw.setdefault("context_range", (0.0, 1.0))
    return cls(seed=seed, **kw)


def _ctx(cls, k=0):
    return (0.5 + 0.4 * math.sin(k)) if cls in CONTEXTUAL else None


def _play(tuner, cls, rounds, start=0, cost=None):
    cost = COST if cost is None else cost
    picks = []
    for k in range(start, start + rounds):
        arm = tuner.suggest(_ctx(cls, k))
        picks.append(arm)
        tuner.observe(cost[arm])
    return picks


def test_exported():
    assert kl.solvers.UCB is UCB


# -- arms for every tuner --------------------------------------------------------------------------
@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_suggest_returns_arms_and_concentrates_on_the_cheapest(cls):
    tuner = _make(cls, arms=ARMS)
    assert tuner.arm_names == ARMS and tuner.arms == {a: a for a in ARMS} and tuner.d == 3
    picks = _play(tuner, cls, 200)
    assert set(picks) <= set(ARMS)
    assert set(picks) == set(ARMS)                 # every arm was tried at least once
    last = picks[100:]
    assert last.count("a") >= 80, (cls.__name__, last.count("a"))
    p = tuner.probabilities(_ctx(cls, 200))
    assert p.shape == (3,) and abs(p.sum() - 1.0) < 1e-12
    assert int(np.argmax(p)) == tuner.index("a") == 0 and p[0] > 0.9
    assert tuner.t == 200
    h = tuner.history
    assert h["name"] == picks
    assert h["arm"] == [tuner.index(a) for a in picks]
    assert h["cost"] == [COST[a] for a in picks]
    assert h["omega"] == [None] * 200


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_mapping_arms_return_names(cls):
    arms = {"fast": {"solver": "cg", "pc": "mg"}, "slow": {"solver": "cg", "pc": None}}
    tuner = _make(cls, arms=arms)
    assert tuner.arm_names == ["fast", "slow"]
    assert tuner.arms == arms
    picks = _play(tuner, cls, 60, cost={"fast": 1.0, "slow": 4.0})
    assert set(picks) == {"fast", "slow"}          # names, never the config dicts
    assert tuner.arms[picks[0]] == arms[picks[0]]
    assert tuner.history["name"] == picks
    assert tuner.index("slow") == 1


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_tuple_arms(cls):
    arms = [("cg", "ic0"), ("cg", "mg"), ("gmres", 30)]
    tuner = _make(cls, arms=arms)
    assert tuner.arm_names == [str(a) for a in arms]
    cost = {arms[0]: 2.0, arms[1]: 1.0, arms[2]: 6.0}
    for k in range(30):
        arm = tuner.suggest(_ctx(cls, k))
        assert isinstance(arm, tuple) and arm in arms
        tuner.observe(cost[arm])
    assert tuner.index(("cg", "mg")) == 1
    assert tuner.index(str(("gmres", 30))) == 2
    assert tuner.arms[str(("gmres", 30))] == ("gmres", 30)
    with pytest.raises(ValueError, match="unknown arm"):
        tuner.index(("cg", "amg"))


def test_index_on_a_grid_tuner_raises():
    with pytest.raises(ValueError, match="arms"):
        TsallisINF(seed=0).index(1.0)


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_discard(cls):
    tuner = _make(cls, arms=ARMS)
    _play(tuner, cls, 5)
    hist = json.loads(json.dumps(tuner.history))
    tuner.suggest(_ctx(cls, 5))
    tuner.discard()
    with pytest.raises(RuntimeError):
        tuner.observe(1.0)
    assert tuner.t == 5 and tuner.history == hist
    tuner.discard()                                # no-op without a pending suggestion
    assert tuner.t == 5
    arm = tuner.suggest(_ctx(cls, 5))
    tuner.observe(COST[arm])
    assert tuner.t == 6 and tuner.history["name"][-1] == arm


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_load_tuner_round_trip_continues_identically(cls, tmp_path):
    rng = np.random.default_rng(7)
    noisy = lambda arm: COST[arm] * (1.0 + 0.05 * rng.standard_normal())  # noqa: E731

    def run(tuner, rounds, start):
        out = []
        for k in range(start, start + rounds):
            arm = tuner.suggest(_ctx(cls, k))
            out.append(arm)
            tuner.observe(noisy(arm))
        return out

    ref = _make(cls, seed=3, arms=ARMS)
    run(ref, 40, 0)
    saved_rng = rng.bit_generator.state
    path = ref.save(tmp_path / "t.json")
    expected = run(ref, 40, 40)

    rng.bit_generator.state = saved_rng
    loaded = load_tuner(path)
    assert type(loaded) is cls and loaded.arm_names == ARMS and loaded.t == 40
    assert len(loaded.history["name"]) == 40
    assert run(loaded, 40, 40) == expected
    assert loaded.history == ref.history
    np.testing.assert_array_equal(loaded.probabilities(_ctx(cls, 99)), ref.probabilities(_ctx(cls, 99)))
    # the same through the in-memory state dict
    rebuilt = tuner_from_state(json.loads(json.dumps(ref.state_dict())))
    assert rebuilt.history == ref.history and rebuilt.arm_names == ARMS


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_round_trip_with_a_pending_suggestion(cls, tmp_path):
    ref = _make(cls, seed=1, arms=ARMS)
    _play(ref, cls, 10)
    arm = ref.suggest(_ctx(cls, 10))
    path = ref.save(tmp_path / "t.json")
    loaded = load_tuner(path)
    loaded.observe(COST[arm])                      # the pending draw survives the round trip
    ref.observe(COST[arm])
    assert loaded.history == ref.history
    assert _play(loaded, cls, 20, start=11) == _play(ref, cls, 20, start=11)


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_load_into_a_tuner_with_the_same_arms(cls, tmp_path):
    ref = _make(cls, seed=3, arms=ARMS)
    _play(ref, cls, 25)
    path = ref.save(tmp_path / "t.json")
    expected = _play(ref, cls, 25, start=25)
    other = _make(cls, seed=99, arms=ARMS)
    assert other.load(path) is other
    assert _play(other, cls, 25, start=25) == expected


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_load_with_other_arms_raises(cls, tmp_path):
    ref = _make(cls, seed=0, arms=ARMS)
    _play(ref, cls, 5)
    path = ref.save(tmp_path / "t.json")
    for arms in (["a", "b", "d"], ["a", "b"], ["c", "b", "a"]):
        with pytest.raises(ValueError, match="arms"):
            _make(cls, arms=arms).load(path)
    with pytest.raises(ValueError):                # a file of arms loaded into a grid tuner
        _make(cls).load(path)


def test_numeric_arm_names_load(tmp_path):
    """Arms whose names parse as numbers do load into a tuner with the same arms."""
    ref = TsallisINF(arms=[1, 2, 4], seed=0)
    for _ in range(5):
        ref.observe({1: 3.0, 2: 1.0, 4: 2.0}[ref.suggest()])
    path = ref.save(tmp_path / "t.json")
    other = TsallisINF(arms=[1, 2, 4], seed=5).load(path)
    assert [other.suggest() for _ in range(1)] == [ref.suggest()]
    with pytest.raises(ValueError, match="arms"):
        TsallisINF(arms=[1, 2, 5]).load(path)


# -- argument checks -------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_bad_arms(cls):
    with pytest.raises(ValueError, match="not both"):
        _make(cls, grid=[1.0, 1.5], arms=ARMS)
    with pytest.raises(ValueError, match="distinct"):
        _make(cls, arms=["a", "b", "a"])
    with pytest.raises(ValueError, match="distinct"):
        _make(cls, arms=[1, "1"])                  # same name
    for empty in ([], {}, ()):
        with pytest.raises(ValueError, match="at least one"):
            _make(cls, arms=empty)
    with pytest.raises(ValueError):
        _make(cls, arms="abc")                     # a string is not a list of arms
    with pytest.raises(ValueError):
        _make(cls, arms=5)
    with pytest.raises(ValueError, match="strings"):
        _make(cls, arms={1: "x", 2: "y"})


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_omega_api_unchanged_without_arms(cls):
    tuner = _make(cls)
    assert tuner.arms is None and tuner.arm_names is None
    grid = omega_grid("sor")
    np.testing.assert_array_equal(tuner.grid, grid)
    for k in range(15):
        w = tuner.suggest(_ctx(cls, k))
        assert type(w) is float and np.any(np.isclose(w, grid, rtol=0, atol=1e-15))
        tuner.observe(10.0 + 40.0 * abs(w - 1.5))
    assert "name" not in tuner.history
    assert all(type(w) is float for w in tuner.history["omega"])


@pytest.mark.parametrize("cls", CONTEXTUAL, ids=lambda c: c.__name__)
def test_contextual_tuners_with_arms_need_a_context(cls):
    tuner = _make(cls, arms=ARMS)
    with pytest.raises(ValueError, match="context"):
        tuner.suggest()
    with pytest.raises(ValueError, match="context"):
        tuner.probabilities()
    assert tuner.suggest(0.3) in ARMS
    tuner.observe(1.0)
    assert tuner.history["context"] == [0.3]


# -- UCB ---------------------------------------------------------------------------------------------
def test_ucb_tries_untried_arms_in_order_then_the_cheapest():
    tuner = UCB(arms=["x", "y", "z"])
    assert np.all(np.isneginf(tuner.scores())) and np.all(np.isnan(tuner.means()))
    out = []
    for c in (5.0, 1.0, 3.0):
        out.append(tuner.suggest())
        tuner.observe(c)
    assert out == ["x", "y", "z"]
    np.testing.assert_array_equal(tuner.means(), [5.0, 1.0, 3.0])
    s = tuner.scores()
    assert np.all(np.isfinite(s)) and int(np.argmin(s)) == 1
    assert tuner.suggest() == "y"
    np.testing.assert_array_equal(tuner.probabilities(), [0.0, 1.0, 0.0])
    tuner.observe(1.0)
    assert _play(tuner, UCB, 10, cost={"x": 5.0, "y": 1.0, "z": 3.0}) == ["y"] * 10


def test_ucb_scores_follow_the_documented_rule():
    tuner = UCB(arms=["p", "q"], confidence=2.0, floor=0.05, prior=0.15)
    for arm, c in (("p", 2.0), ("q", 3.0), ("p", 2.4)):
        assert tuner.suggest() == arm
        tuner.observe(c)
    logt = math.log(tuner.t + 1.0)
    m_p, s_p = 2.2, max(np.std([2.0, 2.4], ddof=1), 0.05 * 2.2)
    m_q, s_q = 3.0, 0.15 * 3.0
    np.testing.assert_allclose(tuner.scores(), [m_p - 2.0 * s_p * math.sqrt(logt / 2),
                                                m_q - 2.0 * s_q * math.sqrt(logt / 1)], rtol=1e-12)


def test_ucb_is_deterministic_and_ignores_the_seed():
    a, b = UCB(arms=ARMS, seed=1), UCB(arms=ARMS, seed=2)
    assert _play(a, UCB, 50) == _play(b, UCB, 50)


@pytest.mark.parametrize("seed", range(5))
def test_ucb_plays_a_30_percent_slower_arm_a_handful_of_times(seed):
    rng = np.random.default_rng(seed)
    tuner = UCB(arms=["fast", "slow"])
    picks = []
    for _ in range(200):
        arm = tuner.suggest()
        picks.append(arm)
        tuner.observe((1.0 if arm == "fast" else 1.3) * (1.0 + 0.05 * rng.standard_normal()))
    assert 1 <= picks.count("slow") < 10
    assert picks[-20:].count("fast") >= 18


def test_ucb_window_follows_a_drift():
    """Only the last ``window`` costs count: an arm that became slow is abandoned."""
    tuner = UCB(arms=["a", "b"], window=5)
    cost = {"a": 1.0, "b": 2.0}
    _play(tuner, UCB, 20, cost=cost)
    cost["a"] = 10.0
    picks = _play(tuner, UCB, 30, cost=cost)
    assert picks[-10:] == ["b"] * 10
    n_a = picks.count("a")
    recent = [1.0] * (5 - n_a) + [10.0] * n_a if n_a < 5 else [10.0] * 5
    assert tuner.means()[0] == pytest.approx(np.mean(recent))
    assert tuner.means()[1] == 2.0


def test_ucb_over_a_grid():
    grid = [0.5, 1.0, 1.5]
    tuner = UCB(grid=grid)
    picks = []
    for _ in range(30):
        w = tuner.suggest()
        assert type(w) is float and w in grid
        picks.append(w)
        tuner.observe(1.0 + abs(w - 1.0))
    assert picks[:3] == grid and picks.count(1.0) >= 24


def test_ucb_round_trip(tmp_path):
    ref = UCB(arms=ARMS, window=7, confidence=1.5)
    _play(ref, UCB, 30)
    path = ref.save(tmp_path / "ucb.json")
    loaded = load_tuner(path)
    assert type(loaded) is UCB and loaded.window == 7 and loaded.confidence == 1.5
    np.testing.assert_array_equal(loaded.scores(), ref.scores())
    np.testing.assert_array_equal(loaded.means(), ref.means())
    assert _play(loaded, UCB, 20, start=30) == _play(ref, UCB, 20, start=30)


def test_ucb_bad_parameters():
    for kw in ({"confidence": -1.0}, {"floor": math.nan}, {"prior": -0.1}, {"window": 0}, {"window": 2.5},
               {"window": True}):
        with pytest.raises(ValueError):
            UCB(arms=ARMS, **kw)


def test_ucb_corrupt_state_file(tmp_path):
    ref = UCB(arms=ARMS)
    _play(ref, UCB, 6)
    path = tmp_path / "ucb.json"
    ref.save(path)
    good = json.loads(path.read_text())

    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "krylearn.tuner", "version": 1, ')   # truncated
    with pytest.raises(ValueError, match="JSON"):
        load_tuner(bad)
    bad.write_text(json.dumps({"hello": 1}))
    with pytest.raises(ValueError, match="not a krylearn tuner"):
        load_tuner(bad)

    for mutate in (lambda d: d["state"]["recent"].pop(),                  # state for 2 arms, not 3
                   lambda d: d["state"].__setitem__("plays", [1, 2]),
                   lambda d: d["state"]["recent"][0].__setitem__(0, -1.0),  # negative cost
                   lambda d: d["state"].pop("recent"),
                   lambda d: d["history"].pop("name")):
        data = json.loads(json.dumps(good))
        mutate(data)
        bad.write_text(json.dumps(data))
        with pytest.raises(ValueError, match="corrupt"):
            load_tuner(bad)
    data = json.loads(json.dumps(good))
    data["class"] = "NoSuchTuner"
    bad.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="unknown tuner class"):
        load_tuner(bad)

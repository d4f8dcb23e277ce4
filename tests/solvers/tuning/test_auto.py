"""Tests of AutoSolver (krylearn.solvers.tuning.auto) and its candidates (krylearn.solvers.tuning.candidates).

No assertion depends on wall times: the learning tests use ``cost="iterations"`` (deterministic)."""

import json
import math

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import krylearn as kl
from krylearn.pde.obstacles import ellipses_lshapes
from krylearn.solvers import AutoSolver, Status
from krylearn.solvers.tuning.candidates import BUILTIN, Candidate, builtin, default_candidates
from krylearn.solvers.tuning.bandits import TsallisINF
from krylearn.solvers.tuning.ucb import UCB

RTOL = 1e-8
INFO_KEYS = {"candidate", "chosen", "setup_time", "solve_time", "total_time", "setup_reused", "attempts",
             "overhead_time"}


@pytest.fixture(scope="module")
def grid_problem():
    mask = ellipses_lshapes((32, 32), seed=0)
    A = kl.pde.poisson((32, 32), mask=mask)
    b = np.random.default_rng(0).standard_normal(A.shape[0])
    x_ref = spla.spsolve(A.tocsr().tocsc(), b)
    return mask, A, b, x_ref


def _rhs(n, seed):
    return np.random.default_rng(seed).standard_normal(n)


def _check_solution(A, b, res, x_ref=None, rtol=RTOL):
    assert res.converged and res.status is Status.CONVERGED
    Ax = A @ res.x
    assert np.linalg.norm(b - Ax) <= 2.0 * rtol * np.linalg.norm(b)
    if x_ref is not None:
        assert np.linalg.norm(res.x - x_ref) <= 1e-5 * np.linalg.norm(x_ref)


# -- solving -----------------------------------------------------------------------------------------
def test_default_autosolver_converges_to_the_direct_solution(grid_problem):
    mask, A, b, x_ref = grid_problem
    auto = AutoSolver(seed=0)
    assert auto.candidates is None
    for step in range(4):
        bs = b if step == 0 else _rhs(A.shape[0], step)
        res = auto.solve(A, bs, rtol=RTOL)
        _check_solution(A, bs, res, x_ref if step == 0 else spla.spsolve(A.tocsr().tocsc(), bs))
        assert INFO_KEYS <= set(res.info)
        assert res.info["chosen"] in auto.candidates and res.info["candidate"] in auto.candidates
        att = res.info["attempts"]
        assert att[0]["candidate"] == res.info["chosen"] and att[-1]["candidate"] == res.info["candidate"]
        assert att[-1]["status"] == "converged"
        for key in ("setup_time", "solve_time", "total_time", "overhead_time"):
            assert res.info[key] >= 0.0
        assert res.info["total_time"] >= res.info["setup_time"] + res.info["solve_time"] - 1e-9
    assert auto.candidates[0] == "mg-cg"
    assert len(auto.history) == 4
    assert all(h["converged"] for h in auto.history)


def test_default_candidates_of_a_grid_operator(grid_problem):
    _, A, _, _ = grid_problem
    names = default_candidates(A)
    assert names[0] == "mg-cg"
    assert set(names) <= set(BUILTIN)
    assert "jacobi-cg" not in names and not any(n.startswith(("minres", "gmres", "bicgstab")) for n in names)


def test_spd_csr_matrix(grid_problem):
    _, A, b, x_ref = grid_problem
    C = A.tocsr()
    op = kl.aslinearoperator(C, positive_definite=True)
    names = default_candidates(op)
    assert names and names[0] == "ic0-cg"
    assert set(names) <= {"ic0-cg", "amg-cg", "ssor-cg", "jacobi-cg"}
    assert "mg-cg" not in names                    # needs a grid operator
    auto = AutoSolver(seed=0)
    for _ in range(3):
        _check_solution(C, b, auto.solve(op, b, rtol=RTOL), x_ref)
    assert auto.candidates == names


def test_symmetric_indefinite_matrix_gets_minres():
    C = kl.pde.poisson((16, 16), spacing=1.0).tocsr()
    S = (C - 1.3 * sp.identity(C.shape[0])).tocsr()          # inside the spectrum (0, 8)
    ev = np.linalg.eigvalsh(S.toarray())
    assert ev.min() < 0 < ev.max() and np.abs(ev).min() > 1e-3
    op = kl.aslinearoperator(S, symmetric=True, hermitian=True)
    names = default_candidates(op)
    assert names and all(n.startswith("minres") for n in names)
    b = _rhs(S.shape[0], 1)
    auto = AutoSolver(seed=0)
    res = auto.solve(op, b, rtol=RTOL)
    _check_solution(S, b, res, np.linalg.solve(S.toarray(), b))
    assert res.info["candidate"].startswith("minres")


def test_nonsymmetric_matrix_gets_gmres_or_bicgstab():
    C = kl.pde.poisson((16, 16), spacing=1.0).tocsr()
    N = (C + sp.diags([0.7 * np.ones(C.shape[0] - 1)], [1])).tocsr()   # convection-like upper band
    names = default_candidates(N)
    assert names and all(n.startswith(("gmres", "bicgstab")) for n in names)
    b = _rhs(N.shape[0], 2)
    auto = AutoSolver(seed=0)
    for _ in range(2):
        res = auto.solve(N, b, rtol=RTOL)
        _check_solution(N, b, res, np.linalg.solve(N.toarray(), b))


def test_grid_candidate_on_a_matrix_raises(grid_problem):
    _, A, b, _ = grid_problem
    with pytest.raises(ValueError, match="grid operator"):
        AutoSolver(["mg-cg"]).solve(A.tocsr(), b)


# -- set-up caching ------------------------------------------------------------------------------------
def test_setup_is_reused_for_the_same_operator_object(grid_problem):
    mask, A, b, x_ref = grid_problem
    auto = AutoSolver(["mg-cg"], warm_start=False)
    r1 = auto.solve(A, b, rtol=RTOL)
    r2 = auto.solve(A, _rhs(A.shape[0], 5), rtol=RTOL)
    assert r1.info["setup_reused"] is False and r2.info["setup_reused"] is True
    assert r2.info["setup_time"] == 0.0 and r2.info["attempts"][0]["setup_time"] == 0.0
    assert auto.stats["mg-cg"]["setups"] == 1
    A_new = kl.pde.poisson((32, 32), mask=mask)                   # equal operator, new object
    r3 = auto.solve(A_new, b, rtol=RTOL)
    assert r3.info["setup_reused"] is False and auto.stats["mg-cg"]["setups"] == 2
    _check_solution(A, b, r3, x_ref)
    r4 = auto.solve(A_new, b, rtol=RTOL)
    assert r4.info["setup_reused"] is True
    auto.invalidate()
    r5 = auto.solve(A_new, b, rtol=RTOL)
    assert r5.info["setup_reused"] is False and auto.stats["mg-cg"]["setups"] == 3
    auto.invalidate("mg-cg")
    assert auto.solve(A_new, b, rtol=RTOL).info["setup_reused"] is False
    auto.invalidate("not-there")                                   # harmless
    assert auto.solve(A_new, b, rtol=RTOL).info["setup_reused"] is True


def test_in_place_modification_of_a_csr_matrix_is_detected(grid_problem):
    _, A, b, x_ref = grid_problem
    C = A.tocsr().copy()
    auto = AutoSolver(["ic0-cg"])
    _check_solution(C, b, auto.solve(C, b, rtol=RTOL), x_ref)
    assert auto.solve(C, b, rtol=RTOL).info["setup_reused"] is True
    C.data *= 2.0
    res = auto.solve(C, b, rtol=RTOL)
    assert res.info["setup_reused"] is False and auto.stats["ic0-cg"]["setups"] == 2
    _check_solution(C, b, res, 0.5 * x_ref)
    assert auto.solve(C, b, rtol=RTOL).info["setup_reused"] is True


# -- candidates -----------------------------------------------------------------------------------------
def test_user_candidate_function_is_called(grid_problem):
    _, A, b, x_ref = grid_problem
    calls = []

    def mine(A_, b_, x0, rtol):
        calls.append((A_, np.array(b_), None if x0 is None else np.array(x0), rtol))
        return kl.cg(A_, b_, x0, rtol=rtol, M=kl.precond.jacobi(A_))

    auto = AutoSolver({"mine": mine})
    res = auto.solve(A, b, rtol=1e-9)
    assert len(calls) == 1 and calls[0][0] is A and calls[0][2] is None and calls[0][3] == 1e-9
    np.testing.assert_array_equal(calls[0][1], b)
    _check_solution(A, b, res, x_ref, rtol=1e-9)
    assert res.info["candidate"] == res.info["chosen"] == "mine"
    b2 = _rhs(A.shape[0], 3)
    auto.solve(A, b2, rtol=1e-9)
    np.testing.assert_array_equal(calls[1][2], res.x)              # warm start from the previous x
    assert auto.candidates == ["mine"]


def test_mixed_candidate_forms(grid_problem):
    _, A, b, x_ref = grid_problem
    cand = Candidate("plain", lambda A, b, x0, rtol, atol, state, cb: kl.cg(A, b, x0, rtol=rtol, atol=atol))
    auto = AutoSolver({"fast": "mg-cg", "cg": None, "p": cand}, cost="iterations")
    assert auto.candidates == ["fast", "cg", "p"]
    for _ in range(4):
        _check_solution(A, b, auto.solve(A, b, rtol=RTOL), x_ref)
    auto2 = AutoSolver([builtin("jacobi-cg"), "cg"])
    assert auto2.candidates == ["jacobi-cg", "cg"]


def test_bad_candidates():
    with pytest.raises(ValueError, match="mg-cg") as exc:
        AutoSolver(["no-such-solver"])
    assert "no-such-solver" in str(exc.value)
    with pytest.raises(ValueError, match="mg-cg"):
        builtin("nope")
    with pytest.raises(ValueError):
        AutoSolver(["cg", "cg"])
    with pytest.raises(ValueError):
        AutoSolver([])
    with pytest.raises(ValueError):
        AutoSolver([42])
    with pytest.raises(ValueError):
        AutoSolver([lambda A, b, x0, rtol: None])                  # a function needs a name
    with pytest.raises(TypeError):
        Candidate("x", solve=3)
    with pytest.raises(ValueError):
        Candidate("", solve=lambda *a: None)


def test_a_raising_candidate_falls_back(grid_problem):
    _, A, b, x_ref = grid_problem

    def boom(A, b, x0, rtol):
        raise RuntimeError("kaboom")

    auto = AutoSolver({"boom": boom, "mg-cg": None}, cost="iterations")
    res = auto.solve(A, b, rtol=RTOL)
    _check_solution(A, b, res, x_ref)
    att = res.info["attempts"]
    assert res.info["chosen"] == "boom" and res.info["candidate"] == "mg-cg"
    assert att[0]["status"] == "error" and "kaboom" in att[0]["error"] and att[1]["status"] == "converged"
    assert auto.stats["boom"]["failures"] == 1 and auto.stats["boom"]["chosen"] == 1
    assert auto.stats["mg-cg"]["failures"] == 0
    assert auto.history[0]["fallbacks"] == 1 and auto.history[0]["converged"]
    for _ in range(6):                                             # every call still converges
        res = auto.solve(A, b, rtol=RTOL)
        _check_solution(A, b, res, x_ref)
        assert res.info["candidate"] == "mg-cg"
    n_boom = sum(h["chosen"] == "boom" for h in auto.history)
    assert auto.report()["boom"]["failures"] == auto.stats["boom"]["failures"] == n_boom
    assert auto.report()["boom"]["chosen"] == n_boom


def test_a_failing_candidate_is_rarely_chosen(grid_problem):
    _, A, b, _ = grid_problem

    def boom(A, b, x0, rtol):
        raise RuntimeError("kaboom")

    auto = AutoSolver({"boom": boom, "mg-cg": None}, cost="iterations", warm_start=False)
    for _ in range(12):
        assert auto.solve(A, b, rtol=RTOL).converged
    chosen = [h["chosen"] for h in auto.history]
    assert chosen.count("boom") <= 3, chosen


def test_a_candidate_returning_garbage_falls_back(grid_problem):
    _, A, b, x_ref = grid_problem
    auto = AutoSolver({"junk": lambda A, b, x0, rtol: np.zeros(A.shape[0]), "cg": None})
    res = auto.solve(A, b, rtol=RTOL)
    _check_solution(A, b, res, x_ref)
    assert res.info["attempts"][0]["status"] == "error" and "SolverResult" in res.info["attempts"][0]["error"]


def test_a_non_converged_candidate_falls_back(grid_problem):
    _, A, b, x_ref = grid_problem
    short = lambda A, b, x0, rtol: kl.cg(A, b, x0, rtol=rtol, maxiter=1)  # noqa: E731
    auto = AutoSolver({"short": short, "mg-cg": None}, cost="iterations")
    res = auto.solve(A, b, rtol=RTOL)
    _check_solution(A, b, res, x_ref)
    att = res.info["attempts"]
    assert [a["candidate"] for a in att] == ["short", "mg-cg"]
    assert att[0]["status"] == "max_iterations" and att[0]["iterations"] == 1
    assert auto.stats["short"]["failures"] == 1


@pytest.mark.parametrize("kind", ["raise", "short"])
def test_when_every_candidate_fails_the_result_says_so(grid_problem, kind):
    _, A, b, x_ref = grid_problem
    calls = []

    def bad(A_, b_, x0, rtol):
        calls.append(x0)
        if kind == "raise":
            raise RuntimeError("nope")
        return kl.cg(A_, b_, x0, rtol=rtol, maxiter=1)

    auto = AutoSolver({"bad": bad})
    res = auto.solve(A, b, rtol=RTOL)
    assert not res.converged and res.status is not Status.CONVERGED
    assert res.status is (Status.BREAKDOWN if kind == "raise" else Status.MAX_ITERATIONS)
    assert np.linalg.norm(b - A @ res.x) > RTOL * np.linalg.norm(b)  # x is not claimed to be a solution
    assert auto.history[-1]["converged"] is False
    assert auto.stats["bad"]["failures"] == 1
    auto.solve(A, b, rtol=RTOL)
    assert calls[1] is None                                        # no warm start from a failed solve
    with pytest.raises(kl.SolverError):
        res.raise_if_failed()


def test_cost_iterations(grid_problem):
    _, A, b, _ = grid_problem
    auto = AutoSolver(["mg-cg"], cost="iterations", warm_start=False)
    its = []
    for k in range(3):
        res = auto.solve(A, _rhs(A.shape[0], 10 + k), rtol=RTOL)
        its.append(res.iterations)
    assert auto.history[0]["cost"] is None                         # the cold first call is not charged
    assert [h["cost"] for h in auto.history[1:]] == [float(i) for i in its[1:]]
    assert auto.stats["mg-cg"]["costs"] == [float(i) for i in its[1:]]
    assert auto.tuner.history["cost"] == [float(i) for i in its[1:]]
    rep = auto.report()
    assert rep.cost == "iterations" and "its" in str(rep)
    assert rep["mg-cg"]["mean_cost"] == pytest.approx(np.mean(its[1:]))


def test_the_tuner_learns_the_faster_candidate():
    A = kl.pde.poisson((48, 48))
    auto = AutoSolver(["cg", "mg-cg"], cost="iterations", warm_start=False)
    for k in range(16):
        b = _rhs(A.shape[0], 100 + k)
        _check_solution(A, b, auto.solve(A, b, rtol=RTOL))
    chosen = [h["chosen"] for h in auto.history]
    assert chosen[:2] == ["cg", "cg"]                               # cold call (not charged), then measured
    assert chosen[-8:] == ["mg-cg"] * 8
    assert chosen.count("cg") <= 4
    rep = auto.report()
    assert rep["mg-cg"]["mean_cost"] * 3 < rep["cg"]["mean_cost"]
    assert rep["mg-cg"]["probability"] == 1.0


def test_a_bandit_tuner_class_or_instance(grid_problem):
    _, A, b, x_ref = grid_problem
    auto = AutoSolver(["mg-cg", "cg"], tuner=TsallisINF, seed=3, cost="iterations")
    assert isinstance(auto.tuner, TsallisINF) and auto.tuner.arm_names == ["mg-cg", "cg"]
    for _ in range(3):
        _check_solution(A, b, auto.solve(A, b, rtol=RTOL), x_ref)
    t = UCB(arms=["mg-cg", "cg"])
    assert AutoSolver(["mg-cg", "cg"], tuner=t).tuner is t
    with pytest.raises(ValueError, match="arms"):
        AutoSolver(["mg-cg", "cg"], tuner=UCB(arms=["cg", "mg-cg"]))
    with pytest.raises(ValueError, match="arms"):
        AutoSolver(["mg-cg", "cg"], tuner=UCB(arms=["x", "y"]))
    with pytest.raises(ValueError, match="arms"):
        AutoSolver(["mg-cg", "cg"], tuner=TsallisINF(seed=0))     # an ω tuner
    ctx = AutoSolver(["mg-cg", "cg"], tuner=kl.solvers.ChebCB(arms=["mg-cg", "cg"], context_range=(0, 1)))
    with pytest.raises(ValueError, match="context"):
        ctx.solve(A, b, rtol=RTOL)
    _check_solution(A, b, ctx.solve(A, b, rtol=RTOL, context=0.5), x_ref)


def test_bad_constructor_arguments():
    for kw in ({"cost": "money"}, {"explore_cap": 0.5}, {"explore_cap": 1.0}, {"explore_cap": True},
               {"penalty": 0}, {"penalty": 0.5}, {"penalty": math.nan}):
        with pytest.raises(ValueError):
            AutoSolver(["cg"], **kw)
    AutoSolver(["cg"], explore_cap=None)


def test_bad_right_hand_sides_are_rejected_before_any_solve(grid_problem):
    _, A, b, _ = grid_problem
    calls = []
    auto = AutoSolver({"mine": lambda A, b, x0, rtol: calls.append(1) or kl.cg(A, b, x0, rtol=rtol)})
    bad_nan = b.copy()
    bad_nan[3] = np.nan
    bad_inf = b.copy()
    bad_inf[0] = np.inf
    for bad in (b[:-1], np.concatenate([b, b]), b.reshape(-1, 1), bad_nan, bad_inf):
        with pytest.raises(ValueError):
            auto.solve(A, bad)
    with pytest.raises(ValueError, match="square"):
        auto.solve(sp.random(5, 4, density=0.5, format="csr"), np.ones(5))
    assert calls == [] and auto.history == [] and auto.tuner.t == 0


def test_warm_start(grid_problem):
    _, A, b, x_ref = grid_problem
    warm = AutoSolver(["mg-cg"])
    r1 = warm.solve(A, b, rtol=RTOL)
    r2 = warm.solve(A, b, rtol=RTOL)
    assert r1.iterations >= 3 and r2.iterations <= 1 and r2.iterations < r1.iterations
    _check_solution(A, b, r2, x_ref)
    b3 = b + 1e-6 * _rhs(A.shape[0], 9)                           # a nearby system: fewer iterations
    r3 = warm.solve(A, b3, rtol=RTOL)
    cold = AutoSolver(["mg-cg"], warm_start=False)
    cold.solve(A, b, rtol=RTOL)
    c2 = cold.solve(A, b, rtol=RTOL)
    c3 = cold.solve(A, b3, rtol=RTOL)
    assert c2.iterations == r1.iterations and r3.iterations < c3.iterations
    x0 = np.zeros(A.shape[0])                                      # an explicit x0 wins over the warm start
    assert warm.solve(A, b, x0, rtol=RTOL).iterations == r1.iterations


# -- persistence and reporting --------------------------------------------------------------------------
def _same_report(r1, r2, skip=()):
    assert list(r1) == list(r2)
    if not skip:
        assert str(r1) == str(r2)
    for name in r1:
        assert set(r1[name]) == set(r2[name])
        for key, v in r1[name].items():
            if key in skip:
                continue
            w = r2[name][key]
            assert (math.isnan(v) and math.isnan(w)) if isinstance(v, float) and math.isnan(v) else v == w


def test_save_load_round_trip(grid_problem, tmp_path):
    _, A, _, _ = grid_problem
    auto = AutoSolver(["cg", "mg-cg", "jacobi-cg"], cost="iterations", warm_start=False, seed=4, penalty=3.0)
    for k in range(6):
        auto.solve(A, _rhs(A.shape[0], 200 + k), rtol=RTOL)
    path = auto.save(tmp_path / "auto.json")
    loaded = AutoSolver.load(path)
    assert loaded.candidates == auto.candidates and loaded.cost == "iterations" and loaded.penalty == 3.0
    assert loaded.warm_start is False and loaded.seed == 4
    assert len(loaded.history) == len(auto.history) == 6
    assert loaded.history == json.loads(json.dumps(auto.history))
    assert loaded.stats == auto.stats
    assert loaded.tuner.t == auto.tuner.t and type(loaded.tuner) is UCB
    _same_report(loaded.report(), auto.report())
    for k in range(4):                                             # and the two continue identically
        b = _rhs(A.shape[0], 300 + k)
        r_a, r_l = auto.solve(A, b, rtol=RTOL), loaded.solve(A, b, rtol=RTOL)
        assert r_a.info["chosen"] == r_l.info["chosen"] and r_a.iterations == r_l.iterations
    # set-ups are not saved (the loaded solver rebuilds them); everything else agrees
    _same_report(loaded.report(), auto.report(), skip=("setups", "setup_time"))
    assert loaded.report()["mg-cg"]["setups"] == auto.report()["mg-cg"]["setups"] + 1


def test_load_with_user_candidates(grid_problem, tmp_path):
    _, A, b, x_ref = grid_problem
    f = lambda A, b, x0, rtol: kl.cg(A, b, x0, rtol=rtol)  # noqa: E731
    auto = AutoSolver({"mine": f, "mg-cg": None}, cost="iterations")
    for _ in range(3):
        auto.solve(A, b, rtol=RTOL)
    path = auto.save(tmp_path / "auto.json")
    with pytest.raises(ValueError, match="mine"):
        AutoSolver.load(path)
    with pytest.raises(ValueError):
        AutoSolver.load(path, candidates={"other": f, "mg-cg": None})
    loaded = AutoSolver.load(path, candidates={"mine": f, "mg-cg": None})
    _same_report(loaded.report(), auto.report())
    _check_solution(A, b, loaded.solve(A, b, rtol=RTOL), x_ref)


def test_load_corrupt_files(grid_problem, tmp_path):
    _, A, b, _ = grid_problem
    auto = AutoSolver(["mg-cg", "cg"], cost="iterations")
    auto.solve(A, b, rtol=RTOL)
    path = tmp_path / "auto.json"
    auto.save(path)
    good = json.loads(path.read_text())
    bad = tmp_path / "bad.json"
    bad.write_text(path.read_text()[:-20])
    with pytest.raises(ValueError, match="JSON"):
        AutoSolver.load(bad)
    bad.write_text(json.dumps({"format": "something.else"}))
    with pytest.raises(ValueError, match="not a krylearn AutoSolver"):
        AutoSolver.load(bad)
    for mutate in (lambda d: d.pop("stats"), lambda d: d.pop("candidates"),
                   lambda d: d.__setitem__("tuner", {"garbage": 1}),
                   lambda d: d["tuner"]["state"].pop("recent"),
                   lambda d: d.__setitem__("version", 99)):
        data = json.loads(json.dumps(good))
        mutate(data)
        bad.write_text(json.dumps(data))
        with pytest.raises(ValueError):
            AutoSolver.load(bad)


def test_save_before_anything_raises(tmp_path):
    with pytest.raises(RuntimeError):
        AutoSolver().save(tmp_path / "x.json")
    assert dict(AutoSolver().report()) == {}


def test_plot_writes_a_png(grid_problem, tmp_path):
    pytest.importorskip("matplotlib")
    _, A, b, _ = grid_problem
    auto = AutoSolver(["mg-cg", "cg"], cost="iterations")
    for _ in range(4):
        auto.solve(A, b, rtol=RTOL)
    out = tmp_path / "auto.png"
    fig = auto.plot(out, title="test")
    assert fig is not None
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000
    AutoSolver(["cg"]).plot(tmp_path / "empty.png")               # no history: still a figure
    assert (tmp_path / "empty.png").exists()


def test_in_place_modification_through_a_wrapper_is_detected(grid_problem):
    """``kl.aslinearoperator(C, positive_definite=True)`` shares C's data: editing C in place must
    rebuild the cached set-up (the fingerprint samples the wrapped matrix)."""
    _, A, b, _ = grid_problem
    C = A.tocsr().copy()
    op = kl.aslinearoperator(C, positive_definite=True)
    auto = kl.solvers.AutoSolver(["ic0-cg"])
    assert auto.solve(op, b, rtol=1e-8).converged
    assert auto.solve(op, b, rtol=1e-8, x0=np.zeros_like(b)).info["setup_reused"]
    C.data *= 3.0
    res = auto.solve(op, b, rtol=1e-8, x0=np.zeros_like(b))
    assert not res.info["setup_reused"]
    x_ref = spla.spsolve(C.tocsc(), b)
    np.testing.assert_allclose(res.x, x_ref, rtol=1e-5, atol=1e-8 * np.abs(x_ref).max())


def test_contextual_tuner_learns_a_choice_per_context():
    """A contextual UCB learns that the cheapest candidate depends on the context (cost=iterations,
    deterministic): plain CG for a nearly diagonal system, multigrid-PCG for the Laplacian."""
    from krylearn.solvers.tuning.ucb import UCB
    lap = kl.pde.poisson((32, 32), spacing=1.0)
    n = lap.shape[0]
    near_identity = kl.aslinearoperator(sp.identity(n, format="csr") * 10.0 + 1e-3 * lap.tocsr(),
                                        positive_definite=True)
    tuner = UCB(arms=["cg", "ic0-cg"], context_range=(0.0, 1.0), bins=2)
    auto = kl.solvers.AutoSolver(["cg", "ic0-cg"], tuner=tuner, cost="iterations", warm_start=False)
    rng = np.random.default_rng(5)
    for step in range(40):
        ctx = step % 2
        A = near_identity if ctx == 0 else lap
        res = auto.solve(A, rng.standard_normal(n), rtol=1e-8, context=0.2 if ctx == 0 else 0.8)
        assert res.converged
    means0, means1 = tuner.means(0.2), tuner.means(0.8)
    assert means1[1] < means1[0]                     # IC(0) wins on the Laplacian
    assert means0[0] <= means0[1] + 1                 # plain CG is as good on the near-identity
    assert tuner.suggest(0.8) == "ic0-cg"

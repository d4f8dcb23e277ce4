"""AutoSolver: online selection of the fastest solver across the systems of a time loop.

A simulation solves ``A_t x = b_t`` every step; obstacles move, coefficients change, right-hand
sides always change. Which solver and preconditioner is fastest — counting the set-up a user pays
whenever the operator changes — depends on the size, the shape and the step, and is unknown in
advance. :class:`AutoSolver` learns it while the simulation runs: each step a bandit tuner over the
candidates (:mod:`krylearn.solvers.tuning.candidates`) picks one, AutoSolver runs it (re-using its set-up
while the operator is the same object and unmodified, warm-starting from the previous step's
solution), and reports the wall time (or the iterations) back as the bandit's cost.

The bandit machinery is Learning to Relax's (M. Khodak, E. Chow, M.-F. Balcan, A. Talwalkar,
ICLR 2024) over discrete arms; the default tuner is :class:`~krylearn.solvers.UCB`, whose
confidence bound suits the nearly deterministic costs of solver timings (see its docstring; any
tuner of :mod:`krylearn.solvers.tuning.bandits`, contextual ones included, can be passed instead).

Cost of the choice: the tuner step, the set-up fingerprint and the bookkeeping take ≈ 10–50 µs per call
(measured in ``benchmarks/workloads.py``: 0.1–0.4 % of 20–100 ms smoke-simulation steps, ≈ 1 % of 4 ms
heat-equation steps); below a few milliseconds per solve, fix the candidate instead.

Safeguards: an exploratory solve (a candidate other than the current best) is stopped once it has
taken ``explore_cap`` times the best candidate's mean cost, and charged that time; a candidate that
raises or does not converge is charged a penalty; in both cases the same call continues with the
next candidate (best mean cost first) from the iterate reached, so ``solve`` returns a converged
result or, when every candidate failed, an honest failure status — never a silent wrong ``x``.
"""

from __future__ import annotations

import math
import numbers
import time
from typing import TYPE_CHECKING, Any, Callable, Union

import numpy as np

from ...operators.convert import aslinearoperator
from .candidates import BUILTIN, Candidate, builtin, default_candidates
from .cost_ledger import CostLedger
from ..result import SolverResult, Status
from .bandits import Tuner, read_tagged_json, tuner_from_state, write_json
from ...typing import _is_a

if TYPE_CHECKING:  # annotations only
    from collections.abc import Mapping, Sequence
    from typing import Literal, Self

    from matplotlib.figure import Figure

    from ...typing import ArrayLike, OperatorLike
    from .bandits import PathLike

    #: ``candidates=``: built-in names or Candidate objects, or a mapping name -> built-in name,
    #: Candidate, ``f(A, b, x0, rtol) -> SolverResult`` or None (the built-in of that name)
    Candidates = Union[Sequence[Union[str, Candidate]],
                       Mapping[str, Union[str, Candidate, Callable[..., SolverResult], None]]]

__all__ = ["AutoSolver"]

_FORMAT = "krylearn.autosolver"
_VERSION = 1
_COSTS = ("time", "iterations")


def _fingerprint(A):
    """A cheap fingerprint of an operator's data: shape, size and a strided sample of the stored
    values (≤ 256 of them). Detects re-assembly and most in-place edits at microseconds per
    call; an in-place edit that misses every sampled entry is not seen (call ``invalidate()``).
    Operators that wrap a matrix (``kl.aslinearoperator(C, positive_definite=True)``) are
    fingerprinted by the wrapped matrix."""
    for _ in range(4):  # unwrap retagged / converted operators down to the stored matrix
        inner = getattr(A, "A", None)
        if inner is None and type(A).__name__ == "_Retagged":
            inner = A.args[0]
        if inner is None or inner is A:
            break
        A = inner
    data = getattr(A, "data", None) if hasattr(A, "nnz") else (A if isinstance(A, np.ndarray) else None)
    if data is None:
        return (A.shape,)
    flat = np.asarray(data).reshape(-1)
    step = max(1, flat.size // 256)
    sample = flat[::step]
    return (A.shape, flat.size, hash(sample.tobytes()), getattr(A, "nnz", None))


class _CacheEntry:
    __slots__ = ("operator", "fingerprint", "state", "time")

    def __init__(self, operator, fingerprint, state, seconds):
        self.operator, self.fingerprint, self.state, self.time = operator, fingerprint, state, seconds


class AutoSolver:
    """Pick, step after step, the candidate solver that is fastest on the user's sequence of systems.

    Parameters
    ----------
    candidates : list or dict, optional
        Built-in candidate names (:data:`krylearn.solvers.tuning.candidates.BUILTIN`), :class:`Candidate`
        objects, or a mapping ``{name: f(A, b, x0, rtol) -> SolverResult}`` (values may also be
        built-in names, Candidate objects or None for the built-in of that name). Default: the
        candidates that fit the first operator (:func:`~krylearn.solvers.tuning.candidates.default_candidates`).
    tuner : Tuner class or instance, optional
        The bandit. A class is constructed as ``tuner(arms=names, seed=seed)``; an instance must have
        been built with ``arms=`` equal to the candidate names. Default :class:`~krylearn.solvers.UCB`.
    cost : {"time", "iterations"}
        What the bandit minimises: wall seconds including the set-up paid in that step (default),
        or Krylov iterations.
    seed : int, optional
        Seed of the tuner (when AutoSolver constructs it).
    warm_start : bool
        Start each solve from the previous solution when ``x0`` is not given and the sizes agree.
    explore_cap : float or None
        Stop an exploratory solve after this many times the best mean cost (default 2.5; None: never).
    penalty : float
        A failed attempt is charged ``penalty ×`` the largest mean cost seen (at least its own time).

    Examples
    --------
    >>> import numpy as np, krylearn as kl
    >>> auto = kl.solvers.AutoSolver(seed=0)
    >>> for step in range(50):                                  # doctest: +SKIP
    ...     A = kl.pde.poisson((256, 256), mask=fluid_mask(step))
    ...     res = auto.solve(A, divergence(step), rtol=1e-6)
    ...     print(res.info["candidate"], res.iterations, res.info["setup_time"], res.info["solve_time"])
    >>> print(auto.report())                                    # doctest: +SKIP
    """

    cost: Literal["time", "iterations"]
    seed: int | None
    warm_start: bool
    explore_cap: float | None
    penalty: float
    #: the tuner, the candidates by name and the cost ledger: None until the candidates are known
    tuner: Tuner | None
    _candidates: dict[str, Candidate] | None
    _ledger: CostLedger | None
    _tuner_arg: type[Tuner] | Tuner | None
    _cache: dict[str, _CacheEntry]
    _x_prev: np.ndarray | None
    _checked: set[type]
    _tuner_time: float
    _cache_time: float
    history: list[dict[str, Any]]

    def __init__(self, candidates: Candidates | None = None, *, tuner: type[Tuner] | Tuner | None = None,
                 cost: Literal["time", "iterations"] = "time", seed: int | None = None, warm_start: bool = True,
                 explore_cap: float | None = 2.5, penalty: float = 2.0) -> None:
        if cost not in _COSTS:
            raise ValueError(f"cost must be one of {_COSTS}, got {cost!r}")
        if explore_cap is not None and (isinstance(explore_cap, bool) or not _is_a(explore_cap, numbers.Real)
                                        or not explore_cap > 1):
            raise ValueError(f"explore_cap must be a number > 1 or None, got {explore_cap!r}")
        if isinstance(penalty, bool) or not _is_a(penalty, numbers.Real) or not penalty >= 1:
            raise ValueError(f"penalty must be a number >= 1, got {penalty!r}")
        self.cost, self.seed, self.warm_start = cost, seed, bool(warm_start)
        self.explore_cap, self.penalty = explore_cap, float(penalty)
        self._tuner_arg = tuner
        self._cache = {}
        self._x_prev = None
        self._checked = set()
        self._tuner_time = self._cache_time = 0.0
        self._ledger = None
        self.history = []  # one dict per solve call
        self._candidates = None if candidates is None else self._parse(candidates)
        self.tuner = None
        if self._candidates is not None:
            self._make_tuner()

    # -- configuration --------------------------------------------------------------------------
    @staticmethod
    def _parse(candidates):
        items = candidates.items() if isinstance(candidates, dict) else [(None, c) for c in candidates]
        out = {}
        for name, c in items:
            if isinstance(c, Candidate):
                cand = c
            elif isinstance(c, str) or (c is None and name is not None):
                cand = builtin(c if isinstance(c, str) else name)
            elif callable(c) and name is not None:
                cand = Candidate.from_function(name, c)
            else:
                raise ValueError(f"a candidate must be a built-in name {list(BUILTIN)}, a Candidate, or "
                                 f"name -> f(A, b, x0, rtol) in a dict; got {c!r}")
            key = name if name is not None else cand.name
            if key in out:
                raise ValueError(f"candidate {key!r} is given twice")
            if key != cand.name:
                cand = Candidate(key, cand._solve, cand._setup, requires=cand.requires, package=cand.package,
                                 description=cand.description)
            out[key] = cand
        if not out:
            raise ValueError("candidates must name at least one solver")
        return out

    def _make_tuner(self):
        names = list(self._candidates)
        t = self._tuner_arg
        if t is None or isinstance(t, type):
            from .ucb import UCB
            cls = UCB if t is None else t
            self.tuner = cls(arms=names, seed=self.seed)
        else:
            if getattr(t, "arm_names", None) != names:
                raise ValueError(f"the tuner was built for arms {getattr(t, 'arm_names', None)}, the candidates "
                                 f"are {names}: construct it with arms={names}")
            self.tuner = t
        self._ledger = CostLedger(names, self.penalty, 1.0 if self.cost == "iterations" else 1e-3,
                                  fields={"setups": 0, "setup_time": 0.0})

    @property
    def stats(self) -> dict[str, dict[str, Any]]:
        """Per candidate: ``chosen``, charged ``costs``, ``failures``, ``setups``, ``setup_time``."""
        return {} if self._ledger is None else self._ledger.stats

    @property
    def candidates(self) -> list[str] | None:
        """Candidate names (None until the first solve when chosen from the operator)."""
        return None if self._candidates is None else list(self._candidates)

    def invalidate(self, name: str | None = None) -> None:
        """Drop the cached set-up of one candidate (or all): the operator was modified in place."""
        if name is None:
            self._cache.clear()
        else:
            self._cache.pop(name, None)

    # -- solving --------------------------------------------------------------------------------
    def solve(self, A: OperatorLike, b: ArrayLike, x0: ArrayLike | None = None, *, rtol: float = 1e-6,
              atol: float = 0.0, context: float | None = None, time_limit: float | None = None) -> SolverResult:
        """Solve ``A x = b`` with the candidate the tuner picks (falling back on failure).

        ``time_limit`` (seconds, optional) stops the call's solves once that much time has passed
        (status USER_STOP, ``info["reason"]``): a hard budget per step, e.g. for a benchmark.

        Returns the :class:`SolverResult` of the attempt that produced ``x``, with ``info``:
        ``candidate`` (that attempt's candidate), ``chosen`` (the tuner's pick), ``setup_time`` /
        ``solve_time`` / ``total_time`` (seconds, all attempts of this call), ``setup_reused``,
        ``attempts`` (a list of ``{candidate, status, time, setup_time, iterations}``),
        ``tuner_time`` (suggest + observe), ``cache_time`` (fingerprint and look-up of the cached set-ups)
        and ``overhead_time`` (all of AutoSolver's own work in the call: input checks, tuner,
        bookkeeping — everything but the candidates' set-up and solve).
        """
        t_call = time.perf_counter()
        op = aslinearoperator(A)
        n = op.shape[0]
        if op.shape[0] != op.shape[1]:
            raise ValueError(f"AutoSolver needs a square operator, got shape {op.shape}")
        b_arr = np.asarray(b)
        if b_arr.shape != (n,):
            raise ValueError(f"b has shape {b_arr.shape}, the operator needs ({n},)")
        if not np.isfinite(np.sum(b_arr)) and not np.all(np.isfinite(b_arr)):  # one cheap pass first
            raise ValueError("b contains NaN or Inf")
        if self._candidates is None:
            self._candidates = self._parse(default_candidates(A))
            self._make_tuner()
        # _make_tuner() has set all three
        assert self.tuner is not None and self._ledger is not None and self._candidates is not None
        if type(A) not in self._checked:  # availability depends on the operator's type and installed packages
            for cand in self._candidates.values():
                why = cand.unavailable(A)
                if why is not None:
                    raise ValueError(why)
            self._checked.add(type(A))
        if x0 is None and self.warm_start and self._x_prev is not None and self._x_prev.shape == (n,):
            x0 = self._x_prev
        t_tuner = time.perf_counter()
        chosen = self.tuner.suggest(context)
        self._tuner_time = time.perf_counter() - t_tuner
        self._cache_time = 0.0
        order = [chosen]              # the fallbacks are ordered only if the chosen candidate fails
        best = self._ledger.best()
        attempts, result, bookkeeping = [], None, time.perf_counter() - t_call
        hard_deadline = None if time_limit is None else t_call + float(time_limit)
        setup_total = solve_total = 0.0
        reused_chosen = None
        k = 0
        while k < len(order):
            name = order[k]
            cand = self._candidates[name]
            cap = None
            if (k == 0 and self.explore_cap is not None and self.cost == "time" and best is not None
                    and name != best[0]):
                cap = self.explore_cap * best[1]
            if hard_deadline is not None:
                left = max(hard_deadline - time.perf_counter(), 0.0)
                if left <= 0 and k > 0:
                    break
                cap = left if cap is None else min(cap, left)
            rec, res = self._attempt(cand, A, b_arr, x0, rtol, atol, cap)
            attempts.append(rec)
            setup_total += rec["setup_time"]
            solve_total += rec["time"] - rec["setup_time"]
            if k == 0:
                reused_chosen = rec["setup_reused"]
                chosen_res = res
            if res is not None and res.converged:
                result = res
                break
            if res is not None and res.x is not None and np.all(np.isfinite(res.x)):
                x0 = res.x  # continue from the iterate reached (a stopped exploration is not wasted)
                result = res
            if k == 0:
                order += self._ledger.fallback_order(exclude=chosen)
            k += 1
        t_book = time.perf_counter()
        self._charge_chosen(chosen, attempts[0], chosen_res, attempts[-1])
        if hard_deadline is not None and (result is None or not result.converged) and t_book >= hard_deadline:
            if result is not None:
                result.status = Status.USER_STOP
                assert time_limit is not None  # hard_deadline is set from it
                result.info["reason"] = f"time_limit of {float(time_limit):g} s reached"
        if result is None:  # every candidate raised
            result = SolverResult(x=np.zeros(n) if x0 is None else np.array(x0, dtype=float, copy=True),
                                  status=Status.BREAKDOWN, iterations=0, residuals=np.array([np.nan]), time=0.0,
                                  method="auto")
        final = attempts[-1]["candidate"] if result.converged else attempts[0]["candidate"]
        result.info.update(candidate=final, chosen=chosen, setup_time=setup_total, solve_time=solve_total,
                           total_time=time.perf_counter() - t_call, setup_reused=reused_chosen,
                           attempts=attempts)
        if result.converged and self.warm_start:
            self._x_prev = np.array(result.x, copy=True)
        self.history.append({"chosen": chosen, "candidate": final, "converged": result.converged,
                             "cost": attempts[0]["charged"], "time": setup_total + solve_total, "setup_time": setup_total, "solve_time": solve_total,
                             "iterations": int(result.iterations), "fallbacks": len(attempts) - 1,
                             "context": context})
        bookkeeping += time.perf_counter() - t_book
        result.info["overhead_time"] = bookkeeping + self._cache_time
        result.info["tuner_time"] = self._tuner_time
        result.info["cache_time"] = self._cache_time
        return result

    def _attempt(self, cand, A, b, x0, rtol, atol, cap):
        """Set up (or reuse) and solve with one candidate; never raises for the candidate's errors."""
        t0 = time.perf_counter()
        rec = {"candidate": cand.name, "setup_time": 0.0, "setup_reused": False, "status": None,
               "iterations": 0, "time": 0.0, "error": None}
        res = None
        try:
            state, rec["setup_time"], rec["setup_reused"] = self._setup(cand, A)
            if cap is not None and time.perf_counter() - t0 > cap:
                # the set-up alone took longer than the cap: no need to start the solve to know
                rec["status"] = "capped"
                rec["time"] = time.perf_counter() - t0
                return rec, None
            callback = None
            if cap is not None:
                deadline = t0 + cap

                def callback(state_, _deadline=deadline):
                    return time.perf_counter() > _deadline
            res = cand.solve(A, b, x0, rtol, atol, state, callback)
            if not isinstance(res, SolverResult):
                raise TypeError(f"candidate {cand.name!r} returned {type(res).__name__}, not a SolverResult")
            rec["status"] = "capped" if (cap is not None and res.status is Status.USER_STOP) else str(res.status)
            rec["iterations"] = int(res.iterations)
        except Exception as exc:  # a failing candidate must not take the simulation down: fall back
            rec["status"] = "error"
            rec["error"] = f"{type(exc).__name__}: {exc}"
            res = None
        rec["time"] = time.perf_counter() - t0
        return rec, res

    def _setup(self, cand, A):
        if not cand.has_setup:
            return None, 0.0, False
        t0 = time.perf_counter()
        fp = _fingerprint(A)
        entry = self._cache.get(cand.name)
        reuse = entry is not None and entry.operator is A and entry.fingerprint == fp
        self._cache_time += time.perf_counter() - t0
        if reuse:
            return entry.state, 0.0, True
        t0 = time.perf_counter()
        # freeing the old set-up is part of replacing it (charged to the candidate's set-up time)
        self._cache.pop(cand.name, None)
        del entry
        state = cand.setup(A)
        dt = time.perf_counter() - t0
        self._cache[cand.name] = _CacheEntry(A, fp, state, dt)
        st = self.stats[cand.name]
        st["setups"] += 1
        st["setup_time"] += dt
        return state, dt, False

    def _charge_chosen(self, name, rec, res, last):
        """Feed the chosen candidate's cost to the tuner, by the rules of :class:`CostLedger` (a cold
        first call is discarded; a cold attempt that was capped is charged: it was already slower than
        the cap; a failure is charged a penalty)."""
        ok = rec["status"] == "capped" or (res is not None and res.converged)
        if self.cost == "time":
            cost, rescue = rec["time"], last["time"]
        else:
            cost, rescue = (float(res.iterations) if res is not None else 0.0), float(last["iterations"])
        charged = self._ledger.charge(name, cost, ok, res is not None and res.converged, rescue)
        rec["charged"] = charged
        t0 = time.perf_counter()
        if charged is None:
            rec["cold"] = True
            self.tuner.discard()
        else:
            self.tuner.observe(charged)
        self._tuner_time += time.perf_counter() - t0

    # -- reporting and persistence --------------------------------------------------------------
    def report(self, context: float | None = None) -> dict[str, dict[str, Any]]:
        """Per candidate: times chosen, mean cost, set-ups, failures and the current probability.

        Returns a dict ``name -> dict`` that prints as a table."""
        rows = _Report()
        if self.tuner is None or self._candidates is None:  # (set together)
            return rows
        try:
            p = self.tuner.probabilities(context)
        except ValueError:
            p = np.full(len(self._candidates), np.nan)
        for i, name in enumerate(self._candidates):
            s = self.stats[name]
            rows[name] = {"chosen": s["chosen"], "mean_cost": float(np.mean(s["costs"])) if s["costs"] else math.nan,
                          "setups": s["setups"], "setup_time": s["setup_time"], "failures": s["failures"],
                          "probability": float(p[i])}
        rows.cost = self.cost
        return rows

    def save(self, path: PathLike) -> str:
        """Write the tuner state, statistics and history to ``path`` (JSON, atomic rename)."""
        if self.tuner is None or self._candidates is None:  # (set together)
            raise RuntimeError("nothing to save: no solve yet and no candidates given")
        hist = [{k: (v if not isinstance(v, np.generic) else v.item()) for k, v in h.items()} for h in self.history]
        data = {"format": _FORMAT, "version": _VERSION, "candidates": list(self._candidates), "cost": self.cost,
                "warm_start": self.warm_start, "explore_cap": self.explore_cap, "penalty": self.penalty,
                "seed": self.seed, "tuner": self.tuner.state_dict(), "stats": self.stats, "history": hist}
        return write_json(path, data)

    @classmethod
    def load(cls, path: PathLike, candidates: Candidates | None = None) -> Self:
        """Rebuild an AutoSolver saved by :meth:`save`. Built-in candidates are rebuilt by name; pass
        ``candidates`` (the same names) when the saved run used your own functions."""
        data = read_tagged_json(path, _FORMAT, _VERSION, "AutoSolver")
        try:
            names = list(data["candidates"])
            if candidates is None:
                unknown = [n for n in names if n not in BUILTIN]
                if unknown:
                    raise ValueError(f"{path}: the saved run used candidates {unknown} that are not built-in: "
                                     f"pass candidates={{name: f}} with the names {names}")
                candidates = names
            tuner = tuner_from_state(data["tuner"], path)
            auto = cls(candidates, tuner=tuner, cost=data["cost"], seed=data["seed"], warm_start=data["warm_start"],
                       explore_cap=data["explore_cap"], penalty=data["penalty"])
            if auto.candidates != names:
                raise ValueError(f"{path}: the saved run has candidates {names}, got {auto.candidates}")
            for n in names:
                s = data["stats"][n]
                assert auto._ledger is not None  # built with candidates: the ledger exists
                auto._ledger.restore(n, {"chosen": int(s["chosen"]), "costs": [float(c) for c in s["costs"]],
                                         "setups": int(s["setups"]), "setup_time": float(s["setup_time"]),
                                         "failures": int(s["failures"])})
            auto.history = list(data["history"])
        except (KeyError, TypeError) as exc:
            raise ValueError(f"{path}: corrupt AutoSolver file ({type(exc).__name__}: {exc})") from None
        return auto

    def plot(self, path: PathLike | None = None, *, title: str | None = None) -> Figure:
        """Figure of the candidate chosen at each step and the cost per step; saved to ``path`` if given."""
        import matplotlib
        if path is not None:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
        names = self.candidates or []
        fig, (ax0, ax1) = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
        steps = np.arange(len(self.history))
        idx = np.array([names.index(h["chosen"]) for h in self.history]) if self.history else np.array([])
        key = "time" if self.cost == "time" else "iterations"
        costs = np.array([float(h[key]) for h in self.history])
        for i, name in enumerate(names):
            sel = idx == i
            ax0.scatter(steps[sel], idx[sel], s=10, label=name)
            ax1.semilogy(steps[sel], np.maximum(costs[sel], 1e-12), ".", ms=4)
        ax0.set_yticks(range(len(names)), names)
        ax0.set_ylabel("candidate")
        ax1.set_ylabel("seconds" if self.cost == "time" else "iterations")
        ax1.set_xlabel("step")
        ax0.set_title(title or "AutoSolver: candidate chosen per step")
        fig.tight_layout()
        if path is not None:
            fig.savefig(path, dpi=110)
            plt.close(fig)
        return fig

    def __repr__(self):
        return f"AutoSolver(candidates={self.candidates}, cost={self.cost!r}, steps={len(self.history)})"


class _Report(dict):
    cost = "time"

    def __str__(self):
        unit = "s" if self.cost == "time" else "its"
        lines = [f"{'candidate':<16}{'chosen':>8}{'mean cost':>14}{'set-ups':>9}{'failures':>10}{'p(next)':>9}"]
        for name, r in self.items():
            lines.append(f"{name:<16}{r['chosen']:>8}{r['mean_cost']:>12.4g}{unit:>2}{r['setups']:>9}"
                         f"{r['failures']:>10}{r['probability']:>9.3f}")
        return "\n".join(lines)

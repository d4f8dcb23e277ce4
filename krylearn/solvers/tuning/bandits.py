"""Online bandit tuners for a solver parameter (the SOR/SSOR relaxation ω) across a sequence of systems.

Reference: M. Khodak, E. Chow, M.-F. Balcan, A. Talwalkar, "Learning to Relax: Setting Solver
Parameters Across a Sequence of Linear System Instances", ICLR 2024 (arXiv:2310.02246).
Tsallis-INF: J. Zimmert and Y. Seldin, "Tsallis-INF: An optimal algorithm for stochastic and
adversarial bandits", JMLR 22 (2021). SquareCB: D. Foster and A. Rakhlin, "Beyond UCB: optimal and
efficient contextual bandits with regression oracles", ICML 2020. Exp3: P. Auer, N. Cesa-Bianchi,
Y. Freund, R. Schapire, SIAM J. Comput. 32 (2002).

One interface for every tuner, usable from any simulation loop and with any solve that reports a
cost (an iteration count)::

    tuner = kl.solvers.TsallisINF(seed=0)           # or ChebCB(context_range=(lo, hi)), ...
    for A, b, context in systems:
        omega = tuner.suggest(context)              # context is ignored by non-contextual tuners
        res = kl.sor(A, b, omega=omega, rtol=1e-8)  # or a PETSc solve with -pc_sor_omega omega, ...
        tuner.observe(res.iterations)               # bandit feedback: only the chosen ω's cost
    tuner.save("tuner.json")                        # resume later with tuner.load("tuner.json")

The API (stable; other parts of krylearn, e.g. a PETSc PC context, rely on it):

- ``suggest(context=None) -> float``: draw the parameter for the next solve. Calling it again
  before :meth:`observe` discards the pending draw and draws anew.
- ``observe(cost) -> None``: report the cost (finite, ``>= 0``; iterations, or seconds) of the last
  suggestion. Raises ``RuntimeError`` if nothing is pending.
- ``probabilities(context=None) -> ndarray``: the current sampling distribution over ``grid``.
- ``grid`` (ndarray), ``t`` (rounds observed), ``history`` (dict of lists ``arm``, ``omega``,
  ``cost``, ``context``).
- ``save(path)`` / ``load(path)``: JSON persistence of the full state (RNG included, so a resumed
  run continues exactly as an uninterrupted one). ``load`` checks that the file was written by the
  same tuner class with the same configuration (grid, ranges, ...) and raises ``ValueError`` naming
  the mismatch, or naming the corruption. :func:`load_tuner` rebuilds a tuner from a file alone.

Any solver that reports a cost can be tuned, e.g. PETSc's SOR preconditioner through petsc4py::

    opts = PETSc.Options()
    omega = tuner.suggest(context)
    opts["pc_sor_omega"] = omega                    # or ksp.getPC().setSORomega(omega) where available
    ksp.setFromOptions(); ksp.solve(b, x)
    tuner.observe(ksp.getIterationNumber())

or, for a whole sequence, :func:`krylearn.solvers.solve_sequence` with ``solver=f`` where
``f(A, b, x0, omega)`` returns the iteration count (or a ``SolverResult``, or ``(iterations, x)``).

Costs are normalised internally by their running mean (the public code's choice), so the tuners
need no knowledge of the typical iteration count; pass ``scale=K`` to divide by a fixed ``K``.

**Discrete arms.** Every tuner also chooses among configurations instead of ω values: pass
``arms=[...]`` (strings, tuples, numbers — any hashable configurations) or ``arms={name: config}``
and ``suggest(context)`` returns the chosen arm (the list item, or the *name* of a mapping's entry;
``tuner.arms[name]`` is its configuration). The cost may be seconds or iterations. Arms are
stored by name (``tuner.arm_names``: ``str`` of each item, or the mapping's keys), so ``save``/``load``
check that a file was written for the same arms, and :func:`load_tuner` rebuilds an arm tuner whose
arms are the names::

    tuner = kl.solvers.TsallisINF(arms=["mg", "ic0", "amg"], seed=0)
    name = tuner.suggest()
    t0 = time.perf_counter(); run(name); tuner.observe(time.perf_counter() - t0)

:class:`krylearn.solvers.AutoSolver` builds on this to pick the fastest solver in a time loop.
"""

from __future__ import annotations

import importlib
import json
import math
import numbers
import os
from typing import TYPE_CHECKING, Any

import numba as nb
import numpy as np

from ...typing import _is_a

if TYPE_CHECKING:  # annotations only
    from collections.abc import Hashable, Mapping, Sequence
    from typing import Literal, Self, Union

    from numpy.typing import NDArray

    from ...typing import ArrayLike

    #: a path as ``open`` takes it
    PathLike = Union[str, "os.PathLike[str]"]
    #: the ``arms=`` of a tuner: a sequence of configurations or a mapping name -> configuration
    Arms = Union[Sequence[Any], Mapping[str, Any]]
    #: ``scale=``: "mean" (the running mean cost) or a fixed positive divisor
    Scale = Union[Literal["mean"], float]

__all__ = ["TsallisINF", "Exp3", "omega_grid", "load_tuner", "tuner_from_state", "Tuner"]

_FORMAT = "krylearn.tuner"
_VERSION = 1


def omega_grid(kind: Literal["sor", "ssor_cg", "ssor"] = "sor", size: int = 20,
               omega_max: float = 1.95) -> NDArray[np.float64]:
    """Default relaxation grids.

    ``kind="sor"``: ``size`` points in ``[1, omega_max]`` (the paper's public code: 20 points in
    [1, 1.95]). ``kind="ssor_cg"``: ``size`` points in ``[2√2 − 2, omega_max]`` (the lower end of
    the paper's theory for SSOR-preconditioned CG, below 1).
    """
    if not _is_a(size, numbers.Integral) or size < 1:
        raise ValueError(f"size must be a positive integer, got {size!r}")
    if not 0.0 < omega_max < 2.0:
        raise ValueError(f"omega_max must lie in (0, 2), got {omega_max!r}")
    lo = {"sor": 1.0, "ssor_cg": 2.0 * math.sqrt(2.0) - 2.0, "ssor": 1.0}.get(kind)
    if lo is None:
        raise ValueError(f"kind must be 'sor' or 'ssor_cg', got {kind!r}")
    if size == 1:
        return np.array([lo])
    return np.linspace(lo, omega_max, int(size))


def _check_grid(grid):
    if grid is None:
        return omega_grid("sor")
    g = np.asarray(grid, dtype=float).ravel()
    if g.size < 1:
        raise ValueError("grid must contain at least one value")
    if not np.all(np.isfinite(g)):
        raise ValueError("grid contains NaN or Inf")
    return g.copy()


def _check_range(context_range):
    try:
        lo, hi = (float(v) for v in context_range)
    except (TypeError, ValueError):
        raise ValueError(f"context_range must be a pair (lo, hi), got {context_range!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"context_range must satisfy lo < hi (finite), got {context_range!r}")
    return lo, hi


def _check_cost(cost):
    if type(cost) is float and 0.0 <= cost < math.inf:  # the common case, checked in ~0.1 µs
        return cost
    if isinstance(cost, bool) or not _is_a(cost, numbers.Real):
        try:
            cost = float(cost)
        except (TypeError, ValueError):
            raise ValueError(f"cost must be a real number, got {cost!r}") from None
    cost = float(cost)
    if not np.isfinite(cost) or cost < 0:
        raise ValueError(f"cost must be finite and non-negative, got {cost!r}")
    return cost


def _check_scale(scale):
    if isinstance(scale, str):
        if scale != "mean":
            raise ValueError(f"scale must be 'mean' or a positive number, got {scale!r}")
        return scale
    if not _is_a(scale, numbers.Real) or not np.isfinite(scale) or scale <= 0:
        raise ValueError(f"scale must be 'mean' or a positive number, got {scale!r}")
    return float(scale)


def _check_arms(arms):
    """``(values, names, configs)`` of an ``arms=`` argument (a sequence or a name → config mapping)."""
    if isinstance(arms, dict):
        names = list(arms)
        for k in names:
            if not isinstance(k, str):
                raise ValueError(f"the names of a mapping of arms must be strings, got {k!r}")
        values, configs = list(names), dict(arms)
    elif isinstance(arms, (str, bytes)) or not hasattr(arms, "__iter__"):
        raise ValueError(f"arms must be a sequence of configurations or a mapping name -> config, got {arms!r}")
    else:
        values = list(arms)
        names = [a if isinstance(a, str) else str(a) for a in values]
        configs = dict(zip(names, values))
    if not values:
        raise ValueError("arms must contain at least one configuration")
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"arms must have distinct names; repeated: {dup}")
    return values, names, configs


def _sample(rng, p):
    """Index drawn from probabilities ``p`` (one uniform draw; cheaper than ``rng.choice``)."""
    c = np.cumsum(p)
    i = int(np.searchsorted(c, rng.random() * c[-1], side="right"))
    return min(i, p.size - 1)


def tsallis_inf_distribution(losses: ArrayLike, eta: float, tol: float = 1e-12,
                             maxiter: int = 100) -> NDArray[np.float64]:
    """The Tsallis-INF (1/2-Tsallis entropy OMD) distribution for cumulative losses.

    ``p_i = 4 (η (L_i − x))⁻²`` with the normaliser ``x < min L`` solved by Newton's method so
    that ``Σ p_i = 1``. Newton starts at ``x = min L − 2/η`` (where ``Σ p ≥ 1``) and, the
    function being convex and increasing in ``x``, decreases monotonically to the root: it never
    crosses the pole at ``min L``. (A numba kernel: a few microseconds for 20 arms.)
    """
    L = np.ascontiguousarray(losses, dtype=float)
    return _tsallis_kernel(L, float(eta), float(tol), int(maxiter))


@nb.njit(cache=True)
def _tsallis_kernel(L, eta, tol, maxiter):
    d = L.shape[0]
    lmin = L.min()
    x = -2.0 / eta
    w = np.empty(d)
    for _ in range(maxiter):
        s = 0.0
        s15 = 0.0
        for i in range(d):
            v = 4.0 / (eta * (L[i] - lmin - x)) ** 2
            w[i] = v
            s += v
            s15 += v * math.sqrt(v)
        f = s - 1.0
        if f <= tol:
            break
        x -= f / (eta * s15)
    s = 0.0
    for i in range(d):
        w[i] = 4.0 / (eta * (L[i] - lmin - x)) ** 2
        s += w[i]
    for i in range(d):
        w[i] /= s
    return w


#: every tuner class by name (filled by ``Tuner.__init_subclass__``), for :func:`load_tuner`
_TUNERS: dict[str, type[Tuner]] = {}
#: modules holding further tuner classes, imported by :func:`load_tuner` on demand
_TUNER_MODULES = ("krylearn.solvers.tuning.contextual_tuners", "krylearn.solvers.tuning.ucb")


class Tuner:
    """Common machinery: grid, RNG, pending suggestion, history, persistence."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            _TUNERS[cls.__name__] = cls

    _config_keys: tuple[str, ...] = ("grid", "seed", "scale", "arms")

    grid: NDArray[np.float64]
    #: the configurations of ``arms=`` (None for a tuner of a real parameter), their names, name -> config
    _values: list[Any] | None
    arm_names: list[str] | None
    arms: dict[str, Any] | None
    seed: int | None
    scale: Scale
    t: int
    #: (arm, its probability, context) of the suggestion awaiting observe()
    _pending: tuple[int, float, float | None] | None
    history: dict[str, list[Any]]

    def __init__(self, grid: ArrayLike | None = None, seed: int | None = None, scale: Scale = "mean",
                 arms: Arms | None = None) -> None:
        if arms is not None:
            if grid is not None:
                raise ValueError("pass grid= (values of a real parameter) or arms= (discrete configurations), not both")
            self._values, self.arm_names, self.arms = _check_arms(arms)
            self.grid = np.arange(len(self._values), dtype=float)
        else:
            self._values, self.arm_names, self.arms = None, None, None
            self.grid = _check_grid(grid)
        if seed is not None and not _is_a(seed, numbers.Integral):
            raise ValueError(f"seed must be an integer or None, got {seed!r}")
        self.seed = None if seed is None else int(seed)
        self.scale = _check_scale(scale)
        self._rng = np.random.default_rng(self.seed)
        self.t = 0
        self._pending = None  # (arm, prob, context)
        self.history = {"arm": [], "omega": [], "cost": [], "context": []}
        if self.arms is not None:
            self.history["name"] = []

    # -- public API ---------------------------------------------------------------------------
    @property
    def d(self) -> int:
        """Number of arms (grid points)."""
        return self.grid.size

    def suggest(self, context: float | None = None) -> Any:
        """Draw the parameter value (or, with ``arms=``, the arm) for the next solve."""
        # -> Any: a float, or with arms= one of the user's configurations (of any type)
        ctx = self._check_context(context)
        p = self._probabilities(ctx)
        arm = _sample(self._rng, p)
        self._pending = (arm, float(p[arm]), ctx)
        if self._values is not None:
            return self._values[arm]
        return float(self.grid[arm])

    def index(self, arm: Hashable) -> int:
        """Index (in ``grid``/``probabilities``) of an arm given by its value or its name."""
        if self.arm_names is None:
            raise ValueError("index() is for tuners over arms=; this tuner tunes a real parameter")
        name = arm if isinstance(arm, str) else str(arm)
        try:
            return self.arm_names.index(name)
        except ValueError:
            raise ValueError(f"unknown arm {arm!r}; the arms are {self.arm_names}") from None

    def observe(self, cost: float) -> None:
        """Report the cost of the pending suggestion (e.g. the iteration count)."""
        if self._pending is None:
            raise RuntimeError("observe() called without a pending suggest()")
        cost = _check_cost(cost)
        arm, prob, ctx = self._pending
        self._pending = None
        self._update(arm, prob, ctx, cost)
        self.t += 1
        h = self.history
        h["arm"].append(arm)
        h["omega"].append(float(self.grid[arm]) if self.arms is None else None)
        h["cost"].append(cost)
        h["context"].append(ctx)
        if self.arm_names is not None:  # set together with self.arms
            h["name"].append(self.arm_names[arm])

    def discard(self) -> None:
        """Drop the pending suggestion without feedback (its solve was not representative, e.g. the
        first call of a solver that paid one-time compilation and import costs); the round does
        not count. A no-op when nothing is pending."""
        self._pending = None

    def probabilities(self, context: float | None = None) -> NDArray[np.float64]:
        """The sampling distribution over ``grid`` for the next round (no RNG draw)."""
        return self._probabilities(self._check_context(context)).copy()

    @property
    def best_arm(self) -> int:
        """Index of the most probable arm for the next round without context."""
        return int(np.argmax(self._probabilities(None)))

    # -- persistence --------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """The constructor settings (what ``load`` compares)."""
        out: dict[str, Any] = {}
        for k in self._config_keys:
            if k == "arms":  # stored by name; an arm tuner's grid is just the arm indices
                out[k] = None if self.arm_names is None else list(self.arm_names)
                continue
            if k == "grid" and self.arm_names is not None:
                out[k] = None
                continue
            v = getattr(self, k)
            out[k] = v.tolist() if isinstance(v, np.ndarray) else (list(v) if isinstance(v, tuple) else v)
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"format": _FORMAT, "version": _VERSION, "class": type(self).__name__,
                "config": self.config(), "t": self.t,
                "pending": None if self._pending is None else list(self._pending),
                "history": self.history, "rng": self._rng.bit_generator.state,
                "state": self._state()}

    def save(self, path: PathLike) -> str:
        """Write the full tuner state to ``path`` as JSON (atomically: a temporary file is renamed)."""
        return write_json(path, self.state_dict())

    def load(self, path: PathLike) -> Self:
        """Restore the state saved by :meth:`save` into this tuner; returns ``self``.

        Raises ``ValueError`` if the file is not a krylearn tuner file, is corrupt, was written by
        another tuner class or with another configuration (grid, context range, ...)."""
        data = _read(path)
        if data["class"] != type(self).__name__:
            raise ValueError(f"{path}: the file holds a {data['class']} tuner, not a {type(self).__name__}")
        mine, theirs = self.config(), data["config"]
        for k in mine:
            if k == "seed":
                continue  # the RNG state is restored; the seed is informational
            if not _same(mine[k], theirs.get(k)):
                raise ValueError(f"{path}: the saved tuner has {k}={theirs.get(k)!r}, this one has "
                                 f"{k}={mine[k]!r}; construct the tuner with the saved configuration "
                                 f"or use krylearn.solvers.tuning.bandits.load_tuner(path)")
        self.load_state_dict(data, path)
        return self

    def load_state_dict(self, data: Mapping[str, Any], path: PathLike = "<state>") -> Self:
        try:
            state = data["state"]
            t = int(data["t"])
            pend = data["pending"]
            hist = {k: list(data["history"][k]) for k in ("arm", "omega", "cost", "context")}
            if self.arms is not None:
                hist["name"] = list(data["history"]["name"])
            self._set_state(state)
            rng = np.random.default_rng()
            rng.bit_generator.state = data["rng"]
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise ValueError(f"{path}: corrupt tuner state ({type(exc).__name__}: {exc})") from None
        self._rng = rng
        self.t = t
        self._pending = None if pend is None else (int(pend[0]), float(pend[1]), pend[2])
        self.history = hist
        return self

    # -- hooks ---------------------------------------------------------------------------------
    def _check_context(self, context):
        return None

    def _probabilities(self, ctx):  # pragma: no cover - abstract
        raise NotImplementedError

    def _update(self, arm, prob, ctx, cost):  # pragma: no cover - abstract
        raise NotImplementedError

    def _state(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _set_state(self, state):  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self):
        if self.arm_names is not None:
            return f"{type(self).__name__}(arms={self.arm_names}, t={self.t})"
        return (f"{type(self).__name__}(d={self.d}, grid=[{self.grid[0]:g}..{self.grid[-1]:g}], "
                f"t={self.t})")


def _same(a, b):
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        if not (isinstance(a, (list, tuple)) and isinstance(b, (list, tuple))):
            return False
        if any(isinstance(v, str) for v in list(a) + list(b)):  # arm names: compared exactly
            return list(a) == list(b)
        try:
            a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        except (TypeError, ValueError):
            return False
        return a.shape == b.shape and np.allclose(a, b, rtol=1e-12, atol=1e-14)
    if _is_a(a, numbers.Real) and _is_a(b, numbers.Real):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-14)
    return a == b


def write_json(path: PathLike, data: Any) -> str:
    """Write ``data`` to ``path`` as JSON, atomically (a temporary file is renamed); returns the path."""
    path = os.fspath(path)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    os.replace(tmp, path)
    return path


def read_tagged_json(path: PathLike, fmt: str, version: int, what: str) -> dict[str, Any]:
    """The JSON object in ``path`` after checking its ``format`` tag and ``version``; ``ValueError`` naming
    ``what`` ("tuner", "AutoSolver") for invalid JSON, another format or another version."""
    try:
        with open(os.fspath(path), encoding="utf-8") as fh:
            data = json.load(fh)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: corrupt {what} file (not valid JSON: {exc})") from None
    if not isinstance(data, dict) or data.get("format") != fmt:
        raise ValueError(f"{path}: not a krylearn {what} file (missing format tag {fmt!r})")
    if data.get("version") != version:
        raise ValueError(f"{path}: {what} file version {data.get('version')!r}, this krylearn reads {version}")
    return data


def _read(path):
    data = read_tagged_json(path, _FORMAT, _VERSION, "tuner")
    for k in ("class", "config", "state", "t", "rng", "history", "pending"):
        if k not in data:
            raise ValueError(f"{path}: corrupt tuner file (missing {k!r})")
    return data


def load_tuner(path: PathLike) -> Tuner:
    """Rebuild a tuner (of the class and configuration recorded in the file) from ``path``."""
    return tuner_from_state(_read(path), path)


def tuner_from_state(data: Mapping[str, Any], path: PathLike = "<state>") -> Tuner:
    """Rebuild a tuner from a :meth:`Tuner.state_dict` (what :func:`load_tuner` reads from a file)."""
    if not isinstance(data, dict) or data.get("format") != _FORMAT or "class" not in data or "config" not in data:
        raise ValueError(f"{path}: not a krylearn tuner state")
    if data["class"] not in _TUNERS:
        for module in _TUNER_MODULES:
            importlib.import_module(module)
    cls = _TUNERS.get(data["class"])
    if cls is None:
        raise ValueError(f"{path}: unknown tuner class {data['class']!r}")
    try:
        tuner = cls(**data["config"])
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: corrupt tuner configuration ({exc})") from None
    return tuner.load_state_dict(data, path)


# ---------------------------------------------------------------------------------------------
class _ImportanceWeighted(Tuner):
    """Cumulative importance-weighted losses ``L̂_i += c / p_i`` of the non-contextual bandits;
    subclasses give the sampling distribution (``_probabilities``)."""

    def __init__(self, grid: ArrayLike | None = None, seed: int | None = None, scale: Scale = "mean", *,
                 arms: Arms | None = None) -> None:
        super().__init__(grid, seed, scale, arms)
        self._L = np.zeros(self.d)
        self._cost_sum = 0.0

    def _scale(self):
        if self.scale == "mean":
            return self._cost_sum / self.t if self.t and self._cost_sum > 0 else 1.0
        return self.scale

    def _update(self, arm, prob, ctx, cost):
        self._L[arm] += cost / prob
        self._cost_sum += cost

    def _state(self):
        return {"L": self._L.tolist(), "cost_sum": self._cost_sum}

    def _set_state(self, s):
        L = np.asarray(s["L"], dtype=float)
        if L.shape != (self.d,) or not np.all(np.isfinite(L)):
            raise ValueError(f"loss vector has shape {L.shape}, expected ({self.d},)")
        self._L = L
        self._cost_sum = float(s["cost_sum"])


class TsallisINF(_ImportanceWeighted):
    """Tsallis-INF bandit over a grid of parameter values (non-contextual).

    Each round the distribution minimises ``⟨L̂, p⟩ − (4/η_t) Σ √p_i`` over the simplex, i.e.
    ``p_i = 4 (η_t (L̂_i − x))⁻²`` with the normaliser ``x`` found by Newton's method; the drawn
    arm's cost ``c`` updates its importance-weighted cumulative loss ``L̂_i += c / p_i``. Anytime
    rate ``η_t = 2/√t``. Losses are costs divided by ``scale`` (default: the running mean cost).
    Regret O(√(dT)) against the best fixed grid value (Zimmert & Seldin 2021); with a grid of
    ``d ∝ T^{1/3}`` points, O(T^{2/3}) against the best fixed ω in [1, ω_max] (Khodak et al. 2024).

    Parameters
    ----------
    grid : array_like, optional
        Candidate values (default :func:`omega_grid` ``("sor")``: 20 points in [1, 1.95]).
    seed : int, optional
        Seed of the sampling RNG (reproducible runs).
    scale : "mean" or float
        Cost normaliser.
    arms : sequence or mapping, optional
        Discrete configurations to choose among instead of ``grid`` (see the module docstring);
        ``suggest`` then returns an arm.

    Examples
    --------
    >>> import numpy as np, krylearn as kl
    >>> tuner = kl.solvers.TsallisINF(seed=0)
    >>> omega = tuner.suggest()
    >>> tuner.observe(42)                      # the iteration count of the solve with omega
    """

    def _probabilities(self, ctx):
        return tsallis_inf_distribution(self._L / self._scale(), 2.0 / math.sqrt(self.t + 1))


class Exp3(_ImportanceWeighted):
    """Exp3 (exponential weights with importance-weighted losses) over a grid, for comparison.

    ``p_i ∝ exp(−η_t L̂_i)``, ``L̂_i += c/(p_i · scale)``, anytime rate
    ``η_t = √(2 ln d / (d t))``. Same interface and parameters as :class:`TsallisINF`.
    """

    def _probabilities(self, ctx):
        d = self.d
        if d == 1:
            return np.ones(1)
        eta = math.sqrt(2.0 * math.log(d) / (d * (self.t + 1)))
        z = -eta * self._L / self._scale()
        w = np.exp(z - z.max())
        return w / w.sum()

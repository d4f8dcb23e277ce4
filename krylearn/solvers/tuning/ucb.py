"""UCB: a confidence-bound bandit for nearly deterministic costs (solver wall times, iterations).

The tuners of Learning to Relax (:class:`~krylearn.solvers.TsallisINF`, Exp3) are built for
adversarial costs: their regret is minimax-optimal, ``O(√(dT))``, but they keep sampling a clearly
slower arm with probability ``≈ 1/(Δ² t)``, which over a few hundred steps is 15–50 % more time than
the best arm (``benchmarks/results/workloads.md``). A solver's time on the next system of a time loop
is nearly deterministic: a few per cent of timing noise and a slow drift. For such costs the
optimistic rule of UCB (P. Auer, N. Cesa-Bianchi, P. Fischer, "Finite-time analysis of the
multiarmed bandit problem", Machine Learning 47 (2002) 235–256), with the noise scale estimated from
the data as in UCB-V (J.-Y. Audibert, R. Munos, Cs. Szepesvári, "Exploration–exploitation tradeoff
using variance estimates in multi-armed bandits", Theor. Comput. Sci. 410 (2009) 1876–1902), tries
each arm once and then returns to a slower arm only when its confidence interval still reaches below
the best mean: a handful of plays in total for an arm that is 30 % slower.

With ``context_range=(lo, hi)`` the rule runs separately in ``bins`` equal bins of a scalar context
(e.g. the diffusion coefficient or time step of the system, contexts outside the range go to the end
bins), as :class:`~krylearn.solvers.TsallisINFCB` does for Tsallis-INF: the fastest solver of a nearly
diagonal system is not the fastest of a strongly diffusive one.

Rule: play ``argmin_i m_i − k·s_i·√(ln(t+1)/n_i)`` with ``m_i`` the mean of the arm's last ``window``
costs, ``s_i`` their standard deviation floored at ``floor·m_i`` (``prior·m_i`` while ``n_i < 2``),
``n_i`` the arm's plays, untried arms first (in the given order). The window lets the estimate follow
a drifting workload; ``ln t`` makes every arm be re-checked, rarely, for ever.
"""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Any

import numpy as np

from .contextual_tuners import check_context
from .bandits import Tuner, _check_range
from ...typing import _is_a

if TYPE_CHECKING:  # annotations only
    from numpy.typing import NDArray

    from ...typing import ArrayLike
    from .bandits import Arms, Scale

__all__ = ["UCB"]


class UCB(Tuner):
    """Lower-confidence-bound rule for costs (module docstring); deterministic given the costs.

    Parameters
    ----------
    grid, arms :
        The candidates, as for :class:`~krylearn.solvers.TsallisINF`: values of a real parameter
        (``grid``) or discrete configurations (``arms``).
    confidence : float
        ``k`` of the rule (default 2): larger explores more.
    window : int
        Number of recent costs per arm in its mean and spread (default 20).
    floor, prior : float
        Relative spread assumed at least (default 0.05: timing noise) and before two observations
        (default 0.1).
    context_range : (lo, hi), optional
        Make the tuner contextual: one independent rule per context bin; ``suggest`` then needs
        ``context=``.
    bins : int
        Number of context bins (default 5).
    seed, scale :
        Accepted for interface compatibility (the rule draws nothing; costs are compared raw).

    Examples
    --------
    >>> import krylearn as kl
    >>> tuner = kl.solvers.UCB(arms=["mg", "ic0", "amg"])
    >>> tuner.suggest()                  # untried arms first
    'mg'
    >>> tuner.observe(0.12)              # seconds
    """

    _config_keys = ("grid", "seed", "scale", "arms", "confidence", "window", "floor", "prior", "context_range",
                    "bins")

    context_range: tuple[float, float] | None
    bins: int
    confidence: float
    window: int
    floor: float
    prior: float
    _bin_total: list[int]
    #: per context bin and arm: the recent costs, (mean, floored spread) or (None, None) untried, the plays
    _recent: list[list[list[float]]]
    _summary: list[list[tuple[float, float] | tuple[None, None]]]
    _plays: list[list[int]]

    def __init__(self, grid: ArrayLike | None = None, seed: int | None = None, scale: Scale = "mean", *,
                 arms: Arms | None = None, confidence: float = 2.0, window: int = 20, floor: float = 0.05,
                 prior: float = 0.1, context_range: tuple[float, float] | None = None, bins: int = 5) -> None:
        super().__init__(grid, seed, scale, arms)
        if context_range is not None:
            context_range = _check_range(context_range)
        if isinstance(bins, bool) or not _is_a(bins, numbers.Integral) or bins < 1:
            raise ValueError(f"bins must be a positive integer, got {bins!r}")
        self.context_range, self.bins = context_range, int(bins)
        nb = self.bins if context_range is not None else 1
        for name, v in (("confidence", confidence), ("floor", floor), ("prior", prior)):
            if isinstance(v, bool) or not _is_a(v, numbers.Real) or not np.isfinite(v) or v < 0:
                raise ValueError(f"{name} must be a non-negative number, got {v!r}")
        if isinstance(window, bool) or not _is_a(window, numbers.Integral) or window < 1:
            raise ValueError(f"window must be a positive integer, got {window!r}")
        self.confidence, self.window = float(confidence), int(window)
        self.floor, self.prior = float(floor), float(prior)
        self._recent = [[[] for _ in range(self.d)] for _ in range(nb)]
        self._summary = [[(None, None)] * self.d for _ in range(nb)]
        self._plays = [[0] * self.d for _ in range(nb)]   # Python ints: a suggestion is a few microseconds
        self._bin_total = [0] * nb

    def _check_context(self, context):
        if self.context_range is None:
            return None
        return check_context(context, "this UCB (context_range was given)")

    def bin_of(self, context: float | None) -> int:
        """The context bin (0 for a non-contextual tuner)."""
        if self.context_range is None or context is None:
            return 0
        lo, hi = self.context_range
        return min(max(int(math.floor((float(context) - lo) / (hi - lo) * self.bins)), 0), self.bins - 1)

    def scores(self, context: float | None = None) -> NDArray[np.float64]:
        """The lower confidence bound of every arm (``-inf`` for untried arms) in the context's bin."""
        j = self.bin_of(context)
        plays = self._plays[j]
        logt = math.log(self._bin_total[j] + 1.0)
        k = self.confidence
        out = np.empty(self.d)
        for i, (m, s) in enumerate(self._summary[j]):
            # (m is None exactly when s is: an untried arm)
            out[i] = -math.inf if m is None or s is None else m - k * s * math.sqrt(logt / plays[i])
        return out

    def _summarise(self, j, i):
        """Mean and floored spread of arm ``i``'s recent costs in bin ``j`` (kept per update: a
        suggestion costs O(arms), not O(arms × window))."""
        costs = self._recent[j][i]
        if not costs:
            self._summary[j][i] = (None, None)
            return
        m = sum(costs) / len(costs)
        if len(costs) > 1:
            s = math.sqrt(sum([(c - m) * (c - m) for c in costs]) / (len(costs) - 1))
            s = max(s, self.floor * m)
        else:
            s = self.prior * m
        self._summary[j][i] = (m, s)

    def suggest(self, context: float | None = None) -> Any:  # a float, or one of the arms (any type)
        """The arm (or grid value) with the lowest confidence bound; deterministic (no draw)."""
        ctx = self._check_context(context)
        j = self.bin_of(ctx)
        plays = self._plays[j]
        logt = math.log(self._bin_total[j] + 1.0)
        k = self.confidence
        arm, best = 0, math.inf
        for i, (m, sd) in enumerate(self._summary[j]):   # the first minimum: untried arms in the given order
            if m is None or sd is None:  # untried (m and sd are None together)
                arm = i
                break
            score = m - k * sd * math.sqrt(logt / plays[i])
            if score < best:
                arm, best = i, score
        self._pending = (arm, 1.0, ctx)
        return self._values[arm] if self._values is not None else float(self.grid[arm])

    def means(self, context: float | None = None) -> NDArray[np.float64]:
        """Mean of each arm's recent costs in the context's bin (NaN for untried arms)."""
        return np.array([sum(c) / len(c) if c else math.nan for c in self._recent[self.bin_of(context)]])

    def _probabilities(self, ctx):
        p = np.zeros(self.d)
        scores = self.scores(ctx).tolist()
        p[scores.index(min(scores))] = 1.0  # the first minimum: untried arms in the given order
        return p

    def _update(self, arm, prob, ctx, cost):
        j = self.bin_of(ctx)
        recent = self._recent[j][arm]
        recent.append(cost)
        if len(recent) > self.window:
            del recent[0]
        self._plays[j][arm] += 1
        self._bin_total[j] += 1
        self._summarise(j, arm)

    def _state(self):
        return {"recent": [[list(c) for c in b] for b in self._recent], "plays": [list(p) for p in self._plays]}

    def _set_state(self, s):
        recent = [[[float(c) for c in costs] for costs in b] for b in s["recent"]]
        plays = np.asarray(s["plays"], dtype=np.int64)
        expected = (len(self._plays), self.d)
        if plays.shape != expected or len(recent) != plays.shape[0] or any(len(b) != self.d for b in recent):
            raise ValueError(f"per-arm state of shape {plays.shape}, expected {expected}")
        if any(not np.all(np.isfinite(c)) or any(v < 0 for v in c) for b in recent for c in b) or np.any(plays < 0):
            raise ValueError("per-arm costs must be finite and non-negative")
        self._recent = recent
        self._plays = [[int(v) for v in row] for row in plays]
        self._bin_total = [sum(row) for row in self._plays]
        self._summary = [[(None, None)] * self.d for _ in range(len(recent))]
        for j in range(len(recent)):
            for i in range(self.d):
                self._summarise(j, i)

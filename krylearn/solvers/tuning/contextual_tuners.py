"""Contextual bandit tuners: the parameter's best value depends on a context observed before each solve.

:class:`TsallisINFCB` (Tsallis-INF per bin of the context interval) and :class:`ChebCB` (a linear
contextual bandit on Chebyshev features of the context, inverse-gap weighting), from M. Khodak et al.,
"Learning to Relax: Setting Solver Parameters Across a Sequence of Linear System Instances", ICLR 2024.
They share the machinery (grid, persistence, ``load_tuner``) of :mod:`krylearn.solvers.tuning.bandits`; this
module holds what only the contextual tuners need (split from ``tuning.py``, issue 12).
"""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING

import numba as nb
import numpy as np

from .bandits import Tuner, _check_range, tsallis_inf_distribution
from ...typing import _is_a

if TYPE_CHECKING:  # annotations only
    from typing import SupportsFloat

    from numpy.typing import NDArray

    from ...typing import ArrayLike
    from .bandits import Arms, Scale

__all__ = ["TsallisINFCB", "ChebCB", "check_context", "chebyshev_features"]


def check_context(context: SupportsFloat | None, who: str) -> float:
    """A finite real context, or ``ValueError`` (``who`` names the contextual tuner)."""
    if type(context) is float and math.isfinite(context):  # the common case
        return context
    if context is None:
        raise ValueError(f"{who} is contextual: pass suggest(context=...)")
    try:
        c = float(context)
    except (TypeError, ValueError):
        raise ValueError(f"context must be a real number, got {context!r}") from None
    if not np.isfinite(c):
        raise ValueError(f"context must be finite, got {context!r}")
    return c


class _Contextual(Tuner):
    _config_keys: tuple[str, ...] = ("grid", "seed", "scale", "arms", "context_range")

    def _check_context(self, context):
        return check_context(context, type(self).__name__)

    def probabilities(self, context: float | None = None) -> NDArray[np.float64]:
        return self._probabilities(self._check_context(context)).copy()

    @property
    def best_arm(self) -> int:
        raise AttributeError("a contextual tuner's best arm depends on the context: use probabilities(context)")


class TsallisINFCB(_Contextual):
    """Contextual Tsallis-INF: the context interval is split into ``bins`` equal bins, one
    independent :class:`TsallisINF` per bin (contexts outside the range go to the end bins).

    O(T^{3/4}) regret against the instance-optimal policy for Lipschitz cost (Khodak et al. 2024).

    Parameters
    ----------
    grid, seed, scale : see :class:`TsallisINF`
    context_range : (lo, hi)
        Range of the scalar context (e.g. the diagonal shift, or the diffusion coefficient).
    bins : int
        Number of bins (default 5).
    """

    _config_keys = ("grid", "seed", "scale", "arms", "context_range", "bins")

    context_range: tuple[float, float]
    bins: int
    _L: NDArray[np.float64]
    _n: NDArray[np.int64]
    _cost_sum: NDArray[np.float64]

    def __init__(self, grid: ArrayLike | None = None, context_range: tuple[float, float] = (0.0, 1.0), bins: int = 5,
                 seed: int | None = None, scale: Scale = "mean", *, arms: Arms | None = None) -> None:
        super().__init__(grid, seed, scale, arms)
        self.context_range = _check_range(context_range)
        if not _is_a(bins, numbers.Integral) or bins < 1:
            raise ValueError(f"bins must be a positive integer, got {bins!r}")
        self.bins = int(bins)
        self._L = np.zeros((self.bins, self.d))
        self._n = np.zeros(self.bins, dtype=np.int64)
        self._cost_sum = np.zeros(self.bins)

    def bin_of(self, context: float) -> int:
        lo, hi = self.context_range
        j = int(math.floor((float(context) - lo) / (hi - lo) * self.bins))
        return min(max(j, 0), self.bins - 1)

    def _probabilities(self, ctx):
        j = self.bin_of(ctx)
        n = self._n[j]
        if self.scale == "mean":
            scale = self._cost_sum[j] / n if n and self._cost_sum[j] > 0 else 1.0
        else:
            scale = self.scale
        return tsallis_inf_distribution(self._L[j] / scale, 2.0 / math.sqrt(n + 1))

    def _update(self, arm, prob, ctx, cost):
        j = self.bin_of(ctx)
        self._L[j, arm] += cost / prob
        self._n[j] += 1
        self._cost_sum[j] += cost

    def _state(self):
        return {"L": self._L.tolist(), "n": self._n.tolist(), "cost_sum": self._cost_sum.tolist()}

    def _set_state(self, s):
        L = np.asarray(s["L"], dtype=float)
        if L.shape != (self.bins, self.d):
            raise ValueError(f"loss table has shape {L.shape}, expected {(self.bins, self.d)}")
        n = np.asarray(s["n"], dtype=np.int64)
        cs = np.asarray(s["cost_sum"], dtype=float)
        if n.shape != (self.bins,) or cs.shape != (self.bins,):
            raise ValueError("per-bin counters have the wrong shape")
        self._L, self._n, self._cost_sum = L, n, cs


def chebyshev_features(z: float, degree: int) -> NDArray[np.float64]:
    """``[T_0(z), ..., T_degree(z)]`` for ``z`` in [−1, 1] (three-term recurrence)."""
    f = np.empty(degree + 1)
    f[0] = 1.0
    if degree >= 1:
        f[1] = z
    for j in range(2, degree + 1):
        f[j] = 2.0 * z * f[j - 1] - f[j - 2]
    return f


@nb.njit(cache=True)
def _cheb(z, m):
    f = np.empty(m)
    f[0] = 1.0
    if m > 1:
        f[1] = z
    for j in range(2, m):
        f[j] = 2.0 * z * f[j - 1] - f[j - 2]
    return f


@nb.njit(cache=True)
def _igw_kernel(theta, z, scale, eta):
    """Inverse-gap weighting over the arms' predictions at ``z`` (see :class:`ChebCB`)."""
    d, m = theta.shape
    f = _cheb(z, m)
    s = theta @ f
    best = 0
    for i in range(1, d):
        if s[i] < s[best]:
            best = i
    p = np.empty(d)
    rest = 0.0
    for i in range(d):
        if i != best:
            p[i] = 1.0 / (d + eta * (s[i] - s[best]) / scale)
            rest += p[i]
    p[best] = 1.0 - rest
    return p


@nb.njit(cache=True)
def _ridge_update_kernel(G, h, theta, arm, z, cost, ridge, add=True):
    """``G[arm] += f fᵀ``, ``h[arm] += c f`` (if ``add``), then ``theta[arm] = (G + ridge I)⁻¹ h``
    by a Cholesky factorisation (``G + ridge I`` is SPD)."""
    m = G.shape[1]
    if add:
        f = _cheb(z, m)
        for a in range(m):
            h[arm, a] += cost * f[a]
            for b in range(m):
                G[arm, a, b] += f[a] * f[b]
    L = np.zeros((m, m))
    for j in range(m):
        v = G[arm, j, j] + ridge
        for k in range(j):
            v -= L[j, k] * L[j, k]
        L[j, j] = np.sqrt(v)
        for i in range(j + 1, m):
            w = G[arm, i, j]
            for k in range(j):
                w -= L[i, k] * L[j, k]
            L[i, j] = w / L[j, j]
    y = np.empty(m)
    for i in range(m):
        w = h[arm, i]
        for k in range(i):
            w -= L[i, k] * y[k]
        y[i] = w / L[i, i]
    for i in range(m - 1, -1, -1):
        w = y[i]
        for k in range(i + 1, m):
            w -= L[k, i] * theta[arm, k]
        theta[arm, i] = w / L[i, i]


class ChebCB(_Contextual):
    """SquareCB with Chebyshev-feature least-squares cost models per arm (contextual).

    Each arm ``i`` predicts the cost at context ``c`` as ``θ_iᵀ f(c)`` with ``f`` the Chebyshev
    polynomials ``T_0..T_degree`` of ``c`` rescaled from ``context_range`` to [−1, 1]. ``θ_i`` is
    the ridge least-squares fit to the arm's history (penalty ``ridge·‖θ‖²``; the implied kernel
    ``Σ_j T_j(z) T_j(z')`` is localised, so an arm's predictions revert to the optimistic prior 0
    away from the contexts where it was observed, and unexplored (arm, context) pairs get tried).
    Sampling is inverse-gap weighting on the normalised predictions
    ``ŝ = θᵀf / scale``: ``p_i = 1/(d + η_t (ŝ_i − ŝ_best))`` for the non-best arms, the
    best-predicted arm takes the remaining mass; ``η_t = gamma · t`` grows linearly in the round
    (Foster & Rakhlin 2020; the paper's ChebCB). Per round the work is one ``(degree+1)``-sized
    rank-one Gram update and solve for the drawn arm and ``d`` dot products: microseconds.

    Parameters
    ----------
    grid, seed, scale : see :class:`TsallisINF`
    context_range : (lo, hi)
        Range of the scalar context; contexts outside are clipped.
    degree : int
        Highest Chebyshev degree (default 5, i.e. 6 features as in the paper).
    gamma : float
        Exploration schedule ``η_t = gamma · t`` (larger: greedier).
    ridge : float
        Ridge penalty, in pseudo-observations of cost 0 (the fit of an arm seen ``n`` times at
        one context is shrunk by ``n/(n + ridge)``: optimism that fades with data).

    Notes
    -----
    The authors' code fits box-constrained least squares (coefficient bounds from a Lipschitz
    estimate) and sets ``η`` from the running squared prediction error. The ridge fit and
    ``η_t = γ t`` used here keep each round O(degree³) with no inner optimisation; on the
    paper's shifted-Laplacian sequences this ChebCB's last-1000 mean is within 1.06–1.11× of
    Young's instance-optimal ω* (``benchmarks/results/tuning.md``).

    References
    ----------
    Khodak et al., ICLR 2024 (arXiv:2310.02246); Foster & Rakhlin, ICML 2020.

    Examples
    --------
    >>> import krylearn as kl
    >>> tuner = kl.solvers.ChebCB(context_range=(0.0, 10.0), seed=0)
    >>> omega = tuner.suggest(context=3.2)      # e.g. the diffusion coefficient of this step
    >>> tuner.observe(17)
    """

    _config_keys = ("grid", "seed", "scale", "arms", "context_range", "degree", "gamma", "ridge")

    context_range: tuple[float, float]
    degree: int
    gamma: float
    ridge: float
    _G: NDArray[np.float64]
    _h: NDArray[np.float64]
    _theta: NDArray[np.float64]
    _cost_sum: float

    def __init__(self, grid: ArrayLike | None = None, context_range: tuple[float, float] = (0.0, 1.0), degree: int = 5,
                 seed: int | None = None, scale: Scale = "mean", gamma: float = 1.0, ridge: float = 0.1, *,
                 arms: Arms | None = None) -> None:
        super().__init__(grid, seed, scale, arms)
        self.context_range = _check_range(context_range)
        if not _is_a(degree, numbers.Integral) or degree < 0:
            raise ValueError(f"degree must be a non-negative integer, got {degree!r}")
        self.degree = int(degree)
        for name, v in (("gamma", gamma), ("ridge", ridge)):
            if not _is_a(v, numbers.Real) or not np.isfinite(v) or v <= 0:
                raise ValueError(f"{name} must be a positive number, got {v!r}")
        self.gamma = float(gamma)
        self.ridge = float(ridge)
        m = self.degree + 1
        self._G = np.zeros((self.d, m, m))       # Σ f fᵀ per arm
        self._h = np.zeros((self.d, m))          # Σ f c per arm (raw costs)
        self._theta = np.zeros((self.d, m))      # fitted, raw-cost units
        self._cost_sum = 0.0
        self._last_f = None

    def _z(self, context):
        lo, hi = self.context_range
        return min(max(2.0 * (float(context) - lo) / (hi - lo) - 1.0, -1.0), 1.0)

    def features(self, context: float) -> NDArray[np.float64]:
        """``[T_0(z), ..., T_degree(z)]`` of the context rescaled to ``z ∈ [−1, 1]`` (clipped)."""
        return chebyshev_features(self._z(context), self.degree)

    def _scale(self):
        if self.scale == "mean":
            return self._cost_sum / self.t if self.t and self._cost_sum > 0 else 1.0
        return self.scale

    def predict(self, context: float) -> NDArray[np.float64]:
        """Predicted cost of every arm at ``context`` (raw cost units)."""
        return self._theta @ self.features(self._check_context(context))

    def _probabilities(self, ctx):
        return _igw_kernel(self._theta, self._z(ctx), self._scale(), self.gamma * (self.t + 1))

    def _update(self, arm, prob, ctx, cost):
        self._cost_sum += cost
        _ridge_update_kernel(self._G, self._h, self._theta, arm, self._z(ctx), cost, self.ridge)

    def _refit(self, arm):
        _ridge_update_kernel(self._G, self._h, self._theta, arm, 0.0, 0.0, self.ridge, False)

    def _state(self):
        return {"G": self._G.tolist(), "h": self._h.tolist(), "cost_sum": self._cost_sum}

    def _set_state(self, st):
        m = self.degree + 1
        G = np.asarray(st["G"], dtype=float)
        h = np.asarray(st["h"], dtype=float)
        if G.shape != (self.d, m, m) or h.shape != (self.d, m):
            raise ValueError(f"regression state has shapes {G.shape}, {h.shape}; expected "
                             f"{(self.d, m, m)}, {(self.d, m)}")
        self._G, self._h = G, h
        self._cost_sum = float(st["cost_sum"])
        self._theta = np.zeros((self.d, m))
        for i in range(self.d):
            self._refit(i)

"""2D heat equation with a time-varying diffusion coefficient, Crank–Nicolson in time: a sequence
of SPD linear systems (the second experiment of "Learning to Relax").

Reference: M. Khodak, E. Chow, M.-F. Balcan, A. Talwalkar, "Learning to Relax: Setting Solver
Parameters Across a Sequence of Linear System Instances", ICLR 2024 (arXiv:2310.02246), heat
equation experiment (settings of the authors' public code); J. Crank and P. Nicolson, Proc.
Cambridge Philos. Soc. 43 (1947).

``∂u/∂t = κ(t) Δu + f(t, x)`` on ``[0, 1]²`` with ``u = 0`` on the boundary, the 5-point
Laplacian on the ``(nx−1)²`` interior nodes ``(i/nx, j/nx)``, and Crank–Nicolson steps of size
``Δt`` evaluated at the half step ``t + Δt/2``::

    (I + ½ κ Δt K) u_{t+Δt} = (I − ½ κ Δt K) u_t + Δt f(t + Δt/2),     K = −Δ_h  (SPD)

Defaults (the public code): ``κ(t) = max(0.1 sin 2πt, −10 sin 2πt)`` (the paper's text has 0.01
instead of 0.1: ``coefficient=sine_coefficient(0.01)``), forcing a bump of height
32 and radius 1/8 circling the centre at radius 1/4 (``16π`` rad per unit time), initial
condition a bump of radius 1/4 at the centre, ``Δt = 10⁻³``, 5000 steps (``t ∈ [0, 5]``).
"""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Callable, Union

import numpy as np
import scipy.sparse as sp

from ..typing import _is_a

if TYPE_CHECKING:  # pragma: no cover - names for static checkers only
    from collections.abc import Iterator

    import numpy.typing as npt
    from numpy.typing import NDArray

#: ``κ(t)``: the coefficient at a time (a float) or at an array of times (an array)
CoefficientFn = Callable[["float | np.ndarray"], Union[float, "NDArray[np.float64]"]]
#: ``f(t, points)``: the forcing at time ``t`` at the ``(n, 2)`` points
ForcingFn = Callable[[float, "NDArray[np.float64]"], "npt.ArrayLike"]
#: ``u0(points)``: the initial condition at the ``(n, 2)`` points
InitialFn = Callable[["NDArray[np.float64]"], "npt.ArrayLike"]

__all__ = ["HeatEquation2D", "bump", "default_coefficient", "default_forcing", "default_initial",
           "sine_coefficient"]


def bump(points: npt.ArrayLike, center: npt.ArrayLike, radius: float) -> NDArray[np.float64]:
    """Smooth bump ``exp(1 − 1/(1 − |x − c|²/r²))`` inside the disc, 0 outside (height 1 at c)."""
    p = np.asarray(points, dtype=float)
    q = np.sum((p - np.asarray(center, dtype=float)) ** 2, axis=-1) / radius ** 2
    out = np.zeros(q.shape)
    inside = q < 1.0
    out[inside] = np.exp(1.0 - 1.0 / (1.0 - q[inside]))
    return out


def default_coefficient(t: float | npt.ArrayLike) -> float | NDArray[np.float64]:
    """``κ(t) = max(0.1 sin 2πt, −10 sin 2πt)`` (values in [0, 10]; the authors' public code)."""
    s = np.sin(2.0 * np.pi * np.asarray(t, dtype=float))
    return np.maximum(0.1 * s, -10.0 * s)


def sine_coefficient(low: float = 0.1, high: float = 10.0) -> CoefficientFn:
    """``κ(t) = max(low · sin 2πt, −high · sin 2πt)`` as a callable (``low=0.01``: the paper's text).

    Half of each unit period is mildly diffusive (``κ ≤ low``), the other half stiff (``κ ≤ high``).
    """
    low, high = float(low), float(high)
    if not (np.isfinite(low) and np.isfinite(high) and low >= 0 and high >= 0):
        raise ValueError(f"low and high must be finite and non-negative, got {low!r}, {high!r}")

    def coefficient(t: float | npt.ArrayLike) -> float | NDArray[np.float64]:
        s = np.sin(2.0 * np.pi * np.asarray(t, dtype=float))
        return np.maximum(low * s, -high * s)

    # function attributes (read by reports): valid Python, but mypy does not model them on functions
    coefficient.low, coefficient.high = low, high  # type: ignore[attr-defined]
    return coefficient


def default_forcing(t: float, points: npt.ArrayLike) -> NDArray[np.float64]:
    """A bump of height 32, radius 1/8, centred at ``(½ + cos(16πt)/4, ½ + sin(16πt)/4)``."""
    c = (0.5 + math.cos(16.0 * math.pi * t) / 4.0, 0.5 + math.sin(16.0 * math.pi * t) / 4.0)
    return 32.0 * bump(points, c, 0.125)


def default_initial(points: npt.ArrayLike) -> NDArray[np.float64]:
    """A bump of radius 1/4 at the centre."""
    return bump(points, (0.5, 0.5), 0.25)


class HeatEquation2D:
    """The Crank–Nicolson system sequence of the 2D heat equation (see the module docstring).

    Iterating yields ``(A, b, context)`` per time step: ``A`` a SciPy CSR matrix (SPD),
    ``b`` the right-hand side from the current state, ``context = κ(t)`` at the start of the
    step (the paper's context). Call :meth:`advance` with the solution before drawing the next
    system (:func:`krylearn.solvers.solve_sequence` does). Each new iteration restarts the
    simulation from the initial condition.

    Parameters
    ----------
    nx : int
        Grid intervals per direction (``(nx−1)²`` unknowns; the paper uses 25–400).
    dt : float
        Time step (default ``1e-3``).
    steps : int
        Number of time steps (default 5000).
    coefficient, forcing, initial : callable, optional
        ``κ(t)``, ``f(t, points)``, ``u0(points)`` (``points`` of shape ``(n, 2)``).

    Examples
    --------
    >>> import krylearn as kl
    >>> heat = kl.pde.heat.HeatEquation2D(nx=16, steps=10)
    >>> res = kl.solvers.solve_sequence(heat, "ssor_cg", 1.5, warm_start=True)
    >>> len(res)
    10
    """

    def __init__(self, nx: int = 100, dt: float = 1e-3, steps: int = 5000, coefficient: CoefficientFn | None = None,
                 forcing: ForcingFn | None = None, initial: InitialFn | None = None) -> None:
        if not _is_a(nx, numbers.Integral) or nx < 3:
            raise ValueError(f"nx must be an integer >= 3, got {nx!r}")
        if not _is_a(dt, numbers.Real) or not np.isfinite(dt) or dt <= 0:
            raise ValueError(f"dt must be a positive number, got {dt!r}")
        if not _is_a(steps, numbers.Integral) or steps < 0:
            raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
        self.nx = int(nx)
        self.dt = float(dt)
        self.steps = int(steps)
        self.coefficient: CoefficientFn = default_coefficient if coefficient is None else coefficient
        self.forcing: ForcingFn = default_forcing if forcing is None else forcing
        self.initial: InitialFn = default_initial if initial is None else initial
        m = self.nx - 1
        self.n = m * m
        h = 1.0 / self.nx
        T = sp.diags([-np.ones(m - 1), 2.0 * np.ones(m), -np.ones(m - 1)], [-1, 0, 1], format="csr")
        I = sp.identity(m, format="csr")
        K = (sp.kron(I, T) + sp.kron(T, I)).tocsr() / h ** 2
        K.sort_indices()
        self.K = K                       # −Δ_h, SPD
        self._dpos = _diag_positions(K)
        g = np.arange(1, self.nx) * h
        X, Y = np.meshgrid(g, g, indexing="ij")
        self.points = np.column_stack([X.ravel(), Y.ravel()])   # C order: second index fastest
        self.u: NDArray[np.float64] | None = None
        self.t = 0.0
        self.step = 0
        self._waiting = False

    @property
    def context_range(self) -> tuple[float, float]:
        """``(min κ, max κ)`` over the steps' contexts."""
        c = np.asarray(self.coefficient(np.arange(self.steps) * self.dt), dtype=float)
        return float(c.min()), float(c.max())

    def reset(self) -> None:
        """Restart from the initial condition at ``t = 0``."""
        self.u = np.asarray(self.initial(self.points), dtype=float).copy()
        self.t = 0.0
        self.step = 0
        self._waiting = False

    def matrix(self, kappa: float, sign: float = 1.0) -> sp.csr_matrix:
        """``I + sign · ½ κ Δt K`` as CSR (shares the index arrays of ``K``)."""
        data = (sign * 0.5 * kappa * self.dt) * self.K.data
        data[self._dpos] += 1.0
        return sp.csr_matrix((data, self.K.indices, self.K.indptr), shape=self.K.shape)

    def system(self) -> tuple[sp.csr_matrix, NDArray[np.float64], float]:
        """``(A, b, κ(t))`` of the current step."""
        if self.u is None:
            raise RuntimeError("HeatEquation2D: no state yet; call reset() (iterating does) first")
        half = self.t + 0.5 * self.dt
        kh = float(self.coefficient(half))
        c = 0.5 * kh * self.dt
        A = self.matrix(kh)
        b = self.u - c * (self.K @ self.u) + self.dt * np.asarray(self.forcing(half, self.points), dtype=float)
        return A, b, float(self.coefficient(self.t))

    def advance(self, u: npt.ArrayLike) -> None:
        """Accept the solution of the current step and move to the next."""
        u = np.asarray(u, dtype=float)
        if u.shape != (self.n,):
            raise ValueError(f"the solution has shape {u.shape}, expected ({self.n},)")
        self.u = u.copy()
        self.t += self.dt
        self.step += 1
        self._waiting = False

    def __len__(self) -> int:
        return self.steps

    def __iter__(self) -> Iterator[tuple[sp.csr_matrix, NDArray[np.float64], float]]:
        self.reset()
        for _ in range(self.steps):
            if self._waiting:
                raise RuntimeError("HeatEquation2D: call advance(x) with the solution before the next step")
            self._waiting = True
            yield self.system()

    def grid_values(self, u: npt.ArrayLike | None = None) -> np.ndarray:
        """The state (or ``u``) as an ``(nx−1, nx−1)`` array."""
        v = self.u if u is None else np.asarray(u)
        if v is None:
            raise RuntimeError("HeatEquation2D: no state yet; call reset() (iterating does) or pass u")
        return v.reshape(self.nx - 1, self.nx - 1)


def _diag_positions(csr: sp.csr_matrix) -> NDArray[np.int64]:
    pos = np.empty(csr.shape[0], dtype=np.int64)
    for i in range(csr.shape[0]):
        cols = csr.indices[csr.indptr[i]:csr.indptr[i + 1]]
        k = np.searchsorted(cols, i)
        if k >= cols.size or cols[k] != i:
            raise ValueError(f"row {i} has no diagonal entry")
        pos[i] = csr.indptr[i] + k
    return pos

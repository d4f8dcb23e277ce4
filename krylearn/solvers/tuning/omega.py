"""Relaxation parameters for SOR-type solvers from the matrix: Young's optimal ω from a few Lanczos
steps, and a golden-section search for the best ω of one system — the per-instance comparators of
the Learning-to-Relax tuners (:mod:`krylearn.solvers.tuning.sequence`).

References: D. M. Young, "Iterative methods for solving partial difference equations of elliptic
type", Trans. Amer. Math. Soc. 76 (1954) (the optimal SOR ω for consistently ordered matrices);
J. Kiefer, "Sequential minimax search for a maximum", Proc. AMS 4 (1953) (golden-section search).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import math
import numbers

import numpy as np

from ...typing import _is_a

if TYPE_CHECKING:  # annotations only
    from typing import Any, Callable
    from ...typing import OperatorLike

__all__ = ["jacobi_spectral_radius", "young_omega", "young_policy", "golden_section_omega"]


def _csr_and_diag(A):
    from .._sweeps import CSRSystem

    s = CSRSystem(A, "young_omega")
    return s.csr, np.real(s.diag)


def jacobi_spectral_radius(A: OperatorLike, steps: int = 30, seed: int = 0) -> float:
    """Spectral radius ``β`` of the Jacobi iteration matrix ``I − D⁻¹A`` for symmetric ``A``
    with a positive diagonal, from ``steps`` Lanczos steps (no dense eigensolve).

    ``D⁻¹A`` is similar to ``S = D^{-1/2} A D^{-1/2}``; Lanczos (full reorthogonalisation, ``steps``
    matrix-vector products) on ``S`` gives its extreme Ritz values ``θ_min``, ``θ_max`` and
    ``β = max(|1 − θ_min|, |θ_max − 1|)``. Ritz values lie inside the spectrum, so ``β`` is
    approached from below; for the n ≤ ``steps`` case the result is exact up to rounding.
    """
    from scipy.linalg import eigh_tridiagonal

    from ..lanczos import lanczos

    csr, diag = _csr_and_diag(A)
    if np.any(diag <= 0):
        raise ValueError("jacobi_spectral_radius needs a positive diagonal")
    n = csr.shape[0]
    s = 1.0 / np.sqrt(diag)
    start = np.random.default_rng(seed).standard_normal(n)
    alphas, betas, _ = lanczos(lambda q: s * (csr @ (s * q)), start, steps)
    theta = eigh_tridiagonal(alphas, betas, eigvals_only=True)
    return float(max(abs(1.0 - theta[0]), abs(theta[-1] - 1.0)))


def young_omega(A: OperatorLike, steps: int = 30, seed: int = 0) -> tuple[float, float]:
    """Young's optimal SOR parameter ``ω* = 2 / (1 + √(1 − β²))``, ``β`` the Jacobi spectral
    radius (:func:`jacobi_spectral_radius`, a few Lanczos steps).

    Optimal for consistently ordered matrices with real Jacobi eigenvalues and ``β < 1`` (e.g.
    5-point Laplacians plus a nonnegative diagonal shift in natural ordering). Returns
    ``(omega, beta)``; raises ``ValueError`` if ``β ≥ 1`` (Jacobi diverges: no such ω).

    Examples
    --------
    >>> import krylearn as kl
    >>> w, beta = kl.solvers.tuning.omega.young_omega(kl.pde.poisson((10, 10)).tocsr())
    >>> round(w, 3)
    1.56
    """
    beta = jacobi_spectral_radius(A, steps=steps, seed=seed)
    if not beta < 1.0:
        raise ValueError(f"the Jacobi spectral radius is {beta:.6g} >= 1: Young's formula does not apply")
    return 2.0 / (1.0 + math.sqrt(1.0 - beta * beta)), beta


def young_policy(steps: int = 30, lo: float | None = None,
                 hi: float | None = None) -> Callable[[Any, Any, Any], float]:
    """An oracle policy for :func:`~krylearn.solvers.tuning.sequence.solve_sequence`: ω_t = Young's ω* of each ``A_t`` (optionally
    clipped to ``[lo, hi]``)."""

    def policy(A, b, ctx):
        w, _ = young_omega(A, steps=steps)
        if lo is not None:
            w = max(w, lo)
        if hi is not None:
            w = min(w, hi)
        return w

    policy.__name__ = "young"
    return policy


_TAU = (math.sqrt(5.0) - 1.0) / 2.0


def golden_section_omega(cost: Callable[[float], float], lo: float = 1.0, hi: float = 1.95, evals: int = 12,
                         start: int = 5) -> tuple[float, float, list[tuple[float, float]]]:
    """Minimise an (integer-valued, roughly unimodal) cost of ω by golden-section search.

    A coarse start grid of ``start`` points in ``[lo, hi]`` brackets the minimum (the best point
    and its neighbours); golden-section steps then shrink the bracket until ``evals`` cost
    evaluations are spent (ties move alternately left and right, as in the paper's code).

    Parameters
    ----------
    cost : callable
        ``cost(omega) -> number`` (e.g. the iterations of one solve).
    lo, hi : float
        Search interval.
    evals : int
        Total number of cost evaluations (``>= start``).
    start : int
        Points of the coarse initial grid (``>= 2``).

    Returns
    -------
    (omega, value, points)
        The best ω found, its cost, and all ``(omega, cost)`` evaluated.
    """
    if not (_is_a(start, numbers.Integral) and start >= 2):
        raise ValueError(f"start must be an integer >= 2, got {start!r}")
    if not (_is_a(evals, numbers.Integral) and evals >= start):
        raise ValueError(f"evals must be an integer >= start ({start}), got {evals!r}")
    if not lo < hi:
        raise ValueError(f"need lo < hi, got lo={lo}, hi={hi}")
    pts: list[tuple[float, float]] = []

    def f(w):
        v = float(cost(float(w)))
        pts.append((float(w), v))
        return v

    g = np.linspace(lo, hi, int(start))
    vals = [f(w) for w in g]
    ib = int(np.argmin(vals))
    a, c = g[max(ib - 1, 0)], g[min(ib + 1, len(g) - 1)]
    o1, o2 = a + (1 - _TAU) * (c - a), a + _TAU * (c - a)
    f1 = f2 = None
    i = 0
    while len(pts) < evals:
        if f1 is None:
            f1 = f(o1)
            continue
        if f2 is None:
            f2 = f(o2)
            continue
        i += 1
        if f1 > f2 or (f1 == f2 and i % 2):
            a, o1, f1 = o1, o2, f2
            o2 = a + _TAU * (c - a)
            f2 = f(o2)
        else:
            c, o2, f2 = o2, o1, f1
            o1 = a + (1 - _TAU) * (c - a)
            f1 = f(o1)
    w, v = min(pts, key=lambda p: (p[1], abs(p[0] - 0.5 * (lo + hi))))
    return w, v, pts

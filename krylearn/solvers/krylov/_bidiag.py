"""Golub–Kahan bidiagonalisation and the input checks and stopping rule shared by LSQR and LSMR."""

from __future__ import annotations

import math
import numbers

import numba as nb
import numpy as np

from .._common import Monitor, prepare_system, stopping_tolerance
from .._kernels import NB_PLAIN, NB_REDUCE, CSRPair
from ..result import Status

__all__ = ["GolubKahan", "lsqr_update", "lsmr_update", "prepare_least_squares", "start_least_squares", "end_of_step",
           "least_squares_verdict", "sym_ortho"]


def prepare_least_squares(A, b, x0, maxiter, damp, rtol, atol, method):
    """Checked ``(A, b, x, maxiter, damp, ‖b‖, tol)``; ``maxiter`` defaults to ``2 n``."""
    A, b, x, _, maxiter_checked = prepare_system(A, b, x0, maxiter=maxiter if maxiter is not None else 0,
                                                 square=False, method=method)
    if maxiter is None:
        maxiter_checked = max(2 * A.shape[1], 20)
    if isinstance(damp, bool) or not isinstance(damp, numbers.Real) or not math.isfinite(damp) or damp < 0:
        raise ValueError(f"damp must be a finite non-negative number, got {damp!r}")
    b_norm = float(np.linalg.norm(b))
    return A, b, x, int(maxiter_checked), float(damp), b_norm, stopping_tolerance(b_norm, rtol, atol)


def start_least_squares(A, b, x0, maxiter, damp, rtol, atol, callback, method):
    """What LSQR and LSMR do before their first iteration: checks, the monitor, the first Golub–Kahan
    step and the immediate stops. Returns ``(A, b, x, maxiter, damp, tol, mon, gk, normal, done)`` with
    ``normal`` the ``‖Aᵀr_k‖`` history (in ``mon.info``) and ``done`` a finished result or None."""
    A, b, x, maxiter, damp, b_norm, tol = prepare_least_squares(A, b, x0, maxiter, damp, rtol, atol, method)
    mon = Monitor(method, b_norm, tol, callback)
    gk = GolubKahan(A, b, x)
    normal = [gk.alpha * gk.beta]
    mon.info["normal_residuals"] = normal
    done = None
    if mon.record(0, gk.beta, x=x):
        done = mon.result(x, Status.USER_STOP, 0)
    elif gk.beta <= tol or gk.alpha == 0.0:
        mon.info["least_squares"] = gk.beta > tol
        done = mon.result(x, Status.CONVERGED, 0)
    return A, b, x, maxiter, damp, tol, mon, gk, normal, done


def end_of_step(mon, it, x, rnorm, arnorm, anorm, acond, normal, tol, rtol, beta, alpha):
    """Record step ``it`` of LSQR/LSMR and decide: a final Status (NOT_FINITE, USER_STOP, CONVERGED) or None."""
    normal.append(arnorm)
    mon.info["anorm"] = anorm
    mon.info["acond"] = acond
    if not (math.isfinite(rnorm) and np.isfinite(x).all()):
        mon.record(it, rnorm, x=x)
        return Status.NOT_FINITE
    verdict = least_squares_verdict(rnorm, arnorm, anorm, tol, rtol, beta, alpha)
    if mon.record(it, rnorm, x=x):
        return Status.USER_STOP
    if verdict is not None:
        mon.info["least_squares"] = rnorm > tol
    return verdict


def least_squares_verdict(rnorm, arnorm, anorm, tol, rtol, beta, alpha):
    """CONVERGED when ``‖r‖ ≤ tol`` (consistent) or ``‖Aᵀr‖ ≤ rtol·‖A‖·‖r‖`` (least squares); else None."""
    if rnorm <= tol:
        return Status.CONVERGED
    if arnorm <= rtol * anorm * rnorm or alpha == 0.0:
        return Status.CONVERGED
    return None


def lsqr_rotation(rhobar, beta, alpha, phibar):
    """LSQR's Givens rotation of step k (Paige & Saunders 1982, §4.1): it eliminates ``β_{k+1}``
    below ``ρ̄_k`` in the bidiagonal. Returns ``(ρ, c, θ, ρ̄_{k+1}, φ, φ̄_{k+1})``; the solution
    update is ``x += (φ/ρ) w``, ``w = v − (θ/ρ) w``, and ``‖r_k‖ = |φ̄_{k+1}|``."""
    rho = math.hypot(rhobar, beta)
    cs, sn = rhobar / rho, beta / rho
    return rho, cs, sn * alpha, -cs * alpha, cs * phibar, sn * phibar


def sym_ortho(a, b):
    """Stable Givens rotation ``(c, s, r)``: ``c a + s b = r``, ``−s a + c b = 0``, ``r = ±hypot(a, b)``
    (the sign conventions of SymOrtho in Choi, Paige & Saunders 2011, used by LSMR)."""
    if b == 0.0:
        return math.copysign(1.0, a), 0.0, abs(a)
    if a == 0.0:
        return 0.0, math.copysign(1.0, b), abs(b)
    if abs(b) > abs(a):
        tau = a / b
        s = math.copysign(1.0, b) / math.sqrt(1.0 + tau * tau)
        return s * tau, s, b / s
    tau = b / a
    c = math.copysign(1.0, a) / math.sqrt(1.0 + tau * tau)
    return c, c * tau, a / c


@nb.njit(**NB_REDUCE)
def _lsqr_update(x, w, v, a, c):
    """x += a w; w = c w + v; returns the old ‖w‖² (one pass)."""
    s = 0.0
    for i in range(x.shape[0]):
        wi = w[i]
        x[i] += a * wi
        s += wi * wi
        w[i] = c * wi + v[i]
    return s


@nb.njit(**NB_PLAIN)
def _lsmr_update(x, h, hbar, v, a, b, c):
    """hbar = a hbar + h; x += b hbar; h = c h + v (one pass)."""
    for i in range(x.shape[0]):
        hb = a * hbar[i] + h[i]
        hbar[i] = hb
        x[i] += b * hb
        h[i] = c * h[i] + v[i]


def lsqr_update(x, w, v, a, c):
    """LSQR's ``x += a w``, ``w ← c w + v``; returns ``‖w‖²`` before the update."""
    if x.dtype == np.float64 and w.dtype == np.float64 and v.dtype == np.float64:
        return _lsqr_update(x, w, v, float(a), float(c))
    ww = float(np.vdot(w, w).real)
    x += a * w
    w *= c
    w += v
    return ww


def lsmr_update(x, h, hbar, v, a, b, c):
    """LSMR's ``h̄ ← a h̄ + h``, ``x += b h̄``, ``h ← c h + v``."""
    if x.dtype == np.float64 and h.dtype == np.float64 and hbar.dtype == np.float64 and v.dtype == np.float64:
        _lsmr_update(x, h, hbar, v, float(a), float(b), float(c))
        return
    hbar *= a
    hbar += h
    x += b * hbar
    h *= c
    h += v


class GolubKahan:
    """``β₁u₁ = b − A x₀``, ``α₁v₁ = Aᴴu₁``; :meth:`step` gives the next ``(β, α)`` and updates ``u``, ``v``."""

    def __init__(self, A, b, x):
        self.A = A
        # real float64 sparse matrices: fused gather kernels for both products (CSRPair)
        self._csr = CSRPair.of(A, x) if b.dtype == np.float64 else None
        u = b - A.matvec(x) if np.any(x) else b.copy()
        self.beta = float(np.linalg.norm(u))
        if self.beta > 0:
            u /= self.beta
        v = np.asarray(A.rmatvec(u), dtype=x.dtype)
        self.alpha = float(np.linalg.norm(v))
        if self.alpha > 0:
            v /= self.alpha
        self.u, self.v = u, v

    def step(self):
        if self._csr is not None:
            # u and v are updated in place (the solvers copy v where they keep it)
            u, v = self.u, self.v
            beta = math.sqrt(self._csr.matvec_sub(v, u, self.alpha))
            if beta > 0:
                u *= 1.0 / beta
            alpha = math.sqrt(self._csr.rmatvec_sub(u, v, beta))
            if alpha > 0:
                v *= 1.0 / alpha
            self.beta, self.alpha = beta, alpha
            return beta, alpha
        u = np.asarray(self.A.matvec(self.v), dtype=self.u.dtype)
        u -= self.alpha * self.u
        beta = float(np.linalg.norm(u))
        if beta > 0:
            u /= beta
        v = np.asarray(self.A.rmatvec(u), dtype=self.v.dtype)
        v -= beta * self.v
        alpha = float(np.linalg.norm(v))
        if alpha > 0:
            v /= alpha
        self.u, self.v, self.beta, self.alpha = u, v, beta, alpha
        return beta, alpha

    def finish(self, mon, x, b, damp):
        """Replace the last recorded residual estimate by the true ``‖b − A x‖`` (with the damping term)."""
        r = b - self.A.matvec(x)
        true = float(np.linalg.norm(r))
        if damp > 0:
            true = math.hypot(true, damp * float(np.linalg.norm(x)))
            mon.norm_name = "sqrt(||b - Ax||^2 + damp^2 ||x||^2)"
        if mon.history:
            mon.history[-1] = true

"""The inner iterations of :func:`krylearn.lstsq`, each on the sketch preconditioner ``P``:
LSQR in cycles (sketch-and-precondition), damped heavy ball (iterative sketching) and FOSSILS
(heavy ball inside two steps of iterative refinement); references in :mod:`.lstsq`."""

from __future__ import annotations


import numpy as np

from ..krylov._bidiag import lsqr_rotation
from ..result import Status

_EPS = np.finfo(np.float64).eps


def _floors(b_norm, ax_norm, r_norm, cond):
    """Attainable ‖Pᵀ Aᵀ r‖ in floating point: (typical, worst case).

    Rounding in ``r = b − Ax`` gives ``≈ u(‖b‖ + ‖Ax‖)``; rounding in ``Aᵀ r`` amplified by
    ``‖P‖ = 1/σ_min(SA)`` can add up to ``u κ(SA) ‖r‖`` in the worst case."""
    small = _EPS * (b_norm + ax_norm)
    return small, small + 64 * _EPS * cond * r_norm


def _threshold(rtol, atol, b, r, pre):
    """(tol on ‖PᵀAᵀr‖, worst-case rounding floor, consistent?)"""
    r_norm = float(np.linalg.norm(r))
    ax_norm = float(np.linalg.norm(b - r))
    b_norm = float(np.linalg.norm(b))
    small, big = _floors(b_norm, ax_norm, r_norm, pre.cond)
    consistent = r_norm <= max(atol, rtol * b_norm)
    return max(rtol * ax_norm + atol, small), big, consistent


def _stalled(cn, floor):
    """Status when the iteration stops improving: the rounding floor was reached, or not."""
    return Status.CONVERGED if cn <= floor else Status.STAGNATION


# ---------------------------------------------------------------------------------------
# sketch-and-precondition: LSQR on A P from the sketch-and-solve start (one pass per iteration)
# ---------------------------------------------------------------------------------------
def _lsqr(ops, b, pre, rtol, atol, maxiter, mon):
    """LSQR (Paige & Saunders 1982) on ``min ‖(A P) dy − r0‖``, ``x = x0 + P dy``, in cycles.

    Each iteration needs ``A P v`` and ``Pᵀ Aᵀ u`` with ``u = (A P v − α u_old)/β``; we obtain
    ``Aᵀ u`` as ``(Aᵀ(A P v) − α Aᵀu_old)/β`` from the fused pass ``(w, Aᵀw)``, so an iteration
    reads ``A`` once.

    Why cycles: ``A (P v)`` is computed with an error of about ``u ‖A‖ ‖P v‖ ≈ u κ(SA)`` relative
    to ``‖A P v‖``, so LSQR's recursive estimates can only be trusted down to a relative
    reduction ``η = 8 u κ(SA)`` of the normal residual it started from (for κ(A) = 1e12, η ≈ 1e-3).
    A cycle therefore stops when its estimate ``‖Pᵀ Aᵀ r‖`` has dropped by ``η`` (or below the
    stopping tolerance); the true residual ``r = b − A x`` and ``Pᵀ Aᵀ r`` are then recomputed
    (one pass) and LSQR restarts from the current ``x`` — iterative refinement with an
    ``η``-accurate inner solver. For well-conditioned ``A`` (``η`` below the rounding level) this is
    a single LSQR run. The run ends when the true test passes or when a cycle no longer halves
    the true value (rounding in ``Aᵀ r`` dominates: the floating-point floor is reached), which
    reports CONVERGED if the true value is below the worst-case floor, STAGNATION otherwise.
    When a cycle after the first ends with the true value > 1/0.7 times its recursive estimate (a sign that
    rounding noise is comparable to it), the next cycle only aims at a 4× reduction: enough to
    tell progress from stagnation without a full cycle.
    """
    P = pre.P
    x = pre.x0.copy()
    normal_hist = []
    mon.info["normal_residuals"] = normal_hist
    mon.info["cycles"] = 0
    eta = min(0.1, 8 * _EPS * max(pre.cond, 1.0))
    b_norm = float(np.linalg.norm(b))
    it = 0
    cycles = 0
    prev_true = np.inf
    est_end = np.inf
    while True:
        r, g = ops.resid_grad(b, x)
        beta = float(np.linalg.norm(r))
        c_true = float(np.linalg.norm(P.T @ g))
        tol, floor, consistent = _threshold(rtol, atol, b, r, pre)
        mon.info["floor"] = floor
        if it == 0 or len(mon.history) < it + 1:
            mon.history.append(beta)
            normal_hist.append(c_true)
        else:
            mon.history[-1] = beta            # replace the recursive estimate by the true one
            normal_hist[-1] = c_true
        if c_true <= tol or consistent:
            return x, Status.CONVERGED, it
        if not np.isfinite(c_true):
            return x, Status.NOT_FINITE, it
        if it >= maxiter:
            return x, Status.MAX_ITERATIONS, it
        if cycles >= 12 or c_true > 0.5 * prev_true:
            return x, _stalled(c_true, floor), it
        prev_true = c_true
        cycles += 1
        mon.info["cycles"] = cycles
        cycle_tol = max(tol, eta * c_true)
        if cycles > 1 and est_end < 0.7 * c_true:
            # the true value is well above the cycle's own estimate: rounding noise is comparable
            # to it, so the next cycle may stall; a short one (target c/4) is enough to tell
            cycle_tol = max(cycle_tol, 0.25 * c_true)
        u = r / beta
        z = g / beta                          # z = Aᵀ u
        v = P.T @ z
        alpha = float(np.linalg.norm(v))
        if alpha == 0.0:
            return x, Status.CONVERGED, it
        v /= alpha
        w = v.copy()
        dy = np.zeros_like(v)
        phibar, rhobar = beta, alpha
        ynorm0 = pre.y(x)
        while it < maxiter:
            Av, AtAv = ops.normal(P @ v)
            u = Av - alpha * u
            beta = float(np.linalg.norm(u))
            if beta > 0:
                u /= beta
                z = (AtAv - alpha * z) / beta
            v = P.T @ z - beta * v
            alpha = float(np.linalg.norm(v))
            if alpha > 0:
                v /= alpha
            rho, cs, theta, rhobar, phi, phibar = lsqr_rotation(rhobar, beta, alpha, phibar)
            dy += (phi / rho) * w
            w = v - (theta / rho) * w
            it += 1
            arnorm = phibar * alpha * abs(cs)
            est_end = arnorm
            normal_hist.append(arnorm)
            ax_est = float(np.linalg.norm(ynorm0 + dy))
            if mon.record(it, phibar, x_fn=lambda: x + P @ dy):
                return x + P @ dy, Status.USER_STOP, it
            if not np.isfinite(phibar):
                return x, Status.NOT_FINITE, it
            if arnorm <= max(rtol * ax_est + atol, _EPS * (ax_est + b_norm), cycle_tol) or alpha == 0.0 \
                    or beta == 0.0 or phibar <= max(atol, rtol * b_norm):
                break
        x = x + P @ dy


# ---------------------------------------------------------------------------------------
# iterative sketching with damping and momentum (Epperly 2024)
# ---------------------------------------------------------------------------------------
def _iterative_sketching(ops, b, pre, rtol, atol, maxiter, mon, alpha, beta):
    """``x⁺ = x + α P Pᵀ Aᵀ(b − A x) + β (x − x_prev)``; the true residual every step."""
    P = pre.P
    x = pre.x0.copy()
    x_prev = x
    normal_hist = []
    mon.info["normal_residuals"] = normal_hist
    best = (np.inf, x, 0)
    since_best = 0
    it = 0
    while True:
        r, g = ops.resid_grad(b, x)
        c = P.T @ g
        cn = float(np.linalg.norm(c))
        rn = float(np.linalg.norm(r))
        normal_hist.append(cn)
        tol, floor, consistent = _threshold(rtol, atol, b, r, pre)
        mon.info["floor"] = floor
        if mon.record(it, rn, x=x):
            return x, Status.USER_STOP, it
        if not np.isfinite(cn):
            return x, Status.NOT_FINITE, it
        if cn <= tol or consistent:
            return x, Status.CONVERGED, it
        if cn < 0.9 * best[0]:
            best, since_best = (cn, x, it), 0
        else:
            since_best += 1
            if since_best >= 3:
                # no progress: rounding floor reached (or not); return the best iterate
                if best[1] is not x:
                    x = best[1]
                    mon.record(it + 1, float(np.linalg.norm(b - ops.matvec(x))), x=x)
                    it += 1
                    normal_hist.append(best[0])
                return x, _stalled(best[0], floor), it
        if it >= maxiter:
            return x, Status.MAX_ITERATIONS, it
        x_new = x + alpha * (P @ c) + beta * (x - x_prev)
        x_prev, x = x, x_new
        it += 1


# ---------------------------------------------------------------------------------------
# FOSSILS: two refinement steps, Polyak-solved corrections (Epperly, Meier, Nakatsukasa 2024)
# ---------------------------------------------------------------------------------------
def _fossils(ops, b, pre, rtol, atol, maxiter, mon, alpha, beta, refinements):
    """Outer: ``r = b − A x``, ``c = Pᵀ Aᵀ r`` (true residual); inner: solve
    ``(Pᵀ Aᵀ A P) dy = c`` by heavy-ball iterations from ``dy = 0`` (each recomputes the inner
    residual ``c − PᵀAᵀA P dy`` from scratch with one fused pass); ``x += P dy``.
    ``refinements`` outer steps are taken (then more, up to 4 extra, only while the stopping
    rule fails above the worst-case rounding floor and each step still halves ``‖Pᵀ Aᵀ r‖``). The inner iterations stop at a relative
    inner residual ``max(8 u κ(SA), rtol/100)`` (what rounding allows) or when they stall. ``iterations`` counts outer steps; ``info['inner_iterations']`` the inner ones."""
    P = pre.P
    x = pre.x0.copy()
    normal_hist = []
    mon.info["normal_residuals"] = normal_hist
    inner_counts = []
    mon.info["inner_iterations"] = inner_counts
    it = 0
    outer = 0
    inner_rel = min(0.5, max(8 * _EPS * max(pre.cond, 1.0), 1e-2 * rtol, 4 * _EPS))
    prev = np.inf
    while True:
        r, g = ops.resid_grad(b, x)
        c = P.T @ g
        cn = float(np.linalg.norm(c))
        normal_hist.append(cn)
        tol, floor, consistent = _threshold(rtol, atol, b, r, pre)
        mon.info["floor"] = floor
        if mon.record(outer, float(np.linalg.norm(r)), x=x):
            return x, Status.USER_STOP, outer
        if not np.isfinite(cn):
            return x, Status.NOT_FINITE, outer
        done = cn <= tol or consistent
        if outer >= refinements and (done or cn <= floor):
            return x, Status.CONVERGED, outer
        if outer >= refinements and (cn > 0.5 * prev or outer >= refinements + 4):
            return x, _stalled(cn, floor), outer
        if it >= maxiter * (refinements + 4):
            return x, Status.MAX_ITERATIONS, outer
        prev = min(prev, cn)
        # inner Polyak solve of H dy = c, H = Pᵀ AᵀA P (‖H − I‖ small)
        inner_tol = inner_rel * cn
        dy = np.zeros_like(c)
        dy_prev = dy
        res = c
        j = 0
        best = np.inf
        stall = 0
        while j < maxiter:
            dy_new = dy + alpha * res + beta * (dy - dy_prev)
            dy_prev, dy = dy, dy_new
            _, AtAv = ops.normal(P @ dy)
            res = c - P.T @ AtAv
            j += 1
            rn_in = float(np.linalg.norm(res))
            if rn_in <= inner_tol:
                break
            if rn_in < 0.9 * best:
                best, stall = rn_in, 0
            else:
                stall += 1
                if stall >= 5:
                    break
        inner_counts.append(j)
        it += j
        x = x + P @ dy
        outer += 1

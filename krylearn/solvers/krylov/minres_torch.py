"""MINRES on torch tensors, on the tensors' device (what :func:`krylearn.minres` runs for a tensor ``b``).

The algorithm of :func:`krylearn.minres` (Paige & Saunders 1975: Lanczos on ``M A`` in the ``M``-inner
product, Givens rotations on the tridiagonal, three-term update of ``x``), written with torch
operations so that a CUDA system is solved on the GPU. The residual that the stopping rule tests is
the unpreconditioned 2-norm: besides the directions ``w_k`` the loop carries ``A w_k`` (from the
product ``A v_k`` it already has), so ``r_k = r_{k−1} − φ_k A w_k`` costs no extra product and its norm
is the package's ``‖b − A x‖₂``, confirmed by a true residual at the end. The host reads two scalars
per iteration. ``A`` and ``M`` as in :mod:`krylearn.solvers.krylov.cg_torch` (tensors,
``TorchOperator``, callables on tensors; NumPy operators through counted host copies); ``M`` must be
Hermitian positive definite. One right-hand side; a block ``b`` is solved column by column.

Reference: C. C. Paige, M. A. Saunders, "Solution of sparse indefinite systems of linear equations",
SIAM J. Numer. Anal. 12 (1975) 617–629.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ..result import Status
from .cg_torch import _OneSystem

if TYPE_CHECKING:  # annotations only
    from ...typing import Callback

__all__ = ["minres_torch"]


def minres_torch(A: Any, b: Any, x0: Any = None, *, rtol: float = 1e-5, atol: float = 0.0,
                 maxiter: int | None = None, M: Any = None, callback: Callback | None = None, shift: float = 0.0,
                 check_true_residual: bool = True, estimate_eigenvalues: bool = False) -> Any:
    """MINRES for a torch ``b`` of shape ``(n,)``; arguments and result as :func:`krylearn.minres`,
    ``res.x`` a tensor on ``b``'s device and dtype (``info["device"]``). Returns ``NotImplemented``
    (the caller then takes the NumPy path with one host copy, or solves column by column) for a block
    ``b``, a nonzero ``shift`` or ``estimate_eigenvalues=True``."""
    if b.ndim != 1 or shift != 0.0 or estimate_eigenvalues:
        return NotImplemented
    run = _OneSystem("minres-torch", A, b, x0, rtol, atol, maxiter, M, callback)
    torch, eps, bs, tol, info = run.torch, run.eps, run.bs, run.tol, run.info
    nrm, mv, apply_A, apply_M, maxiter = run.nrm, run.mv, run.apply_A, run.apply_M, run.maxiter
    x, r, hist, status = run.x, run.r, run.hist, run.status
    ls_rtol = max(float(rtol), eps)
    it = misses = 0

    def rdot(u: Any, v: Any) -> float:  # Re(uᴴ v), accumulated in double precision
        return run.dot(u, v).real


    while status is None:
        # one MINRES cycle from the residual r (a missed confirmation starts another from the true one)
        y = r if apply_M is None else mv(apply_M, r)
        beta1 = rdot(r, y)
        if beta1 < 0:
            status, info["reason"] = Status.INDEFINITE, "the preconditioner M is not positive definite"
            break
        beta1 = math.sqrt(beta1)
        r1, r2 = r, r
        oldb, beta, dbar, epsln, phibar, cs, sn = 0.0, beta1, 0.0, 0.0, beta1, -1.0, 0.0
        tnorm2 = 0.0     # ‖T_k‖_F², the estimate of ‖A‖ in the least-squares test
        w = w2 = torch.zeros_like(r)
        aw = aw2 = torch.zeros_like(r)
        first = True
        rn = hist[-1]
        while it < maxiter:
            v = y / beta
            av = mv(apply_A, v)
            y = av if first else av - (beta / oldb) * r1
            alfa = rdot(v, y)
            y = y - (alfa / beta) * r2
            r1, r2 = r2, y
            y = r2 if apply_M is None else mv(apply_M, r2)
            oldb, beta2 = beta, rdot(r2, y)
            if beta2 < 0:
                status, info["reason"] = Status.INDEFINITE, "the preconditioner M is not positive definite"
                break
            beta = math.sqrt(beta2)
            oldeps = epsln
            delta = cs * dbar + sn * alfa
            gbar = sn * dbar - cs * alfa
            epsln = sn * beta
            dbar = -cs * beta
            tnorm2 += alfa * alfa + oldb * oldb + beta * beta
            least_squares = math.hypot(gbar, dbar) <= ls_rtol * math.sqrt(tnorm2)   # ‖A r‖ ≤ rtol·‖A‖·‖r‖
            gamma = max(math.hypot(gbar, beta), eps)
            cs, sn = gbar / gamma, beta / gamma
            phi, phibar = cs * phibar, sn * phibar
            w1, w2 = w2, w
            aw1, aw2 = aw2, aw
            w = (v - oldeps * w1 - delta * w2) / gamma
            aw = (av - oldeps * aw1 - delta * aw2) / gamma     # A w, from A v: no extra product
            x = x + phi * w
            r = r - phi * aw
            it += 1
            first = False
            rn = nrm(r)
            hist.append(rn)
            if not math.isfinite(rn):
                status = Status.NOT_FINITE
                break
            if rn <= tol or beta == 0.0:
                break
            if least_squares:
                # b is not in the range of A: x minimises ‖b − A x‖ (as kl.minres reports it)
                status = Status.BREAKDOWN
                info["least_squares"] = True
                info["reason"] = ("b is not in the range of A: x is a least-squares solution "
                                  "(‖A r‖ ≤ rtol·‖A‖·‖r‖); use a consistent b, or MINRES-QLP for the minimum-length one")
                break
            if run.user_stop(it, rn, x):
                status = Status.USER_STOP
                break
        if status is not None:
            break
        if rn > tol and beta != 0.0:
            status = Status.MAX_ITERATIONS
            break
        if beta == 0.0 and rn > tol:
            # an invariant Krylov space without convergence: singular A and an inconsistent b
            status, info["reason"] = Status.BREAKDOWN, "the Lanczos process ended (singular, inconsistent system)"
            break
        if not check_true_residual:
            status = Status.CONVERGED
            break
        r = bs - mv(apply_A, x)     # confirm with the true residual, or restart from it
        hist[-1] = tn = nrm(r)
        if tn <= tol:
            status = Status.CONVERGED
            break
        misses += 1
        info["restarts"] = misses
        if misses > 5 or it >= maxiter:
            status = Status.STAGNATION if misses > 5 else Status.MAX_ITERATIONS
            break
    return run.result(x, status, it)

"""Geometric multigrid as a standalone solver: ``x ← x + M (b − A x)``, one cycle per iteration.

The cycle is :func:`krylearn.precond.multigrid` (matrix-free geometric multigrid for grid Poisson
operators). As a preconditioner for :func:`krylearn.cg` it needs about half the cycles (and is
robust where the stationary iteration is slow, e.g. thin walls); the standalone solver is what a
multigrid user expects and what a time loop with a good ``x0`` may prefer.

Reference: W. Hackbusch, "Multi-Grid Methods and Applications", Springer 1985; U. Trottenberg,
C. W. Oosterlee, A. Schüller, "Multigrid", Academic Press 2001.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import numpy as np

from .._common import rescaled, residual_verdict
from .._skeleton import KrylovRun
from ..precond.multigrid import MultigridPreconditioner
from ..result import Status

if TYPE_CHECKING:  # annotations only (krylearn.typing)
    from typing import Any

    from ...operators.stencil import PoissonStencil
    from ...typing import ArrayLike, Callback, OperatorLike, PreconditionerLike
    from ..result import SolverResult

__all__ = ["multigrid", "Multigrid"]


class Multigrid:
    """The multigrid solver with its hierarchy built once; :meth:`solve` per right-hand side.

    Parameters are those of :func:`krylearn.precond.multigrid`; ``.preconditioner`` is the
    :class:`~krylearn.solvers.precond.multigrid.MultigridPreconditioner` (usable in CG too)."""

    method = "multigrid"

    def __init__(self, A, **cycle_options):
        self.A = A
        self.preconditioner = MultigridPreconditioner(A, **cycle_options)

    def solve(self, b, x0=None, *, rtol=1e-5, atol=0.0, maxiter=None, callback=None):
        return _iterate(self.A, self.preconditioner, b, x0, rtol=rtol, atol=atol, maxiter=maxiter,
                        callback=callback)


def _iterate(A, M, b, x0, *, rtol, atol, maxiter, callback):
    run = KrylovRun("multigrid", A, b, x0, maxiter=maxiter, rtol=rtol, atol=atol, default_maxiter=200)
    if np.iscomplexobj(run.b):
        raise ValueError("multigrid solves real systems; pass the real and imaginary parts separately")
    if run.zero_rhs is not None:
        return run.zero_rhs
    A, b, x, maxiter, tol = run.A, run.b, run.x, run.maxiter, run.tol
    info = {"setup_time": M.info["setup_time"], "levels": M.info["levels"]}
    if (done := run.start(callback, info=info)) is not None:
        return done
    mon, r, rnorm = run.mon, run.r, run.rnorm
    r0 = rnorm
    it = 0
    status = Status.MAX_ITERATIONS
    slow = 0
    while it < maxiter:
        x += M.matvec(r)
        r = b - A.matvec(x)
        it += 1
        prev, rnorm = rnorm, float(np.linalg.norm(r))
        stop = mon.record(it, rnorm, x=x)
        verdict = residual_verdict(rnorm, tol)
        if verdict is not None:
            status = verdict
            break
        if stop:
            status = Status.USER_STOP
            break
        # a cycle that no longer reduces the residual (rounding floor, or a divergent cycle)
        slow = slow + 1 if rnorm > 0.999 * prev else 0
        if slow >= 3 or rnorm > 1e8 * r0:
            status = Status.STAGNATION
            mon.info["reason"] = ("the residual grew: the cycle diverges on this problem (use it as a "
                                  "preconditioner: kl.cg(A, b, M=kl.precond.multigrid(A)))"
                                  if rnorm > r0 else "the residual stopped decreasing (rounding floor)")
            break
    return run.finish(x, status, it, rnorm)


@rescaled
def multigrid(A: OperatorLike, b: ArrayLike, x0: ArrayLike | None = None, *, rtol: float = 1e-5, atol: float = 0.0,
              maxiter: int | None = None, callback: Callback | None = None, M: PreconditionerLike = None,
              **cycle_options: Any) -> SolverResult:
    """Solve ``A x = b`` for a grid Poisson operator by multigrid cycles.

    Each iteration is ``x ← x + M (b − A x)`` with ``M`` one cycle of
    :func:`krylearn.precond.multigrid` (geometric multigrid, matrix-free on every level).

    Stopping rule: ``‖b − A x‖₂ ≤ max(atol, rtol·‖b‖₂)``, tested on the true residual after every
    cycle (no recurrence to drift).

    Parameters
    ----------
    A : PoissonStencil
        From :func:`krylearn.pde.poisson`. Other operators raise ``ValueError``.
    b : array_like, shape (n,)
    x0 : array_like, optional
    rtol, atol : float
    maxiter : int, optional
        Cycle limit (default 200).
    callback : callable, optional
        ``callback(state) -> bool`` after each cycle; True stops (USER_STOP).
    M : MultigridPreconditioner, optional
        A hierarchy built earlier (reuse across right-hand sides); ``cycle_options`` then must be empty.
    **cycle_options
        ``cycle``, ``smoother``, ``pre``, ``post``, ``levels``, ``coarse_size``, ``omega`` of
        :func:`krylearn.precond.multigrid`.

    Returns
    -------
    SolverResult
        ``method="multigrid"``; ``info["setup_time"]`` and ``info["levels"]``. A cycle that stops
        reducing the residual ends with STAGNATION and ``info["reason"]``.

    Examples
    --------
    >>> import numpy as np, krylearn as kl
    >>> A = kl.pde.poisson((128, 128))
    >>> res = kl.multigrid(A, np.ones(A.shape[0]), rtol=1e-8)
    >>> res.converged, res.iterations < 20
    (True, True)
    """
    if M is None:
        # the cast: a PoissonStencil is what A must be (GridHierarchy raises ValueError for anything else)
        M = MultigridPreconditioner(cast("PoissonStencil", A), **cycle_options)
    elif cycle_options:
        raise TypeError(f"pass either M or cycle options, not both (got {sorted(cycle_options)})")
    elif not isinstance(M, MultigridPreconditioner):
        raise TypeError(f"M must be a MultigridPreconditioner (from kl.precond.multigrid), got {type(M).__name__}")
    elif M.shape != getattr(A, "shape", None):
        raise ValueError(f"M has shape {M.shape}, the operator {getattr(A, 'shape', None)}")
    return _iterate(A, M, b, x0, rtol=rtol, atol=atol, maxiter=maxiter, callback=callback)

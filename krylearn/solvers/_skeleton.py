"""The one Krylov skeleton: the start and the end that every iterative solver of krylearn shares.

Every solver here has the same frame around its own recurrence::

    validate (prepare_system) → ‖b‖ → tolerance max(atol, rtol·‖b‖) → b = 0 answered at once
    → a Monitor → r₀ = b − A x₀ recorded (x₀ may already meet the tolerance)
    → the method's loop; when its recursive residual meets the tolerance, a true residual confirms
      it (or the loop restarts from the true residual; STAGNATION after repeated misses)
    → the MAX_ITERATIONS tail → one SolverResult

:class:`KrylovRun` is that frame, so that a method file holds only its recurrence::

    run = KrylovRun("fcg", A, b, x0, M=M, maxiter=maxiter, rtol=rtol, atol=atol, variable_ok=True)
    if run.zero_rhs is not None:          # b = 0
        return run.zero_rhs
    ... option checks that need the validated system ...
    if (done := run.start(callback, matvec=matvec)) is not None:   # r₀ already meets the tolerance
        return done
    A, b, x, M, mon, r = run.A, run.b, run.x, run.M, run.mon, run.r
    while it < run.maxiter:
        ...
        r, rnorm, verdict = run.check(x, it, r, rnorm)   # NaN/Inf, or the confirmed tolerance
        if verdict is not None:
            status = verdict
            break
        ...
    return run.finish(x, status, it, rnorm)

The stopping rule is the package's one rule, ``‖b − A x‖₂ ≤ max(atol, rtol·‖b‖₂)`` on the
unpreconditioned residual (see :func:`krylearn.solvers._common.stopping_tolerance`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from ._common import (Monitor, TrueResidualCheck, initial_residual, prepare_system, residual_verdict, safe_norm,
                      stopping_tolerance, zero_rhs_result)
from .result import SolverError, Status

if TYPE_CHECKING:  # annotations only
    from ..operators.base import LinearOperator
    from ..typing import ArrayLike, Callback, OperatorLike, PreconditionerLike
    from .result import SolverResult

__all__ = ["KrylovRun", "residual_verdict"]


class KrylovRun:
    """The frame of one solve (see the module docstring).

    Parameters
    ----------
    method : str
        The solver's name (errors, the zero right-hand side result).
    A, b, x0, M, maxiter :
        As the solvers take them; validated by :func:`~krylearn.solvers._common.prepare_system`.
    rtol, atol : float
        The stopping rule's tolerances.
    variable_ok : bool
        Whether a variable preconditioner (``M.variable``) is acceptable (flexible methods).
    default_maxiter : int, optional
        A method-specific iteration limit when ``maxiter`` is None (else ``10 n``).

    Attributes
    ----------
    A, b, x, M, maxiter, b_norm, tol :
        The validated system, the starting iterate (a fresh array) and the tolerance.
    zero_rhs : SolverResult or None
        The finished result when ``b = 0`` (``x = 0``).
    mon, r, rnorm, done, true_residual :
        Set by :meth:`start` (``true_residual``: the :class:`TrueResidualCheck` that
        :meth:`confirm` uses, for loops that restart on their own terms).
    """

    __slots__ = ("method", "A", "b", "x", "M", "maxiter", "b_norm", "tol", "zero_rhs", "mon", "r", "rnorm",
                 "done", "true_residual")

    method: str
    A: LinearOperator
    b: np.ndarray
    x: np.ndarray
    M: LinearOperator | None  # None: no preconditioner
    maxiter: int
    b_norm: float
    tol: float
    zero_rhs: SolverResult | None
    # set by start(): every method below runs after it (None before)
    mon: Monitor
    r: np.ndarray
    rnorm: float
    done: SolverResult | None
    true_residual: TrueResidualCheck

    def __init__(self, method: str, A: OperatorLike, b: ArrayLike, x0: ArrayLike | None = None, *,
                 M: PreconditionerLike = None, maxiter: int | None = None, rtol: float = 1e-5, atol: float = 0.0,
                 variable_ok: bool = False, default_maxiter: int | None = None) -> None:
        self.method = method
        if maxiter is None and default_maxiter is not None:
            maxiter = default_maxiter
        self.A, self.b, self.x, self.M, self.maxiter = prepare_system(A, b, x0, M=M, maxiter=maxiter, method=method,
                                                                      variable_ok=variable_ok)
        self.b_norm = safe_norm(self.b)
        self.tol = stopping_tolerance(self.b_norm, rtol, atol)
        # b = 0: x = 0 is the answer, whatever x0
        self.zero_rhs = zero_rhs_result(method, self.x) if self.b_norm == 0.0 else None
        # placeholders until start(), which every other method follows: the attributes are typed as
        # what start() sets (not Optional) so that the solvers need no None checks after start()
        self.mon = self.r = self.rnorm = self.true_residual = None  # type: ignore[assignment]
        self.done = None

    def start(self, callback: Callback | None = None, *, matvec: Callable[[np.ndarray], np.ndarray] | None = None,
              name: str | None = None, info: dict[str, Any] | None = None,
              record_initial: bool = True) -> SolverResult | None:
        """The monitor and the recorded initial residual ``r₀ = b − A x₀`` (through ``matvec``,
        default ``A.matvec``; no product when ``x₀ = 0``).

        ``name`` is the method name in the result (default: the method's; the solvers name
        preconditioned runs ``p…``); ``info`` goes into ``res.info`` of every outcome. Returns
        :attr:`done`: a finished result when ``x₀`` already meets the tolerance or the callback
        stops at once, else None. ``record_initial=False`` leaves ``r₀`` to a method that
        changes the start first (deflation: RecyclingCG)."""
        self.mon = Monitor(name or self.method, self.b_norm, self.tol, callback)
        if info:
            self.mon.info.update(info)
        matvec = matvec or self.A.matvec
        self.true_residual = TrueResidualCheck(matvec, self.b, self.mon)
        if record_initial:
            self.r, self.rnorm, self.done = initial_residual(matvec, self.b, self.x, self.mon)
        return self.done

    def confirm(self, x: np.ndarray, it: int, rnorm: float,
                check_true_residual: bool = True) -> tuple[np.ndarray | None, float, Status | None]:
        """At a recursive residual below the tolerance: confirm with ``b − A x``.

        Returns ``(r, ‖r‖, status)``: ``status`` CONVERGED (recorded) or STAGNATION after repeated
        misses (recorded), else None and the caller continues from the true residual ``r``.
        With ``check_true_residual=False`` the recursive residual is trusted (``r`` is None)."""
        if not check_true_residual:
            self.mon.record(it, rnorm, x=x)
            return None, rnorm, Status.CONVERGED
        r, rnorm, verdict = self.true_residual(x)
        if verdict is not None:
            self.mon.record(it, rnorm, x=x)
        return r, rnorm, verdict

    def check(self, x: np.ndarray, it: int, r: np.ndarray, rnorm: float, check_true_residual: bool = True, *,
              record: bool = False) -> tuple[np.ndarray, float, Status | None]:
        """The test after an update of ``x`` and its recursive residual ``r``: NOT_FINITE (recorded)
        when ``‖r‖`` is not finite; at ``‖r‖ ≤ tol`` the confirmation of :meth:`confirm`.

        Returns ``(r, ‖r‖, status)``: ``status`` None means go on, from ``r`` (the true residual
        after a missed confirmation); else the loop ends with ``status``. With ``record=True`` an
        iteration that goes on is recorded here too (USER_STOP when the callback says stop)."""
        if not np.isfinite(rnorm):
            self.mon.record(it, rnorm, x=x)
            return r, rnorm, Status.NOT_FINITE
        if rnorm <= self.tol:
            r_true, rnorm, verdict = self.confirm(x, it, rnorm, check_true_residual)
            if verdict is not None:
                return r, rnorm, verdict
            assert r_true is not None  # confirm() returns r = None only together with a verdict
            r = r_true
        if record and self.mon.record(it, rnorm, x=x):
            return r, rnorm, Status.USER_STOP
        return r, rnorm, None

    def report_true_residual(self, x: np.ndarray, matvec: Callable[[np.ndarray], np.ndarray]) -> None:
        """For a run that stops on its recurrence's estimate short of a confirmed convergence: the last
        recorded residual becomes the true ``‖b − A x‖`` (the estimate is kept in
        ``res.info["estimated_residual"]``; on singular inconsistent systems the two part ways)."""
        self.mon.info["estimated_residual"] = self.mon.history[-1]
        self.mon.history[-1] = safe_norm(self.b - matvec(x))

    def after_cycle(self, x: np.ndarray, it: int, *,
                    append: bool = False) -> tuple[np.ndarray, float, Status | None]:
        """For methods that run in cycles (restarts): after a cycle whose recurrence met the tolerance,
        the true residual decides — CONVERGED, STAGNATION after repeated misses, MAX_ITERATIONS once
        ``it`` reaches the limit — or None, and the next cycle starts from the returned ``r``.
        Returns ``(r, ‖r‖, status)``. ``‖r‖`` replaces the cycle's last recorded (estimated)
        residual, or is recorded as iteration ``it`` with ``append=True``."""
        r, rnorm, verdict = self.true_residual(x)
        if append:
            self.mon.record(it, rnorm, x=x)
        else:
            self.mon.history[-1] = rnorm
        if verdict is None and it >= self.maxiter:
            verdict = Status.MAX_ITERATIONS
        return r, rnorm, verdict

    def stagnation(self, x: np.ndarray, it: int, rnorm: float, reason: str | None = None) -> Status:
        """Status STAGNATION for a loop that stops making progress: ``‖r‖`` recorded, the reason (if
        given) in ``res.info["reason"]``."""
        if reason is not None:
            self.mon.info["reason"] = reason
        self.mon.record(it, rnorm, x=x)
        return Status.STAGNATION

    def curvature(self, x: np.ndarray, it: int, pq: float, raise_on_indefinite: bool = False) -> Status | None:
        """The test of a CG-type step's curvature ``(p, A p)``: NOT_FINITE (NaN/Inf), INDEFINITE when
        ``≤ 0`` (see :meth:`indefinite`), else None."""
        if not np.isfinite(pq):
            return Status.NOT_FINITE
        if pq <= 0.0:
            return self.indefinite(x, it, "A is not positive definite: (p, Ap) <= 0", raise_on_indefinite)
        return None

    def indefinite(self, x: np.ndarray, it: int, why: str, raise_on_indefinite: bool = False) -> Status:
        """Status INDEFINITE with its reason in ``res.info``; raises :class:`SolverError` (carrying the
        result) when asked."""
        mon = self.mon
        mon.info["reason"] = why
        if len(mon.history) < it + 1:
            mon.history.append(mon.history[-1] if mon.history else float("nan"))
        if raise_on_indefinite:
            raise SolverError(mon.result(x, Status.INDEFINITE, it))
        return Status.INDEFINITE

    def finish(self, x: np.ndarray, status: Status, it: int, rnorm: float) -> SolverResult:
        """The result; a loop that ran out of iterations records its last residual first."""
        if status is Status.MAX_ITERATIONS and len(self.mon.history) < it + 1:
            self.mon.record(it, rnorm, x=x)
        return self.mon.result(x, status, it)

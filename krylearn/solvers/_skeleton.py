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
    if run.start(callback, matvec=matvec) is not None:   # r₀ already meets the tolerance
        return run.done
    A, b, x, M, mon, r = run.A, run.b, run.x, run.M, run.mon, run.r
    while it < run.maxiter:
        ...
        if rnorm <= run.tol:
            r, rnorm, status = run.confirm(x, it, rnorm)
            if status is not None:
                break
        ...
    return run.finish(x, status, it, rnorm)

The stopping rule is the package's one rule, ``‖b − A x‖₂ ≤ max(atol, rtol·‖b‖₂)`` on the
unpreconditioned residual (see :func:`krylearn.solvers._common.stopping_tolerance`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._common import (Monitor, TrueResidualCheck, initial_residual, prepare_system, safe_norm, stopping_tolerance,
                      zero_rhs_result)
from .result import Status

if TYPE_CHECKING:  # annotations only
    from ..operators.base import LinearOperator

__all__ = ["KrylovRun"]


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

    A: LinearOperator
    M: LinearOperator | None  # None: no preconditioner

    def __init__(self, method, A, b, x0=None, *, M=None, maxiter=None, rtol=1e-5, atol=0.0, variable_ok=False,
                 default_maxiter=None):
        self.method = method
        if maxiter is None and default_maxiter is not None:
            maxiter = default_maxiter
        self.A, self.b, self.x, self.M, self.maxiter = prepare_system(A, b, x0, M=M, maxiter=maxiter, method=method,
                                                                      variable_ok=variable_ok)
        self.b_norm = safe_norm(self.b)
        self.tol = stopping_tolerance(self.b_norm, rtol, atol)
        # b = 0: x = 0 is the answer, whatever x0
        self.zero_rhs = zero_rhs_result(method, self.x) if self.b_norm == 0.0 else None
        self.mon = self.r = self.rnorm = self.done = self.true_residual = None

    def start(self, callback=None, *, matvec=None, name=None, info=None, record_initial=True):
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

    def confirm(self, x, it, rnorm, check_true_residual=True):
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

    def finish(self, x, status, it, rnorm):
        """The result; a loop that ran out of iterations records its last residual first."""
        if status is Status.MAX_ITERATIONS and len(self.mon.history) < it + 1:
            self.mon.record(it, rnorm, x=x)
        return self.mon.result(x, status, it)

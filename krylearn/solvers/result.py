"""The one result object returned by every krylearn solver, and its status enum."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import enum
from dataclasses import dataclass, field

import numpy as np

if TYPE_CHECKING:  # annotations only
    from typing import Any

__all__ = ["Status", "SolverResult", "SolverState", "SolverError"]


class Status(enum.Enum):
    """Why a solver stopped. ``status.message`` is a readable sentence."""

    CONVERGED = "converged: the residual norm reached max(atol, rtol*||b||)"
    MAX_ITERATIONS = "not converged: the iteration limit (maxiter) was reached"
    BREAKDOWN = "not converged: breakdown (a division by zero in the recurrence; the Krylov space is exhausted or the method failed)"
    INDEFINITE = "not converged: the operator (or preconditioner) is not positive definite (non-positive curvature met)"
    STAGNATION = "not converged: stagnation (the iterates stopped changing at machine precision before the tolerance was met)"
    USER_STOP = "stopped by the callback"
    NOT_FINITE = "not converged: NaN or Inf appeared in the iteration"

    @property
    def message(self) -> str:
        return self.value

    def __str__(self):
        return self.name.lower()


class SolverError(RuntimeError):
    """Raised by :meth:`SolverResult.raise_if_failed` (and by solvers asked to raise)."""

    def __init__(self, result: SolverResult) -> None:
        self.result = result
        rel = result.relative_residual
        rel = float(np.nanmax(rel)) if np.ndim(rel) and np.size(rel) else rel
        super().__init__(f"{result.method}: {result.status.message} after {result.iterations} "
                         f"iterations (relative residual {rel:.3e})")


@dataclass
class SolverResult:
    """What a solver returns.

    Attributes
    ----------
    x : ndarray
        The final iterate.
    status : Status
        Why the solver stopped (``status.message`` explains).
    iterations : int
        Iterations performed (what one iteration is depends on the method; for stationary
        methods it is one sweep, for GMRES one inner step).
    residuals : ndarray
        Residual norms ``‖r_k‖`` for ``k = 0..iterations`` (the norm named by ``residual_norm``).
        For ``b`` with ``k`` columns: shape ``(iterations + 1, k)``, NaN after a column stopped;
        ``x`` is then ``(n, k)``, ``b_norm`` and ``tol`` are arrays of length ``k``, and
        ``info["iterations"]``/``info["statuses"]`` hold each column's own.
    time : float
        Wall time of the solve in seconds (setup of the operator excluded).
    method : str
        The solver's name.
    b_norm : float
        ``‖b‖``, the reference for ``rtol``.
    tol : float
        The absolute threshold used: ``max(atol, rtol*‖b‖)``.
    residual_norm : str
        Which norm ``residuals`` holds (e.g. ``"2-norm of b - Ax"``).
    info : dict
        Method-specific extras (e.g. the preconditioner's diagonal shift).
    """

    x: np.ndarray
    status: Status
    iterations: int
    residuals: np.ndarray
    time: float
    method: str = ""
    b_norm: float = 0.0
    tol: float = 0.0
    residual_norm: str = "2-norm of b - Ax"
    info: dict = field(default_factory=dict)

    @property
    def converged(self) -> bool:
        return self.status is Status.CONVERGED

    @property
    def message(self) -> str:
        return self.status.message

    @property
    def final_residual(self) -> float | np.ndarray:
        """The last recorded residual norm; for ``k`` right-hand sides an array of each column's last one."""
        res = np.asarray(self.residuals)
        if res.ndim == 2:
            last = np.full(res.shape[1], np.nan)
            for c in range(res.shape[1]):
                col = res[:, c][~np.isnan(res[:, c])]
                if col.size:
                    last[c] = col[-1]
            return last
        return float(res[-1]) if len(res) else float("nan")

    @property
    def relative_residual(self) -> float | np.ndarray:
        """Final residual norm over ‖b‖ (or the absolute residual if b = 0); per column for ``k``
        right-hand sides."""
        fr = self.final_residual
        if np.ndim(fr):
            bn = np.asarray(self.b_norm, dtype=float)
            return np.where(bn > 0, fr / np.where(bn > 0, bn, 1.0), fr)
        return fr / self.b_norm if self.b_norm > 0 else fr

    def raise_if_failed(self) -> SolverResult:
        """Raise :class:`SolverError` unless converged; return ``self`` otherwise."""
        if not self.converged:
            raise SolverError(self)
        return self

    def __iter__(self):
        raise TypeError("SolverResult is not a tuple: use res.x, res.status, res.iterations, ...")

    def __repr__(self):
        rel = self.relative_residual
        cols = f", columns={np.size(rel)}" if np.ndim(rel) else ""
        rel = float(np.nanmax(rel)) if np.ndim(rel) and np.size(rel) else rel
        return (f"SolverResult(method={self.method!r}, status={self.status}, iterations={self.iterations}, "
                f"relative_residual={rel:.3e}{cols}, time={self.time:.4g}s)")


class SolverState:
    """What a callback sees each iteration: ``callback(state) -> bool``; return True to stop.

    Attributes: ``method``, ``iteration``, ``residual_norm``, ``tol`` and ``x`` (the current
    iterate; GMRES forms it on access, which costs a small triangular solve).
    """

    __slots__ = ("method", "iteration", "residual_norm", "tol", "_x", "_x_fn", "extra")

    def __init__(self, method: str, tol: float) -> None:
        self.method = method
        self.iteration = 0
        self.residual_norm = float("nan")
        self.tol = tol
        self._x: np.ndarray | None = None
        self._x_fn: Callable[[], np.ndarray] | None = None   # GMRES: forms x on access
        self.extra: dict[str, Any] = {}

    @property
    def x(self) -> np.ndarray | None:
        if self._x is None and self._x_fn is not None:
            return self._x_fn()
        return self._x

    def __repr__(self):
        return f"SolverState({self.method}, iteration={self.iteration}, residual_norm={self.residual_norm:.3e})"

"""Results with ``k`` columns: validating an ``(n, k)`` block and gathering per-column results.

Shared by the batched solvers (:mod:`krylearn.solvers.krylov.batched_cg`) and the column loop of the
solver entry points (:func:`krylearn.solvers._common.rescaled`).
"""

from __future__ import annotations

import time

import numpy as np

from .result import SolverResult, Status

__all__ = ["check_entries", "check_block", "overall_status", "combine_columns"]


def check_entries(a, name):
    """Reject an array whose entries are not numbers, or not finite (the input check every solve
    shares for ``b``, ``x0`` and blocks of them)."""
    if not np.issubdtype(a.dtype, np.number):
        raise ValueError(f"{name} must be numeric, got dtype {a.dtype}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or Inf")


def check_block(B, n, name, dtype):
    """Validate an ``(n, k)`` block (shape, numeric, finite) and return a C-order copy in ``dtype``."""
    B = np.asarray(B)
    if B.ndim != 2 or B.shape[0] != n:
        raise ValueError(f"{name} has shape {B.shape}, but the operator needs ({n}, k) for k right-hand sides")
    check_entries(B, name)
    return np.array(B, dtype=dtype, order="C", copy=True)


def overall_status(statuses):
    """CONVERGED when every column converged, else the status of the first column that did not."""
    for s in statuses:
        if s is not Status.CONVERGED:
            return s
    return Status.CONVERGED


def combine_columns(method, results, t0):
    """One :class:`SolverResult` for ``k`` single-column results (the column loop of solvers without a
    batched implementation): ``x`` of shape (n, k), ``residuals`` of shape (max iterations + 1, k)
    padded with NaN after each column stopped, per-column ``iterations``/``statuses`` in ``info``."""
    k = len(results)
    its = np.array([r.iterations for r in results], dtype=np.int64)
    length = max(len(r.residuals) for r in results)
    hist = np.full((length, k), np.nan)
    for j, r in enumerate(results):
        hist[: len(r.residuals), j] = r.residuals
    statuses = [r.status for r in results]
    info = {"columns": k, "iterations": its, "statuses": statuses, "batched": False,
            "column_info": [r.info for r in results]}
    return SolverResult(x=np.column_stack([r.x for r in results]), status=overall_status(statuses),
                        iterations=int(its.max()), residuals=hist, time=time.perf_counter() - t0, method=method,
                        b_norm=np.array([r.b_norm for r in results]), tol=np.array([r.tol for r in results]),
                        residual_norm=results[0].residual_norm, info=info)

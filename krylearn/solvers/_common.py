"""Shared machinery of the iterative solvers: input checks, the stopping rule, history.

The one stopping rule of krylearn is ``‖r‖ ≤ max(atol, rtol·‖b‖)`` with ``r = b − A x``
(SciPy's convention); :func:`stopping_tolerance` computes the threshold and every solver
documents which norm of ``r`` it compares (the 2-norm unless it says otherwise).
"""

from __future__ import annotations

import functools
import numbers
import time

import numpy as np

from ..operators.base import LinearOperator
from ..operators.convert import aslinearoperator, check_finite_matrix
from .._optional import is_torch_tensor
from ..threads import solver_threads
from ._columns import check_entries, combine_columns
from .result import SolverResult, SolverState, Status

__all__ = ["prepare_system", "stopping_tolerance", "Monitor", "as_preconditioner", "initial_residual", "safe_norm",
           "rescaled", "ritz_summary"]

#: right-hand sides whose norm lies outside this range are solved scaled to unit norm (see :func:`rescaled`)
SAFE_NORM_RANGE = (1e-100, 1e100)
#: the same for float32/complex64 right-hand sides (squares must stay inside float32's range)
SINGLE_SAFE_NORM_RANGE = (1e-15, 1e15)


def safe_norm(v):
    """``‖v‖₂`` without underflow or overflow of the squares.

    ``np.linalg.norm`` squares the entries: for entries near 1e-170 the squares underflow to zero
    (and at 1e-160 lose their digits in subnormals), near 1e160 they overflow. Here the plain norm is
    kept when it lies well inside the floating-point range (the common case costs nothing extra);
    otherwise ``v`` is divided by ``max|v_i|`` first, as LAPACK's ``nrm2`` does by its scaling."""
    v = np.asarray(v)
    with np.errstate(over="ignore", under="ignore"):
        nrm = float(np.linalg.norm(v))
    lo, hi = SAFE_NORM_RANGE
    if lo < nrm < hi:
        return nrm
    s = float(np.max(np.abs(v))) if v.size else 0.0
    if s == 0.0 or not np.isfinite(s):
        return s
    return s * float(np.linalg.norm(v / s))


class _ScaledState:
    """A callback's view of a solve run on the rescaled system, in the user's units."""

    __slots__ = ("_state", "_scale")

    def __init__(self, state, scale):
        self._state, self._scale = state, scale

    def __getattr__(self, name):
        v = getattr(self._state, name)
        if name in ("residual_norm", "tol"):
            return v * self._scale
        if name == "x":
            return None if v is None else v * self._scale
        return v


def _solve_columns(solver, batched, A, b_arr, args, kwargs, has_x0=True):
    """``b`` with ``k > 1`` columns: the solver's batched implementation when it has one, otherwise
    one solve per column (each through the single-column entry point, rescaling included),
    gathered into one result (:func:`krylearn.solvers._columns.combine_columns`)."""
    if batched is not None:
        res = batched(A, b_arr, *args, **kwargs)
        if res is not NotImplemented:  # the batched path may decline (it is slower for this A)
            return res
    t0 = time.perf_counter()
    x0 = (args[0] if args else kwargs.get("x0")) if has_x0 else None
    if x0 is not None:
        x0 = np.asarray(x0)
        if x0.shape != b_arr.shape:
            raise ValueError(f"x0 has shape {x0.shape}, but b has shape {b_arr.shape}")
    results = []
    for c in range(b_arr.shape[1]):
        kw = dict(kwargs)
        a = tuple(args)
        if x0 is not None:
            if a:
                a = (x0[:, c],) + a[1:]
            else:
                kw["x0"] = x0[:, c]
        results.append(solver(A, b_arr[:, c], *a, **kw))
    return combine_columns(results[0].method, results, t0)


def single_precision_reason(dtype_name, eps):
    """Why a single-precision solve stagnated (the one wording for every solver path)."""
    return (f"the solve ran in {dtype_name} (the dtype of b), whose relative accuracy is about {eps:.1e} times "
            "the condition number of A: a tolerance below that cannot be reached; pass b in float64 for a "
            "smaller rtol")


def _single_precision_note(res, b_dtype, x0):
    """A single-precision solve returns ``x`` in single precision, and says why when it stagnated."""
    x0_dtype = None if x0 is None else np.asarray(x0).dtype
    if b_dtype not in _SINGLE or (x0_dtype is not None and x0_dtype not in _SINGLE):
        return res
    want = working_dtype(res.x.dtype, b_dtype)
    if isinstance(res.x, np.ndarray) and res.x.dtype != want and np.can_cast(want, res.x.dtype):
        res.x = res.x.astype(want)
    if res.status is Status.STAGNATION:
        why = res.info.get("reason")
        res.info["reason"] = (f"{why}; " if why else "") + single_precision_reason(np.dtype(want).name,
                                                                                  np.finfo(want).eps)
    return res


def _solve_tensor(solver, torch_impl, A, b, args, kwargs, has_x0):
    """``b`` is a torch tensor: the solver's torch implementation when it has one (the iteration runs
    on the tensor's device), otherwise one host copy in and one out around the NumPy solver
    (``res.info["host_solve"] = True``). ``res.x`` is a tensor like ``b`` either way."""
    if torch_impl is not None:
        res = torch_impl(A, b, *args, **kwargs)
        if res is not NotImplemented:  # the torch path may decline (an option it does not support)
            return res
    def host(v):
        return v.detach().cpu().numpy() if is_torch_tensor(v) else v

    args = tuple(host(a) for a in args) if has_x0 and args else args
    if has_x0 and "x0" in kwargs:
        kwargs = dict(kwargs, x0=host(kwargs["x0"]))
    if is_torch_tensor(kwargs.get("M")):
        from ..operators.convert import aslinearoperator

        kwargs = dict(kwargs, M=aslinearoperator(kwargs["M"]))
    res = solver(A, host(b), *args, **kwargs)
    import torch

    res.x = torch.as_tensor(np.asarray(res.x), device=b.device).to(b.dtype if b.is_floating_point() or b.is_complex()
                                                                    else torch.float64)
    res.info["host_solve"] = True
    return res


#: inner solves of ``precision="mixed"`` reduce their residual at most this much (float32 reaches ~1e-6;
#: measured on the benchmark problems: 1e-5 takes the fewest inner iterations in all)
MIXED_INNER_RTOL = 1e-5


def _mixed(solver, A, b, args, kwargs):
    """``precision="mixed"``: iterative refinement in float64 around single-precision solves.

    ``r = b − A x`` in float64; the correction solves ``A d = r`` in float32 (the same solver and
    preconditioner, to ``max(MIXED_INNER_RTOL, tol/(2‖r‖))``), ``x += d``; until ``‖r‖ ≤ max(atol, rtol·‖b‖)``. Each
    inner solve reads the operator in single precision (half the bytes of a float64 product); the
    outer products are float64. Stops with STAGNATION when two refinements in a row fail to halve
    the residual (``A`` too ill-conditioned for float32 corrections), MAX_ITERATIONS when the inner
    iterations reach ``maxiter``. Reference: J. H. Wilkinson, "Rounding Errors in Algebraic
    Processes", 1963 (iterative refinement); A. Buttari et al., "Mixed precision iterative
    refinement techniques for the solution of dense linear systems", IJHPCA 21, 2007."""
    from ..operators.convert import aslinearoperator

    t0 = time.perf_counter()
    A = aslinearoperator(A)
    b = _check_vector(b, A.shape[0], "b", np.result_type(np.asarray(b).dtype, np.float64))
    single = np.complex64 if np.iscomplexobj(b) or np.issubdtype(A.dtype, np.complexfloating) else np.float32
    x0 = args[0] if args else kwargs.pop("x0", None)
    args = args[1:] if args else ()
    x = np.zeros(A.shape[1], dtype=b.dtype) if x0 is None else _check_vector(x0, A.shape[1], "x0", b.dtype)
    rtol, atol = kwargs.pop("rtol", 1e-5), kwargs.pop("atol", 0.0)
    maxiter = kwargs.pop("maxiter", None)
    if kwargs.get("callback") is not None:
        raise ValueError('precision="mixed" does not take a callback (the inner solves are separate runs)')
    b_norm = safe_norm(b)
    tol = stopping_tolerance(b_norm, rtol, atol)
    budget = resolve_maxiter(maxiter, A.shape[0])
    A1 = in_precision(A, single)  # converted once for all refinements
    M = kwargs.pop("M", None)
    M1 = in_precision(as_preconditioner(M, A.shape[0]), single)
    if M1 is not None:
        kwargs["M"] = M1
    mon = Monitor(f"{solver.__name__} (mixed precision)", b_norm, tol)
    inner_its, fails, used = [], 0, 0
    status = Status.MAX_ITERATIONS
    prev = np.inf
    while True:
        r = b - A.matvec(x)
        rn = safe_norm(r)
        mon.record(used, rn, x=x)
        verdict = residual_verdict(rn, tol)
        if verdict is not None:
            status = verdict
            break
        fails = fails + 1 if rn > 0.5 * prev else 0
        if fails >= 2:
            status = Status.STAGNATION
            mon.info["reason"] = ("float32 corrections no longer reduce the residual: A is too ill-conditioned "
                                  "for mixed precision at this tolerance; solve in float64")
            break
        if used >= budget:
            break
        prev = rn
        s = rn  # the correction equation scaled to unit norm: float32 holds any scale of r
        # as far as float32 goes, but no further than this refinement needs (the last one is short)
        inner_rtol = max(MIXED_INNER_RTOL, 0.5 * tol / rn)
        inner = solver(A1, (r / s).astype(single), *args, rtol=inner_rtol, maxiter=budget - used, **kwargs)
        used += inner.iterations
        inner_its.append(inner.iterations)
        x += s * inner.x.astype(b.dtype)
    mon.info.update(refinements=len(inner_its), inner_iterations=inner_its, precision="mixed")
    res = mon.result(x, status, used)
    res.time = time.perf_counter() - t0
    return res


def rescaled(solver=None, *, has_x0=True, batched=None, torch_impl=None):
    """Decorator: solve ``A x = b`` as ``A (x/s) = b/s`` with ``s = ‖b‖`` when ‖b‖ is outside
    :data:`SAFE_NORM_RANGE`, so that no inner product of the iteration under- or overflows.

    Linear solvers commute with this scaling exactly; ``x``, the residual history, ``b_norm`` and
    ``tol`` of the result (and what a callback sees) are returned in the user's units, and
    ``res.info["rescaled_by"]`` records ``s``. ``x0`` (the third positional argument, or the
    keyword; ``has_x0=False`` for solvers without one, like :func:`krylearn.lstsq`) and ``atol`` are
    scaled with ``b``. Inputs that are not finite numeric arrays are passed through unchanged, for
    the solver to reject.

    Many right-hand sides: a ``b`` of shape ``(n, k)`` with ``k > 1`` goes to ``batched(A, b, ...)``
    when given (same arguments; it may return ``NotImplemented`` to decline), else the solver runs
    once per column and the results are gathered into one (``x`` of shape
    ``(n, k)``, per-column iterations and statuses in ``info``)."""
    if solver is None:
        return functools.partial(rescaled, has_x0=has_x0, batched=batched, torch_impl=torch_impl)

    @functools.wraps(solver)
    def wrapper(A, b, *args, **kwargs):
        precision = kwargs.pop("precision", None)
        if precision not in (None, "working", "mixed"):
            raise ValueError(f'precision must be "working" (the dtype of b, default) or "mixed", got {precision!r}')
        if precision == "mixed":
            if not has_x0:
                raise ValueError(f'precision="mixed" is not available for {solver.__name__}')
            return _mixed(wrapper, A, b, args, kwargs)
        if is_torch_tensor(b):
            return _solve_tensor(wrapper, torch_impl, A, b, args, kwargs, has_x0)
        if np.ndim(b) == 2 and np.shape(b)[1] > 1:
            return _solve_columns(wrapper, batched, A, np.asarray(b), args, kwargs, has_x0)
        try:
            b_arr = np.asarray(b)
            ok = b_arr.ndim >= 1 and np.issubdtype(b_arr.dtype, np.number) and bool(np.all(np.isfinite(b_arr)))
        except (TypeError, ValueError):
            ok = False
        if not ok:
            return solver(A, b, *args, **kwargs)
        s = safe_norm(b_arr)
        single = b_arr.dtype in _SINGLE
        x0 = (args[0] if args else kwargs.get("x0")) if has_x0 else None
        lo, hi = SINGLE_SAFE_NORM_RANGE if single else SAFE_NORM_RANGE
        if s == 0.0 or lo <= s <= hi:
            return _single_precision_note(solver(A, b, *args, **kwargs), b_arr.dtype, x0)
        if isinstance(kwargs.get("atol"), numbers.Real):
            kwargs["atol"] = kwargs["atol"] / s
        cb = kwargs.get("callback")
        if cb is not None and callable(cb):
            kwargs["callback"] = lambda state: cb(_ScaledState(state, s))
        if has_x0:
            if args and args[0] is not None:
                args = (np.asarray(args[0]) / s,) + tuple(args[1:])
            elif kwargs.get("x0") is not None:
                kwargs["x0"] = np.asarray(kwargs["x0"]) / s
        res = solver(A, b_arr / s, *args, **kwargs)
        res.x = res.x * s
        res.residuals = np.asarray(res.residuals) * s
        res.b_norm = s
        res.tol = res.tol * s
        res.info["rescaled_by"] = s
        return _single_precision_note(res, b_arr.dtype, x0)

    # every solver entry point also runs under the package's threading policy (BLAS on one thread)
    return solver_threads(wrapper)


def stopping_tolerance(b_norm, rtol, atol):
    """``max(atol, rtol*‖b‖)`` after checking that both are finite and non-negative."""
    for name, v in (("rtol", rtol), ("atol", atol)):
        if not isinstance(v, numbers.Real) or not np.isfinite(v) or v < 0:
            raise ValueError(f"{name} must be a finite non-negative number, got {v!r}")
    return max(float(atol), float(rtol) * float(b_norm))


def residual_verdict(rnorm: float, tol: float) -> Status | None:
    """The status a true residual norm decides on its own: NOT_FINITE (NaN/Inf), CONVERGED
    (``‖r‖ ≤ tol``), else None (go on)."""
    if not np.isfinite(rnorm):
        return Status.NOT_FINITE
    if rnorm <= tol:
        return Status.CONVERGED
    return None


def _check_vector(v, n, name, dtype):
    v = np.asarray(v)
    if v.ndim == 2 and v.shape[1] == 1:
        v = v[:, 0]
    if v.ndim != 1 or v.shape[0] != n:
        raise ValueError(f"{name} has shape {v.shape}, but the operator needs a vector of length {n}")
    check_entries(v, name)
    return np.array(v, dtype=dtype, copy=True)


def as_preconditioner(M, n):
    """``None`` stays ``None``; anything else becomes an ``n x n`` LinearOperator.

    A plain callable ``M(r) -> z`` is accepted too."""
    if M is None:
        return None
    if callable(M) and not isinstance(M, LinearOperator) and not hasattr(M, "shape"):
        fn = M
        M = LinearOperator((n, n), matvec=fn)
    M = aslinearoperator(M)
    if M.shape != (n, n):
        raise ValueError(f"the preconditioner M has shape {M.shape}, but the system has size {n}")
    return M


_SINGLE = (np.dtype(np.float32), np.dtype(np.complex64))


def working_dtype(A_dtype, b_dtype, x0_dtype=None):
    """The precision a solve runs in: the right-hand side's.

    ``b`` (and ``x0``) in float32/complex64 → float32, or complex64 when ``A``, ``b`` or ``x0`` is
    complex; the operator's products are then taken in that precision (see
    :func:`in_precision`). Otherwise float64/complex128 as before (integers count as float64)."""
    dts = [np.dtype(b_dtype) if np.issubdtype(b_dtype, np.number) else np.dtype(np.float64)]
    if x0_dtype is not None:
        dts.append(np.dtype(x0_dtype))
    if all(d in _SINGLE for d in dts):
        cplx = any(np.issubdtype(d, np.complexfloating) for d in dts + [np.dtype(A_dtype)])
        return np.dtype(np.complex64 if cplx else np.float32)
    return np.result_type(A_dtype, *dts, np.float64)


class _InPrecision(LinearOperator):
    """An operator whose products are returned in ``dtype`` (the working precision of a solve)."""

    def __init__(self, op, dtype):
        self.op = op
        super().__init__(op.shape, dtype=dtype, symmetric=op.symmetric, hermitian=op.hermitian,
                         positive_definite=op.positive_definite)

    def _cast(self, y):
        # a complex product of a real operator stays complex (in the single precision): a cast to
        # float32 dropped the imaginary part (found by OperatorTestCase)
        y = np.asarray(y)
        return y.astype(np.result_type(self.dtype, np.complex64) if np.iscomplexobj(y) else self.dtype, copy=False)

    def _matvec(self, x):
        return self._cast(self.op.matvec(x))

    def _rmatvec(self, x):
        return self._cast(self.op.rmatvec(x))

    def _matmat(self, X):
        return self._cast(self.op.matmat(X))

    def _diagonal(self):
        return self.op.diagonal()

    def __getattr__(self, name):  # e.g. a preconditioner's ``info`` or a stencil's grid
        if name == "op":
            raise AttributeError(name)
        return getattr(self.op, name)


def in_precision(op, dtype):
    """``op`` with products in the single working precision ``dtype``: a CSR matrix is stored again
    in ``dtype`` (half the bytes per product; numba kernels then run in single precision), a grid
    stencil computes in ``dtype`` natively, anything else has its products cast. Unchanged for
    double-precision solves."""
    if op is None or np.dtype(dtype) not in _SINGLE or op.dtype == dtype:
        return op
    from ..operators.convert import SparseOperator
    from ..operators.stencil import PoissonStencil
    from ._kernels import _unwrapped

    inner = _unwrapped(op)
    if isinstance(inner, PoissonStencil) and dtype == np.float32:
        return op
    if isinstance(inner, SparseOperator) and inner.shape == op.shape:
        return aslinearoperator(inner.A.astype(dtype), symmetric=op.symmetric, positive_definite=op.positive_definite,
                                hermitian=op.hermitian)
    return _InPrecision(op, dtype)


def prepare_system(A, b, x0=None, *, M=None, maxiter=None, square=True, method="solver", variable_ok=False):
    """Validate the inputs of a solve before any work starts.

    Returns ``(A, b, x, M, maxiter)`` with ``A``/``M`` as LinearOperators, ``b`` a copy in the
    working dtype, ``x`` the starting iterate (a fresh array) and a resolved ``maxiter``.
    Raises ``ValueError`` naming the problem for non-square operators, shape mismatches,
    non-finite data and invalid ``maxiter``, and for a variable preconditioner
    (``M.variable``) given to a method that needs a fixed one (``variable_ok=False``).
    """
    A = aslinearoperator(A)
    m, n = A.shape
    if square and m != n:
        raise ValueError(f"{method} needs a square operator, got shape {A.shape}")
    check_finite_matrix(A)
    b_arr = np.asarray(b)
    dtype = working_dtype(A.dtype, b_arr.dtype, None if x0 is None else np.asarray(x0).dtype)
    b = _check_vector(b, m, "b", dtype)
    x = np.zeros(n, dtype=dtype) if x0 is None else _check_vector(x0, n, "x0", dtype)
    M_op = as_preconditioner(M, n)
    if M_op is not None and M_op.variable and not variable_ok:
        raise ValueError(f"{method} needs a fixed linear preconditioner, but M is variable (M.variable: its "
                         "application has inner iterations or is nonlinear); use kl.cg or kl.fcg (SPD A) or "
                         "kl.fgmres, or build M as a fixed map (kl.precond.multigrid: coarse_cycle='W')")
    M = in_precision(M_op, dtype)
    if M is not None and M is not M_op and M_op.variable:
        M.variable = True
    A = in_precision(A, dtype)
    return A, b, x, M, resolve_maxiter(maxiter, n)


def resolve_maxiter(maxiter, n):
    """``maxiter`` checked, or the default iteration limit ``10 n``."""
    if maxiter is None:
        return 10 * n
    if not isinstance(maxiter, numbers.Integral) or maxiter < 0:
        raise ValueError(f"maxiter must be a non-negative integer, got {maxiter!r}")
    return int(maxiter)


def check_run_options(rtol, atol, callback):
    """Validate the tolerances and the callback of a solve before any work starts."""
    stopping_tolerance(1.0, rtol, atol)
    if callback is not None and not callable(callback):
        raise TypeError("callback must be callable: callback(state) -> bool")


class Monitor:
    """Residual history, callback, timing and the final :class:`SolverResult`.

    A solver creates one per call, calls :meth:`record` once per iteration (and once for the
    initial residual), and finishes with :meth:`result`.
    """

    __slots__ = ("method", "tol", "b_norm", "callback", "history", "state", "t0", "norm_name", "info")

    def __init__(self, method, b_norm, tol, callback=None, norm_name="2-norm of b - Ax"):
        if callback is not None and not callable(callback):
            raise TypeError("callback must be callable: callback(state) -> bool")
        self.method = method
        self.tol = tol
        self.b_norm = float(b_norm)
        self.callback = callback
        self.history = []
        self.state = SolverState(method, tol)
        self.t0 = time.perf_counter()
        self.norm_name = norm_name
        self.info = {}

    def record(self, iteration, rnorm, x=None, x_fn=None):
        """Store ``‖r_k‖``; run the callback. Returns True if the callback asks to stop."""
        self.history.append(float(rnorm))
        if self.callback is None:
            return False
        st = self.state
        st.iteration = iteration
        st.residual_norm = float(rnorm)
        st._x = x
        st._x_fn = x_fn
        return bool(self.callback(st))

    def result(self, x, status, iterations):
        return SolverResult(x=x, status=status, iterations=int(iterations),
                            residuals=np.asarray(self.history, dtype=float),
                            time=time.perf_counter() - self.t0, method=self.method,
                            b_norm=self.b_norm, tol=self.tol, residual_norm=self.norm_name,
                            info=self.info)


def zero_rhs_result(method, x, b_norm=0.0, tol=0.0):
    """``b = 0`` with ``x0 = 0``: the answer is ``x = 0`` at once."""
    mon = Monitor(method, b_norm, tol)
    mon.history.append(0.0)
    return mon.result(np.zeros_like(x), Status.CONVERGED, 0)


def check_finite_product(y, what="A @ x"):
    if not np.all(np.isfinite(y)):
        raise ValueError(f"{what} produced NaN or Inf: the operator contains non-finite values")


def initial_residual(matvec, b, x, mon):
    """``r0 = b − A x0`` (no product when ``x0 = 0``), recorded as ``residuals[0]``.

    Returns ``(r0, ‖r0‖₂, done)`` where ``done`` is a finished :class:`SolverResult` when the
    solve is already over (``x0`` meets the tolerance, or the callback stops at once), else None.
    """
    Ax = matvec(x) if np.any(x) else np.zeros_like(b)
    check_finite_product(Ax)
    r = b - Ax
    rnorm = float(np.linalg.norm(r))
    if mon.record(0, rnorm, x=x):
        return r, rnorm, mon.result(x, Status.USER_STOP, 0)
    if rnorm <= mon.tol:
        return r, rnorm, mon.result(x, Status.CONVERGED, 0)
    return r, rnorm, None


class TrueResidualCheck:
    """Confirm a convergence that a recursively updated residual claims, with the true residual.

    Krylov recurrences update ``r`` without forming ``b − A x``; in floating point the two drift
    apart, so a recursive norm below the tolerance need not be a true one. ``check(x)`` forms
    ``r = b − A x`` and returns ``(r, ‖r‖₂, status)``: ``Status.CONVERGED`` when it meets the
    monitor's tolerance ``mon.tol``; ``Status.STAGNATION`` after more than ``limit`` misses (the
    solver keeps restarting from a residual it cannot reduce further); otherwise ``None``, and the
    caller restarts from ``r``.
    Misses are counted in ``mon.info["restarts"]``. How the confirmed norm enters the residual
    history stays with each solver."""

    def __init__(self, matvec, b, mon, limit=5):
        self.matvec, self.b, self.mon, self.limit = matvec, b, mon, int(limit)
        self.misses = 0

    def __call__(self, x):
        r = self.b - self.matvec(x)
        norm = float(np.linalg.norm(r))
        if norm <= self.mon.tol:
            return r, norm, Status.CONVERGED
        self.misses += 1
        self.mon.info["restarts"] = self.misses
        return r, norm, (Status.STAGNATION if self.misses > self.limit else None)


def ritz_summary(info, diag, off):
    """Eigenvalues of the symmetric tridiagonal (``diag``, ``off``) of a Lanczos process — the Ritz
    values — into ``info``: ``ritz_values`` (ascending), ``eigenvalue_estimates`` (the extremes) and
    ``condition_estimate`` (``max|θ| / min|θ|``). Used by CG and MINRES (``estimate_eigenvalues``)."""
    from scipy.linalg import eigvalsh_tridiagonal
    d = np.asarray(diag, dtype=float)
    if d.size == 0:
        info.update(ritz_values=np.array([]), eigenvalue_estimates=(np.nan, np.nan), condition_estimate=np.nan)
        return
    theta = eigvalsh_tridiagonal(d, np.asarray(off, dtype=float)) if d.size > 1 else d.copy()
    mags = np.abs(theta)
    info.update(ritz_values=theta, eigenvalue_estimates=(float(theta[0]), float(theta[-1])),
                condition_estimate=float(mags.max() / mags.min()) if mags.min() > 0 else np.inf)

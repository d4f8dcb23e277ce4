"""Randomized (sketching) solvers for tall least-squares problems ``min_x ‖b − A x‖₂``.

Methods (``kl.lstsq(A, b, method=...)``):

``"sketch_precondition"`` (default)
    Blendenpik / LSRN. H. Avron, P. Maymounkov, S. Toledo, "Blendenpik: supercharging LAPACK's
    least-squares solver", SIAM J. Sci. Comput. 32 (2010); X. Meng, M. A. Saunders, M. W. Mahoney,
    "LSRN: a parallel iterative solver for strongly over- or underdetermined systems", SIAM J. Sci.
    Comput. 36 (2014). Started from the sketch-and-solve solution as advised by M. Meier,
    Y. Nakatsukasa, A. Townsend, M. Webb, "Are sketch-and-precondition least squares solvers
    numerically stable?", SIAM J. Matrix Anal. Appl. 45 (2024).
``"iterative_sketching"``
    E. N. Epperly, "Fast and forward stable randomized algorithms for linear least-squares
    problems", SIAM J. Matrix Anal. Appl. (2024): heavy-ball (damped, with momentum) iteration
    preconditioned by the sketch, recomputing the true residual every step.
``"fossils"``
    E. N. Epperly, M. Meier, Y. Nakatsukasa, "Fast randomized least-squares solvers can be just as
    accurate and stable as classical direct solvers" (2024): two steps of iterative refinement,
    each correction solved by sketch-preconditioned Polyak (heavy-ball) iterations — backward stable.
``"sketch_and_solve"``
    x = argmin ‖S(Ax − b)‖: one shot, residual within a factor ``1 + O(√(d/m))`` of optimal.
``"linf"``
    Z. Song, M. Ye, J. Yin, L. Zhang, "A nearly-optimal bound for fast regression with ℓ∞
    guarantee", ICML 2023 (arXiv 2302.00248): sketch-and-solve with a dense SRHT of
    ``m = ⌈ε⁻² d log³(n/δ)⌉`` rows (capped at ``n``).

All iterative methods share one preconditioner: the SVD ``S A = U Σ Vᵀ`` of a sketch, with
``P = V_k Σ_k⁻¹`` (``k`` the numerical rank of ``SA``), so that ``A P`` has condition number
``≈ (1 + √(k/m)) / (1 − √(k/m))`` whatever the conditioning of ``A``; rank-deficient ``A`` is
handled by the truncation (the solution then lies in the row space of ``SA``, i.e. the
minimum-norm solution).

Hot loops: for a dense (C-ordered float64) or CSR ``A`` one numba pass over ``A`` computes both
``r = b − A x`` and ``Aᵀ r`` (or ``w = A v`` and ``Aᵀ w``), so each iteration of every method reads
``A`` once from memory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import copy
import math
import numbers
import time

import numpy as np
import scipy.linalg as sla

from .._common import SAFE_NORM_RANGE, Monitor, _check_vector, rescaled, safe_norm, stopping_tolerance
from ..result import Status
from ._fused import _Ops
from ._iterations import _fossils, _iterative_sketching, _lsqr
from ._base import IdentitySketch, Sketch, _check_size, _unwrap
from .sketches import SRHT, make_sketch

if TYPE_CHECKING:  # annotations only
    from typing import Any
    from ...solvers.result import SolverResult
    from ...typing import ArrayLike, Callback, OperatorLike

__all__ = ["lstsq", "METHODS", "linf_sketch_size"]

METHODS = ("sketch_precondition", "iterative_sketching", "fossils", "sketch_and_solve", "linf")
_EPS = np.finfo(np.float64).eps
_NORM_NAME = "2-norm of b - Ax"


# ---------------------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------------------
def linf_sketch_size(n, d, eps=0.5, delta=0.01):
    """``m = ⌈ε⁻² d log³(n/δ)⌉`` (natural log) capped at ``n``: the ℓ∞-guarantee sketch size of
    Song, Ye, Yin, Zhang (ICML 2023)."""
    if not (isinstance(eps, numbers.Real) and eps > 0 and np.isfinite(eps)):
        raise ValueError(f"eps must be a positive number, got {eps!r}")
    if not (isinstance(delta, numbers.Real) and 0 < delta < 1):
        raise ValueError(f"delta must be in (0, 1), got {delta!r}")
    return int(min(n, math.ceil(d * math.log(n / delta) ** 3 / eps ** 2)))


def _prepare(A, b, method):
    if method not in METHODS:
        raise ValueError(f"unknown lstsq method {method!r}; choose one of {METHODS}")
    kind, M = _unwrap(A)
    n, d = M.shape
    if n == 0 or d == 0:
        raise ValueError(f"A must be non-empty, got shape {M.shape}")
    if n < d:
        raise ValueError(f"sketching least squares needs a tall A (rows n >= columns d), got shape "
                         f"{M.shape}; use numpy.linalg.lstsq for underdetermined problems")
    if kind == "dense":
        if np.iscomplexobj(M):
            raise ValueError("complex A is not supported by the sketching solvers")
        if not np.all(np.isfinite(M)):
            raise ValueError("the matrix A contains NaN or Inf entries")
        M = np.ascontiguousarray(M, dtype=np.float64)
    elif kind == "sparse":
        if np.iscomplexobj(M.data):
            raise ValueError("complex A is not supported by the sketching solvers")
        if not np.all(np.isfinite(M.data)):
            raise ValueError("the matrix A contains NaN or Inf entries")
    elif np.issubdtype(M.dtype, np.complexfloating):
        raise ValueError("complex A is not supported by the sketching solvers")
    bb = np.asarray(b)
    if np.iscomplexobj(bb):
        raise ValueError("complex b is not supported by the sketching solvers")
    b = _check_vector(b, n, "b", np.float64)
    return kind, M, b


# ---------------------------------------------------------------------------------------
# the sketch-based preconditioner
# ---------------------------------------------------------------------------------------
class _Precond:
    """SVD of the sketch: ``SA = U Σ Vᵀ``, ``P = V_k Σ_k⁻¹``; the sketch-and-solve start."""

    def __init__(self, S, M, b, rcond):
        t0 = time.perf_counter()
        SA = S.apply(M)
        B = b.reshape(b.shape[0], -1)  # one column, or k right-hand sides sharing the factorisation
        SB = S.matvec(B[:, 0]).reshape(-1, 1) if B.shape[1] == 1 else S.apply(B)  # one pass for k columns
        t1 = time.perf_counter()
        if not np.all(np.isfinite(SA)):
            raise ValueError("A produced NaN or Inf (checked through the sketch S A)")
        # QR of [SA | SB] (R only), then the SVD of the small triangle: SA = Q R, R = W Σ Vᵀ,
        # and Qᵀ S b_j are the last columns of the augmented triangle (the part of S b_j outside
        # range(SA) does not enter the sketch-and-solve start)
        d, kb = SA.shape[1], B.shape[1]
        Raug = sla.qr(np.column_stack([SA, SB]), mode="r", check_finite=False)[0]
        Raug = Raug[:d]  # the sketch has m ≥ d rows, so R has at least d
        W, s, Vt = sla.svd(Raug[:, :d], check_finite=False, lapack_driver="gesdd")
        QtSB = Raug[:, d:]
        U = W
        if s[0] == 0:
            self.k = 0
        else:
            self.k = int(np.sum(s > rcond * s[0]))
        k = max(self.k, 1)
        self.s = s[:k] if self.k else np.ones(1)
        self.V = Vt[:k].T.copy() if self.k else np.zeros((SA.shape[1], 1))
        self.P = self.V / self.s                      # d x k
        self.Pinv_T = self.V * self.s                 # y = (V Σ)ᵀ x
        self.Y0 = (U[:, :k].T @ QtSB) if self.k else np.zeros((1, kb))
        self.X0 = self.P @ self.Y0 if self.k else np.zeros((SA.shape[1], kb))
        self.y0, self.x0 = self.Y0[:, 0], self.X0[:, 0]
        self.cond = float(s[0] / s[k - 1]) if self.k else np.inf
        self.sketch_time = t1 - t0
        self.factor_time = time.perf_counter() - t1

    def column(self, j):
        """The preconditioner with the sketch-and-solve start of right-hand side ``j``."""
        view = copy.copy(self)
        view.y0, view.x0 = self.Y0[:, j], self.X0[:, j]
        return view

    def y(self, x):
        return self.Pinv_T.T @ x


def _default_size(method, n, d, kind="dense"):
    """Default sketch rows. sketch_precondition: 12d for dense A (a pass over A costs n·d, and the
    QR of the larger sketch costs less than the ≈ 10 LSQR iterations it saves: κ(AP) ≈ 1.8 instead of
    3), 4d for sparse/operator A (where the O(m d²) factorization dominates)."""
    factor = {"sketch_precondition": 12 if kind == "dense" else 4, "iterative_sketching": 12, "fossils": 12,
              "sketch_and_solve": 20}[method]
    return int(min(n, max(factor * d, d + 20)))


# ---------------------------------------------------------------------------------------
# public entry point
# ---------------------------------------------------------------------------------------
def _columns(A, B, method="sketch_precondition", *, sketch=None, sketch_size=None, rtol=None, atol=0.0, maxiter=None,
             seed=None, callback=None, rcond=None, zeta=8, damping=None, momentum=None, refinements=2, eps=0.5,
             delta=0.01):
    """``b`` with ``k`` columns: one sketch ``S A`` and one factorisation for all of them (the set-up
    is most of a sketching solve), then each column's own iteration. Declines (a loop of single
    solves, each rescaled) when a column's norm is outside the safe range."""
    from .._columns import check_block, combine_columns

    t0 = time.perf_counter()
    B = np.asarray(B)
    if np.iscomplexobj(B):
        raise ValueError("complex b is not supported by the sketching solvers")
    lo, hi = SAFE_NORM_RANGE
    if not np.issubdtype(B.dtype, np.number) or any(not lo <= safe_norm(B[:, j]) <= hi for j in range(B.shape[1])
                                                     if np.all(np.isfinite(B[:, j])) and np.any(B[:, j])):
        return NotImplemented
    kind, M, _ = _prepare(A, B[:, 0], method)
    B = check_block(B, M.shape[0], "b", np.float64)
    opts = _check_options(M, rtol, maxiter, refinements, rcond, damping, momentum)
    S = _build_sketch(method, kind, M, sketch, sketch_size, seed, zeta, eps, delta)
    pre = _Precond(S, M, B, opts["rcond"])
    results = [_solve_rhs(method, kind, M, np.ascontiguousarray(B[:, j]), S, pre.column(j), opts, atol, callback,
                          time.perf_counter(), damping, momentum, eps, delta) for j in range(B.shape[1])]
    res = combine_columns(method, results, t0)
    res.info["shared_sketch"] = True
    return res


@rescaled(has_x0=False, batched=_columns)
def lstsq(A: OperatorLike, b: ArrayLike, method: str = "sketch_precondition", *, sketch: Any = None, sketch_size: int | None = None, rtol: float | None = None, atol: float = 0.0,
          maxiter: int | None = None, seed: Any = None, callback: Callback | None = None, rcond: float | None = None, zeta: int = 8, damping: float | None = None, momentum: float | None = None,
          refinements: int = 2, eps: float = 0.5, delta: float = 0.01) -> SolverResult:
    """Solve the tall least-squares problem ``min_x ‖b − A x‖₂`` by randomized sketching.

    Parameters
    ----------
    A : array_like (n, d), scipy.sparse matrix or operator-like
        ``n ≥ d``. Dense arrays and CSR matrices take fused numba kernels; any other operator
        is used through ``matvec``/``rmatvec`` (and ``matmat`` for the sketch) and never densified.
    b : array_like (n,) or (n, k)
        ``k`` right-hand sides share one sketch ``S A`` and its factorisation (``res.x`` is
        ``(d, k)``, per-column iterations and statuses in ``res.info``; ``info["shared_sketch"]``).
    method : {"sketch_precondition", "iterative_sketching", "fossils", "sketch_and_solve", "linf"}
        See the module docstring. ``"fossils"`` is the backward-stable one.
    sketch : str or Sketch, optional
        ``"sparse_sign"`` (default; ``zeta`` nonzeros per column), ``"gaussian"``, ``"srht"``, ``"srtt"``,
        ``"countsketch"``, ``"leverage"`` or a :class:`~krylearn.solvers.sketching.sketches.Sketch` instance.
        ``method="linf"`` always uses a dense SRHT.
    sketch_size : int, optional
        Rows ``m`` of the sketch (``d ≤ m ≤ n``). Defaults: 12d for dense A and 4d otherwise
        (sketch_precondition), 12d (iterative_sketching, fossils), 20d (sketch_and_solve); for "linf"
        ``⌈ε⁻² d log³(n/δ)⌉`` capped at ``n``. When the default reaches ``n`` (``A`` is not tall
        enough to sketch) and no ``sketch`` is given, ``A`` itself is factored instead
        (``info["sketch"] == "identity"``): a square random sketch can lose rank.
    rtol, atol : float
        Stopping rule (below). Default ``rtol = None``: iterate to the rounding level
        ``u(‖b‖ + ‖Ax‖)``, i.e. LAPACK-level accuracy (for ill-conditioned ``A`` even
        ``rtol = 1e-14`` stops early, since the forward error is up to ``κ(A)`` times the relative
        A-norm error). Loosen it for speed, e.g. ``1e-8``.
    maxiter : int, optional
        Iteration limit (default 200; for fossils, per refinement step).
    seed : int or numpy SeedSequence, optional
        Seeds the sketch: equal seeds give identical results.
    callback : callable, optional
        ``callback(state) -> bool`` each iteration (state.residual_norm is ``‖b − A x_k‖``);
        True stops the run (status USER_STOP).
    rcond : float, optional
        Singular values of ``S A`` below ``rcond·σ_max(SA)`` are dropped (rank-deficient ``A``);
        default ``d·eps``.
    zeta : int
        Nonzeros per column of the sparse sign sketch (default 8).
    damping, momentum : float, optional
        Heavy-ball step ``α`` and momentum ``β`` of iterative_sketching / fossils; defaults
        ``β = k/m``, ``α = (1 − β)²`` (Epperly 2024).
    refinements : int
        Outer refinement steps of fossils (default 2, as in the paper).
    eps, delta : float
        Accuracy and failure probability of the linf mode.

    Returns
    -------
    SolverResult
        ``x``; ``residuals`` holds ``‖b − A x_k‖₂`` per iteration (recursive LSQR estimates for
        sketch_precondition, true residuals for the other methods; the last entry is always a
        true residual); ``info`` holds ``normal_residuals`` (``‖Pᵀ Aᵀ r_k‖``), ``sketch``,
        ``sketch_size``, ``rank``, ``sketch_cond`` (``κ(SA)``), ``sketch_time``, ``factor_time``,
        ``passes`` (passes over ``A``) and ``floor``; for sketch_precondition also ``cycles``
        (LSQR cycles, each restarted from the true residual: see ``_lsqr``).

    Notes
    -----
    **Stopping rule (least squares).** The residual ``r = b − A x`` of a least-squares solution is
    not small; what vanishes is ``Aᵀ r``. As in LSQR we test the *preconditioned* normal-equation
    residual,

        ``‖Pᵀ Aᵀ r‖₂ ≤ max(rtol·‖A x‖₂ + atol, u (‖b‖ + ‖Ax‖))``,

    which bounds the error in the A-norm: ``‖A(x − x*)‖ ≤ ‖Pᵀ Aᵀ r‖ / σ_min(AP) ≈ ‖Pᵀ Aᵀ r‖``
    (``σ(AP) ∈ [1 − √(k/m), 1 + √(k/m)]`` w.h.p.), i.e. a relative A-norm error of about ``rtol``.
    The second term is the rounding level of ``r``. A consistent system
    (``‖r‖ ≤ max(atol, rtol·‖b‖)``, the krylearn rule) also counts as converged. For
    ill-conditioned ``A`` rounding in ``Aᵀ r`` (amplified by ``‖P‖``) can stop progress above that
    level: when the test quantity stops improving the solver stops and reports CONVERGED if it is
    below the worst-case floor ``64 u (‖b‖ + ‖Ax‖ + κ(SA)‖r‖)`` (``info['floor']``: the accuracy
    attainable in floating point), STAGNATION otherwise. ``maxiter`` reached: MAX_ITERATIONS.
    sketch_precondition tests the rule on the *true* residual at the end of each LSQR cycle; a cycle
    stops once LSQR's recursive estimate has dropped by ``η = 8 u κ(SA)`` (the most its rounded
    products with ``A P`` can be trusted for) and the next one restarts from the true residual —
    for well-conditioned ``A`` that is a single cycle. sketch_and_solve and linf do not iterate and report CONVERGED with the
    sketch-and-solve guarantee only (``‖b − A x‖ ≤ (1 + O(√(d/m)))‖b − A x*‖`` w.h.p.).

    **ℓ∞ mode.** Song et al. (2023) claim that for a dense SRHT/Gaussian sketch with
    ``m = ε⁻² d log³(n/δ)`` rows, ``x' = argmin ‖S(Ax − b)‖`` satisfies, with probability ``1 − δ``,
    ``‖x' − x*‖_∞ ≤ (ε/√d) ‖A x* − b‖₂ ‖A†‖₂``, and that sparse sketches (CountSketch) and
    leverage sampling cannot give this. **The proof has been disputed**; treat the bound as a
    property to measure (``benchmarks/lstsq.py`` counts how often it holds), not to assume.
    For moderate ``n`` the size formula exceeds ``n`` and is capped, so the mode is then an
    (expensive) near-exact solve, not a fast one.

    References
    ----------
    See the module docstring (Avron et al. 2010; Meng et al. 2014; Meier et al. 2024; Epperly 2024;
    Epperly, Meier, Nakatsukasa 2024; Song et al. 2023).

    Examples
    --------
    >>> import numpy as np, krylearn as kl
    >>> rng = np.random.default_rng(0)
    >>> A = rng.standard_normal((2000, 20)); b = rng.standard_normal(2000)
    >>> res = kl.lstsq(A, b, method="iterative_sketching", seed=0)
    >>> res.converged, np.allclose(res.x, np.linalg.lstsq(A, b, rcond=None)[0], rtol=1e-8)
    (True, True)
    """
    t_start = time.perf_counter()
    kind, M, b = _prepare(A, b, method)
    opts = _check_options(M, rtol, maxiter, refinements, rcond, damping, momentum)
    S = _build_sketch(method, kind, M, sketch, sketch_size, seed, zeta, eps, delta)
    return _solve_rhs(method, kind, M, b, S, _Precond(S, M, b, opts["rcond"]), opts, atol, callback, t_start,
                      damping, momentum, eps, delta)


def _check_options(M, rtol, maxiter, refinements, rcond, damping, momentum):
    """Validated options of :func:`lstsq` (defaults resolved)."""
    n, d = M.shape
    if rtol is None:
        rtol = 0.0
    stopping_tolerance(1.0, rtol, 0.0)          # validates rtol
    if maxiter is None:
        maxiter = 200
    if isinstance(maxiter, bool) or not isinstance(maxiter, numbers.Integral) or maxiter < 0:
        raise ValueError(f"maxiter must be a non-negative integer, got {maxiter!r}")
    refinements = _check_size(refinements, "refinements")
    if rcond is None:
        rcond = d * _EPS
    elif not (isinstance(rcond, numbers.Real) and 0 <= rcond < 1):
        raise ValueError(f"rcond must be in [0, 1), got {rcond!r}")
    for name, v in (("damping", damping), ("momentum", momentum)):
        if v is not None and not (isinstance(v, numbers.Real) and np.isfinite(v) and 0 <= v < 2):
            raise ValueError(f"{name} must be a number in [0, 2), got {v!r}")
    return {"rtol": rtol, "maxiter": maxiter, "refinements": refinements, "rcond": rcond}


def _build_sketch(method, kind, M, sketch, sketch_size, seed, zeta, eps, delta):
    """The sketch ``S`` of :func:`lstsq` for ``A = M`` (see its ``sketch``/``sketch_size`` arguments)."""
    n, d = M.shape
    if method == "linf":
        m = linf_sketch_size(n, d, eps, delta) if sketch_size is None else _check_size(sketch_size, "sketch_size", d)
        if m > n:
            raise ValueError(f"sketch_size {m} exceeds the number of rows n = {n}")
        if sketch is not None and not (sketch == "srht" or isinstance(sketch, SRHT)):
            raise ValueError("method='linf' uses a dense SRHT sketch; leave sketch=None")
        S = SRHT(m, n, seed=seed)
    else:
        if sketch_size is None:
            m = _default_size(method, n, d, kind)
            if m >= n and sketch is None:
                _check_size(zeta, "zeta (nonzeros per column)")   # validated even though unused
                # not tall enough to sketch: a square random sketch may lose rank (then even a consistent
                # system is solved wrongly); factor A itself instead (S = I, exact preconditioner)
                sketch = IdentitySketch(n)
        else:
            m = _check_size(sketch_size, "sketch_size", 1)
            if m < d:
                raise ValueError(f"sketch_size must be at least d = {d} (an embedding of the column space), got {m}")
            if m > n:
                raise ValueError(f"sketch_size {m} exceeds the number of rows n = {n}")
        if isinstance(sketch, Sketch):
            if sketch.shape[1] != n:
                raise ValueError(f"the given sketch has {sketch.shape[1]} columns, A has {n} rows")
            S = sketch
            m = S.shape[0]
        else:
            name = "sparse_sign" if sketch is None else sketch
            opts = {"zeta": zeta} if name == "sparse_sign" else {}
            S = make_sketch(name, m, n, seed=seed, A=M if name == "leverage" else None, **opts)
    if isinstance(S, SRHT) and S.shape[0] > S.N:
        raise ValueError("sketch_size exceeds the padded SRHT length")
    return S


def _solve_rhs(method, kind, M, b, S, pre, opts, atol, callback, t_start, damping, momentum, eps, delta):
    """The solve of :func:`lstsq` for one right-hand side with a built sketch and preconditioner."""
    stopping_tolerance(1.0, 0.0, atol)          # validates atol
    rtol, maxiter, refinements = opts["rtol"], opts["maxiter"], opts["refinements"]
    d = M.shape[1]
    ops = _Ops(kind, M)
    b_norm = float(np.linalg.norm(b))
    info = dict(sketch=S.kind, sketch_size=int(S.shape[0]), rank=pre.k, sketch_cond=pre.cond,
                sketch_time=pre.sketch_time, factor_time=pre.factor_time)
    mon = Monitor(method, b_norm, 0.0, callback, norm_name=_NORM_NAME)
    mon.info.update(info)
    mon.t0 = t_start

    if b_norm == 0.0 or pre.k == 0:
        mon.history.append(b_norm)
        mon.info.update(normal_residuals=[0.0], passes=0, floor=0.0)
        return mon.result(np.zeros(d), Status.CONVERGED, 0)

    if method in ("sketch_and_solve", "linf"):
        x = pre.x0
        r, g = ops.resid_grad(b, x)
        mon.record(0, np.linalg.norm(r), x=x)
        mon.info.update(normal_residuals=[float(np.linalg.norm(pre.P.T @ g))], passes=ops.passes, floor=0.0)
        if method == "linf":
            mon.info.update(eps=eps, delta=delta)
        return mon.result(x, Status.CONVERGED, 0)

    if isinstance(S, IdentitySketch):  # exact preconditioner: plain (undamped, no momentum) steps
        beta_mom = 0.0 if momentum is None else float(momentum)
        alpha = 1.0 if damping is None else float(damping)
    else:
        beta_mom = (pre.k / S.shape[0]) if momentum is None else float(momentum)
        alpha = (1.0 - beta_mom) ** 2 if damping is None else float(damping)
    if method == "sketch_precondition":
        x, status, it = _lsqr(ops, b, pre, rtol, atol, maxiter, mon)
    elif method == "iterative_sketching":
        mon.info.update(damping=alpha, momentum=beta_mom)
        x, status, it = _iterative_sketching(ops, b, pre, rtol, atol, maxiter, mon, alpha, beta_mom)
    else:
        mon.info.update(damping=alpha, momentum=beta_mom)
        x, status, it = _fossils(ops, b, pre, rtol, atol, maxiter, mon, alpha, beta_mom, refinements)
    mon.info["passes"] = ops.passes
    return mon.result(x, status, it)

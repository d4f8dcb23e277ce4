"""Solving a sequence of linear systems with a tuned relaxation parameter, and the comparators.

Reference: M. Khodak, E. Chow, M.-F. Balcan, A. Talwalkar, "Learning to Relax: Setting Solver
Parameters Across a Sequence of Linear System Instances", ICLR 2024 (arXiv:2310.02246);
D. M. Young, "Iterative methods for solving partial difference equations of elliptic type",
Trans. Amer. Math. Soc. 76 (1954) (the optimal SOR ω for consistently ordered matrices).

:func:`solve_sequence` runs the loop ``ω_t = tuner.suggest(context_t)``, solve, ``tuner.observe
(iterations_t)`` over an iterable of systems; the comparators are the best fixed ω in hindsight
over a grid (:func:`grid_costs`), Young's instance-optimal ω* from a few Lanczos steps
(:func:`~krylearn.solvers.tuning.omega.young_omega`, :func:`~krylearn.solvers.tuning.omega.young_policy`)
and a per-instance golden-section search (:func:`~krylearn.solvers.tuning.omega.golden_section_omega`,
:func:`instance_optimal`).

**Systems.** ``systems`` is any iterable of ``(A, b)`` or ``(A, b, context)`` tuples (``A`` an
assembled matrix: scipy.sparse, dense, or an operator with ``tocsr()``). If it also has a method
``advance(x)``, that is called with each solution before the next system is drawn: this is how
a time-stepping simulation whose next right-hand side depends on the solution (e.g.
:class:`krylearn.pde.heat.HeatEquation2D`) plugs in.
"""

from __future__ import annotations

import numbers
import time
from collections.abc import Sized
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Union

import numpy as np

from .omega import golden_section_omega

if TYPE_CHECKING:  # annotations only
    from collections.abc import Iterable
    from typing import Literal, Protocol

    from numpy.typing import NDArray

    from ...typing import ArrayLike, OperatorLike
    from ..result import SolverResult
    from .bandits import Tuner

    class SystemLike(Protocol):
        """An object with the system's ``A`` and ``b`` (and optionally ``context``) as attributes."""

        A: Any
        b: Any

    #: one system of a sequence: ``(A, b)``, ``(A, b, context)`` or an object with ``.A``, ``.b``
    System = Union[tuple[OperatorLike, ArrayLike], tuple[OperatorLike, ArrayLike, Any], SystemLike]
    #: what a solve callable returns: a SolverResult, an iteration count, or ``(iterations, x)``
    SolveOutcome = Union[SolverResult, int, tuple[int, np.ndarray]]
    #: ``f(A, b, x0, omega)``: one solve of a sequence
    SolveFn = Callable[[Any, Any, Union[np.ndarray, None], float], SolveOutcome]
    #: the built-in methods of :func:`make_solver`
    SolverName = Literal["sor", "ssor", "ssor_cg", "cg"]
    #: ``policy(A, b, context) -> omega``
    Policy = Callable[[Any, Any, Any], float]

__all__ = ["solve_sequence", "SequenceResult", "grid_costs", "GridCosts", "instance_optimal", "make_solver"]

#: names that moved to :mod:`krylearn.solvers.tuning.omega` (issue 12): still served here, with a warning
_MOVED = ("young_omega", "young_policy", "jacobi_spectral_radius")


def __getattr__(name):
    if name in _MOVED:
        import warnings

        from . import omega

        warnings.warn(f"{name} moved to krylearn.solvers.tuning.omega; import it from there",
                      DeprecationWarning, stacklevel=2)
        return getattr(omega, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---------------------------------------------------------------------------------------------
# result
# ---------------------------------------------------------------------------------------------
@dataclass
class SequenceResult:
    """Per-instance record of :func:`solve_sequence`.

    Attributes
    ----------
    iterations : ndarray of int, shape (T,)
    omega : ndarray, shape (T,)
        The ω used at each instance (NaN for solvers without ω, e.g. plain CG).
    time : ndarray, shape (T,)
        Wall time per instance: setup + solve + tuner (suggest and observe).
    solve_time, tuner_time : ndarray, shape (T,)
        The split of ``time``: setup + solve, and the tuner's share (the learning overhead).
    cpu_time : ndarray, shape (T,)
        Process CPU time per instance (setup + solve + tuner): robust to other jobs on a shared
        machine, where wall times are noisy.
    converged : ndarray of bool, shape (T,)
    contexts : list
        The context of each instance (None where none was given).
    x : ndarray
        The last solution.
    solver : str
    """

    iterations: np.ndarray
    omega: np.ndarray
    time: np.ndarray
    solve_time: np.ndarray
    tuner_time: np.ndarray
    converged: np.ndarray
    contexts: list
    cpu_time: np.ndarray | None = None
    x: np.ndarray | None = None
    solver: str = ""
    info: dict = field(default_factory=dict)

    @property
    def total_iterations(self) -> int:
        return int(self.iterations.sum())

    @property
    def total_time(self) -> float:
        return float(self.time.sum())

    @property
    def total_cpu_time(self) -> float:
        if self.cpu_time is None:  # (found by mypy: was "'NoneType' object has no attribute 'sum'")
            raise AttributeError("total_cpu_time: this SequenceResult has no cpu_time")
        return float(self.cpu_time.sum())

    def mean_iterations(self, last: int | None = None) -> float:
        """Mean iterations per instance, over all or over the ``last`` instances."""
        it = self.iterations if last is None else self.iterations[-int(last):]
        return float(np.mean(it)) if it.size else float("nan")

    def __len__(self):
        return int(self.iterations.size)

    def __repr__(self):
        return (f"SequenceResult(solver={self.solver!r}, T={len(self)}, total_iterations="
                f"{self.total_iterations}, mean={self.mean_iterations():.1f}, time={self.total_time:.3f}s, "
                f"all_converged={bool(np.all(self.converged))})")


# ---------------------------------------------------------------------------------------------
# solvers
# ---------------------------------------------------------------------------------------------
def _unpack(item):
    if isinstance(item, tuple):
        if len(item) == 2:
            return item[0], item[1], None
        if len(item) == 3:
            return item
    A = getattr(item, "A", None)
    b = getattr(item, "b", None)
    if A is not None and b is not None:
        return A, b, getattr(item, "context", None)
    raise ValueError("each system must be a tuple (A, b) or (A, b, context), "
                     f"got {type(item).__name__}")


class _Prepared:
    """Per-matrix setup cache of a built-in solver (re-used while the same ``A`` object repeats)."""

    def __init__(self, kind, rtol, atol, maxiter, relative_to):
        self.kind = kind
        self.rtol, self.atol, self.maxiter, self.relative_to = rtol, atol, maxiter, relative_to
        self._A = None
        self._setup = None

    def setup(self, A):
        if A is self._A and self._setup is not None:
            return self._setup
        kind = self.kind
        if kind in ("sor", "ssor"):
            from ..stationary.sor import SOR
            from ..stationary.ssor import SSOR

            s = SOR(A) if kind == "sor" else SSOR(A)
        elif kind == "ssor_cg":
            from ..precond.ssor import SSORPreconditioner

            s = SSORPreconditioner(A, 1.0, symmetric=True)
        else:  # cg: nothing to prepare
            s = None
        self._A, self._setup = A, s
        return s

    def __call__(self, A, b, x0, omega):
        kind = self.kind
        if kind in ("sor", "ssor"):
            return self.setup(A).solve(b, x0, omega=omega, rtol=self.rtol, atol=self.atol,
                                       maxiter=self.maxiter, relative_to=self.relative_to)
        from ..krylov.cg import cg

        if kind == "cg":
            return cg(A, b, x0, rtol=self.rtol, atol=self.atol, maxiter=self.maxiter)
        M = self.setup(A)
        if M.omega != omega:
            M = M.with_omega(omega)
        return cg(M.system.csr, b, x0, rtol=self.rtol, atol=self.atol, maxiter=self.maxiter, M=M)


_KINDS = ("sor", "ssor", "ssor_cg", "cg")


def make_solver(solver: SolverName | SolveFn = "sor", *, rtol: float = 1e-8, atol: float = 0.0, maxiter: int = 10000,
                relative_to: Literal["b", "r0"] = "b") -> SolveFn:
    """A solve callable ``f(A, b, x0, omega) -> SolverResult`` for a built-in method name.

    ``"sor"`` / ``"ssor"``: the numba SOR/SSOR iterations (:class:`krylearn.solvers.stationary.sor.SOR`,
    set up once per matrix); ``"ssor_cg"``: CG preconditioned by SSOR(ω)
    (:func:`krylearn.precond.ssor`; ``A`` is taken to be symmetric positive definite — the
    per-instance symmetry check is skipped, CG still reports an indefinite status); ``"cg"``:
    plain CG (ω ignored). Stopping rule:
    ``‖b − A x‖₂ ≤ max(atol, rtol·‖b‖₂)`` (for SOR ``relative_to="r0"`` uses ``‖r_0‖``).
    A callable ``solver`` is returned unchanged.
    """
    if callable(solver):
        return solver
    if solver not in _KINDS:
        raise ValueError(f"solver must be one of {_KINDS} or a callable f(A, b, x0, omega), got {solver!r}")
    if relative_to not in ("b", "r0"):
        raise ValueError(f"relative_to must be 'b' or 'r0', got {relative_to!r}")
    if relative_to == "r0" and solver not in ("sor", "ssor"):
        raise ValueError("relative_to='r0' is only available for solver='sor' or 'ssor'")
    return _Prepared(solver, rtol, atol, maxiter, relative_to)


def _recycling(solver, k, rtol, atol, maxiter):
    """``f(A, b, x0, omega)`` solving by deflated CG with recycling (SSOR(ω)-preconditioned for ``"ssor_cg"``)."""
    if solver not in ("cg", "ssor_cg"):
        raise ValueError(f"recycle= needs solver='cg' or 'ssor_cg', got {solver!r}")
    from ..precond.ssor import ssor
    from ..krylov.recycling_cg import RecyclingCG
    rcg = RecyclingCG(k=k)

    def f(A, b, x0, omega):
        M = ssor(A, omega) if solver == "ssor_cg" else None
        return rcg.solve(A, b, x0, rtol=rtol, atol=atol, maxiter=maxiter, M=M)

    f.recycler = rcg
    return f


def _outcome(res):
    """``(iterations, x, converged)`` from what a solve callable returned."""
    if isinstance(res, numbers.Integral):
        return int(res), None, True
    if isinstance(res, tuple) and len(res) == 2:
        return int(res[0]), res[1], True
    it = getattr(res, "iterations", None)
    if it is None:
        raise ValueError("a solve callable must return a SolverResult-like object (with .iterations, .x), "
                         f"an iteration count, or a pair (iterations, x); got {type(res).__name__}")
    return int(it), getattr(res, "x", None), bool(getattr(res, "converged", True))


def _policy(tuner):
    """Normalise ``tuner`` to ``(suggest(A, b, ctx) -> ω, observe(cost) or None)``."""
    if tuner is None:
        return (lambda A, b, ctx: 1.0), None
    if isinstance(tuner, numbers.Real):
        w = float(tuner)
        return (lambda A, b, ctx: w), None
    if hasattr(tuner, "suggest") and hasattr(tuner, "observe"):
        return (lambda A, b, ctx: tuner.suggest(ctx)), tuner.observe
    if callable(tuner):
        return tuner, None
    raise ValueError("tuner must be a tuner (suggest/observe), a fixed omega, or a policy callable "
                     f"policy(A, b, context) -> omega; got {type(tuner).__name__}")


def solve_sequence(systems: Iterable[System], solver: SolverName | SolveFn = "sor",
                   tuner: Tuner | float | Policy | None = None, *, warm_start: bool = False, rtol: float = 1e-8,
                   atol: float = 0.0, maxiter: int = 10000, relative_to: Literal["b", "r0"] = "b",
                   callback: Callable[[int, Any], object] | None = None, progress: bool = False,
                   recycle: int | None = None) -> SequenceResult:
    """Solve a sequence of systems, choosing the relaxation ω of each solve with ``tuner``.

    The loop (Khodak et al. 2024, Algorithm "learning to relax")::

        for A_t, b_t, c_t in systems:
            ω_t = tuner.suggest(c_t)
            x_t = solve(A_t, b_t, x0 = x_{t−1} if warm_start else 0, ω_t)
            tuner.observe(iterations_t)
            systems.advance(x_t)              # only if systems has advance()

    Parameters
    ----------
    systems : iterable
        ``(A, b)`` or ``(A, b, context)`` tuples; see the module docstring (``advance``).
    solver : {"sor", "ssor", "ssor_cg", "cg"} or callable
        Built-in method (see :func:`make_solver`: numba SOR/SSOR sweeps, SSOR-preconditioned CG,
        plain CG), or any ``f(A, b, x0, omega)`` returning a ``SolverResult``, an iteration count,
        or ``(iterations, x)`` (e.g. a PETSc KSP solve with ``-pc_sor_omega omega``).
    tuner : tuner, float, callable or None
        A tuner of :mod:`krylearn.solvers.tuning.bandits` (``suggest``/``observe``), a fixed ω, or an
        oracle policy ``policy(A, b, context) -> ω`` (e.g. :func:`young_policy`). None: ω = 1.
    warm_start : bool
        Start each solve from the previous solution (when sizes match) instead of zero.
    rtol, atol, maxiter, relative_to
        Stopping rule of the built-in solvers, ``‖b − Ax‖₂ ≤ max(atol, rtol·‖b‖₂)``
        (``relative_to="r0"``: relative to ``‖r_0‖``, SOR only). ``maxiter`` (default 10,000, the
        paper's cap) is also the cost of a non-converged solve.
    callback : callable, optional
        ``callback(t, result)`` after each instance (``result`` what the solver returned).
    progress : bool
        Show a tqdm progress bar.
    recycle : int, optional
        With ``solver="cg"`` or ``"ssor_cg"``: solve by :class:`krylearn.solvers.RecyclingCG` with this
        many recycled Ritz vectors carried from each instance to the next (deflated CG).

    Returns
    -------
    SequenceResult
        Per-instance ``iterations``, ``omega``, ``time`` (setup + solve + tuner), ``solve_time``,
        ``tuner_time``, ``converged``, ``contexts``; ``total_iterations``, ``total_time``,
        ``mean_iterations(last=None)``.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp, krylearn as kl
    >>> A = kl.pde.poisson((10, 10)).tocsr()
    >>> rng = np.random.default_rng(0)
    >>> systems = [(A + c * sp.eye(100), rng.standard_normal(100), c) for c in rng.uniform(0, 0.4, 50)]
    >>> tuner = kl.solvers.ChebCB(context_range=(0, 0.4), seed=0)
    >>> res = kl.solvers.solve_sequence(systems, "sor", tuner)
    >>> res.iterations.shape
    (50,)
    """
    solve = make_solver(solver, rtol=rtol, atol=atol, maxiter=maxiter, relative_to=relative_to)
    if recycle is not None:
        solve = _recycling(solver, recycle, rtol, atol, maxiter)
    suggest, observe = _policy(tuner)
    fixed_none = solver == "cg"
    advance = getattr(systems, "advance", None)
    its, oms, tt, st, tu, conv, ctxs, cpu = [], [], [], [], [], [], [], []
    ptime = time.process_time
    x_prev: np.ndarray | None = None
    it_src = iter(systems)
    if progress:
        from tqdm.auto import tqdm

        it_src = tqdm(it_src, total=len(systems) if isinstance(systems, Sized) else None, leave=False)
    perf = time.perf_counter
    for t, item in enumerate(it_src):
        A, b, ctx = _unpack(item)
        c0 = ptime()
        t0 = perf()
        omega = float("nan") if fixed_none else float(suggest(A, b, ctx))
        t1 = perf()
        x0 = x_prev if (warm_start and x_prev is not None and x_prev.shape[0] == np.shape(b)[0]) else None
        res = solve(A, b, x0, omega)
        t2 = perf()
        k, x, ok = _outcome(res)
        if observe is not None:
            observe(k)
        t3 = perf()
        cpu.append(ptime() - c0)
        if callback is not None:
            callback(t, res)
        its.append(k)
        oms.append(omega)
        st.append(t2 - t1)
        tu.append((t1 - t0) + (t3 - t2))
        tt.append(t3 - t0)
        conv.append(ok)
        ctxs.append(ctx)
        if x is not None:
            x_prev = x
        if advance is not None:
            if x is None:
                raise ValueError("systems.advance(x) needs the solution: the solve callable must return it")
            advance(x)
    name = solver if isinstance(solver, str) else getattr(solver, "__name__", "callable")
    return SequenceResult(iterations=np.asarray(its, dtype=np.int64), omega=np.asarray(oms, dtype=float),
                          time=np.asarray(tt), solve_time=np.asarray(st), tuner_time=np.asarray(tu),
                          converged=np.asarray(conv, dtype=bool), contexts=ctxs, cpu_time=np.asarray(cpu),
                          x=x_prev, solver=name)


# ---------------------------------------------------------------------------------------------
# comparators
# ---------------------------------------------------------------------------------------------
@dataclass
class GridCosts:
    """Cost of every grid value on every instance (:func:`grid_costs`).

    ``table[t, i]`` = iterations of instance ``t`` with ``grid[i]``; ``best_fixed`` /
    ``best_fixed_omega``: the grid index / value with the smallest total (best fixed ω in
    hindsight); ``instance_optimal``: per-instance minimum over the grid."""

    grid: np.ndarray
    table: np.ndarray
    contexts: list
    steps: np.ndarray | None = None

    @property
    def totals(self) -> np.ndarray:
        return self.table.sum(axis=0)

    @property
    def best_fixed(self) -> int:
        return int(np.argmin(self.totals))

    @property
    def best_fixed_omega(self) -> float:
        return float(self.grid[self.best_fixed])

    @property
    def best_fixed_iterations(self) -> np.ndarray:
        return self.table[:, self.best_fixed]

    @property
    def instance_optimal(self) -> np.ndarray:
        return self.table.min(axis=1)

    def column(self, omega: float) -> np.ndarray:
        """Iterations per instance for the grid value closest to ``omega``."""
        return self.table[:, int(np.argmin(np.abs(self.grid - omega)))]


def _comparator_run(systems, solver, every, progress, **options):
    """``(solve, systems iterator, advance)`` for a comparator that walks the sequence itself:
    ``every`` checked, a tqdm bar when asked, ``advance`` the sequence's hook (or None)."""
    if not isinstance(every, numbers.Integral) or every < 1:
        raise ValueError(f"every must be a positive integer, got {every!r}")
    src = iter(systems)
    if progress:
        from tqdm.auto import tqdm

        src = tqdm(src, total=len(systems) if hasattr(systems, "__len__") else None, leave=False)
    return make_solver(solver, **options), src, getattr(systems, "advance", None)


def grid_costs(systems: Iterable[System], grid: ArrayLike, solver: SolverName | SolveFn = "sor", *,
               warm_start: bool = False, rtol: float = 1e-8, atol: float = 0.0, maxiter: int = 10000,
               relative_to: Literal["b", "r0"] = "b", every: int = 1, reference_omega: float | None = None,
               progress: bool = False) -> GridCosts:
    """Solve every instance with every grid value: the data of the best-fixed-ω comparator.

    All grid values start from the same ``x0`` (zero, or with ``warm_start`` the previous
    instance's solution); the sequence advances with the solution of the grid value that took
    the fewest iterations (all are converged to the same tolerance). Returns :class:`GridCosts`.

    ``every=k > 1`` evaluates the grid only on instances ``0, k, 2k, ...`` (``GridCosts.steps``)
    and advances the others with one solve at ``reference_omega`` (default: the grid's middle):
    a k-times cheaper estimate for long, expensive sequences.
    """
    grid = np.asarray(grid, dtype=float).ravel()
    solve, src, advance = _comparator_run(systems, solver, every, progress, rtol=rtol, atol=atol, maxiter=maxiter,
                                          relative_to=relative_to)
    rows, ctxs = [], []
    x_prev: np.ndarray | None = None
    ref = float(grid[grid.size // 2]) if reference_omega is None else float(reference_omega)
    steps = []
    for t, item in enumerate(src):
        A, b, ctx = _unpack(item)
        x0 = x_prev if warm_start else None
        if t % every:
            _, x_prev, _ = _outcome(solve(A, b, x0, ref))
            if advance is not None:
                advance(x_prev)
            continue
        steps.append(t)
        row = np.empty(grid.size, dtype=np.int64)
        best_x, best_k = None, None
        for i, w in enumerate(grid):
            k, x, _ = _outcome(solve(A, b, x0, float(w)))
            row[i] = k
            if best_k is None or k < best_k:
                best_k, best_x = k, x
        rows.append(row)
        ctxs.append(ctx)
        x_prev = best_x
        if advance is not None:
            advance(best_x)
    return GridCosts(grid=grid, table=np.asarray(rows).reshape(-1, grid.size), contexts=ctxs,
                     steps=np.asarray(steps, dtype=np.int64))


def instance_optimal(systems: Iterable[System], solver: SolverName | SolveFn = "sor", *, lo: float = 1.0,
                     hi: float = 1.95, evals: int = 12, start: int = 5, warm_start: bool = False, rtol: float = 1e-8,
                     atol: float = 0.0, maxiter: int = 10000, relative_to: Literal["b", "r0"] = "b", every: int = 1,
                     reference_omega: float = 1.5,
                     progress: bool = False) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.int64]]:
    """Per-instance golden-section search for the best ω (the instance-optimal comparator).

    Returns ``(omega, iterations, steps)`` arrays: the best ω found for each searched instance,
    its iteration count, and the instance indices. Each searched instance costs ``evals``
    solves (:func:`golden_section_omega`); the sequence advances with the best solution.
    ``every=k > 1`` searches only instances ``0, k, 2k, ...`` and advances the others with one
    solve at ``reference_omega``.
    """
    solve, src, advance = _comparator_run(systems, solver, every, progress, rtol=rtol, atol=atol, maxiter=maxiter,
                                          relative_to=relative_to)
    oms, its = [], []
    x_prev: np.ndarray | None = None
    steps = []
    for t, item in enumerate(src):
        A, b, ctx = _unpack(item)
        x0 = x_prev if warm_start else None
        if t % every:
            _, x_prev, _ = _outcome(solve(A, b, x0, float(reference_omega)))
            if advance is not None:
                advance(x_prev)
            continue
        steps.append(t)
        sols: dict[float, tuple[int, np.ndarray | None]] = {}

        def cost(w, A=A, b=b, x0=x0, sols=sols):
            k, x, _ = _outcome(solve(A, b, x0, w))
            sols[w] = (k, x)
            return k

        w, v, _ = golden_section_omega(cost, lo, hi, evals=evals, start=start)
        oms.append(w)
        its.append(int(v))
        x_prev = sols[w][1]
        if advance is not None:
            advance(x_prev)
    return np.asarray(oms), np.asarray(its, dtype=np.int64), np.asarray(steps, dtype=np.int64)

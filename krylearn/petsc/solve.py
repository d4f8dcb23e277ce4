"""``krylearn.petsc.solve``: a PETSc KSP solve returning krylearn's :class:`~krylearn.SolverResult`.

Reference: S. Balay et al., "PETSc/TAO Users Manual", ANL-21/39 (revision 3.26), chapter KSP
(convergence tests, norm types, ``KSPConvergedReason``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import itertools
import time

import numpy as np
import scipy.sparse as sp
from petsc4py import PETSc

from ..operators.convert import SparseOperator, _Retagged
from ..solvers._common import stopping_tolerance
from ..solvers.result import SolverResult, SolverState, Status
from ..operators.petsc_mat import as_aij, as_mat, set_spd
from .pc import PC as _PCContext

if TYPE_CHECKING:  # annotations only
    from ..typing import ArrayLike, Callback, OperatorLike, PreconditionerLike

__all__ = ["solve", "status_from_reason"]

_R = PETSc.KSP.ConvergedReason
_STATUS = {
    _R.DIVERGED_MAX_IT: Status.MAX_ITERATIONS,
    _R.DIVERGED_NULL: Status.BREAKDOWN,
    _R.DIVERGED_DTOL: Status.BREAKDOWN,
    _R.DIVERGED_BREAKDOWN: Status.BREAKDOWN,
    _R.DIVERGED_BREAKDOWN_BICG: Status.BREAKDOWN,
    _R.DIVERGED_NONSYMMETRIC: Status.BREAKDOWN,
    _R.DIVERGED_INDEFINITE_PC: Status.INDEFINITE,
    _R.DIVERGED_INDEFINITE_MAT: Status.INDEFINITE,
    _R.DIVERGED_NANORINF: Status.NOT_FINITE,
    _R.DIVERGED_PCSETUP_FAILED: Status.BREAKDOWN,
    _R.DIVERGED_USER: Status.USER_STOP,
    _R.DIVERGED_INNER_SOLVE_FAILED: Status.BREAKDOWN,
    _R.CONVERGED_NEG_CURVE: Status.INDEFINITE,
    _R.CONVERGED_ITERATING: Status.USER_STOP,
}
_REASON_NAMES = {v: k for k, v in vars(_R).items() if k.isupper() and k != "ITERATING"}
_NORM_NAMES = {
    PETSc.KSP.NormType.UNPRECONDITIONED: "2-norm of b - Ax",
    PETSc.KSP.NormType.PRECONDITIONED: "2-norm of the preconditioned residual M(b - Ax)",
    PETSc.KSP.NormType.NATURAL: "natural norm sqrt((b - Ax)^T M (b - Ax))",
    PETSc.KSP.NormType.NONE: "none (no residual norm computed)",
}
_counter = itertools.count()
# KSP types whose own norm is kept: CR reports a wrong (growing) norm with UNPRECONDITIONED in
# PETSc 3.26 although it converges; PREONLY computes no norm.
_DEFAULT_NORM_ONLY = {"cr", "preonly"}


def status_from_reason(reason: int) -> Status:
    """Map a ``KSPConvergedReason`` to krylearn's :class:`~krylearn.Status`.

    Positive reasons (rtol, atol, its for preonly, happy breakdown, step length) are CONVERGED;
    ``DIVERGED_MAX_IT`` is MAX_ITERATIONS; indefinite PC/matrix is INDEFINITE; NaN/Inf is
    NOT_FINITE; ``DIVERGED_USER`` (the callback asked to stop) is USER_STOP; every other
    divergence (breakdown, dtol, PC set-up failure) is BREAKDOWN.
    """
    reason = int(reason)
    if reason in _STATUS:
        return _STATUS[reason]
    return Status.CONVERGED if reason > 0 else Status.BREAKDOWN


def reason_name(reason: int) -> str:
    """``"CONVERGED_RTOL"`` etc. for a ``KSPConvergedReason`` value."""
    return _REASON_NAMES.get(int(reason), str(int(reason)))


def _as_petsc_mat(A):
    if isinstance(A, PETSc.Mat):
        return A
    inner = A
    while isinstance(inner, _Retagged):
        inner = inner.args[0]
    if isinstance(inner, SparseOperator):
        mat = as_aij(inner.A)
        if A.symmetric:
            mat.setOption(PETSc.Mat.Option.SYMMETRIC, True)
        if A.positive_definite:
            set_spd(mat)
        return mat
    if sp.issparse(A) or isinstance(A, np.ndarray):
        return as_aij(A)
    return as_mat(A)


def _setup_pc(ksp, pc, prefix):
    kpc = ksp.getPC()
    if pc is None:
        kpc.setType("none")
    elif isinstance(pc, PETSc.PC):
        ksp.setPC(pc)
    elif isinstance(pc, str):
        if "." in pc or ":" in pc:  # a python context by its import path
            kpc.setType("python")
            kpc.setPythonType(pc)
        else:
            kpc.setType(pc)
    elif isinstance(pc, _PCContext):
        kpc.setType("python")
        kpc.setPythonContext(pc)
    else:
        kpc.setType("python")
        kpc.setPythonContext(_PCContext(pc))


def solve(A: OperatorLike, b: ArrayLike, x0: ArrayLike | None = None, *, ksp_type: str = "cg",
          pc: str | _PCContext | PETSc.PC | PreconditionerLike = None, rtol: float = 1e-5, atol: float = 0.0,
          maxiter: int | None = None, options: dict[str, str | int | float | bool | None] | None = None,
          callback: Callback | None = None, norm: str = "unpreconditioned", options_prefix: str | None = None) -> SolverResult:
    """Solve ``A x = b`` with a PETSc KSP, returning krylearn's :class:`~krylearn.SolverResult`.

    Stopping rule (default ``norm="unpreconditioned"``): PETSc's default test with the
    **unpreconditioned** residual 2-norm, ``‖b − A x‖₂ ≤ max(atol, rtol·‖b‖₂)`` -- the same rule
    as krylearn's solvers. For Krylov types that only monitor a preconditioned residual with
    left preconditioning (e.g. GMRES), the PC is applied on the right so that the unpreconditioned
    norm is available; if the KSP type supports neither, PETSc's default norm is used and
    ``residual_norm`` of the result says which.

    Parameters
    ----------
    A : PETSc.Mat or operator-like
        A PETSc Mat (sequential or distributed; its communicator is the solve's) is used as is; a
        SciPy sparse matrix, dense array or krylearn sparse operator is assembled as a sequential
        AIJ; any other krylearn operator (e.g. the matrix-free ``kl.pde.poisson``) becomes a
        sequential python Mat (:func:`as_mat`).
    b : array_like or PETSc.Vec
        Right-hand side: a NumPy array (sequential, or this rank's entries in parallel) or a Vec.
        An array of shape ``(n, k)`` solves ``k`` right-hand sides with one KSP set up once (the
        PC's factorisation or hierarchy shared, as ``KSPMatSolve`` does for non-block KSP types);
        the result then has ``x`` of shape ``(n, k)``, per-column ``info["iterations"]``,
        ``info["statuses"]`` and ``info["ksp_reasons"]``, ``residuals`` of shape
        ``(max iterations + 1, k)``.
    x0 : array_like or PETSc.Vec, optional
        Initial guess (default zero); not modified.
    ksp_type : str
        PETSc KSP type (``"cg"``, ``"gmres"``, ``"minres"``, ``"bcgs"``, ...).
    pc : None, str, krylearn.petsc.PC, PETSc.PC or operator-like
        ``None``: no preconditioner (as ``kl.cg(M=None)``). A string: a PETSc PC type
        (``"jacobi"``, ``"sor"``, ``"icc"``, ``"gamg"``, ...) or a python context by import path
        (``"krylearn.petsc.SSOR"``). A :class:`krylearn.petsc.PC` context, a PETSc PC, or any
        krylearn preconditioner/operator (wrapped in :class:`krylearn.petsc.PC`).
    rtol, atol : float
        Tolerances of the stopping rule above.
    maxiter : int, optional
        Iteration limit (default ``10 n``, as krylearn's solvers).
    options : dict, optional
        PETSc options for this solve only, without the leading dash, e.g.
        ``{"pc_sor_omega": 1.5, "krylearn_ssor_omega": 1.5, "ksp_view": None}``. They are
        set under the KSP's options prefix for this solve only (earlier values of the same names
        are restored afterwards); they override the arguments above.
    callback : callable, optional
        ``callback(state) -> bool`` after each iteration (``state.x`` builds the current iterate
        on access); return True to stop (status USER_STOP).
    options_prefix : str, optional
        The KSP's options prefix. Default: a private prefix, so that nothing else in the options
        database affects this solve. ``""`` lets command-line options (``-ksp_view``,
        ``-ksp_monitor``, ``-pc_type``, ... given to ``petsc4py.init(sys.argv)``) apply too.
    norm : {"unpreconditioned", "preconditioned", "natural", "default"}
        Which residual norm PETSc monitors and tests (ignored for ``cr`` and ``preonly``, which
        keep their own, and when ``options`` set ``ksp_norm_type`` or ``ksp_pc_side``).

    Returns
    -------
    SolverResult
        ``x`` (NumPy, this rank's entries), ``status`` mapped from the KSP converged reason
        (:func:`status_from_reason`), ``iterations`` (``KSPGetIterationNumber``), ``residuals``
        (the KSP monitor's norms, ``k = 0..iterations``), ``time`` (of ``KSPSolve``; set-up
        time in ``info["setup_time"]``), ``info["ksp_reason"]`` (the reason's name),
        ``info["x_vec"]`` (the solution as a PETSc Vec) and ``info["ksp"]``. As in PETSc,
        ``preonly`` reports CONVERGED after its one application of the PC.

    Examples
    --------
    >>> import numpy as np, krylearn as kl, krylearn.petsc as klp
    >>> A = kl.pde.poisson((64, 64))
    >>> res = klp.solve(A.tocsr(), np.ones(A.shape[0]), pc="krylearn.petsc.SSOR",
    ...                 options={"krylearn_ssor_omega": 1.5}, rtol=1e-8)
    >>> res.converged
    True
    """
    mat = _as_petsc_mat(A)
    (m_loc, m_glob), (n_loc, n_glob) = mat.getSizes()
    if m_glob != n_glob:
        raise ValueError(f"solve needs a square operator, got global shape ({m_glob}, {n_glob})")
    # several right-hand sides: one KSP, set up once (the PC factorisation / hierarchy is shared), a
    # solve per column — what KSPMatSolve does for the non-block KSP types — with each column's
    # reason, iterations and history kept
    columns = not isinstance(b, PETSc.Vec) and np.ndim(b) == 2 and np.shape(b)[1] > 1
    if columns:
        b_cols = np.asarray(b)
        bvecs = [_as_vec(mat, b_cols[:, j], "b", left=True) for j in range(b_cols.shape[1])]  # a new Vec each
        if x0 is not None:
            x0 = np.asarray(x0)
            if x0.shape != b_cols.shape:
                raise ValueError(f"x0 has shape {x0.shape}, but b has shape {b_cols.shape}")
        bvec = bvecs[0]
    else:
        bvec = _as_vec(mat, b, "b", left=True)
        bvecs = [bvec]
    if maxiter is None:
        maxiter = 10 * n_glob
    if int(maxiter) != maxiter or maxiter < 0:
        raise ValueError(f"maxiter must be a non-negative integer, got {maxiter!r}")
    b_norms = [v.norm() for v in bvecs]
    tols = [stopping_tolerance(bn, rtol, atol) for bn in b_norms]
    b_norm, tol = b_norms[0], tols[0]
    if callback is not None and not callable(callback):
        raise TypeError("callback must be callable: callback(state) -> bool")
    norm_types = {"unpreconditioned": PETSc.KSP.NormType.UNPRECONDITIONED,
                  "preconditioned": PETSc.KSP.NormType.PRECONDITIONED,
                  "natural": PETSc.KSP.NormType.NATURAL, "default": None}
    if norm not in norm_types:
        raise ValueError(f"norm must be one of {sorted(norm_types)}, got {norm!r}")

    ksp = PETSc.KSP().create(comm=mat.getComm())
    prefix = f"krylearn{next(_counter)}_" if options_prefix is None else str(options_prefix)
    if prefix:
        ksp.setOptionsPrefix(prefix)
    ksp.setOperators(mat)
    ksp.setType(ksp_type)
    try:
        _setup_pc(ksp, pc, prefix)
    except PETSc.Error as exc:
        _reraise(exc)
    ksp.setTolerances(rtol=rtol, atol=atol, max_it=int(maxiter))
    dm = mat.getDM() if mat.getType() != "python" else None
    # a DM-attached solution vector lets krylearn.petsc.to_natural find the grid
    xvec = dm.createGlobalVec() if dm and dm.getType() == "da" else mat.createVecRight()
    x0vecs = None
    if x0 is not None and columns:
        x0vecs = [_as_vec(mat, x0[:, j], "x0", left=False) for j in range(x0.shape[1])]
        ksp.setInitialGuessNonzero(True)
    elif x0 is not None:
        _as_vec(mat, x0, "x0", left=False).copy(xvec)
        ksp.setInitialGuessNonzero(True)
    db = PETSc.Options()
    saved = {}
    try:
        for key, value in (options or {}).items():
            key = str(key).lstrip("-")
            name = prefix + key
            if name not in saved:
                saved[name] = db.getString(name) if db.hasName(name) else None
            db.setValue(name, "" if value is None else value)
        try:
            ksp.setFromOptions()
        except PETSc.Error as exc:
            _reraise(exc)
        user_norm = any(k.lstrip("-") in ("ksp_norm_type", "ksp_pc_side") for k in (options or {}))
        if not user_norm and ksp.getType() not in _DEFAULT_NORM_ONLY:
            _set_norm(ksp, norm_types[norm])

        history = []
        state = SolverState(f"petsc-{ksp.getType()}", tol)

        def monitor(k, its, rnorm):
            history.append(float(rnorm))

        ksp.setMonitor(monitor)
        if callback is not None:
            def stop_test(k, its, rnorm):
                state.iteration = its
                state.residual_norm = float(rnorm)
                state._x_fn = lambda: k.buildSolution().array_r.copy()
                if callback(state):
                    return _R.DIVERGED_USER
                return None
            ksp.addConvergenceTest(stop_test, prepend=False)
        t0 = time.perf_counter()
        try:
            ksp.setUp()
        except PETSc.Error as exc:
            _reraise(exc)
        t_setup = time.perf_counter() - t0
        per_column = []
        for j, bv in enumerate(bvecs):
            if j:
                history.clear()
                state.tol = tols[j]
                if x0vecs is None:
                    xvec.set(0.0)
            if x0vecs is not None:
                x0vecs[j].copy(xvec)
            t0 = time.perf_counter()
            try:
                ksp.solve(bv, xvec)
            except PETSc.Error as exc:
                _reraise(exc)
            elapsed = time.perf_counter() - t0
            if columns:
                per_column.append((ksp.getConvergedReason(), ksp.getIterationNumber(), list(history),
                                   xvec.array_r.copy(), elapsed))
    finally:
        for name, old in saved.items():
            if old is None:
                db.delValue(name)
            else:
                db.setValue(name, old)
    normtype = ksp.getNormType()
    if columns:
        return _column_result(ksp, per_column, b_norms, tols, t_setup, normtype)
    reason = ksp.getConvergedReason()
    iterations = ksp.getIterationNumber()
    res = SolverResult(x=xvec.array_r.copy(), status=status_from_reason(reason), iterations=int(iterations),
                       residuals=np.asarray(history, dtype=float), time=elapsed,
                       method=f"petsc-{ksp.getType()}+{ksp.getPC().getType()}", b_norm=float(b_norm), tol=tol,
                       residual_norm=_NORM_NAMES.get(normtype, str(normtype)),
                       info={"ksp_reason": reason_name(reason), "setup_time": t_setup, "x_vec": xvec,
                             "ksp": ksp, "pc_side": ksp.getPCSide()})
    return res


def _column_result(ksp, per_column, b_norms, tols, t_setup, normtype):
    """One :class:`SolverResult` for the columns of a multi-right-hand-side solve."""
    from ..solvers._columns import combine_columns

    method = f"petsc-{ksp.getType()}+{ksp.getPC().getType()}"
    results = [SolverResult(x=x, status=status_from_reason(reason), iterations=int(its),
                            residuals=np.asarray(hist, dtype=float), time=elapsed, method=method, b_norm=float(bn),
                            tol=tol, residual_norm=_NORM_NAMES.get(normtype, str(normtype)),
                            info={"ksp_reason": reason_name(reason)})
               for (reason, its, hist, x, elapsed), bn, tol in zip(per_column, b_norms, tols)]
    res = combine_columns(method, results, time.perf_counter())
    res.time = sum(r.time for r in results)
    res.info.update(setup_time=t_setup, ksp=ksp, pc_side=ksp.getPCSide(),
                    ksp_reasons=[r.info["ksp_reason"] for r in results])
    return res


def _set_norm(ksp, normtype):
    """Ask for ``normtype``; if the KSP type cannot monitor it with a left PC, try a right PC,
    then fall back to the type's default."""
    if normtype is None:
        return
    side = ksp.getPCSide()
    ksp.setNormType(normtype)
    ok = _norm_supported(ksp)
    if not ok and normtype == PETSc.KSP.NormType.UNPRECONDITIONED and side == PETSc.PC.Side.LEFT:
        ksp.setPCSide(PETSc.PC.Side.RIGHT)
        ok = _norm_supported(ksp)
        if not ok:
            ksp.setPCSide(side)
    if not ok:
        ksp.setNormType(PETSc.KSP.NormType.DEFAULT)


def _norm_supported(ksp):
    # KSPGetNormType runs KSPSetUpNorms_Private, which fails with PETSC_ERR_SUP (56) for a
    # (norm, side) pair that this KSP type does not support
    try:
        ksp.getNormType()
    except PETSc.Error as exc:
        if exc.ierr == 56:
            return False
        raise
    return True


def _reraise(exc):
    """Re-raise a PETSc error with the message of the Python exception that caused it (the error
    of a python context) in its text, keeping the PETSc error code."""
    cause = exc.__cause__
    if cause is not None and not isinstance(cause, PETSc.Error):
        err = PETSc.Error(exc.ierr)
        err._traceback[:] = list(getattr(exc, "_traceback", [])) + [f"{type(cause).__name__}: {cause}"]
        raise err from cause
    raise exc


def _as_vec(mat, v, name, *, left):
    template = mat.createVecLeft() if left else mat.createVecRight()
    n_loc = template.getLocalSize()
    if isinstance(v, PETSc.Vec):
        if v.getSize() != template.getSize() or v.getLocalSize() != n_loc:
            raise ValueError(f"{name} has global/local size {v.getSize()}/{v.getLocalSize()}, but the "
                             f"operator needs {template.getSize()}/{n_loc}")
        return v
    arr = np.asarray(v)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1 or arr.shape[0] != n_loc:
        raise ValueError(f"{name} has shape {arr.shape}, but the operator needs a vector of length {n_loc}"
                         + (" (this rank's entries)" if mat.getComm().getSize() > 1 else ""))
    if not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or Inf")
    template.array_w[...] = arr
    return template

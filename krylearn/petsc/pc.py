"""krylearn preconditioners as PETSc ``PC`` objects of type ``"python"``.

In code::

    pc = ksp.getPC(); pc.setType("python"); pc.setPythonContext(krylearn.petsc.PC(M))

From the options database (the class is found by its import path)::

    -pc_type python -pc_python_type krylearn.petsc.SSOR -krylearn_ssor_omega 1.6

Each context builds its krylearn preconditioner in ``setUp`` from the PC's preconditioning
matrix ``P``: on one rank from the whole matrix, on several ranks from **this rank's diagonal
block** of ``P`` (as PETSc's block Jacobi does), so ``apply`` works on rank-local arrays with no
communication. ``P`` may be an assembled AIJ matrix or a python Mat made by
:func:`krylearn.petsc.as_mat` (then the wrapped krylearn operator is used directly).

Reference: S. Balay et al., "PETSc/TAO Users Manual", ANL-21/39 (revision 3.26), PCPYTHON and
PCSHELL; L. Dalcin et al., "Parallel distributed computing using Python", Adv. Water Resources
34 (2011).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, ClassVar, Union, cast

import numpy as np
from petsc4py import PETSc

from ..operators.base import LinearOperator
from ..operators.convert import aslinearoperator
from ..operators.petsc_mat import local_block, local_csr

if TYPE_CHECKING:  # pragma: no cover - names for static checkers only
    import torch

    from ..learned.model import DCDMNet
    from ..operators.stencil import PoissonStencil
    from ..solvers.precond.multigrid import MultigridPreconditioner
    from ..solvers.precond.ssor import SSORPreconditioner
    from ..solvers.tuning.bandits import Tuner
    from ..typing import OperatorLike

#: the value of a context option (its type is that of the default in ``options``)
OptionValue = Union[bool, int, float, str]

__all__ = ["PC", "Jacobi", "SSOR", "IC0", "AMG", "Multigrid", "TunedSSOR", "DCDM"]


def _precond():
    from ..solvers import precond

    return precond


class PC:
    """A PETSc python-PC context that applies a krylearn preconditioner or operator.

    Parameters
    ----------
    M : operator-like, optional
        A fixed preconditioner ``z = M r`` (anything :func:`krylearn.aslinearoperator` accepts,
        e.g. ``kl.precond.ic0(A)``, a DCDM network, a SciPy matrix). Its shape must be the
        size of this rank's block of the PC's operator; ``setUp`` checks it.
    build : callable, optional
        ``build(P_local) -> M``: build the preconditioner in ``setUp`` from the local block of the
        PC's preconditioning matrix (a krylearn operator; ``.tocsr()`` gives its entries). Give
        ``M`` or ``build``, not both. The option classes (:class:`SSOR`, :class:`Jacobi`,
        :class:`IC0`, :class:`AMG`) are ``PC`` subclasses with a ``build`` method.
    name : str, optional
        Shown by ``view`` (``-ksp_view``).

    Notes
    -----
    PETSc calls ``setUp(pc)``, ``apply(pc, x, y)`` (``y = M x``), ``applyTranspose`` (only
    offered when ``M`` has an adjoint: a symmetric/Hermitian tag or a working ``rmatvec``),
    ``setFromOptions(pc)`` and ``view(pc, viewer)``. Errors raised here (a wrong size, a missing
    dependency) become PETSc errors (``PETSc.Error``) whose ``__cause__`` is the Python exception
    with the message; :func:`krylearn.petsc.solve` re-raises them as ``PETSc.Error`` carrying the
    message text.

    Examples
    --------
    >>> import numpy as np, krylearn as kl, krylearn.petsc as klp
    >>> from petsc4py import PETSc
    >>> A = kl.pde.poisson((16, 16))
    >>> ksp = PETSc.KSP().create(PETSc.COMM_SELF); ksp.setOperators(klp.as_aij(A)); ksp.setType("cg")
    >>> pc = ksp.getPC(); pc.setType("python"); pc.setPythonContext(klp.PC(kl.precond.ic0(A)))
    >>> b, x = klp.as_aij(A).createVecs()
    >>> b.set(1.0); ksp.setTolerances(rtol=1e-8); ksp.solve(b, x)
    >>> ksp.getConvergedReason() > 0
    True
    """

    #: options read by this context (name without the PC's prefix -> default), for view/help
    options: ClassVar[dict[str, OptionValue]] = {}

    def __init__(self, M: OperatorLike | None = None, *, build: Callable[[LinearOperator], OperatorLike] | None = None,
                 name: str | None = None) -> None:
        if M is not None and build is not None:
            raise ValueError("give either a preconditioner M or a build function, not both")
        if build is not None and not callable(build):
            raise TypeError("build must be callable: build(P_local) -> preconditioner")
        self._fixed = M is not None
        self.M: LinearOperator | None = None if M is None else self._as_operator(M)
        self._build_fn = build
        self.name = name
        self.n_apply = 0
        self._has_transpose = False
        # the options read (name -> value); each value has the type of its default in ``options``, which
        # differs from key to key (a str, an int, a float), hence Any for the readers of single keys
        self.params: dict[str, Any] = {}

    # ---- hooks for subclasses ---------------------------------------------------------
    def build(self, P: LinearOperator) -> OperatorLike:
        """Return the preconditioner for the local operator ``P`` (krylearn operator)."""
        if self._build_fn is None:
            raise ValueError("krylearn.petsc.PC has neither a preconditioner M nor a build function")
        return self._build_fn(P)

    def read_options(self, opts: PETSc.Options) -> None:
        """Read this context's parameters from ``opts`` (a prefixed ``PETSc.Options``)."""
        for key, default in self.options.items():
            if isinstance(default, bool):
                self.params[key] = opts.getBool(key, default)
            elif isinstance(default, int):
                self.params[key] = opts.getInt(key, default)
            elif isinstance(default, float):
                self.params[key] = opts.getReal(key, default)
            else:
                self.params[key] = opts.getString(key, default)

    # ---- PETSc python-PC protocol -----------------------------------------------------
    def create(self, pc: PETSc.PC) -> None:
        self.n_apply = 0

    def setFromOptions(self, pc: PETSc.PC) -> None:
        self.read_options(PETSc.Options(pc.getOptionsPrefix() or ""))
        self._options_read = True

    def setUp(self, pc: PETSc.PC) -> None:
        _, P = pc.getOperators()
        (nrow, _), (ncol, _) = P.getSizes()
        where = "this rank's diagonal block" if P.getComm().getSize() > 1 else "the operator"
        if self.M is not None and self._fixed:
            if self.M.shape != (nrow, ncol):
                raise ValueError(
                    f"{self._label()}: the wrapped preconditioner has shape {self.M.shape}, but {where} of "
                    f"the PETSc PC has size {nrow}x{ncol} (wrong size)")
        else:
            if not getattr(self, "_options_read", False):  # PCSetFromOptions was not called
                self.setFromOptions(pc)
            M = self.build(local_block(P))
            M = self._as_operator(M)
            if M.shape != (nrow, ncol):
                raise ValueError(f"{self._label()}: the preconditioner built has shape {M.shape}, but {where} "
                                 f"has size {nrow}x{ncol} (wrong size)")
            self.M = M
        self._has_transpose = self._probe_adjoint(self.M)

    def _op(self) -> LinearOperator:
        """The preconditioner (set by the constructor or by ``setUp``)."""
        if self.M is None:
            raise RuntimeError(f"{self._label()}: no preconditioner yet (PCSetUp has not run)")
        return self.M

    def apply(self, pc: PETSc.PC, x: PETSc.Vec, y: PETSc.Vec) -> None:
        self.n_apply += 1
        y.array_w[...] = self._op().matvec(x.array_r)

    def _apply_transpose(self, pc: PETSc.PC, x: PETSc.Vec, y: PETSc.Vec) -> None:
        xr = x.array_r
        M = self._op()
        if M.symmetric:
            y.array_w[...] = M.matvec(xr)
        elif np.iscomplexobj(xr):
            y.array_w[...] = np.conj(M.rmatvec(np.conj(xr)))
        else:
            y.array_w[...] = np.real_if_close(M.rmatvec(xr))

    @property
    def applyTranspose(self) -> Callable[[PETSc.PC, PETSc.Vec, PETSc.Vec], None] | None:
        # petsc4py reads this attribute after setUp; None tells PETSc "not available"
        return self._apply_transpose if self._has_transpose else None

    def view(self, pc: PETSc.PC, viewer: PETSc.Viewer) -> None:
        if viewer.getType() != PETSc.Viewer.Type.ASCII:
            return
        viewer.printfASCII(f"  {self._label()}: krylearn preconditioner {self.M!r}\n")
        if self.params:
            text = ", ".join(f"{k}={v}" for k, v in self.params.items())
            viewer.printfASCII(f"  options: {text}\n")
        viewer.printfASCII(f"  applications so far: {self.n_apply}\n")

    # ---- helpers ----------------------------------------------------------------------
    def _label(self) -> str:
        return self.name or f"{type(self).__module__.rsplit('.', 1)[0]}.{type(self).__name__}"

    @staticmethod
    def _as_operator(M: OperatorLike) -> LinearOperator:
        if isinstance(M, LinearOperator):
            return M
        if callable(M) and not hasattr(M, "shape"):
            raise TypeError("a bare function has no shape: wrap it as kl.LinearOperator((n, n), matvec=f), "
                            "or pass build=...")
        return aslinearoperator(M)

    @staticmethod
    def _probe_adjoint(M: LinearOperator) -> bool:
        if M.symmetric or M.hermitian:
            return True
        try:
            M.rmatvec(np.zeros(M.shape[0], dtype=M.dtype))
        except NotImplementedError:
            return False
        return True

    def __repr__(self):
        return f"<{self._label()} wrapping {self.M!r}>"


class Jacobi(PC):
    """Options-database context ``krylearn.petsc.Jacobi``: ``kl.precond.jacobi`` (``z = D⁻¹ r``).

    Same operator as PETSc's ``-pc_type jacobi``."""

    options: ClassVar[dict[str, OptionValue]] = {}

    def build(self, P: LinearOperator) -> LinearOperator:
        return _precond().jacobi(P)


class SSOR(PC):
    """Options-database context ``krylearn.petsc.SSOR``: ``kl.precond.ssor(P, omega)``.

    Options: ``-krylearn_ssor_omega`` (default 1.0, as PETSc's ``-pc_sor_omega``).

    The operator is one symmetric SOR sweep (forward then backward) from a zero guess,
    ``M⁻¹ = ω(2−ω) (D + ωU)⁻¹ D (D + ωL)⁻¹``, which is exactly what PETSc's
    ``-pc_type sor -pc_sor_symmetric`` applies (``MatSOR`` with ``SOR_SYMMETRIC_SWEEP |
    SOR_ZERO_INITIAL_GUESS``, ``its = lits = 1``). On several ranks both act on the local
    diagonal block (PETSc's ``SOR_LOCAL_SYMMETRIC_SWEEP``).
    """

    options: ClassVar[dict[str, OptionValue]] = {"krylearn_ssor_omega": 1.0}

    def build(self, P: LinearOperator) -> LinearOperator:
        omega = self.params.get("krylearn_ssor_omega", 1.0)
        if not 0.0 < omega < 2.0:
            raise ValueError(f"-krylearn_ssor_omega must lie in (0, 2), got {omega}")
        return _precond().ssor(P, omega=omega)


class IC0(PC):
    """Options-database context ``krylearn.petsc.IC0``: ``kl.precond.ic0`` (zero fill-in
    incomplete Cholesky; on a breakdown the diagonal is shifted and the factorisation retried,
    like PETSc's ICC). Compare with ``-pc_type icc`` (serial) or ``-pc_type bjacobi
    -sub_pc_type icc`` (parallel)."""

    options: ClassVar[dict[str, OptionValue]] = {}

    def build(self, P: LinearOperator) -> LinearOperator:
        return _precond().ic0(P)


class AMG(PC):
    """Options-database context ``krylearn.petsc.AMG``: ``kl.precond.amg`` (PyAMG smoothed
    aggregation V-cycle on the local block). Needs pyamg."""

    options: ClassVar[dict[str, OptionValue]] = {}

    def build(self, P: LinearOperator) -> LinearOperator:
        return _precond().amg(P)


class _GridContext(PC):
    """A context whose ``build`` needs the PC itself (to find the grid behind the operator: its
    DMDA); ``self._pc`` is set for the duration of ``setUp`` only."""

    _pc: PETSc.PC | None = None

    @staticmethod
    def _grid_operator(P: LinearOperator) -> LinearOperator:
        """The krylearn operator behind the local block, tags removed (a PoissonStencil when the PC's
        matrix is a python Mat over ``kl.pde.poisson``)."""
        from ..operators.convert import _Retagged

        while isinstance(P, _Retagged):
            P = P.args[0]
        return P

    def setUp(self, pc: PETSc.PC) -> None:
        self._pc = pc
        try:
            super().setUp(pc)
        finally:
            self._pc = None


class Multigrid(_GridContext):
    """Options-database context ``krylearn.petsc.Multigrid``: krylearn's matrix-free geometric
    multigrid cycle (:func:`krylearn.precond.multigrid`) on the PC's grid operator.

    ``-ksp_type cg -pc_type python -pc_python_type krylearn.petsc.Multigrid`` with the options

    * ``-krylearn_mg_cycle V|W`` (default ``V``);
    * ``-krylearn_mg_smoother rbgs|jacobi`` (red–black Gauss–Seidel, default, or damped Jacobi);
    * ``-krylearn_mg_pre N``, ``-krylearn_mg_post N``: smoothing steps before/after the coarse
      correction (default: those of :func:`krylearn.precond.multigrid`; ``post`` defaults to
      ``pre``; keep them equal for a symmetric cycle);
    * ``-krylearn_mg_levels N``: levels including the finest (0, the default: automatic, as
      :func:`krylearn.precond.multigrid`);
    * ``-krylearn_mg_coarse_iterations N``: how a large coarsest level left by an early stop at
      thin walls is solved (default 1 here: one aggregation W-cycle, a fixed map; ``N > 1``: N
      flexible-CG steps, a *variable* map that needs ``-ksp_type fcg`` or ``fgmres``).

    Options left unset take :func:`krylearn.precond.multigrid`'s defaults (except
    ``coarse_iterations``, 1 here so that the map stays fixed for KSPCG), so the context applies
    exactly ``kl.precond.multigrid(grid, **options)``.

    With ``pre == post`` one application is a fixed symmetric positive definite operator, so
    ``-ksp_type cg`` is the right Krylov method (no flexible variant needed).

    The grid comes from the PC's preconditioning matrix:

    * a python Mat made by :func:`krylearn.petsc.as_mat` over ``kl.pde.poisson(...)`` (a
      :class:`~krylearn.operators.stencil.PoissonStencil`; masks, variable coefficients and box
      conditions are used as they are; one rank);
    * an assembled AIJ matrix with a DMDA attached (e.g. :func:`krylearn.petsc.poisson`; 2D/3D,
      one degree of freedom per cell): this rank's diagonal block on this rank's box of cells
      (``dm.getRanges()``; the DMDA's x axis is krylearn's last axis) is turned back into a
      stencil by :meth:`PoissonStencil.from_csr <krylearn.operators.stencil.PoissonStencil.from_csr>`,
      which checks that it is a 5-/7-point M-matrix stencil on that box.

    Anything else raises ``ValueError`` (a ``PETSc.Error`` in ``KSPSetUp``) naming these two.

    **Several ranks.** Each rank runs the cycle on its own diagonal block, with no communication:
    block Jacobi over the DMDA's boxes with one geometric multigrid cycle as the subdomain solve.
    The couplings to other ranks' cells are dropped from the block but stay in its diagonal, so
    each block is the box problem with Dirichlet-like faces where the box meets another rank's.
    Information crosses a rank boundary only through the Krylov iteration, so the iteration count
    grows with the number of ranks (measured, KSPCG to 1e-8 on 64²: 10 iterations on one rank, 27
    on two), unlike a parallel multigrid whose coarse levels span all ranks (e.g. PETSc's
    ``-pc_type gamg``).

    Attributes
    ----------
    grid : PoissonStencil
        The grid operator the cycle was built on (after ``setUp``).
    source : str
        ``"python Mat"`` or ``"DMDA"``.
    """

    #: -1 / 0: not set (kl.precond.multigrid's default)
    options: ClassVar[dict[str, OptionValue]] = {
        "krylearn_mg_cycle": "V", "krylearn_mg_smoother": "rbgs", "krylearn_mg_pre": -1, "krylearn_mg_post": -1,
        "krylearn_mg_levels": 0, "krylearn_mg_coarse_iterations": 1}

    def __init__(self, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self.grid: PoissonStencil | None = None
        self.source: str | None = None


    def build(self, P: LinearOperator) -> LinearOperator:
        from ..operators.stencil import PoissonStencil

        op = self._grid_operator(P)
        if isinstance(op, PoissonStencil):
            grid, source = op, "python Mat"
        else:
            grid, source = self._grid_from_dm(op), "DMDA"
        p = self.params
        kw: dict[str, str | int] = {"cycle": str(p.get("krylearn_mg_cycle", "V")).upper(),
              "smoother": str(p.get("krylearn_mg_smoother", "rbgs")).lower()}
        for key in ("pre", "post"):
            v = int(p.get(f"krylearn_mg_{key}", -1))
            if v >= 0:
                kw[key] = v
        levels = int(p.get("krylearn_mg_levels", 0))
        if levels < 0:
            raise ValueError(f"-krylearn_mg_levels must be >= 0 (0: automatic), got {levels}")
        if levels:
            kw["levels"] = levels
        # 1 by default: PETSc's KSPCG assumes a fixed preconditioner (kl.cg would switch to its
        # flexible form on its own; a PETSc KSP cannot)
        kw["coarse_iterations"] = int(p.get("krylearn_mg_coarse_iterations", 1))
        try:
            M = _precond().multigrid(grid, **kw)
        except ValueError as exc:
            raise ValueError(f"krylearn.petsc.Multigrid (options -krylearn_mg_*): {exc}") from exc
        self.grid, self.source = grid, source
        return M

    def _grid_from_dm(self, P_local):
        from ..operators.convert import SparseOperator

        _, P = self._pc.getOperators()
        what = ("krylearn.petsc.Multigrid needs a grid operator: a python Mat over kl.pde.poisson(...) "
                "(krylearn.petsc.as_mat) or an assembled AIJ matrix with a 2D/3D DMDA attached "
                "(krylearn.petsc.poisson); ")
        if P.getType() == "python":
            ctx = P.getPythonContext()
            inner = getattr(ctx, "op", ctx)
            raise ValueError(what + f"got a python Mat over {inner!r}")
        dm = P.getDM()
        if not dm or dm.getType() != "da":
            raise ValueError(what + f"got a {P.getType()} Mat without a DMDA")
        if dm.getDim() not in (2, 3) or dm.getDof() != 1:
            raise ValueError(what + f"got a DMDA of dimension {dm.getDim()} with {dm.getDof()} dof per cell "
                             "(need 2D/3D, dof=1)")
        box = tuple(int(b - a) for a, b in dm.getRanges()[::-1])
        block = P_local.A if isinstance(P_local, SparseOperator) else local_csr(P)  # (already read by setUp)
        if block.shape[0] != int(np.prod(box)):
            raise ValueError(what + f"this rank's block has {block.shape[0]} rows but its DMDA box {box} has "
                             f"{int(np.prod(box))} cells")
        from ..operators.stencil import PoissonStencil

        try:
            return PoissonStencil.from_csr(block, box)
        except ValueError as exc:
            where = "this rank's diagonal block" if P.getComm().getSize() > 1 else "the matrix"
            raise ValueError(f"krylearn.petsc.Multigrid: {where} on the DMDA box {box} is not a grid Poisson "
                             f"operator: {exc}") from exc

    def view(self, pc: PETSc.PC, viewer: PETSc.Viewer) -> None:
        super().view(pc, viewer)
        if viewer.getType() == PETSc.Viewer.Type.ASCII and self.M is not None and self.grid is not None:
            # build() set M to kl.precond.multigrid's result (with grid), typed LinearOperator on PC
            info = cast("MultigridPreconditioner", self.M).info
            viewer.printfASCII(f"  grid from the {self.source}: {self.grid.grid_shape}; {info['cycle']}-cycle, "
                               f"{info['smoother']} smoother ({info['pre']} pre, {info['post']} post), "
                               f"{info['levels']} levels {info['grid_shapes']}, coarsest: {info['coarse_solver']}\n")


class TunedSSOR(PC):
    """SSOR whose ω is chosen before every ``KSPSolve`` by an online bandit tuner, which is then
    told the iteration count of that solve ("Learning to Relax", Khodak et al., ICLR 2024).

    Options-database context ``krylearn.petsc.TunedSSOR``; options:

    * ``-krylearn_tuned_ssor_state FILE``: load the tuner from ``FILE`` if it exists
      (:func:`krylearn.solvers.tuning.bandits.load_tuner`) and save it there after every solve, so that
      separate runs (separate KSP objects, separate processes) keep learning;
    * ``-krylearn_tuned_ssor_seed N``: seed of a new tuner (default: unseeded).

    A new tuner is :class:`krylearn.solvers.TsallisINF` over ``omega_grid("ssor_cg")`` (20 values
    in ``[2√2 − 2, 1.95]``). The CSR set-up is done once in ``setUp``; changing ω costs nothing
    (``SSORPreconditioner.with_omega``). On several ranks rank 0's tuner draws ω and broadcasts
    it, so every block uses the same ω; only rank 0's tuner learns (and saves the state file).

    Parameters
    ----------
    tuner : krylearn.solvers.tuning.bandits.Tuner, optional
        Any tuner with ``suggest(context)``/``observe(cost)`` (default as above).
    context : float, optional
        Passed to ``tuner.suggest`` (for contextual tuners such as ``ChebCB``); can be changed
        between solves (``ctx.context = ...``).
    state_file : str, optional
        As ``-krylearn_tuned_ssor_state``.

    Notes
    -----
    PETSc calls ``preSolve`` (draw ω) and ``postSolve`` (report ``KSPGetIterationNumber``) around
    each ``KSPSolve``; ``apply`` outside a solve uses the last ω (1.0 before the first solve).
    """

    options: ClassVar[dict[str, OptionValue]] = {"krylearn_tuned_ssor_state": "", "krylearn_tuned_ssor_seed": -1}

    def __init__(self, tuner: Tuner | None = None, *, context: float | None = None, state_file: str | None = None,
                 name: str | None = None) -> None:
        super().__init__(name=name)
        self.tuner = tuner
        self.context = context
        self.state_file = state_file
        self.base: SSORPreconditioner | None = None
        self.omega = 1.0

    def build(self, P: LinearOperator) -> LinearOperator:
        from ..solvers.tuning import bandits as tuning

        state = self.state_file or self.params.get("krylearn_tuned_ssor_state") or None
        self.state_file = state
        if self.tuner is None:
            import os

            if state and os.path.exists(state):
                self.tuner = tuning.load_tuner(state)
            else:
                seed = self.params.get("krylearn_tuned_ssor_seed", -1)
                self.tuner = tuning.TsallisINF(grid=tuning.omega_grid("ssor_cg"),
                                               seed=None if seed is None or seed < 0 else int(seed))
        self.base = _precond().ssor(P, omega=1.0)  # (re)built when the operator changes; same tuner
        return self.base.with_omega(self.omega)

    def _set_up(self) -> tuple[Tuner, SSORPreconditioner]:
        """The tuner and the ω = 1 SSOR, which ``setUp`` (``build``) made."""
        if self.tuner is None or self.base is None:
            raise RuntimeError(f"{self._label()}: PCSetUp has not run")
        return self.tuner, self.base

    def preSolve(self, pc: PETSc.PC, ksp: PETSc.KSP, b: PETSc.Vec, x: PETSc.Vec) -> None:
        tuner, base = self._set_up()
        comm = pc.getComm()
        if comm.getSize() == 1:
            omega = tuner.suggest(self.context)
        else:  # rank 0's tuner decides and learns; the others follow
            omega = tuner.suggest(self.context) if comm.getRank() == 0 else None
            omega = comm.tompi4py().bcast(omega, root=0)
        self.omega = float(omega)
        self.M = base.with_omega(self.omega)

    def postSolve(self, pc: PETSc.PC, ksp: PETSc.KSP, b: PETSc.Vec, x: PETSc.Vec) -> None:
        if pc.getComm().getRank() != 0:
            return
        tuner, _ = self._set_up()
        tuner.observe(ksp.getIterationNumber())
        if self.state_file:
            tuner.save(self.state_file)

    def view(self, pc: PETSc.PC, viewer: PETSc.Viewer) -> None:
        super().view(pc, viewer)
        if viewer.getType() == PETSc.Viewer.Type.ASCII:
            viewer.printfASCII(f"  tuner: {self.tuner!r}, current omega = {self.omega:g}\n")


class DCDM(_GridContext):
    """The DCDM network (Kaneda et al., ICML 2023) as a PETSc preconditioner:
    ``z = ‖r‖ f_net(r/‖r‖)`` (:class:`krylearn.learned.DCDMPreconditioner`). Needs torch.

    The map is **nonlinear**: use it with a flexible Krylov method, ``-ksp_type fcg`` (PETSc's
    flexible CG, the analogue of :func:`krylearn.fcg`) or ``fgmres`` -- not with ``cg``.

    Options-database context ``krylearn.petsc.DCDM``; options:

    * ``-krylearn_dcdm_model NAME``: a shipped model (:func:`krylearn.learned.load_pretrained`;
      default ``poisson2d``/``poisson3d`` by the grid's dimension);
    * ``-krylearn_dcdm_weights PATH``: a weight file instead (:func:`krylearn.learned.load_weights`).

    The grid comes from the PC's operator: a python Mat over ``kl.pde.poisson(...)`` (its mask is
    used), or a DMDA matrix from :func:`krylearn.petsc.poisson` (all cells; on several ranks each
    rank's box of cells, whose diagonal block is the Dirichlet problem of that box). The grid sides
    must be even.

    Parameters
    ----------
    model : krylearn.learned.DCDMNet, optional
        Use this network instead of loading one from the options.
    device : torch device, optional
    """

    options: ClassVar[dict[str, OptionValue]] = {"krylearn_dcdm_model": "", "krylearn_dcdm_weights": ""}

    def __init__(self, model: DCDMNet | None = None, *, device: str | torch.device | None = None,
                 name: str | None = None) -> None:
        super().__init__(name=name)
        self.model = model
        self.device = device

    def build(self, P: LinearOperator) -> LinearOperator:
        from .. import learned

        op = self._grid_operator(P)
        mask: np.ndarray | None = None
        grid_op: PoissonStencil | None = None
        if getattr(op, "grid_shape", None) is not None or getattr(op, "mask", None) is not None:
            # a grid operator (duck-typed like PoissonStencil: a grid_shape or a mask)
            grid_op = cast("PoissonStencil", op)
            dim = grid_op.mask.ndim if getattr(grid_op, "mask", None) is not None else len(grid_op.grid_shape)
        else:
            mask = self._mask_from_dm()
            dim = mask.ndim
        if self.model is None:
            weights = self.params.get("krylearn_dcdm_weights") or ""
            name = self.params.get("krylearn_dcdm_model") or f"poisson{dim}d"
            self.model = (learned.load_weights(weights, device=self.device) if weights
                          else learned.load_pretrained(name, device=self.device))
        if grid_op is not None:
            return learned.DCDMPreconditioner(self.model, grid_op, device=self.device)
        return learned.DCDMPreconditioner(self.model, mask=mask, device=self.device)

    def _mask_from_dm(self) -> np.ndarray:
        if self._pc is None:
            raise RuntimeError("krylearn.petsc.DCDM: the grid is read during PCSetUp only")
        _, P = self._pc.getOperators()
        dm = P.getDM() if P.getType() != "python" else None
        if not dm or dm.getType() != "da":
            raise ValueError("krylearn.petsc.DCDM needs a grid: use a python Mat over kl.pde.poisson(...) "
                             "(krylearn.petsc.as_mat) or a DMDA matrix (krylearn.petsc.poisson)")
        box = tuple(int(b - a) for a, b in dm.getRanges()[::-1])
        return np.ones(box, dtype=bool)

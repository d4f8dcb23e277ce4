"""Geometric multigrid preconditioner for grid Poisson operators, matrix-free on every level.

One application ``z = M r`` is one multigrid cycle from a zero initial guess on the hierarchy of
:class:`~krylearn.solvers.precond.grid_hierarchy.GridHierarchy` (rediscretised coarse operators,
wall-aware cell-centred transfers, an exact solve on the coarsest level). The smoothers are numba
kernels on the padded level grids; the post-smoother is the adjoint of the pre-smoother and the
restriction is the transpose of the prolongation (up to a constant), so the cycle is a fixed
symmetric positive definite operator: the right preconditioner for :func:`krylearn.cg` (MGPCG).

References
----------
A. McAdams, E. Sifakis, J. Teran, "A parallel multigrid Poisson solver for fluids simulation on
large grids", SCA 2010 (multigrid-preconditioned CG on voxelized domains with obstacles).
O. Tatebe, "The multigrid preconditioned conjugate gradient method", Copper Mountain Conf. 1993
(symmetry conditions for a multigrid preconditioner).
U. Trottenberg, C. W. Oosterlee, A. Schüller, "Multigrid", Academic Press 2001 (red-black
Gauss–Seidel, damped Jacobi, cell-centred transfers).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

from ...operators.base import LinearOperator
from ...threads import PARALLEL_MIN, get_num_threads, pick, solver_threads
from . import _multigrid_kernels as K
from ._coarse_solvers import project_mean_zero, sink_free_components
from .grid_hierarchy import GridHierarchy

if TYPE_CHECKING:  # annotations only
    from typing import Literal

    from ...operators.stencil import PoissonStencil

    Cycle = Literal["V", "W"]
    Smoother = Literal["rbgs", "jacobi", "chebyshev"]
    Interpolation = Literal["linear", "constant", "linear-cut"]

__all__ = ["multigrid", "MultigridPreconditioner", "SMOOTHERS", "INTERPOLATIONS"]

SMOOTHERS = ("rbgs", "jacobi", "chebyshev")
#: interpolation name -> kernel mode. "linear": bi/trilinear between coarse cells that are entirely
#: fluid, constant (the parent's value) in cells cut by a wall; "constant": the parent's value
#: everywhere; "linear-cut": bi/trilinear across every open coarse face, cut cells included (measured
#: in BENCHMARKS.md: it diverges as a standalone cycle on obstacle domains; kept for comparison).
INTERPOLATIONS = {"linear": 2, "constant": 0, "linear-cut": 1}
_CYCLES = ("V", "W")


class MultigridPreconditioner(LinearOperator):
    """One geometric multigrid cycle from zero: see :func:`multigrid`."""

    def __init__(self, A: PoissonStencil, *, cycle: Cycle = "V", smoother: Smoother = "rbgs", pre: int | None = None,
                 post: int | None = None, levels: int | None = None, coarse_size: int = 512,
                 omega: float | None = None, interpolation: Interpolation = "linear",
                 merge_tolerance: float | None = 0.01, direct_max: int | None = None, boundary_sweeps: int = 0,
                 boundary_width: int = 2, coarse_iterations: int | None = None) -> None:
        t0 = time.perf_counter()
        if cycle not in _CYCLES:
            raise ValueError(f"cycle must be one of {_CYCLES}, got {cycle!r}")
        if smoother not in SMOOTHERS:
            raise ValueError(f"smoother must be one of {SMOOTHERS}, got {smoother!r}")
        if pre is None:  # measured (BENCHMARKS.md): V(1,1) is fastest in 2D, V(2,2) in 3D
            pre = 1 if getattr(A, "ndim_grid", 2) == 2 else 2
        post = pre if post is None else post
        for name, v in (("pre", pre), ("post", post)):
            if not isinstance(v, (int, np.integer)) or v < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {v!r}")
        if pre + post == 0:
            raise ValueError("pre + post must be at least 1 (a cycle without smoothing is not a preconditioner)")
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f"interpolation must be one of {tuple(INTERPOLATIONS)}, got {interpolation!r}")
        self.hierarchy = H = GridHierarchy(A, levels=levels, coarse_size=coarse_size,
                                           merge_tolerance=merge_tolerance, direct_max=direct_max,
                                           interp_mode=INTERPOLATIONS[interpolation],
                                           coarse_iterations=coarse_iterations)
        nd = H.ndim
        for name, v in (("boundary_sweeps", boundary_sweeps), ("boundary_width", boundary_width)):
            if not isinstance(v, (int, np.integer)) or v < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {v!r}")
        self.boundary_sweeps = int(boundary_sweeps)
        if self.boundary_sweeps:
            H.set_boundary_band(int(boundary_width))
            self._strides = [np.array([int(np.prod(lv.padded_shape[a + 1:])) for a in range(nd)], dtype=np.int64)
                             for lv in H.levels]
        if omega is None:
            omega = 0.8 if nd == 2 else 6.0 / 7.0  # the optimal smoothing factors of damped Jacobi
        if not 0.0 < float(omega) < 1.0 + 1e-12:
            raise ValueError(f"omega (Jacobi damping) must be in (0, 1], got {omega!r}")
        self.cycle, self.smoother, self.pre, self.post, self.omega = cycle, smoother, int(pre), int(post), float(omega)
        self._nd = nd
        self._t = [np.zeros(lv.padded_shape) for lv in H.levels] if smoother == "jacobi" else None
        self._null = None
        if A.singular_components:
            # the constant on each sink-free component of A is in A's null space: M = Q V Q with Q
            # the orthogonal projector onto its complement keeps the preconditioner symmetric and
            # keeps CG's iterates free of that component (consistent right-hand sides only)
            self._null = sink_free_components(A.tocsr(), A.boundary_weights)
        super().__init__(A.shape, dtype=np.float64, symmetric=True, positive_definite=True)
        self.info = {"type": "multigrid", "cycle": cycle, "smoother": smoother, "pre": self.pre,
                     "post": self.post, **H.info, "nbytes": H.nbytes,
                     "setup_time": time.perf_counter() - t0}
        if smoother == "jacobi":
            self.info["omega"] = self.omega
        # inner Krylov steps on the coarsest level (mazes only): a variable map, for flexible methods
        self.variable = H.variable
        self.info["variable"] = H.variable

    # ---- one cycle -------------------------------------------------------------------------
    def _smooth(self, lv, t, sweeps, forward, from_zero, level):
        """``sweeps`` smoothing steps on level ``lv`` (then the boundary sweeps); ``forward=False`` is
        the adjoint: boundary sweeps backward first, then the steps in reverse colour order."""
        if not forward and self.boundary_sweeps:
            K.band_gs(lv.x, lv.b, lv.dinv, lv.E_stack.reshape(self._nd, -1), self._strides[level], lv.band,
                      self.boundary_sweeps, False)
        t = self._smooth_interior(lv, t, sweeps, forward, from_zero)
        if forward and self.boundary_sweeps:
            K.band_gs(lv.x, lv.b, lv.dinv, lv.E_stack.reshape(self._nd, -1), self._strides[level], lv.band,
                      self.boundary_sweeps, True)
        return t

    def _smooth_interior(self, lv, t, sweeps, forward, from_zero):
        N = lv.grid_shape
        if self.smoother == "rbgs":
            first_color = 0 if forward else 1
            fused = lv.n < PARALLEL_MIN or get_num_threads() < 2
            for s in range(sweeps):
                zero = from_zero and s == 0
                if fused:  # one pass over memory per red-black sweep (serial wavefront)
                    if self._nd == 2:
                        K.rbgs_pair2d(lv.x, lv.b, lv.dinv, *lv.E, *N, first_color, zero)
                    else:
                        K.rbgs_pair3d(lv.x, lv.b, lv.dinv, *lv.E, *N, first_color, zero)
                    continue
                for c in (first_color, 1 - first_color):
                    first = zero and c == first_color
                    if self._nd == 2:
                        pick(K.rbgs2d, lv.n)(lv.x, lv.b, lv.dinv, *lv.E, *N, c, first)
                    else:
                        pick(K.rbgs3d, lv.n)(lv.x, lv.b, lv.dinv, *lv.E, *N, c, first)
            return
        if self.smoother == "chebyshev":
            self._chebyshev(lv, sweeps, from_zero)
            return t
        for s in range(sweeps):
            first = from_zero and s == 0
            if self._nd == 2:
                pick(K.jacobi2d, lv.n)(lv.x, lv.b, t, lv.d, lv.dinv, *lv.E, *N, self.omega, first)
            else:
                pick(K.jacobi3d, lv.n)(lv.x, lv.b, t, lv.d, lv.dinv, *lv.E, *N, self.omega, first)
            lv.x, t = t, lv.x
        return t

    def _chebyshev(self, lv, degree, from_zero):
        """``degree`` Chebyshev steps on D⁻¹A over [λmax/4, λmax] with λmax = 2 (Gershgorin: for these
        weakly diagonally dominant M-matrices every eigenvalue of D⁻¹A lies in [0, 2]); the
        polynomial is fixed, so pre- and post-smoothing are the same symmetric operator. The level's
        residual array holds the search direction (it is recomputed after smoothing anyway)."""
        hi = 2.0
        lo = hi / 4.0
        theta, delta = (hi + lo) / 2.0, (hi - lo) / 2.0
        sigma = theta / delta
        rho = 1.0 / sigma
        w = lv.r
        N = lv.grid_shape
        kern = pick(K.cheb_dir2d if self._nd == 2 else K.cheb_dir3d, lv.n)
        axpy = pick(K.axpy_grid, lv.n)
        if from_zero:
            lv.x.fill(0.0)
        w.fill(0.0)
        c1, c2 = 0.0, 1.0 / theta
        for k in range(degree):
            kern(lv.x, lv.b, w, lv.d, lv.dinv, *lv.E, *N, c1, c2)
            axpy(lv.x, w, False)
            rho_new = 1.0 / (2.0 * sigma - rho)
            c1, c2 = rho_new * rho, 2.0 * rho_new / delta
            rho = rho_new

    def _cycle(self, level, from_zero=True):
        H = self.hierarchy
        lv = H.levels[level]
        if level == len(H.levels) - 1:
            H.coarse_solver(lv)
            return
        t = self._t[level] if self._t is not None else None
        co = H.levels[level + 1]
        nd = self._nd
        if self.pre:
            t = self._smooth(lv, t, self.pre, True, from_zero, level)
        elif from_zero:
            lv.x.fill(0.0)
        if nd == 2:
            pick(K.residual2d, lv.n)(lv.x, lv.b, lv.r, lv.d, *lv.E, *lv.grid_shape)
            pick(K.restrict2d, lv.n)(lv.r, lv.flags, co.b, *co.grid_shape)
        else:
            pick(K.residual3d, lv.n)(lv.x, lv.b, lv.r, lv.d, *lv.E, *lv.grid_shape)
            pick(K.restrict3d, lv.n)(lv.r, lv.flags, co.b, *co.grid_shape)
        # W-cycle: the coarse problem gets two cycles, the second starting from the first's result
        visits = 2 if (self.cycle == "W" and level + 1 < len(H.levels) - 1) else 1
        for v in range(visits):
            self._cycle(level + 1, from_zero=v == 0)
        if nd == 2:
            pick(K.prolong_add2d, lv.n)(co.x, lv.flags, lv.x, *lv.grid_shape)
        else:
            pick(K.prolong_add3d, lv.n)(co.x, lv.flags, lv.x, *lv.grid_shape)
        if self.post:
            t = self._smooth(lv, t, self.post, False, False, level)
        if self._t is not None:
            self._t[level] = t

    def _matvec(self, r):
        if np.iscomplexobj(r):
            # a real map applied to a complex vector: to the real and imaginary parts (the cast to
            # float64 below dropped the imaginary part with only a ComplexWarning; found by OperatorTestCase)
            return self._matvec(r.real) + 1j * self._matvec(r.imag)
        H = self.hierarchy
        fine = H.levels[0]
        r = np.ascontiguousarray(r, dtype=np.float64)
        if self._null is not None:
            r = r.copy()
            project_mean_zero(r, self._null)
        if H.fine_flat is not None:
            K.scatter(r, H.fine_flat, fine.b)
        else:
            fine.b[fine.interior] = r.reshape(fine.grid_shape)
        self._cycle(0)
        z = np.empty(r.shape[0])
        if H.fine_flat is not None:
            K.gather(fine.x, H.fine_flat, z)
        else:
            z.reshape(fine.grid_shape)[...] = fine.x[fine.interior]
        if self._null is not None:
            project_mean_zero(z, self._null)
        return z

    def _rmatvec(self, r):
        return self._matvec(r)

    def _matmat(self, X):
        return np.column_stack([self._matvec(X[:, j]) for j in range(X.shape[1])])


@solver_threads  # the set-up runs under the threading policy (BLAS on one thread)
def multigrid(A: PoissonStencil, *, cycle: Cycle = "V", smoother: Smoother = "rbgs", pre: int | None = None,
              post: int | None = None, levels: int | None = None, coarse_size: int = 512, omega: float | None = None,
              interpolation: Interpolation = "linear", merge_tolerance: float | None = 0.01, direct_max: int | None = None,
              boundary_sweeps: int = 0, boundary_width: int = 2,
              coarse_iterations: int | None = None) -> MultigridPreconditioner:
    """Geometric multigrid preconditioner for a :func:`krylearn.pde.poisson` operator.

    ``M r`` runs one multigrid cycle on ``A e = r`` from ``e = 0``: on each level ``pre`` smoothing
    steps, the residual restricted to the next coarser level, the cycle there, the correction
    interpolated back, ``post`` smoothing steps in the adjoint order; the coarsest level is solved
    exactly. Matrix-free on every level (numba kernels on the level grids).

    Coarse levels: coarsening by two per axis with rediscretised 5-/7-point operators (the fine
    fluxes through each coarse face; a coarse cell is fluid if any child is); walls that separate
    coarse cells survive, and the interpolation does not reach across them. Obstacles (masks),
    variable coefficients, Dirichlet/Neumann box faces and all-Neumann problems are supported;
    for a singular operator (a component without a Dirichlet face) the constants are projected out
    so CG converges on consistent right-hand sides.

    Parameters
    ----------
    A : PoissonStencil
        From :func:`krylearn.pde.poisson` (2D or 3D). Anything else raises ``ValueError`` (use
        :func:`krylearn.precond.amg` for general sparse matrices).
    cycle : {"V", "W"}
    smoother : {"rbgs", "jacobi", "chebyshev"}
        Red–black Gauss–Seidel (pre: red then black; post: black then red), damped Jacobi, or a
        Chebyshev polynomial in D⁻¹A of degree ``pre`` on [1/2, 2] (no eigenvalue estimate needed:
        2 bounds the spectrum of D⁻¹A for these operators).
    pre, post : int
        Smoothing steps before and after the coarse correction (default: 1 in 2D, 2 in 3D — the
        fastest to a solution in the measurements; ``post`` defaults to ``pre``; keep them equal
        for a symmetric preconditioner).
    levels : int, optional
        Levels including the finest (default: until the coarsest has ≤ ``coarse_size`` unknowns).
        A grid too small for the request gets fewer levels (recorded in ``M.info``).
    coarse_size : int
        Unknowns of the coarsest level (solved by SuperLU).
    omega : float, optional
        Jacobi damping (default 4/5 in 2D, 6/7 in 3D).
    interpolation : {"linear", "constant", "linear-cut"}
        Prolongation (the restriction is its transpose): bi/trilinear between coarse cells that are
        entirely fluid and the parent's value in cells cut by a wall (default), the parent's value
        everywhere, or bi/trilinear through cut cells as well (not recommended: see Notes).
    merge_tolerance : float or None
        Thin walls: coarsening stops at the first level where more than this fraction of the coarse
        cells would join fluid regions that a wall separates (a wall inside the cell, no path around
        it within one coarse cell); that level is then solved algebraically. None disables the test.
    direct_max : int, optional
        Largest coarsest level solved exactly (SuperLU; default 100 000 unknowns in 2D, 150 000 in
        3D). A larger one (only after an early stop at walls) is solved approximately with
        *aggregation* levels that split every block of cells into its wall-separated pieces (one
        coarse unknown each), so coarsening continues past the walls. With the default, a level
        above 4096 unknowns is factored only when its predicted work — ``Σ w_i²`` over the rows of
        a reverse Cuthill–McKee envelope, computed in milliseconds — is at most 400 per fine
        unknown (``M.info["direct_cost"]``): narrow corridors factor in milliseconds, while a nearly
        open 3D level of 110 000 cells would take over a minute. A ``direct_max`` given here is
        taken as it is.
    coarse_iterations : int, optional
        How that large coarsest level is solved: ``1`` — one aggregation W-cycle, a fixed
        symmetric positive definite map (the default in 2D); ``k > 1`` — ``k`` steps of flexible
        CG preconditioned by an aggregation K-cycle (Notay & Vassilevski 2008; the default in 3D
        with ``k = 4``, where the W-cycle is weak: 9 instead of 24 PCG iterations on the 128³
        maze). The latter makes ``M`` a *variable* preconditioner (``M.variable``):
        :func:`krylearn.cg` switches to its flexible form on its own, minres/gmres refuse it, and a
        PETSc KSP needs ``fcg``/``fgmres``.
        Without an early stop at walls ``M`` is always fixed.

    Returns
    -------
    MultigridPreconditioner
        A LinearOperator tagged symmetric positive definite; ``.hierarchy`` is the
        :class:`~krylearn.solvers.precond.grid_hierarchy.GridHierarchy`, ``.info`` holds the
        levels, the coarse solver, the bytes held and the set-up time.

    Notes
    -----
    Design choices, from measurements (BENCHMARKS.md, "Geometric multigrid"): rediscretised coarse
    operators (cheap, matrix-free) rather than Galerkin products; interpolation that does not reach
    through cells cut by a wall — bilinear interpolation through cut cells over-corrects there (the
    standalone cycle diverges on obstacle domains and PCG needs ~90 iterations at 512²), constant
    interpolation everywhere costs 1–2 PCG iterations in 3D. Thin walls and mazes: rediscretisation
    keeps a wall between coarse cells, but a wall *inside* a coarse cell is lost, so the hierarchy
    stops geometric coarsening where that would happen in many cells (``merge_tolerance``;
    ``M.info["coarsening_stopped"]`` says why) and continues with aggregation levels that keep the
    pieces of a cell on the two sides of a wall apart (or solves that level directly when small).

    With ``pre == post`` and the adjoint post-smoothing order the cycle is symmetric; it is
    positive definite because every smoother here converges for these M-matrices (Tatebe 1993).
    One ``M`` object holds work vectors: do not apply it from two threads at once.

    References
    ----------
    A. McAdams, E. Sifakis, J. Teran, SCA 2010; O. Tatebe, Copper Mountain 1993; U. Trottenberg,
    C. W. Oosterlee, A. Schüller, "Multigrid", 2001.

    Examples
    --------
    >>> import numpy as np, krylearn as kl
    >>> mask = np.ones((128, 128), bool); mask[40:90, 50:60] = False
    >>> A = kl.pde.poisson(mask.shape, mask=mask)
    >>> res = kl.cg(A, np.ones(A.shape[0]), rtol=1e-8, M=kl.precond.multigrid(A))
    >>> res.converged and res.iterations <= 12
    True
    """
    return MultigridPreconditioner(A, cycle=cycle, smoother=smoother, pre=pre, post=post, levels=levels,
                                   coarse_size=coarse_size, omega=omega, interpolation=interpolation,
                                   merge_tolerance=merge_tolerance, direct_max=direct_max,
                                   boundary_sweeps=boundary_sweeps, boundary_width=boundary_width,
                                   coarse_iterations=coarse_iterations)

"""The multigrid hierarchy of a grid Poisson operator: levels, masks, coefficients, transfers.

:class:`GridHierarchy` is built from a :func:`krylearn.pde.poisson` operator (a
:class:`~krylearn.operators.stencil.PoissonStencil`) by coarsening by two along every axis, with
coarse operators by **rediscretisation**: the coarse level is again a 5-/7-point finite-volume
operator, whose face weights are the fine fluxes through each coarse face and whose Dirichlet
sinks are the fine sinks, summed and scaled by ``1/2^(dim+1)`` (so that a constant coefficient
``c/h²`` becomes ``c/(2h)²``). A coarse cell is fluid when any of its children is. Because a
coarse face only carries the flux of fine faces that lie on it, a wall of any thickness that
separates two coarse cells survives coarsening.

It is the geometric skeleton of :func:`krylearn.precond.multigrid` and is meant to be reused by
other preconditioners on the same grids (e.g. a learned correction in torch): every level exposes
its arrays (``fluid``, ``face_weights``, ``diagonal``, ``sink``) on the unpadded grid, and the
transfer operators as :meth:`GridHierarchy.restrict` / :meth:`GridHierarchy.prolong` on grid arrays.

References
----------
A. McAdams, E. Sifakis, J. Teran, "A parallel multigrid Poisson solver for fluids simulation on
large grids", Proc. ACM SIGGRAPH/Eurographics SCA 2010 (geometric coarsening of voxelized domains,
fluid-if-any-child coarse cells, multigrid-preconditioned CG).
U. Trottenberg, C. W. Oosterlee, A. Schüller, "Multigrid", Academic Press 2001, §2.8 and §5.3
(cell-centred transfers; rediscretised coarse operators).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from ...operators.stencil import PoissonStencil
from . import _multigrid_kernels as K
from . import _multigrid_setup_kernels as S
from ._coarse_solvers import _CoarseSolver, _default_coarse_iterations

if TYPE_CHECKING:  # annotations only
    from typing import Any
    from ...typing import ArrayLike, OperatorLike

__all__ = ["GridHierarchy", "GridLevel"]

#: the predicted work (``Σ w_i²`` of an RCM envelope) allowed for the direct coarse solve, per fine unknown
DIRECT_BUDGET = 400.0



def _padded(shape):
    return tuple(2 * ((n + 1) // 2) + 2 for n in shape)


def _interior(shape):
    return tuple(slice(1, n + 1) for n in shape)


def _face_sum(E, grid_shape):
    """Σ over axes of the weights of both faces of every interior cell (the diagonal without the sink)."""
    inner = _interior(grid_shape)
    total = np.zeros(tuple(grid_shape))
    for a in range(len(grid_shape)):
        below = list(inner)
        below[a] = slice(0, grid_shape[a])
        total += E[a][inner] + E[a][tuple(below)]
    return total


class GridLevel:
    """One level of a :class:`GridHierarchy` (arrays on the padded grid; see the kernels module).

    Attributes
    ----------
    grid_shape : tuple of int
        Cells per axis on this level.
    spacing : tuple of float
        Cell size per axis (twice the finer level's).
    fluid : ndarray of bool, grid shape
        Cells in the domain.
    face_weights : tuple of ndarray
        ``face_weights[a][i]`` (grid shape) weights the face between cell ``i`` and ``i + e_a``
        (0 across walls, box faces and the last cell).
    sink : ndarray, grid shape
        Dirichlet box-face weight of each cell (the diagonal minus the face weights).
    diagonal : ndarray, grid shape
        The operator's diagonal (1 in solid cells, where the level's vectors stay 0).
    n : int
        Number of fluid cells.
    """

    def __init__(self, grid_shape, spacing, E, d, s, fluid, full=None):
        self.grid_shape = tuple(grid_shape)
        self.spacing = tuple(spacing)
        self.padded_shape = d.shape
        self.E_stack = E  # (dim, *padded_shape): one array, so kernels can take all axes at once
        self.E = tuple(E[a] for a in range(E.shape[0]))
        self.band = None  # flat padded indices of the cells near walls (boundary smoothing)
        self.d = d
        self.dinv = 1.0 / d  # d = 1 in solid cells
        self.s = s
        self.fluid_p = fluid
        self.full_p = fluid if full is None else full  # no wall anywhere below this cell
        self.flags = None  # transfer flags to the next coarser level (set by GridHierarchy)
        self.x = np.zeros(d.shape)
        self.b = np.zeros(d.shape)
        self.r = np.zeros(d.shape)
        self.n = int(np.count_nonzero(fluid))

    @property
    def interior(self):
        return _interior(self.grid_shape)

    @property
    def fluid(self):
        return self.fluid_p[self.interior]

    @property
    def face_weights(self):
        return tuple(E[self.interior] for E in self.E)

    @property
    def diagonal(self):
        return self.d[self.interior]

    @property
    def sink(self):
        if self.s is not None:
            return self.s[self.interior]
        # freed after set-up on all but the coarsest level: the diagonal minus the face weights
        out = self.d[self.interior] - _face_sum(self.E, self.grid_shape)
        return np.where(self.fluid, np.maximum(out, 0.0), 0.0)

    def tocsr(self):
        """The level operator on its fluid cells (C order) as a SciPy CSR matrix (sorted indices),
        and the flat padded index of each of those cells."""
        nd = len(self.grid_shape)
        strides = np.array([int(np.prod(self.padded_shape[a + 1:])) for a in range(nd)], dtype=np.int64)
        indptr, indices, data, cells = S.grid_csr(self.E_stack.reshape(nd, -1), self.d.reshape(-1),
                                                  self.fluid_p.reshape(-1), strides)
        return sp.csr_matrix((data, indices, indptr), shape=(cells.size, cells.size)), cells


class GridHierarchy:
    """Geometric multigrid levels of a grid Poisson operator (see the module docstring).

    Parameters
    ----------
    A : PoissonStencil
        The fine operator, from :func:`krylearn.pde.poisson` (2D or 3D; masks, variable
        coefficients, Dirichlet/Neumann box faces).
    levels : int, optional
        Number of levels including the finest. Default: coarsen until the coarsest level has at
        most ``coarse_size`` fluid cells (or a side shorter than 4). A request for more levels than
        the grid allows gives fewer (``.info["levels_requested"]`` records it).
    coarse_size : int
        Target size of the coarsest level, solved exactly (default 512 fluid cells).

    Attributes
    ----------
    levels : list of GridLevel
        Finest first.
    info : dict
        Levels, grid shapes, unknowns per level, the coarse solver, the set-up time.
    """

    def __init__(self, A: OperatorLike, *, levels: int | None = None, coarse_size: int = 512, merge_tolerance: float | None = 0.01,
                 direct_max: int | None = None, interp_mode: int = 2, coarse_iterations: int | None = None) -> None:
        self.interp_mode = interp_mode
        if coarse_iterations is None:
            coarse_iterations = _default_coarse_iterations(A)
        if isinstance(coarse_iterations, bool) or not isinstance(coarse_iterations, (int, np.integer)) \
                or coarse_iterations < 1:
            raise ValueError(f"coarse_iterations must be a positive integer, got {coarse_iterations!r}")
        if not isinstance(A, PoissonStencil):
            raise ValueError("geometric multigrid needs a krylearn grid operator from kl.pde.poisson "
                             f"(PoissonStencil), got {type(A).__name__}; for a general sparse matrix use "
                             "kl.precond.amg (algebraic multigrid)")
        if levels is not None and (not isinstance(levels, (int, np.integer)) or levels < 1):
            raise ValueError(f"levels must be a positive integer or None, got {levels!r}")
        if not isinstance(coarse_size, (int, np.integer)) or coarse_size < 1:
            raise ValueError(f"coarse_size must be a positive integer, got {coarse_size!r}")
        self.ndim = A.ndim_grid
        self.dirichlet = np.array([[side == "dirichlet" for side in pair] for pair in A.bc], dtype=np.bool_)
        self.levels = [self._finest(A)]
        self.masked = A.masked
        self.fine_flat = None
        if A.masked:  # padded flat index of each unknown (both are C order over the fluid cells)
            self.fine_flat = np.flatnonzero(self.levels[0].fluid_p).astype(np.int64)
        # by default the direct coarse solve is also bounded by its predicted work (see below); a
        # direct_max given by the caller is taken as it is
        direct_budget = DIRECT_BUDGET * self.levels[0].n if direct_max is None else None
        if direct_max is None:
            # a coarsest level this large only arises from an early stop at walls. SuperLU is
            # cheap while the walls keep its fill small; on the tuning mazes (the serpentine mazes
            # of the tests, not the benchmark's families) a 65k-cell 2D level and a 110k-cell 3D
            # level factor in 0.03–0.09 s and give 11 and 6 PCG iterations, against 13 and 8 with
            # the aggregation cycle (and more time). Its cost grows superlinearly with the level and
            # with how open the level is, so above these sizes the aggregation cycle always takes over,
            # and below them the predicted work decides.
            direct_max = 100_000 if A.ndim_grid == 2 else 150_000
        stop = ""
        while True:
            lv = self.levels[-1]
            if levels is not None and len(self.levels) >= levels:
                break
            if levels is None and lv.n <= coarse_size:
                break
            if min(lv.grid_shape) < 4:
                stop = "a side shorter than 4 cells"
                break
            coarse = self._coarsen(lv)
            if A.masked and merge_tolerance is not None:
                merged = self._merged_cells(lv, coarse, merge_tolerance * coarse.n)
                if merged > merge_tolerance * coarse.n:
                    # this coarsening would join regions that walls keep apart in many cells (a maze,
                    # thin walls, narrow channels): a geometric correction there would be wrong on one
                    # side of each wall. Stop, and solve this level algebraically instead.
                    lv.flags = None
                    stop = (f"coarsening {lv.grid_shape} would merge fluid regions separated by walls in at least "
                            f"{merged} of {coarse.n} coarse cells")
                    break
            self.levels.append(coarse)
        # the direct solve's budget: a predicted factorisation work (envelope of an RCM order) of at
        # most DIRECT_BUDGET per fine unknown — about 0.1 µs per fine cell at SuperLU's measured
        # rate on open grids, a few V-cycles' worth
        self.coarse_solver = _CoarseSolver(self.levels[-1], direct_max, coarse_size, int(coarse_iterations),
                                           check_singular=A.singular_components > 0,
                                           direct_budget=direct_budget)
        #: whether the coarse solve (and so a cycle) is a variable map (see :class:`_KrylovCoarseSolve`)
        self.variable = self.coarse_solver.variable
        for lv in self.levels[:-1]:
            lv.s = None  # the sinks are only needed to build the next level (and the coarse solve)
        self.info = {"levels": len(self.levels), "grid_shapes": [lv.grid_shape for lv in self.levels],
                     "unknowns": [lv.n for lv in self.levels], "coarse_solver": self.coarse_solver.kind}
        if self.coarse_solver.direct_cost is not None:
            self.info["direct_cost"] = self.coarse_solver.direct_cost
        if stop:
            self.info["coarsening_stopped"] = stop
        if levels is not None and len(self.levels) < levels:
            self.info["levels_requested"] = int(levels)

    def set_boundary_band(self, width: Any) -> None:
        """Mark on every level the fluid cells within ``width`` cells (max-norm) of a solid cell or
        the box boundary: the cells that boundary smoothing visits (``level.band``)."""
        from scipy.ndimage import maximum_filter

        for lv in self.levels:
            near = maximum_filter(~lv.fluid_p, size=2 * width + 1, mode="constant", cval=True)
            lv.band = np.flatnonzero(near & lv.fluid_p).astype(np.int64)

    def _merged_cells(self, fine, coarse, limit):
        """Coarse cells whose fluid children are only connected around a wall (see the kernels);
        the count stops once it exceeds ``limit``."""
        if self.ndim == 2:
            return int(S.merged_cells2d(*fine.E, fine.fluid_p, *coarse.grid_shape, 1, int(limit)))
        return int(S.merged_cells3d(*fine.E, fine.fluid_p, *coarse.grid_shape, 1, int(limit)))

    # ---- construction ---------------------------------------------------------------------
    def _finest(self, A):
        nd, N = A.ndim_grid, A.grid_shape
        P = _padded(N)
        inner = _interior(N)
        E = np.zeros((nd,) + P)
        s = np.zeros(P)
        # a uniform operator is matrix-free with constant weights: build the level from c/h² and the
        # box conditions instead of asking the operator for its (otherwise never built) geometry
        W = None if A.uniform else A.face_weights
        for a in range(nd):
            dst = list(inner)
            dst[a] = slice(1, N[a])          # faces between cells p and p+1, p = 1..N-1 (padded)
            lo, hi = list(inner), list(inner)
            lo[a], hi[a] = 1, N[a]
            if W is None:
                w = A.coefficient / A.spacing[a] ** 2
                E[a][tuple(dst)] = w
                if A.bc[a][0] == "dirichlet":
                    s[tuple(lo)] += w
                if A.bc[a][1] == "dirichlet":
                    s[tuple(hi)] += w
                continue
            src = [slice(None)] * nd
            src[a] = slice(1, N[a])
            E[a][tuple(dst)] = W[a][tuple(src)]
            first = [slice(None)] * nd
            first[a] = 0
            last = [slice(None)] * nd
            last[a] = N[a]
            s[tuple(lo)] += W[a][tuple(first)]
            s[tuple(hi)] += W[a][tuple(last)]
        fluid = np.zeros(P, dtype=bool)
        fluid[inner] = A.mask
        d = np.ones(P)
        if W is None:
            d[inner] = s[inner] + _face_sum(E, N)
        else:
            d[inner] = np.where(A.mask, A._diag_grid, 1.0)
        return GridLevel(N, A.spacing, E, d, s, fluid)

    def _coarsen(self, lv):
        nd = self.ndim
        Nc = tuple((n + 1) // 2 for n in lv.grid_shape)
        Pc = _padded(Nc)
        cE = np.zeros((nd,) + Pc)
        cs, cd = np.zeros(Pc), np.ones(Pc)
        cfluid = np.zeros(Pc, dtype=bool)
        cfull = np.zeros(Pc, dtype=bool)
        flags = np.zeros(lv.padded_shape, dtype=np.uint8)
        if nd == 2:
            S.coarsen2d(*lv.E, lv.s, lv.fluid_p, lv.full_p, *lv.grid_shape, *cE, cs, cfluid, cfull, cd, flags, *Nc, self.dirichlet, self.interp_mode)
        else:
            S.coarsen3d(*lv.E, lv.s, lv.fluid_p, lv.full_p, *lv.grid_shape, *cE, cs, cfluid, cfull, cd, flags, *Nc, self.dirichlet, self.interp_mode)
        lv.flags = flags
        return GridLevel(Nc, tuple(2 * h for h in lv.spacing), cE, cd, cs, cfluid, cfull)

    # ---- transfers on grid arrays (for other users of the hierarchy) ---------------------------
    def _transfer(self, src_level, dst_level, values, kernels, grid_shape_of):
        src, dst = self.levels[src_level], self.levels[dst_level]
        inp = np.zeros(src.padded_shape)
        inp[src.interior] = values
        out = np.zeros(dst.padded_shape)
        fine = self.levels[min(src_level, dst_level)]
        kernels[self.ndim - 2](inp, fine.flags, out, *grid_shape_of.grid_shape)
        return out[dst.interior].copy()

    def restrict(self, level: Any, r: ArrayLike) -> Any:
        """Restrict a grid array of level ``level`` to level ``level + 1`` (``Pᵀ r / 2^dim``)."""
        return self._transfer(level, level + 1, r, (K.restrict2d, K.restrict3d), self.levels[level + 1])

    def prolong(self, level: Any, xc: Any) -> Any:
        """Interpolate a grid array of level ``level + 1`` to level ``level`` (``P xc``)."""
        return self._transfer(level + 1, level, xc, (K.prolong_add2d, K.prolong_add3d), self.levels[level])

    def prolongation_matrix(self, level: Any) -> Any:
        """The prolongation from level ``level + 1`` to ``level`` as a SciPy CSR matrix acting on the
        *fluid cells* of the two levels (C order, as :meth:`GridLevel.tocsr` numbers them); the
        restriction of the cycle is its transpose divided by ``2^dim``. Assembled from the same
        flags as the kernels (for Galerkin comparisons and for other back ends, e.g. torch)."""
        if not 0 <= level < len(self.levels) - 1:
            raise ValueError(f"level must be in 0..{len(self.levels) - 2} (there are {len(self.levels)} levels)")
        fine, coarse = self.levels[level], self.levels[level + 1]
        nd = self.ndim
        fl = fine.flags.astype(np.int64)
        fcells = np.flatnonzero(fine.fluid_p)
        ccells = np.flatnonzero(coarse.fluid_p)
        cnum = np.full(coarse.fluid_p.size, -1, dtype=np.int64)
        cnum[ccells] = np.arange(ccells.size)
        pos = np.unravel_index(fcells, fine.padded_shape)
        f = fl.reshape(-1)[fcells]
        parent = [(p + 1) >> 1 for p in pos]
        far = [np.where(p & 1, q - 1, q + 1) for p, q in zip(pos, parent)]
        near_w = [1.0 - 0.25 * ((f >> a) & 1) - 0.5 * ((f >> (a + 3)) & 1) for a in range(nd)]
        far_w = [0.25 * ((f >> a) & 1) for a in range(nd)]
        rows, cols, vals = [], [], []
        for corner in range(1 << nd):
            idx, w = [], np.ones(fcells.size)
            for a in range(nd):
                use_far = (corner >> a) & 1
                idx.append(far[a] if use_far else parent[a])
                w = w * (far_w[a] if use_far else near_w[a])
            keep = w != 0
            flat = np.ravel_multi_index(tuple(i[keep] for i in idx), coarse.padded_shape)
            rows.append(np.flatnonzero(keep))
            cols.append(cnum[flat])
            vals.append(w[keep])
        col_index = np.concatenate(cols)
        if np.any(col_index < 0):
            raise AssertionError("prolongation reaches a solid coarse cell")  # flags guarantee otherwise
        return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), col_index)),
                             shape=(fcells.size, ccells.size))

    @property
    def nbytes(self) -> Any:
        """Bytes held by all levels (operators, flags and work vectors)."""
        total = 0
        for lv in self.levels:
            arrays = [lv.E_stack, lv.d, lv.dinv, lv.fluid_p, lv.x, lv.b, lv.r]
            arrays += [a for a in (lv.s, lv.flags, lv.band) if a is not None]
            if lv.full_p is not lv.fluid_p:
                arrays.append(lv.full_p)
            total += sum(a.nbytes for a in arrays)
        return total

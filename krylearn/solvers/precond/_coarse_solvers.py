"""Coarsest-level solvers of the geometric multigrid (:mod:`.grid_hierarchy`): SuperLU with the
null space of sink-free components handled, and below an early stop at walls an aggregation
W-cycle (2D) or flexible-CG steps over an aggregation K-cycle (3D) (Y. Notay, P. S. Vassilevski,
"Recursive Krylov-based multigrid cycles", Numer. Linear Algebra Appl. 15, 2008)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.sparse.csgraph import connected_components, reverse_cuthill_mckee

from . import _multigrid_kernels as K
from . import _multigrid_setup_kernels as S

def sink_free_components(A, sink):
    """The connected components of the graph of ``A`` (CSR) that touch no sink (no Dirichlet face):
    each adds the constant on it to the null space. Returns a list of index arrays."""
    ncomp, labels = connected_components(A, directed=False)
    has_sink = np.bincount(labels, weights=sink, minlength=ncomp) > 0
    return [np.flatnonzero(labels == c) for c in np.flatnonzero(~has_sink)]


def project_mean_zero(v, components):
    """In place: subtract from ``v`` its mean on each component (index arrays, e.g. from
    :func:`sink_free_components`) — the orthogonal projector onto the complement of the constants
    on those components, which keeps every solve on a singular level symmetric."""
    for comp in components:
        v[comp] -= v[comp].mean()


class _DirectSolver:
    """SuperLU on a CSR operator. Each singular (sink-free) connected component is grounded at one
    unknown, with the right-hand side and the solution projected to mean zero on it, which makes the
    map the pseudo-inverse on those components (symmetric)."""

    def __init__(self, A, sink, check_singular=True):
        n = A.shape[0]
        # check_singular=False: the fine operator has no sink-free component, so no level has one
        # (a connected fine component stays connected on every coarser level, its sink with it)
        self.singular = sink_free_components(A, sink) if check_singular else []
        self.ground = np.zeros(0, dtype=np.int64)
        if self.singular:
            ground = self.ground = np.array([c[0] for c in self.singular])
            keep = np.ones(n, bool)
            keep[ground] = False
            D = sp.diags(keep.astype(float))
            A = (D @ A @ D + sp.diags((~keep).astype(float))).tocsr()
        # SuperLU even for tiny levels: a dense LAPACK factorisation would wake the BLAS thread
        # pool, which on a busy 2-core machine costs tens of milliseconds (measured: 73 ms for 216
        # unknowns, against 0.1 ms with SuperLU)
        self._lu = spla.splu(A.tocsc(), permc_spec="MMD_AT_PLUS_A", options={"SymmetricMode": True})
        self.n = n

    def solve(self, v):
        v = v.copy()
        project_mean_zero(v, self.singular)
        # the grounded row reads x_ground = v_ground: its equation is implied by the others once v
        # is consistent, so its right-hand side must be 0 (else the solution carries a spike there,
        # which made the standalone cycle diverge on all-Neumann problems: one eigenvalue of M·A ≈ 150)
        v[self.ground] = 0.0
        x = self._lu.solve(v)
        project_mean_zero(x, self.singular)
        return x


class _AggregationCycle:
    """A W-cycle below the level where geometric coarsening stopped at walls.

    Each step groups the unknowns of every 2^dim block of cells into aggregates, one per connected
    piece of the block (pieces that a wall separates stay apart: this is what geometric coarsening
    cannot do), with piecewise-constant transfers and the coarse operator ``Pᵀ A P / 2`` — the same
    flux sums and scaling as the geometric levels' rediscretisation, i.e. constant interpolation
    with the factor-2 coarse correction that makes it converge (D. Braess, "Towards algebraic
    multigrid for elliptic problems of second order", Computing 55, 1995). Smoothing: two forward
    Gauss–Seidel sweeps before, two backward after (adjoints: the cycle stays symmetric); a W-cycle
    (measured on the tuning mazes: 15 PCG iterations against 39 for a V-cycle with one sweep, 2D).
    The last aggregation level is solved by SuperLU."""

    def __init__(self, A, sink, coords, coarse_size, gamma=2, sweeps=2, check_singular=True):
        # gamma: 2 = W-cycle (a fixed map), "K" = K-cycle (two flexible-CG steps per coarse
        # correction: a variable map); sweeps: Gauss–Seidel sweeps before and after, per level
        self.gamma = gamma if gamma == "K" else int(gamma)
        self.sweeps = int(sweeps)
        self.levels = []
        A = sp.csr_matrix(A)
        while A.shape[0] > coarse_size:
            coords_c, agg, n_agg = self._aggregate(A, coords)
            if n_agg > 0.8 * A.shape[0]:  # walls everywhere: coarsening no longer pays
                break
            # Ac = scale · Pᵀ A P in one numba pass (SciPy's two sparse products took most of the set-up)
            Ac = sp.csr_matrix(S.aggregate_galerkin(A.indptr, A.indices, A.data, agg, n_agg, self.scale)[::-1],
                               shape=(n_agg, n_agg))
            self.levels.append(self._level(A, agg, n_agg))
            A, coords = Ac, coords_c
            sink = self.scale * np.bincount(agg, weights=sink, minlength=n_agg)
        self.coarsest = _DirectSolver(A, sink, check_singular)
        self.sizes = [lv["n"] for lv in self.levels] + [A.shape[0]]

    @staticmethod
    def _level(A, agg, n_agg):
        A = A.tocsr()
        A.sort_indices()
        n = A.shape[0]
        return {"n": n, "indptr": A.indptr, "indices": A.indices, "data": A.data, "dinv": 1.0 / A.diagonal(),
                "agg": agg.astype(np.int64), "nc": n_agg, "x": np.zeros(n), "b": np.zeros(n), "r": np.zeros(n)}

    @staticmethod
    def _aggregate(A, coords):
        """Aggregates: connected pieces of each 2^dim block (connections: the nonzeros of A)."""
        block = coords // 2
        dims = block.max(axis=0) + 1
        bid = np.ravel_multi_index(tuple(block.T), tuple(dims)).astype(np.int64)
        n = A.shape[0]
        agg = np.empty(n, dtype=np.int64)
        n_agg = int(S.block_pieces(A.indptr, A.indices, bid, agg))
        first = np.full(n_agg, -1, dtype=np.int64)
        first[agg[::-1]] = np.arange(n)[::-1]
        return block[first], agg, n_agg

    def __call__(self, b):
        return self._cycle(0, b)

    scale = 0.5

    def _cycle(self, k, b):
        if k == len(self.levels):
            return self.coarsest.solve(b)
        lv = self.levels[k]
        x, r = lv["x"], lv["r"]
        args = (lv["indptr"], lv["indices"], lv["data"])
        for s in range(self.sweeps):
            K.csr_gs(*args, lv["dinv"], b, x, True, s == 0)
        bc = np.empty(lv["nc"])
        K.csr_residual(*args, b, x, r)
        K.aggregate_sum(r, lv["agg"], bc)
        if self.gamma == "K" and k + 1 < len(self.levels):
            xc = self._krylov_correction(k + 1, bc)
        else:
            xc = self._cycle(k + 1, bc)
        if self.gamma == 2 and k + 1 < len(self.levels):
            # W-cycle: a second cycle on the coarse problem from the first one's result
            # (xc += B (bc − A_c xc)); a fixed polynomial in B A_c, so the cycle stays symmetric
            nxt = self.levels[k + 1]
            rc = np.empty(lv["nc"])
            K.csr_residual(nxt["indptr"], nxt["indices"], nxt["data"], bc, xc, rc)
            xc += self._cycle(k + 1, rc)
        K.aggregate_add(xc, lv["agg"], x)
        for s in range(self.sweeps):
            K.csr_gs(*args, lv["dinv"], b, x, False, False)
        return x.copy()

    def _krylov_correction(self, k, b):
        """The K-cycle's coarse correction (Notay & Vassilevski 2008, Algorithm 3.2): two flexible-CG
        steps on level ``k`` preconditioned by its cycle, the second skipped when the first already
        reduced the residual fourfold."""
        lv = self.levels[k]
        A = (lv["indptr"], lv["indices"], lv["data"])
        zero = np.zeros_like(b)
        c1 = self._cycle(k, b)
        v1 = np.empty_like(b)
        K.csr_residual(*A, zero, c1, v1)        # v1 = −A c1
        v1 = -v1
        rho1 = float(c1 @ v1)
        a1 = float(c1 @ b)
        if not rho1 > 0:
            return c1
        r2 = b - (a1 / rho1) * v1
        if np.linalg.norm(r2) <= 0.25 * np.linalg.norm(b):
            return (a1 / rho1) * c1
        c2 = self._cycle(k, r2)
        v2 = np.empty_like(b)
        K.csr_residual(*A, zero, c2, v2)
        v2 = -v2
        gamma, beta, a2 = float(c2 @ v1), float(c2 @ v2), float(c2 @ r2)
        rho2 = beta - gamma * gamma / rho1
        if not rho2 > 0:
            return (a1 / rho1) * c1
        return (a1 / rho1 - gamma * a2 / (rho1 * rho2)) * c1 + (a2 / rho2) * c2


def _default_coarse_iterations(A):
    """1 (a fixed aggregation W-cycle) in 2D, 4 (flexible-CG steps over an aggregation K-cycle) in 3D.

    Measured on the tuning mazes (serpentine walls; PCG to 1e-6, set-up included): 2D 1024², the
    W-cycle 0.78 s (13 its) against 0.89 s (11 its) for the Krylov steps; 3D 128³, 0.78 s (6 its)
    for the Krylov steps against 1.03 s (9 its) for the W-cycle. In 3D the aggregation W-cycle is
    the weak part (an error reduction of about 0.75 per cycle)."""
    return 1 if getattr(A, "ndim_grid", 2) == 2 else 4


class _KrylovCoarseSolve:
    """A few steps of flexible CG on a large coarsest level, preconditioned by an aggregation
    K-cycle: the *K-cycle* (Y. Notay, P. S. Vassilevski, "Recursive Krylov-based multigrid
    cycles", Numer. Linear Algebra Appl. 15, 2008) on the aggregation levels, and Krylov steps
    at the level where geometric coarsening stopped at walls. One aggregation W-cycle there reduces
    the error only by about 0.75 (the piecewise-constant transfers of aggregation are weak;
    measured on the 128³ maze: eigenvalues of B·A_c in [0.15, 1.7]); with four Krylov-accelerated
    K-cycles the outer PCG needs 9 iterations instead of 24 (K-cycle alone, or four steps over
    plain V-cycles: 25–32).

    The result depends nonlinearly on the right-hand side, so the multigrid preconditioner that
    uses it is *variable* (``M.variable``): :func:`krylearn.cg` then takes its flexible form.
    Each sink-free (singular) component is handled on the subspace of mean-zero vectors."""

    def __init__(self, A, sink, cycle, iterations, rtol=1e-2, check_singular=True):
        self.A = A
        self.cycle = cycle
        self.iterations = int(iterations)
        self.rtol = float(rtol)
        self.singular = sink_free_components(A, sink) if check_singular else []

    def __call__(self, b):
        # FCG(1) written out rather than kl.fcg: this runs inside every outer iteration, where the
        # public solver's input validation and closing true-residual product would be paid each time
        r = np.array(b, dtype=np.float64)
        project_mean_zero(r, self.singular)
        x = np.zeros_like(r)
        b_norm = float(np.linalg.norm(r))
        if not b_norm > 0:
            return x
        p_prev = q_prev = None
        pq_prev = 1.0
        for _ in range(self.iterations):
            z = np.asarray(self.cycle(r), dtype=np.float64)
            project_mean_zero(z, self.singular)
            if p_prev is not None:  # FCG(1): A-orthogonal to the previous direction
                z -= (float(z @ q_prev) / pq_prev) * p_prev
            q = self.A @ z
            pq = float(z @ q)
            if not pq > 0:
                break
            alpha = float(z @ r) / pq
            x += alpha * z
            r -= alpha * q
            if float(np.linalg.norm(r)) <= self.rtol * b_norm:
                break
            p_prev, q_prev, pq_prev = z, q, pq
        project_mean_zero(x, self.singular)
        return x


#: levels up to this size are always factored (SuperLU's worst case there, an open 3D grid, ~0.02 s)
_ALWAYS_DIRECT = 4096


class _CoarseSolver:
    """Solve on the last geometric level: SuperLU up to ``direct_max`` unknowns, otherwise
    aggregation levels that keep wall-separated pieces apart (:class:`_AggregationCycle`): with
    ``iterations > 1`` that many flexible-CG steps preconditioned by an aggregation K-cycle
    (:class:`_KrylovCoarseSolve`, a variable map), with ``iterations == 1`` one aggregation W-cycle
    (a fixed linear map)."""

    def __init__(self, level, direct_max, coarse_size, iterations=4, check_singular=True, direct_budget=None):
        A, cells = level.tocsr()
        self.cells = cells
        n = A.shape[0]
        sink = level.s.reshape(-1)[cells]
        self.n = n
        self.variable = False
        self.direct_cost = None
        direct = n <= direct_max
        if direct and direct_budget is not None and n > _ALWAYS_DIRECT:
            # SuperLU's cost on a large level depends on how much the walls cut the graph: a maze
            # of corridors factors in milliseconds, a nearly open 3D level of the same size in a
            # minute (48³ cells: 84 s). Bound it first by the envelope of a reverse Cuthill–McKee
            # order (a few ms), which predicted SuperLU's time on open 2D/3D grids within a factor
            # of two (0.14–0.32 s per 10⁹), and factor only within the budget.
            rank = np.empty(n, dtype=np.int64)
            rank[reverse_cuthill_mckee(A, symmetric_mode=True)] = np.arange(n)
            self.direct_cost = float(S.envelope_cost(A.indptr.astype(np.int64), A.indices.astype(np.int64), rank))
            direct = self.direct_cost <= direct_budget
        if not direct:
            coords = np.stack(np.unravel_index(cells, level.padded_shape), axis=1) - 1
            if iterations > 1:
                # one sweep: as fast as two on the tuning maze (3D serpentine, 96³) and cheaper
                self._agg = _AggregationCycle(A, sink, coords, coarse_size, gamma="K", sweeps=1,
                                              check_singular=check_singular)
                self._solve = _KrylovCoarseSolve(A, sink, self._agg, iterations, check_singular=check_singular)
                self.variable = True
                self.kind = (f"{iterations} flexible-CG steps with an aggregation K-cycle (sizes {self._agg.sizes}) "
                             "+ SuperLU")
            else:
                self._agg = _AggregationCycle(A, sink, coords, coarse_size, gamma=2, check_singular=check_singular)
                self.kind = f"aggregation W-cycle (sizes {self._agg.sizes}) + SuperLU"
                self._solve = self._agg
        else:
            self.kind = "SuperLU"
            self._solve = _DirectSolver(A, sink, check_singular).solve
        self._buf = np.empty(n)

    def __call__(self, level):
        v = self._buf
        K.gather(level.b, self.cells, v)
        x = np.asarray(self._solve(v)).reshape(-1)
        level.x.fill(0.0)
        K.scatter(x, self.cells, level.x)

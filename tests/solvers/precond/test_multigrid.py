"""Geometric multigrid (kl.precond.multigrid, kl.multigrid, GridHierarchy) against dense/SciPy references."""

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import krylearn as kl
from krylearn.operators.testing import OperatorTestCase
from krylearn.solvers.precond.grid_hierarchy import GridHierarchy
from krylearn.solvers.precond.multigrid import MultigridPreconditioner


def serpentine(n, corridor=4, seed=0):
    """Thin (1-cell) walls every ``corridor`` rows, one door per wall on alternating sides."""
    return kl.pde.obstacles.serpentine((n, n), corridor, seed=seed)


def blobs(shape, seed=0):
    return kl.pde.obstacles.random_domain(shape, family="ellipses_lshapes", seed=seed)


def dense_of(M):
    n = M.shape[0]
    return np.column_stack([M @ e for e in np.eye(n)])


SMALL = [
    dict(shape=(12, 10)),
    dict(shape=(13, 11), bc=("dirichlet", ("neumann", "dirichlet"))),
    dict(shape=(16, 16), mask="blobs"),
    dict(shape=(15, 17), coefficient="random", mask="blobs"),
    dict(shape=(7, 6, 5)),
    dict(shape=(9, 8, 10), mask="blobs", bc=(("neumann", "dirichlet"), "dirichlet", "neumann")),
]


def build(case, seed=0):
    shape = case["shape"]
    kw = {}
    if case.get("mask") == "blobs":
        kw["mask"] = blobs(tuple(max(s, 4) for s in shape), seed)
    if case.get("coefficient") == "random":
        kw["coefficient"] = np.exp(np.random.default_rng(seed).standard_normal(shape))
    if "bc" in case:
        kw["bc"] = case["bc"]
    return kl.pde.poisson(shape, **kw)


@pytest.mark.parametrize("case", SMALL, ids=lambda c: str(c["shape"]) + "".join(sorted(k for k in c if k != "shape")))
@pytest.mark.parametrize("options", [dict(), dict(smoother="jacobi"), dict(smoother="chebyshev", pre=2), dict(cycle="W", pre=2),
                                     dict(interpolation="constant"), dict(levels=2)],
                         ids=["V-rbgs", "jacobi", "chebyshev", "W-2", "constant", "two-level"])
def test_cycle_is_symmetric_positive_definite(case, options):
    A = build(case)
    M = kl.precond.multigrid(A, coarse_size=8, **options)
    D = dense_of(M)
    scale = np.abs(D).max()
    np.testing.assert_allclose(D, D.T, atol=1e-12 * scale)
    assert np.linalg.eigvalsh((D + D.T) / 2).min() > 0
    # a useful preconditioner: the spectrum of M A is real, positive and clustered (κ(MA) small)
    ev = np.linalg.eigvals(D @ A.todense()).real
    assert ev.min() > 0 and ev.max() / ev.min() < 6, (ev.min(), ev.max())


def test_transfers_are_transposes_and_coarse_operator_is_the_rediscretised_one():
    A = kl.pde.poisson((17, 12), mask=blobs((17, 12), 3))
    H = GridHierarchy(A, coarse_size=4)
    rng = np.random.default_rng(0)
    for level in range(len(H.levels) - 1):
        fine, coarse = H.levels[level], H.levels[level + 1]
        r = rng.standard_normal(fine.grid_shape) * fine.fluid
        xc = rng.standard_normal(coarse.grid_shape) * coarse.fluid
        lhs = np.sum(H.restrict(level, r) * xc)
        rhs = np.sum(r * H.prolong(level, xc)) / 4.0
        assert abs(lhs - rhs) <= 1e-12 * (abs(lhs) + 1)
        assert np.all(H.prolong(level, xc)[~fine.fluid] == 0)
    # unmasked, constant coefficient: coarse interior faces are c/(2h)^2, the Dirichlet sinks c/(2h)^2 too
    U = GridHierarchy(kl.pde.poisson((16, 16), coefficient=3.0), levels=2)
    c = U.levels[1]
    h = U.levels[0].spacing[0]
    np.testing.assert_allclose(c.face_weights[0][:-1], 3.0 / (2 * h) ** 2)
    np.testing.assert_allclose(c.sink[0, 1:-1], 3.0 / (2 * h) ** 2)
    np.testing.assert_allclose(c.tocsr()[0].toarray(), kl.pde.poisson((8, 8), spacing=2 * h, coefficient=3.0).tocsr().toarray())


@pytest.mark.parametrize("shape", [(64, 64), (65, 47), (20, 18, 22)])
@pytest.mark.parametrize("kind", ["open", "blobs", "variable", "mixed-bc"])
def test_pcg_matches_direct_solution(shape, kind):
    kw = {}
    if kind == "blobs":
        kw["mask"] = blobs(shape, 1)
    if kind == "variable":
        kw["coefficient"] = np.exp(np.random.default_rng(2).uniform(-2, 2, shape))
    if kind == "mixed-bc":
        kw["bc"] = [("neumann", "dirichlet")] + ["neumann"] * (len(shape) - 1)
    A = kl.pde.poisson(shape, **kw)
    b = np.random.default_rng(3).standard_normal(A.shape[0])
    res = kl.cg(A, b, rtol=1e-10, M=kl.precond.multigrid(A))
    # a rough coefficient (contrast e^4 cell to cell) is harder for rediscretised coarse levels
    assert res.converged and res.iterations <= (30 if kind == "variable" else 20)
    x_ref = spla.spsolve(A.tocsr().tocsc(), b)
    np.testing.assert_allclose(res.x, x_ref, rtol=0, atol=1e-7 * np.abs(x_ref).max())


def test_iterations_do_not_grow_with_the_grid():
    its = []
    for n in (64, 128, 256):
        A = kl.pde.poisson((n, n), mask=blobs((n, n), 5))
        b = np.random.default_rng(0).standard_normal(A.shape[0])
        res = kl.cg(A, b, rtol=1e-6, M=kl.precond.multigrid(A))
        assert res.converged
        its.append(res.iterations)
    assert max(its) <= 12 and its[-1] <= its[0] + 2, its


@pytest.mark.parametrize("shape", [(48, 40), (12, 14, 10)])
def test_all_neumann_converges_on_consistent_rhs(shape):
    A = kl.pde.poisson(shape, bc="neumann")
    assert A.singular_components == 1
    b = np.random.default_rng(0).standard_normal(A.shape[0])
    b -= b.mean()
    M = kl.precond.multigrid(A)
    res = kl.cg(A, b, rtol=1e-9, M=M)
    assert res.converged and res.iterations <= 15
    assert np.linalg.norm(b - A @ res.x) <= 1e-9 * np.linalg.norm(b)
    assert abs(np.mean(M @ b)) <= 1e-12 * np.abs(M @ b).max()  # the null space is projected out


def test_separate_neumann_pocket_is_handled():
    # a fluid pocket enclosed by solid cells: its own all-Neumann component (singular)
    mask = np.ones((32, 32), bool)
    mask[10:20, 10] = mask[10:20, 19] = mask[10, 10:20] = mask[19, 10:20] = False
    A = kl.pde.poisson(mask.shape, mask=mask)
    assert A.singular_components == 1
    rng = np.random.default_rng(0)
    x_true = rng.standard_normal(A.shape[0])
    b = A @ x_true
    res = kl.cg(A, b, rtol=1e-10, M=kl.precond.multigrid(A, coarse_size=16))
    assert res.converged and np.linalg.norm(b - A @ res.x) <= 1e-10 * np.linalg.norm(b)


@pytest.mark.parametrize("n", [128, 256])
def test_thin_walls_stop_coarsening_and_keep_pcg_fast(n):
    A = kl.pde.poisson((n, n), mask=serpentine(n, corridor=4, seed=1))
    b = np.random.default_rng(0).standard_normal(A.shape[0])
    M = kl.precond.multigrid(A, coarse_size=64)
    assert "coarsening_stopped" in M.info and "merge" in M.info["coarsening_stopped"]
    res = kl.cg(A, b, rtol=1e-6, M=M)
    assert res.converged and res.iterations <= 15
    # without the test the hierarchy coarsens through the walls and PCG is several times slower
    plain = kl.cg(A, b, rtol=1e-6, M=kl.precond.multigrid(A, coarse_size=64, merge_tolerance=None), maxiter=2000)
    assert plain.iterations >= 2 * res.iterations


def test_merged_cell_test_leaves_obstacle_families_alone():
    for shape in [(256, 256), (40, 40, 40)]:
        for fam in ("spheres_boxes", "ellipses_lshapes"):
            mask = kl.pde.obstacles.random_domain(shape, family=fam, seed=7)
            M = kl.precond.multigrid(kl.pde.poisson(shape, mask=mask))
            assert "coarsening_stopped" not in M.info, (shape, fam, M.info)


def test_standalone_solver_and_reuse():
    A = kl.pde.poisson((96, 80), mask=blobs((96, 80), 4))
    b = np.random.default_rng(1).standard_normal(A.shape[0])
    res = kl.multigrid(A, b, rtol=1e-8)
    assert res.converged and res.method == "multigrid"
    assert np.linalg.norm(b - A @ res.x) <= 1e-8 * np.linalg.norm(b)
    pcg = kl.cg(A, b, rtol=1e-8, M=kl.precond.multigrid(A))
    assert res.iterations <= 2 * pcg.iterations
    M = kl.precond.multigrid(A)
    again = kl.multigrid(A, 2 * b, rtol=1e-8, M=M)
    np.testing.assert_allclose(again.x, 2 * res.x, atol=1e-6 * np.abs(res.x).max())
    from krylearn.solvers.stationary.multigrid import Multigrid

    mg = Multigrid(A, pre=2)
    r2 = mg.solve(b, rtol=1e-8)
    assert r2.converged and r2.iterations <= res.iterations
    stop = kl.multigrid(A, b, rtol=1e-12, callback=lambda s: s.iteration >= 2)
    assert stop.status is kl.Status.USER_STOP and stop.iterations == 2
    capped = kl.multigrid(A, b, rtol=1e-14, maxiter=3)
    assert capped.status is kl.Status.MAX_ITERATIONS
    with pytest.raises(TypeError):
        kl.multigrid(A, b, M=M, pre=2)


def test_standalone_reports_a_divergent_cycle():
    # bilinear interpolation through cut cells over-corrects next to obstacles: the stationary
    # iteration diverges and must say so rather than run to maxiter or return garbage as converged
    A = kl.pde.poisson((128, 128), mask=blobs((128, 128), 1000))
    b = np.ones(A.shape[0])
    res = kl.multigrid(A, b, rtol=1e-8, interpolation="linear-cut", maxiter=500)
    assert not res.converged
    if res.status is kl.Status.STAGNATION:
        assert "diverge" in res.info["reason"]


def test_in_other_krylov_methods_and_auto():
    A = kl.pde.poisson((40, 40, 40), mask=blobs((40, 40, 40), 2))
    b = np.random.default_rng(0).standard_normal(A.shape[0])
    M = kl.precond.multigrid(A)
    for solver in (kl.fcg, kl.minres, kl.cg):
        res = solver(A, b, rtol=1e-8, M=M)
        assert res.converged and res.iterations <= 15, solver
    auto = kl.solve(A, b, method="auto", rtol=1e-8)
    assert auto.converged and auto.info["auto_method"] == "cg" and auto.info["auto_preconditioner"] == "multigrid"
    assert kl.solve(A, b, method="multigrid", rtol=1e-6).converged


def test_bad_input():
    csr = kl.pde.poisson((16, 16)).tocsr()
    with pytest.raises(ValueError, match="amg"):
        kl.precond.multigrid(csr)
    with pytest.raises(ValueError, match="amg"):
        kl.precond.multigrid(kl.aslinearoperator(csr))
    A = kl.pde.poisson((16, 16))
    for bad in (dict(cycle="X"), dict(smoother="sor"), dict(pre=0, post=0), dict(pre=-1), dict(levels=0),
                dict(coarse_size=0), dict(omega=1.5, smoother="jacobi"), dict(interpolation="cubic")):
        with pytest.raises(ValueError):
            kl.precond.multigrid(A, **bad)
    with pytest.raises(ValueError, match="no cell inside"):
        kl.pde.poisson((8, 8), mask=np.zeros((8, 8), bool))
    M = kl.precond.multigrid(A, levels=50)
    assert M.info["levels"] < 50 and M.info["levels_requested"] == 50
    assert "shorter than 4" in M.info["coarsening_stopped"]
    with pytest.raises(ValueError, match="length|shape"):
        M @ np.ones(5)


def test_tiny_grids():
    for shape in [(1, 1), (2, 3), (3, 1), (2, 2, 2)]:
        A = kl.pde.poisson(shape)
        b = np.arange(1.0, A.shape[0] + 1)
        res = kl.cg(A, b, rtol=1e-12, M=kl.precond.multigrid(A))
        assert res.converged and res.iterations <= 2


class TestMultigridIsAnOperator(OperatorTestCase):
    covers = (MultigridPreconditioner,)
    rtol = 1e-10
    atol = 1e-12

    def create(self):
        return kl.precond.multigrid(kl.pde.poisson((11, 9), mask=blobs((11, 9), 6)), coarse_size=4)

    def dense(self):
        return dense_of(self.create())


@pytest.mark.parametrize("shape", [(17, 12), (9, 10, 7)])
def test_prolongation_matrix_matches_the_kernels(shape):
    A = kl.pde.poisson(shape, mask=blobs(shape, 8), bc=("neumann",) + ("dirichlet",) * (len(shape) - 1))
    H = GridHierarchy(A, coarse_size=4)
    rng = np.random.default_rng(1)
    for level in range(len(H.levels) - 1):
        fine, coarse = H.levels[level], H.levels[level + 1]
        P = H.prolongation_matrix(level)
        xc = rng.standard_normal(coarse.grid_shape) * coarse.fluid
        np.testing.assert_allclose(P @ xc[coarse.fluid], H.prolong(level, xc)[fine.fluid], atol=1e-14)
        r = rng.standard_normal(fine.grid_shape) * fine.fluid
        np.testing.assert_allclose(P.T @ r[fine.fluid] / 2 ** len(shape), H.restrict(level, r)[coarse.fluid],
                                   atol=1e-14)
    with pytest.raises(ValueError):
        H.prolongation_matrix(len(H.levels) - 1)


def test_thin_walls_in_3d_stop_coarsening():
    # planar one-cell walls with doors: fluid neighbours on a coarse level may be walled apart, so
    # the merged-cell test must look at the faces, not at the fluid flags
    shape = (32, 32, 32)
    A = kl.pde.poisson(shape, mask=kl.pde.obstacles.random_domain(shape, family="thin_walls", seed=1000))
    b = np.random.default_rng(0).standard_normal(A.shape[0])
    M = kl.precond.multigrid(A)
    assert "merge" in M.info.get("coarsening_stopped", "")
    res = kl.cg(A, b, rtol=1e-6, M=M)
    assert res.converged and res.iterations <= 15
    plain = kl.cg(A, b, rtol=1e-6, M=kl.precond.multigrid(A, merge_tolerance=None), maxiter=1000)
    assert plain.iterations >= 4 * res.iterations


@pytest.mark.parametrize("shape", [(128, 128), (24, 24, 24)])
def test_aggregation_levels_below_an_early_stop(shape):
    # direct_max=0 forces the aggregation cycle below the level where coarsening stopped at walls
    mask = serpentine(shape[0], corridor=4, seed=1) if len(shape) == 2 else \
        kl.pde.obstacles.random_domain(shape, family="thin_walls", seed=3)
    A = kl.pde.poisson(shape, mask=mask)
    # coarse_iterations=1: one aggregation W-cycle, a fixed symmetric map
    M = kl.precond.multigrid(A, direct_max=0, coarse_size=16, coarse_iterations=1)
    assert "aggregation W-cycle" in M.info["coarse_solver"] and not M.variable
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((2, A.shape[0]))
    assert abs(y @ (M @ x) - x @ (M @ y)) <= 1e-10 * abs(x @ (M @ y)) + 1e-12
    assert x @ (M @ x) > 0
    b = rng.standard_normal(A.shape[0])
    res = kl.cg(A, b, rtol=1e-8, M=M)
    assert res.converged and res.iterations <= 25
    assert np.linalg.norm(b - A @ res.x) <= 1e-8 * np.linalg.norm(b)


@pytest.mark.parametrize("shape", [(32, 32), (12, 12, 12)])
def test_all_neumann_standalone_cycle_converges(shape):
    # regression: the grounded coarse solve put a spike at its ground cell (the grounded row's
    # right-hand side was not zeroed), one eigenvalue of M·A was ≈ 150 and the standalone cycle diverged
    A = kl.pde.poisson(shape, bc="neumann")
    b = np.random.default_rng(0).standard_normal(A.shape[0])
    b -= b.mean()
    M = kl.precond.multigrid(A)
    C = A.tocsr().toarray()
    MA = np.column_stack([M.matvec(C[:, j]) for j in range(C.shape[0])])
    assert np.linalg.eigvals(MA).real.max() <= 1.0 + 1e-8
    res = kl.multigrid(A, b, rtol=1e-8, M=M)
    assert res.converged and res.iterations <= 25
    assert np.linalg.norm(b - A @ res.x) <= 1e-8 * np.linalg.norm(b)


def _thin_walls_3d(n=24, seed=3):
    return kl.pde.poisson((n, n, n), mask=kl.pde.obstacles.random_domain((n, n, n), family="thin_walls", seed=seed))


def test_krylov_coarse_solve_is_variable_and_cg_goes_flexible():
    A = _thin_walls_3d()
    M = kl.precond.multigrid(A, direct_max=0, coarse_size=16)   # 3D default: 4 flexible-CG steps
    assert M.variable and M.info["variable"] and "flexible-CG" in M.info["coarse_solver"]
    b = np.random.default_rng(1).standard_normal(A.shape[0])
    res = kl.cg(A, b, rtol=1e-8, M=M)
    assert res.converged and res.info["flexible"] and res.iterations <= 20
    assert np.linalg.norm(b - A @ res.x) <= 1e-8 * np.linalg.norm(b)
    fixed = kl.cg(A, b, rtol=1e-8, M=kl.precond.multigrid(A, direct_max=0, coarse_size=16, coarse_iterations=1))
    assert fixed.converged and "flexible" not in fixed.info
    assert res.iterations <= fixed.iterations          # the point of the Krylov steps
    # many right-hand sides: column by column with the flexible update
    B = np.random.default_rng(2).standard_normal((A.shape[0], 2))
    resB = kl.cg(A, B, rtol=1e-8, M=M)
    assert resB.converged and np.linalg.norm(B - A @ resB.x) <= 1e-8 * np.linalg.norm(B)


def test_variable_multigrid_refused_where_a_fixed_preconditioner_is_needed():
    A = _thin_walls_3d(16)
    M = kl.precond.multigrid(A, direct_max=0, coarse_size=16)
    b = np.ones(A.shape[0])
    for solver in (kl.minres, kl.gmres, kl.bicgstab):
        with pytest.raises(ValueError, match="variable"):
            solver(A, b, M=M)
    with pytest.raises(ValueError, match="fixed preconditioner"):
        kl.cg(A, b, M=M, estimate_eigenvalues=True)
    assert kl.fgmres(A, b, rtol=1e-8, M=M).converged
    assert kl.fcg(A, b, rtol=1e-8, M=M).converged


def test_coarse_iterations_default_and_validation():
    A2 = kl.pde.poisson((128, 128), mask=serpentine(128, corridor=4, seed=1))
    M2 = kl.precond.multigrid(A2, direct_max=0, coarse_size=16)
    assert "W-cycle" in M2.info["coarse_solver"] and not M2.variable   # 2D default: the fixed W-cycle
    assert not kl.precond.multigrid(kl.pde.poisson((16, 16, 16))).variable  # no early stop: always fixed
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="coarse_iterations"):
            kl.precond.multigrid(A2, direct_max=0, coarse_iterations=bad)


def test_aggregation_kernels_match_scipy():
    # the numba set-up of the aggregation levels against the SciPy formulation it replaced
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components

    from krylearn.solvers.precond import _multigrid_setup_kernels as K

    shape = (40, 40)
    A = kl.pde.poisson(shape, mask=serpentine(40, corridor=4, seed=1)).tocsr()
    coords = np.argwhere(kl.pde.obstacles.serpentine(shape, 4, seed=1))
    block = coords // 2
    bid = np.ravel_multi_index(tuple(block.T), tuple(block.max(axis=0) + 1)).astype(np.int64)
    agg = np.empty(A.shape[0], dtype=np.int64)
    n_agg = K.block_pieces(A.indptr, A.indices, bid, agg)
    C = A.tocoo()
    keep = (C.row != C.col) & (bid[C.row] == bid[C.col])
    G = sp.csr_matrix((np.ones(int(keep.sum())), (C.row[keep], C.col[keep])), shape=A.shape)
    n_ref, ref = connected_components(G, directed=False)
    assert n_agg == n_ref and np.array_equal(agg, ref)   # same pieces, numbered by their first node
    assert n_agg > A.shape[0] // 4                        # walls split blocks into several pieces
    P = sp.csr_matrix((np.ones(A.shape[0]), (np.arange(A.shape[0]), agg)), shape=(A.shape[0], n_agg))
    indptr, indices, data = K.aggregate_galerkin(A.indptr, A.indices, A.data, agg, n_agg, 0.5)
    Ac = sp.csr_matrix((data, indices, indptr), shape=(n_agg, n_agg))
    assert Ac.has_sorted_indices
    assert abs(Ac - 0.5 * (P.T @ A @ P)).max() <= 1e-12


def test_level_csr_is_the_operator():
    for shape, fam in [((40, 36), "thin_walls"), ((14, 12, 10), "ellipses_lshapes")]:
        A = kl.pde.poisson(shape, mask=kl.pde.obstacles.random_domain(shape, family=fam, seed=3))
        C, cells = kl.precond.multigrid(A, levels=2).hierarchy.levels[0].tocsr()
        assert C.has_sorted_indices and cells.size == A.shape[0]
        assert abs(C - A.tocsr()).max() == 0.0


class TestVariableMultigridIsAnOperator(OperatorTestCase):
    """The multigrid cycle with flexible-CG steps on the coarsest level of a 3D maze: a variable
    map (``M.variable``), checked as a nonlinear operator (linear = False)."""
    covers = (MultigridPreconditioner,)
    linear = False
    rtol, atol = 1e-10, 1e-12

    def create(self):
        M = kl.precond.multigrid(_thin_walls_3d(16), direct_max=0, coarse_size=16)
        assert "flexible-CG" in M.info["coarse_solver"]
        return M


def test_envelope_cost_matches_a_dense_count():
    from krylearn.solvers.precond import _multigrid_setup_kernels as S

    rng = np.random.default_rng(4)
    B = sp.random(60, 60, density=0.05, random_state=5)
    A = (B + B.T + sp.eye(60)).tocsr()
    order = rng.permutation(60)
    rank = np.empty(60, dtype=np.int64)
    rank[order] = np.arange(60)
    P = A[order][:, order].toarray() != 0      # the matrix in that order
    want = sum(float(i - np.flatnonzero(P[i, : i + 1])[0]) ** 2 for i in range(60))
    got = S.envelope_cost(A.indptr.astype(np.int64), A.indices.astype(np.int64), rank)
    assert got == want


def test_direct_coarse_solve_only_within_its_predicted_cost():
    # a nearly open 3D level left by an early stop (2-cell walls, rooms of 24 cells): SuperLU there
    # costs seconds, so the default takes the aggregation solve; corridors (serpentine) factor cheaply
    N = 48
    mask = kl.pde.obstacles.thin_walls((N, N, N), seed=3, wall=2, spacing=24)
    A = kl.pde.poisson((N, N, N), mask=mask)
    M = kl.precond.multigrid(A)
    assert "coarsening_stopped" in M.info and M.info["unknowns"][-1] > 4096
    assert M.info["direct_cost"] > 400 * A.shape[0]
    assert "aggregation" in M.info["coarse_solver"]
    b = np.random.default_rng(0).standard_normal(A.shape[0])
    res = kl.cg(A, b, rtol=1e-8, M=M)
    assert res.converged and res.iterations <= 15
    assert np.linalg.norm(b - A @ res.x) <= 1e-8 * np.linalg.norm(b) * (1 + 1e-6)
    # an explicit direct_max is taken as it is (no cost bound)
    M2 = kl.precond.multigrid(A, direct_max=10 ** 6)
    assert M2.info["coarse_solver"] == "SuperLU" and "direct_cost" not in M2.info

    maze = kl.pde.obstacles.serpentine((512, 512), 4, seed=1)
    M3 = kl.precond.multigrid(kl.pde.poisson((512, 512), mask=maze))
    assert M3.info["unknowns"][-1] > 4096
    assert M3.info["coarse_solver"] == "SuperLU" and M3.info["direct_cost"] <= 400 * int(maze.sum())

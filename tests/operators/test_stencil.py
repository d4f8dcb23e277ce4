"""PoissonStencil / kl.pde.poisson: shared operator tests, CSR identity, grid helpers, definiteness."""

import numpy as np
import pytest
import scipy.sparse.linalg as spla

import krylearn as kl
from krylearn.operators.stencil import PoissonStencil
from krylearn.operators.testing import OperatorTestCase

RNG = np.random.default_rng(7)
MASK2 = RNG.random((7, 6)) > 0.25
MASK3 = RNG.random((5, 4, 6)) > 0.25
COEF2 = RNG.uniform(0.2, 5.0, (7, 6))
COEF3 = RNG.uniform(0.2, 5.0, (5, 4, 6))
MASK_BIG = RNG.random((15, 12)) > 0.2
COEF_BIG = RNG.uniform(0.2, 5.0, (15, 12))

CASES = {
    "2d-dirichlet": dict(shape=(7, 6)),
    "2d-neumann": dict(shape=(7, 6), bc="neumann"),
    "2d-mixed-spacing": dict(shape=(5, 8), bc=[("dirichlet", "neumann"), "neumann"], spacing=(0.1, 0.3)),
    "2d-coef": dict(shape=(7, 6), coefficient=COEF2),
    "2d-mask": dict(shape=(7, 6), mask=MASK2),
    "2d-mask-coef-neumann": dict(shape=(7, 6), mask=MASK2, coefficient=COEF2, bc="neumann"),
    "2d-thin": dict(shape=(1, 6)),
    "3d-dirichlet": dict(shape=(5, 4, 6)),
    "3d-neumann": dict(shape=(5, 4, 6), bc="neumann"),
    "3d-mixed": dict(shape=(4, 5, 3), bc=["dirichlet", "neumann", ("neumann", "dirichlet")], spacing=0.5),
    "3d-coef": dict(shape=(5, 4, 6), coefficient=COEF3),
    "3d-mask": dict(shape=(5, 4, 6), mask=MASK3),
    "3d-mask-coef": dict(shape=(5, 4, 6), mask=MASK3, coefficient=COEF3, bc=["neumann", "dirichlet", "neumann"]),
    "3d-thin": dict(shape=(3, 1, 4), bc="neumann"),
}


def _build(case):
    kw = dict(CASES[case])
    return kl.pde.poisson(kw.pop("shape"), **kw)


def reference_dense(shape, spacing=None, bc="dirichlet", mask=None, coefficient=None):
    """Independent loop-based assembly of −∇·(c∇u) from the documented definition."""
    nd = len(shape)
    h = [1.0 / (n + 1) for n in shape] if spacing is None else \
        ([float(spacing)] * nd if np.isscalar(spacing) else list(spacing))
    bcs = [(bc, bc)] * nd if isinstance(bc, str) else [(b, b) if isinstance(b, str) else tuple(b) for b in bc]
    mask = np.ones(shape, bool) if mask is None else mask
    c = np.full(shape, 1.0) if coefficient is None else np.broadcast_to(coefficient, shape)
    cells = [tuple(ix) for ix in np.argwhere(mask)]
    num = {cell: k for k, cell in enumerate(cells)}
    A = np.zeros((len(cells), len(cells)))
    for cell, k in num.items():
        for a in range(nd):
            for step, side in ((-1, 0), (1, 1)):
                nb = list(cell)
                nb[a] += step
                nb = tuple(nb)
                if 0 <= nb[a] < shape[a]:
                    if nb in num:
                        w = 2 * c[cell] * c[nb] / (c[cell] + c[nb]) / h[a] ** 2
                        A[k, k] += w
                        A[k, num[nb]] -= w
                elif bcs[a][side] == "dirichlet":
                    A[k, k] += c[cell] / h[a] ** 2
    return A


@pytest.mark.parametrize("case", list(CASES))
class TestPoissonStencil(OperatorTestCase):
    covers = (PoissonStencil,)
    rtol = 1e-12

    @pytest.fixture(autouse=True)
    def _case(self, case):
        self.case = case

    def create(self):
        return _build(self.case)

    def dense(self):
        return reference_dense(**CASES[self.case])

    def test_csr_is_matvec(self):
        A = self.create()
        C = A.tocsr()
        X = np.random.default_rng(0).standard_normal((A.shape[0], 4))
        np.testing.assert_allclose(C @ X, A @ X, rtol=1e-13, atol=1e-13 * abs(C).max())
        assert C.has_sorted_indices
        np.testing.assert_array_equal(C.diagonal(), A.diagonal())

    def test_definiteness_tag(self):
        A = self.create()
        ev = np.linalg.eigvalsh(self.dense())
        assert A.symmetric and A.positive_semidefinite
        scale = ev.max()
        n_null = int(np.sum(ev < 1e-10 * scale))
        assert A.singular_components == n_null
        assert A.positive_definite == (n_null == 0)
        assert ev.min() > -1e-10 * scale

    def test_grid_roundtrip(self):
        A = self.create()
        v = np.arange(A.shape[0], dtype=float)
        u = A.to_grid(v, fill=np.nan)
        assert u.shape == A.grid_shape
        assert np.isnan(u[~A.mask]).all()
        np.testing.assert_array_equal(A.from_grid(u), v)
        np.testing.assert_array_equal(A.from_grid(A.to_grid(np.c_[v, 2 * v])), np.c_[v, 2 * v])
        assert np.array_equal(A.cells, np.flatnonzero(A.mask))
        assert np.array_equal(A.index.ravel()[A.cells], np.arange(A.shape[0]))

    def test_face_weights_rebuild(self):
        """The exposed face weights and index map reproduce the operator (what DCDM/PETSc rely on)."""
        A = self.create()
        x = np.random.default_rng(1).standard_normal(A.shape[0])
        u = A.to_grid(x)
        y = np.zeros(A.grid_shape)
        nd = len(A.grid_shape)
        for a, W in enumerate(A.face_weights):
            upad = np.pad(u, [(1, 1) if b == a else (0, 0) for b in range(nd)])
            lo = np.take(upad, range(0, u.shape[a]), axis=a)
            hi = np.take(upad, range(2, u.shape[a] + 2), axis=a)
            wlo = np.take(W, range(0, u.shape[a]), axis=a)
            whi = np.take(W, range(1, u.shape[a] + 1), axis=a)
            y += wlo * (u - lo) + whi * (u - hi)
        np.testing.assert_allclose(A.from_grid(y), A @ x, rtol=1e-12, atol=1e-12 * np.abs(A @ x).max())


def test_poisson_is_kronecker_sum_of_second_differences():
    def T(n):
        return (2 * np.eye(n) - np.eye(n, k=1) - np.eye(n, k=-1)) * (n + 1) ** 2
    A = kl.pde.poisson((6, 5, 4))
    L = kl.operators.KroneckerSum(T(6), T(5), T(4))
    np.testing.assert_allclose(A.todense(), L.todense(), rtol=1e-14)
    assert isinstance(A, PoissonStencil) and A.uniform


def test_callable_after_import():
    import krylearn.pde.poisson  # noqa: F401  (the module shares the function's name)
    assert kl.pde.poisson((3, 3)).shape == (9, 9)


@pytest.mark.parametrize("shape", [(40, 33), (12, 10, 9)])
@pytest.mark.parametrize("mask", [False, True])
def test_cg_matrix_free_matches_csr_and_scipy(shape, mask):
    m = None
    if mask:
        m = np.ones(shape, bool)
        m[tuple(slice(s // 3, 2 * s // 3) for s in shape)] = False
    A = kl.pde.poisson(shape, mask=m)
    C = A.tocsr()
    b = np.random.default_rng(2).standard_normal(A.shape[0])
    r1 = kl.cg(A, b, rtol=1e-10)
    r2 = kl.cg(C, b, rtol=1e-10)
    assert r1.converged and r2.converged
    assert abs(r1.iterations - r2.iterations) <= 2
    x_ref = spla.spsolve(C.tocsc(), b)
    np.testing.assert_allclose(r1.x, x_ref, rtol=1e-7, atol=1e-9 * np.abs(x_ref).max())
    assert np.linalg.norm(b - C @ r1.x) <= 1e-10 * np.linalg.norm(b)
    x, info = spla.cg(A.to_scipy(), b, rtol=1e-10, atol=0.0, maxiter=5000)
    assert info == 0
    np.testing.assert_allclose(x, x_ref, rtol=1e-6, atol=1e-8 * np.abs(x_ref).max())


def test_pyamg_accepts_stencil():
    pyamg = pytest.importorskip("pyamg")
    A = kl.pde.poisson((30, 30))
    b = np.ones(A.shape[0])
    ml = pyamg.smoothed_aggregation_solver(A.tocsr())
    x = ml.solve(b, tol=1e-10, accel="cg")
    assert np.linalg.norm(b - A @ x) <= 1e-8 * np.linalg.norm(b)
    x, info = pyamg.krylov.cg(A.to_scipy(), b, tol=1e-10, maxiter=2000)
    assert info == 0 and np.linalg.norm(b - A @ x) <= 1e-8 * np.linalg.norm(b)


def test_neumann_semidefinite_cg_consistent_rhs():
    A = kl.pde.poisson((20, 16), bc="neumann")
    assert not A.positive_definite and A.singular_components == 1
    b = np.random.default_rng(3).standard_normal(A.shape[0])
    b -= b.mean()                       # consistent: orthogonal to the constant null vector
    res = kl.cg(A, b, rtol=1e-9)
    assert res.converged
    assert np.linalg.norm(b - A @ res.x) <= 1e-9 * np.linalg.norm(b)


def test_isolated_pocket_is_singular():
    mask = np.ones((8, 8), bool)
    mask[2:6, 2:6] = False
    mask[3:5, 3:5] = True                 # a fluid pocket enclosed by solid: its own null vector
    A = kl.pde.poisson((8, 8), mask=mask)
    assert A.n_components == 2 and A.singular_components == 1 and not A.positive_definite


def test_complex_vector_and_matmat():
    A = kl.pde.poisson((5, 4))
    z = np.arange(20) + 1j * np.arange(20)[::-1]
    np.testing.assert_allclose(A @ z, A.todense() @ z, rtol=1e-13, atol=1e-10)
    Z = np.c_[z, 2 * z]
    np.testing.assert_allclose(A @ Z, A.todense() @ Z, rtol=1e-13, atol=1e-10)


@pytest.mark.parametrize("kwargs, match", [
    (dict(shape=(4,)), "2D and 3D"),
    (dict(shape=(4, 4, 4, 4)), "2D and 3D"),
    (dict(shape=(4, 0)), "positive"),
    (dict(shape=(4, 4), bc="periodic"), "dirichlet"),
    (dict(shape=(4, 4), bc=["dirichlet"]), "one entry per axis"),
    (dict(shape=(4, 4), spacing=-1.0), "spacing"),
    (dict(shape=(4, 4), spacing=(1.0, 2.0, 3.0)), "spacing"),
    (dict(shape=(4, 4), mask=np.ones((3, 4), bool)), "mask has shape"),
    (dict(shape=(4, 4), mask=np.zeros((4, 4), bool)), "no cell"),
    (dict(shape=(4, 4), coefficient=np.ones((4, 3))), "coefficient has shape"),
    (dict(shape=(4, 4), coefficient=-np.ones((4, 4))), "positive"),
    (dict(shape=(4, 4), coefficient=np.nan), "positive"),
])
def test_bad_input(kwargs, match):
    kw = dict(kwargs)
    with pytest.raises(ValueError, match=match):
        kl.pde.poisson(kw.pop("shape"), **kw)


def test_solid_cells_may_have_any_coefficient():
    mask = np.ones((4, 4), bool)
    mask[0, 0] = False
    c = np.ones((4, 4))
    c[0, 0] = np.nan
    A = kl.pde.poisson((4, 4), mask=mask, coefficient=c)
    assert A.shape == (15, 15) and A.positive_definite


@pytest.mark.slow
def test_parallel_twin_kernel_matches_serial(monkeypatch):
    """Large grids switch to the parallel=True twin of the same kernel (compiled on first use)."""
    import krylearn.solvers._kernels as K

    A = kl.pde.poisson((9, 7), bc=["neumann", "dirichlet"])
    x = np.random.default_rng(5).standard_normal(A.shape[0])
    y0 = np.empty_like(x)
    d0 = A.matvec_dot(x, y0)
    monkeypatch.setattr(K, "PARALLEL_MIN", 0)
    y1 = np.empty_like(x)
    d1 = A.matvec_dot(x, y1)
    np.testing.assert_allclose(y1, y0, rtol=1e-14)
    assert np.isclose(d1, d0, rtol=1e-12)


def test_cg_fused_paths_csr_int64_and_retagged():
    import scipy.sparse as sp

    from krylearn.solvers._kernels import fused_matvec_dot

    A = kl.pde.poisson((15, 12), mask=MASK_BIG, coefficient=COEF_BIG)
    C = A.tocsr()
    C64 = sp.csr_matrix((C.data, C.indices.astype(np.int64), C.indptr.astype(np.int64)), shape=C.shape)
    b = np.random.default_rng(4).standard_normal(A.shape[0])
    x_ref = spla.spsolve(C.tocsc(), b)
    for op in (A, C, C64, kl.aslinearoperator(C, symmetric=True, positive_definite=True)):
        lo = kl.aslinearoperator(op)
        assert fused_matvec_dot(lo, b) is not None
        y = np.empty_like(b)
        d = fused_matvec_dot(lo, b)(b, y)
        np.testing.assert_allclose(y, C @ b, rtol=1e-13, atol=1e-13 * abs(C).max())
        assert np.isclose(d, b @ (C @ b), rtol=1e-12)
        res = kl.cg(op, b, rtol=1e-10)
        assert res.converged
        np.testing.assert_allclose(res.x, x_ref, rtol=1e-7, atol=1e-9 * np.abs(x_ref).max())
    assert fused_matvec_dot(kl.aslinearoperator(C.astype(np.complex128)), b) is None


# ---- PoissonStencil.from_csr: the stencil back from an assembled matrix -------------------------------
FROM_CSR = [c for c in CASES if "mask" not in c]


@pytest.mark.parametrize("case", FROM_CSR)
def test_from_csr_reproduces_operator(case):
    kw = CASES[case]
    A = _build(case)
    B = PoissonStencil.from_csr(A.tocsr(), kw["shape"], spacing=kw.get("spacing"))
    C, D = A.tocsr(), B.tocsr()
    assert D.shape == C.shape and abs(D - C).max() <= 1e-14 * abs(C).max()
    np.testing.assert_allclose(B.boundary_weights, A.boundary_weights, rtol=1e-13, atol=1e-13 * abs(C).max())
    x = np.random.default_rng(2).standard_normal(A.shape[0])
    np.testing.assert_allclose(B @ x, A @ x, rtol=1e-13, atol=1e-13 * np.abs(A @ x).max())
    np.testing.assert_array_equal(B.diagonal(), A.diagonal())
    assert (B.positive_definite, B.singular_components, B.n_components) == \
        (A.positive_definite, A.singular_components, A.n_components)
    assert B.symmetric and B.positive_semidefinite and not B.masked and B.coefficient is None
    if min(kw["shape"]) >= 3:  # every box face has a cell on no other face: the faces are recovered exactly
        assert B.bc == A.bc
        for Wa, Wb in zip(A.face_weights, B.face_weights):
            np.testing.assert_allclose(Wb, Wa, rtol=1e-13, atol=1e-13 * abs(C).max())


def test_from_csr_corner_sinks_and_local_block():
    # faces made only of edge cells: the sinks, hence the matrix, are still exact (the split may differ)
    A = kl.pde.poisson((2, 5), bc=["neumann", "dirichlet"])
    B = PoissonStencil.from_csr(A.tocsr(), (2, 5))
    assert abs(B.tocsr() - A.tocsr()).max() <= 1e-14 * abs(A.tocsr()).max()
    np.testing.assert_allclose(B.boundary_weights, A.boundary_weights, rtol=1e-14)
    # a diagonal block of a larger Dirichlet problem (a rank's block under MPI): the dropped couplings
    # stay on the diagonal, i.e. the box problem with a Dirichlet face where the block was cut
    big = kl.pde.poisson((20, 16), bc=["neumann", "dirichlet"])
    block = big.tocsr()[:10 * 16, :10 * 16]
    B = PoissonStencil.from_csr(block, (10, 16), spacing=(1 / 21, 1 / 17))
    ref = kl.pde.poisson((10, 16), spacing=(1 / 21, 1 / 17), bc=[("neumann", "dirichlet"), "dirichlet"])
    assert B.bc == ref.bc and abs(B.tocsr() - ref.tocsr()).max() <= 1e-14 * abs(ref.tocsr()).max()
    for Wa, Wb in zip(ref.face_weights, B.face_weights):
        np.testing.assert_allclose(Wb, Wa, rtol=1e-13)
    # a dense input, and explicit zeros in the sparse one, are fine
    B = PoissonStencil.from_csr(ref.todense(), (10, 16))
    assert abs(B.tocsr() - ref.tocsr()).max() <= 1e-14 * abs(ref.tocsr()).max()


@pytest.mark.parametrize("shape, kw", [
    ((48, 40), dict(bc=[("dirichlet", "neumann"), "neumann"],
                    coefficient=np.random.default_rng(3).uniform(0.1, 10.0, (48, 40)))),
    ((64, 64), dict(bc="neumann")),
    ((16, 16, 12), dict(bc=["neumann", "dirichlet", ("neumann", "dirichlet")],
                        coefficient=np.random.default_rng(4).uniform(0.5, 2.0, (16, 16, 12)))),
])
def test_from_csr_multigrid_like_original(shape, kw):
    """kl.precond.multigrid accepts the rebuilt stencil and MG-PCG takes the same iterations."""
    A = kl.pde.poisson(shape, **kw)
    B = PoissonStencil.from_csr(A.tocsr(), shape)
    b = np.random.default_rng(5).standard_normal(A.shape[0])
    if not A.positive_definite:
        b -= b.mean()
    its = []
    for op in (A, B):
        M = kl.precond.multigrid(op, coarse_size=100)
        assert M.info["levels"] >= 3
        res = kl.cg(op, b, M=M, rtol=1e-8)
        assert res.converged
        its.append(res.iterations)
    assert abs(its[0] - its[1]) <= 1 and its[1] <= 20


def _perturbed(C, i, j, value, symmetric=True):
    C = C.tolil()
    C[i, j] = value
    if symmetric:
        C[j, i] = value
    return C.tocsr()


def test_from_csr_rejects_what_is_not_a_stencil():
    import scipy.sparse as sp

    A = kl.pde.poisson((6, 5), bc=["dirichlet", "neumann"])
    C = A.tocsr()
    cases = [
        (C, (5, 6), "do not share a face"),                                   # wrong grid shape
        (C, (6, 6), "grid"),                                                  # wrong size
        (_perturbed(C, 0, 6, -1.0), (6, 5), "do not share a face"),           # a diagonal (9-point) neighbour
        (_perturbed(C, 0, 1, C[0, 1] * 0.5, symmetric=False), (6, 5), "not symmetric"),
        (_perturbed(C, 0, 1, 3.0), (6, 5), "positive"),
        (_perturbed(C, 7, 7, 1.0), (6, 5), "diagonally dominant"),
        (_perturbed(C, 7, 7, 0.0), (6, 5), "positive"),
        (C + 10.0 * sp.eye(30), (6, 5), "reaction"),                          # a shift in interior cells
        (C.astype(complex), (6, 5), "complex"),
        (C * np.nan, (6, 5), "NaN"),
        (C, (30,), "2D and 3D"),
    ]
    for mat, shape, match in cases:
        with pytest.raises(ValueError, match=match):
            PoissonStencil.from_csr(mat, shape)
    with pytest.raises(ValueError, match="PoissonStencil"):
        kl.precond.multigrid(C)

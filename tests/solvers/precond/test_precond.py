"""Preconditioners (kl.precond) against dense references, and PCG with each on 2D Poisson."""

import numpy as np
import pytest
import scipy.sparse as sp

import krylearn as kl


def poisson2d(m):
    return kl.pde.poisson((m, m)).tocsr()


def rand_sparse(rng, n, density=0.25, symmetric=False):
    A = rng.standard_normal((n, n)) * (rng.random((n, n)) < density)
    if symmetric:
        A = np.triu(A, 1)
        A = A + A.T
    np.fill_diagonal(A, np.abs(A).sum(axis=1) + 0.5)
    return A


def ssor_dense(A, omega):
    D = np.diag(np.diag(A))
    L, U = np.tril(A, -1), np.triu(A, 1)
    return (D + omega * L) @ np.linalg.solve(D, D + omega * U) / (omega * (2 - omega))


def kershaw():
    """Kershaw's 4x4 SPD matrix on which IC(0) breaks down (negative pivot)."""
    return np.array([[3.0, -2, 0, 2], [-2, 3, -2, 0], [0, -2, 3, -2], [2, 0, -2, 3]])


def frustrated_ring(seed=27, n=30):
    """A random sparse SPD non-M-matrix (signed ring + chords, scaled) where IC(0) breaks down."""
    rng = np.random.default_rng(seed)
    S = np.zeros((n, n))
    for i in range(n):
        j = (i + 1) % n
        S[i, j] = S[j, i] = rng.choice([-1, 1]) * rng.uniform(0.5, 1.5)
    for _ in range(n // 3):
        i, j = rng.choice(n, 2, replace=False)
        S[i, j] = S[j, i] = rng.choice([-1, 1]) * rng.uniform(0.5, 1.5)
    d = rng.uniform(0.5, 2, n)
    A = S + (0.05 - np.linalg.eigvalsh(S)[0]) * np.eye(n)
    return d[:, None] * A * d[None, :]


# ---- Jacobi -------------------------------------------------------------------------
def test_jacobi(rng):
    A = rand_sparse(rng, 10)
    M = kl.precond.jacobi(sp.csr_matrix(A))
    x = rng.standard_normal(10)
    np.testing.assert_allclose(M @ x, x / np.diag(A))
    assert M.positive_definite
    # a matrix-free operator with a known diagonal works
    op = kl.LinearOperator((10, 10), matvec=lambda v: A @ v, diagonal=np.diag(A))
    np.testing.assert_allclose(kl.precond.jacobi(op) @ x, x / np.diag(A))
    np.testing.assert_allclose(kl.precond.jacobi(kl.pde.poisson((4, 4))) @ np.ones(16),
                               1.0 / kl.pde.poisson((4, 4)).tocsr().diagonal())
    with pytest.raises(ValueError, match="diagonal"):
        kl.precond.jacobi(np.array([[1.0, 2.0], [3.0, 0.0]]))
    with pytest.raises(ValueError, match="diagonal"):
        kl.precond.jacobi(kl.LinearOperator((3, 3), matvec=lambda v: v))


# ---- SSOR ---------------------------------------------------------------------------
@pytest.mark.parametrize("omega", [0.5, 1.0, 1.5, 1.9])
@pytest.mark.parametrize("symmetric", [True, False])
def test_ssor_matches_dense(omega, symmetric, rng):
    A = rand_sparse(rng, 15, symmetric=symmetric)
    M = kl.precond.ssor(sp.csr_matrix(A), omega)
    Md = ssor_dense(A, omega)
    X = rng.standard_normal((15, 3))
    np.testing.assert_allclose(M.matmat(X), np.linalg.solve(Md, X), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(M.rmatvec(X[:, 0]), np.linalg.solve(Md.T, X[:, 0]), rtol=1e-10, atol=1e-12)
    assert M.symmetric == symmetric and M.positive_definite == symmetric
    if symmetric:
        Minv = M.todense()
        np.testing.assert_allclose(Minv, Minv.T, atol=1e-12)
        assert np.linalg.eigvalsh((Minv + Minv.T) / 2)[0] > 0
    # with_omega shares the setup and equals a fresh preconditioner
    M2 = M.with_omega(1.2)
    np.testing.assert_allclose(M2 @ X[:, 1], kl.precond.ssor(A, 1.2) @ X[:, 1], rtol=1e-14)
    assert M2.system is M.system


def test_ssor_complex(rng):
    A = rand_sparse(rng, 12) + 1j * rand_sparse(rng, 12) * 0.1
    M = kl.precond.ssor(A, 1.3)
    x = rng.standard_normal(12) + 1j * rng.standard_normal(12)
    np.testing.assert_allclose(M @ x, np.linalg.solve(ssor_dense(A, 1.3), x), rtol=1e-10)
    np.testing.assert_allclose(M.rmatvec(x), np.linalg.solve(ssor_dense(A, 1.3).conj().T, x), rtol=1e-10)


def test_ssor_equals_one_symmetric_sweep_from_zero(rng):
    A = poisson2d(6)
    b = rng.standard_normal(36)
    res = kl.ssor(A, b, omega=1.4, rtol=0.0, maxiter=1)
    np.testing.assert_allclose(kl.precond.ssor(A, 1.4) @ b, res.x, rtol=1e-12)


@pytest.mark.parametrize("omega", [0.0, 2.0, -1.0, 3.0])
def test_ssor_bad_omega(omega):
    with pytest.raises(ValueError, match="omega"):
        kl.precond.ssor(poisson2d(4), omega)


# ---- IC(0) --------------------------------------------------------------------------
def test_ic0_tridiagonal_is_exact_cholesky(rng):
    n = 30
    A = sp.diags([-1.0, 2.5, -1.0], [-1, 0, 1], shape=(n, n), format="csr")
    M = kl.precond.ic0(A)
    assert M.shift == 0.0 and M.info["factorizations"] == 1
    np.testing.assert_allclose(M.L.toarray(), np.linalg.cholesky(A.toarray()), rtol=1e-12, atol=1e-14)
    x = rng.standard_normal(n)
    np.testing.assert_allclose(M @ x, np.linalg.solve(A.toarray(), x), rtol=1e-10)


def test_ic0_matches_A_on_pattern(rng):
    A = poisson2d(7)
    M = kl.precond.ic0(A)
    L = M.L.toarray()
    Ad = A.toarray()
    assert np.all(L[np.triu_indices(49, 1)] == 0)
    LLt = L @ L.T
    pattern = Ad != 0
    np.testing.assert_allclose(LLt[pattern], Ad[pattern], rtol=1e-12, atol=1e-10)
    assert np.all((L != 0) <= np.tril(pattern))
    x = rng.standard_normal(49)
    np.testing.assert_allclose(M @ x, np.linalg.solve(LLt, x), rtol=1e-10)
    assert M.symmetric and M.positive_definite


@pytest.mark.parametrize("make", [kershaw, frustrated_ring])
def test_ic0_breakdown_is_shifted(make):
    A = make()
    assert np.linalg.eigvalsh(A)[0] > 0  # SPD, yet IC(0) without shift breaks down
    with pytest.raises(ValueError, match="broke down"):
        kl.precond.ic0(A, max_shift_tries=1)
    M = kl.precond.ic0(sp.csr_matrix(A))
    assert M.shift > 0 and M.info["shift"] == M.shift and M.info["factorizations"] > 1
    n = A.shape[0]
    # the factor is IC(0) of A + shift*diag(A)
    As = A + M.shift * np.diag(np.diag(A))
    L = M.L.toarray()
    pattern = A != 0
    np.testing.assert_allclose((L @ L.T)[pattern], As[pattern], rtol=1e-10, atol=1e-10)
    res = kl.cg(A, np.ones(n), rtol=1e-10, M=M)
    assert res.converged
    np.testing.assert_allclose(res.x, np.linalg.solve(A, np.ones(n)), rtol=1e-7)


def test_ic0_initial_shift():
    A = poisson2d(5)
    M = kl.precond.ic0(A, shift=0.1)
    assert M.shift == 0.1
    Ad = A.toarray()
    L = M.L.toarray()
    pattern = Ad != 0
    np.testing.assert_allclose((L @ L.T)[pattern], (Ad + 0.1 * np.diag(np.diag(Ad)))[pattern], rtol=1e-12)


def test_ic0_bad_input():
    with pytest.raises(ValueError, match="symmetric"):
        kl.precond.ic0(np.array([[2.0, 1.0], [0.0, 2.0]]))
    with pytest.raises(ValueError, match="positive diagonal"):
        kl.precond.ic0(np.array([[-2.0, 1.0], [1.0, 2.0]]))
    with pytest.raises(ValueError, match="complex"):
        kl.precond.ic0(np.eye(3) * (1 + 1j))
    with pytest.raises(ValueError, match="matrix-free"):
        kl.precond.ic0(kl.LinearOperator((3, 3), matvec=lambda v: v))
    with pytest.raises(ValueError, match="square"):
        kl.precond.ic0(np.ones((2, 3)))
    with pytest.raises(ValueError, match="shift"):
        kl.precond.ic0(np.eye(3), shift=-1.0)


# ---- ILU ----------------------------------------------------------------------------
def test_ilu0_tridiagonal_exact_and_pattern(rng):
    A = sp.diags([-1.0, 4.0, -2.0], [-1, 0, 1], shape=(40, 40), format="csr")
    M = kl.precond.ilu(A)
    x = rng.standard_normal(40)
    np.testing.assert_allclose(M @ x, np.linalg.solve(A.toarray(), x), rtol=1e-10)
    B = rand_sparse(rng, 20, density=0.2)
    M = kl.precond.ilu(B)
    L, U = M.factors
    LU = (L @ U).toarray()
    np.testing.assert_allclose(LU[B != 0], B[B != 0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(M @ x[:20], np.linalg.solve(LU, x[:20]), rtol=1e-10)
    np.testing.assert_allclose(M.rmatvec(x[:20]), np.linalg.solve(LU.T, x[:20]), rtol=1e-10)
    assert M.shift == 0.0


def test_ilu_complex_and_spilu(rng):
    A = rand_sparse(rng, 15) + 0.3j * rand_sparse(rng, 15)
    A[A.real == 0] = 0
    M = kl.precond.ilu(A)
    L, U = M.factors
    LU = (L @ U).toarray()
    np.testing.assert_allclose(LU[A != 0], A[A != 0], rtol=1e-10, atol=1e-12)
    x = rng.standard_normal(15) + 1j * rng.standard_normal(15)
    np.testing.assert_allclose(M.rmatvec(x), np.linalg.solve(LU.conj().T, x), rtol=1e-10)
    # spilu with no dropping is an exact LU
    S = kl.precond.ilu(A, drop_tol=0.0, fill_factor=100)
    np.testing.assert_allclose(S @ x, np.linalg.solve(A, x), rtol=1e-9)
    np.testing.assert_allclose(S.rmatvec(x), np.linalg.solve(A.conj().T, x), rtol=1e-9)
    assert S.info["type"] == "spilu"


def test_ilu0_zero_pivot_is_shifted():
    A = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0], [0.0, 1.0, 3.0]])  # pivot 2 becomes 0
    M = kl.precond.ilu(A)
    assert M.shift > 0
    with pytest.raises(ValueError, match="diagonal"):
        kl.precond.ilu(np.array([[0.0, 1.0], [1.0, 1.0]]))


# ---- AMG ----------------------------------------------------------------------------
def test_amg(rng):
    pytest.importorskip("pyamg")
    A = poisson2d(32)
    M = kl.precond.amg(A)
    assert M.positive_definite and M.info["levels"] >= 2
    x, y = rng.standard_normal((2, A.shape[0]))
    assert np.dot(M @ x, y) == pytest.approx(np.dot(x, M @ y), rel=1e-8)
    assert np.dot(M @ x, x) > 0
    with pytest.raises(ValueError, match="cycle"):
        kl.precond.amg(A, cycle="Q")


# ---- PCG on 2D Poisson with every preconditioner ------------------------------------
PRECONDS = {
    "jacobi": lambda A: kl.precond.jacobi(A),
    "ssor": lambda A: kl.precond.ssor(A, 1.5),
    "ic0": lambda A: kl.precond.ic0(A),
    "ilu0": lambda A: kl.precond.ilu(A),
    "amg": lambda A: kl.precond.amg(A),
}


@pytest.mark.parametrize("name", PRECONDS)
def test_pcg_on_poisson(name, rng):
    if name == "amg":
        pytest.importorskip("pyamg")
    P = kl.pde.poisson((40, 40))
    b = rng.standard_normal(P.shape[0])
    M = PRECONDS[name](P)   # built from the stencil operator (via tocsr / diagonal)
    plain = kl.cg(P, b, rtol=1e-8)
    res = kl.cg(P, b, rtol=1e-8, M=M)
    assert res.converged, res
    assert np.linalg.norm(b - P @ res.x) <= 1e-8 * np.linalg.norm(b) * (1 + 1e-6)
    if name != "jacobi":  # the constant diagonal makes Jacobi = plain CG
        assert res.iterations < 0.7 * plain.iterations
    # reusable across right-hand sides
    assert kl.cg(P, rng.standard_normal(P.shape[0]), rtol=1e-8, M=M).converged


# ---- the same iterations as PETSc (when petsc4py is installed) -----------------------
@pytest.mark.parametrize("pc_type", ["icc", "sor"])
def test_pcg_iterations_match_petsc(pc_type):
    PETSc = pytest.importorskip("petsc4py.PETSc")
    C = poisson2d(24)
    A = PETSc.Mat().createAIJ(size=C.shape, csr=(C.indptr.astype(PETSc.IntType),
                                                  C.indices.astype(PETSc.IntType), C.data),
                              comm=PETSc.COMM_SELF)
    A.assemble()
    ksp = PETSc.KSP().create(comm=PETSc.COMM_SELF)
    ksp.setOperators(A)
    ksp.setType("cg")
    ksp.getPC().setType(pc_type)  # PCSOR: symmetric sweep, omega = 1
    ksp.setNormType(PETSc.KSP.NormType.UNPRECONDITIONED)
    ksp.setTolerances(rtol=1e-8, atol=0.0, max_it=1000)
    b, x = A.createVecs()
    b.set(1.0)
    x.set(0.0)
    ksp.solve(b, x)
    M = kl.precond.ic0(C) if pc_type == "icc" else kl.precond.ssor(C, 1.0)
    res = kl.cg(C, np.ones(C.shape[0]), rtol=1e-8, M=M)
    assert res.converged and ksp.getConvergedReason() > 0
    assert abs(res.iterations - ksp.getIterationNumber()) <= 1
    np.testing.assert_allclose(res.x, x.getArray(), rtol=1e-6)
    ksp.destroy()
    A.destroy()


def test_ssor_apply_equals_petsc_pcsor():
    PETSc = pytest.importorskip("petsc4py.PETSc")
    C = poisson2d(10)
    A = PETSc.Mat().createAIJ(size=C.shape, csr=(C.indptr.astype(PETSc.IntType),
                                                  C.indices.astype(PETSc.IntType), C.data),
                              comm=PETSc.COMM_SELF)
    A.assemble()
    pc = PETSc.PC().create(comm=PETSc.COMM_SELF)
    pc.setOperators(A)
    pc.setType("sor")  # symmetric sweep, omega = 1, its = 1, zero initial guess
    pc.setUp()
    r = np.random.default_rng(3).standard_normal(100)
    bv, zv = A.createVecs()
    bv.getArray()[:] = r
    pc.apply(bv, zv)
    np.testing.assert_allclose(kl.precond.ssor(C, 1.0) @ r, zv.getArray(), rtol=1e-12)
    pc.destroy()
    A.destroy()


def test_unsorted_duplicate_csr_and_3d(rng):
    C = kl.pde.poisson((6, 5, 4)).tocsr()
    coo = C.tocoo()
    # shuffled entries with the diagonal split into two duplicates
    idx = rng.permutation(coo.nnz)
    r, c, v = coo.row[idx], coo.col[idx], coo.data[idx]
    d = r == c
    rows = np.concatenate([r, r[d]])
    cols = np.concatenate([c, c[d]])
    vals = np.concatenate([np.where(d, v / 2, v), v[d] / 2])
    U = sp.csr_matrix((vals, (rows, cols)), shape=C.shape)
    U.has_sorted_indices = False
    x = rng.standard_normal(C.shape[0])
    for make in (kl.precond.ic0, kl.precond.ilu, lambda A: kl.precond.ssor(A, 1.3)):
        np.testing.assert_allclose(make(U) @ x, make(C) @ x, rtol=1e-12)
    res = kl.cg(C, x, rtol=1e-10, M=kl.precond.ic0(U))
    assert res.converged
    assert res.iterations < kl.cg(C, x, rtol=1e-10).iterations
    np.testing.assert_allclose(kl.sor(U, x, omega=1.5, rtol=1e-10).x, np.linalg.solve(C.toarray(), x),
                               rtol=1e-7, atol=1e-9)

"""The preconditioners as operators (OperatorTestCase), each against an independent dense reference.

``dense()`` is never the operator applied to the identity: it is the inverse of the matrix the
docstring says the preconditioner is, computed here with dense NumPy/SciPy linear algebra —
Jacobi ``D⁻¹``; SSOR ``ω(2−ω) (D+ωU)⁻¹ D (D+ωL)⁻¹``; IC(0)/ILU(0) ``(L U)⁻¹`` with the factors of
a plain dense ILU(0) (Saad, Alg. 10.4) written here; threshold ILU: SciPy's own factors through
``spsolve_triangular`` and, with no dropping, ``A⁻¹``; AMG: PyAMG's own cycle on a hierarchy built
separately; Chebyshev: the residual polynomial ``(I − T_k(Y)/T_k(θ/δ)) A⁻¹``,
``Y = (θ − M A)/δ``, evaluated by the three-term recurrence on dense matrices.
"""

import contextlib

import numpy as np
import pytest
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import krylearn as kl
from krylearn.operators.testing import OperatorTestCase
from krylearn.solvers.precond import (AMGPreconditioner, ChebyshevPreconditioner, IC0Preconditioner,
                                      ILUPreconditioner, JacobiPreconditioner, SSORPreconditioner)

SPD = kl.pde.poisson((6, 5)).tocsr()                      # 30 x 30, an M-matrix: IC(0) needs no shift


def _convection_diffusion(n=25, c=0.6):
    """Nonsymmetric tridiagonal-plus-far-coupling matrix with a dominant diagonal."""
    A = sp.diags([-1.0 - c, 4.0, -1.0 + c], [-1, 0, 1], shape=(n, n), format="lil")
    A[0, n - 3] = 0.3
    A[n - 2, 4] = -0.7
    return A.tocsr()


NONSYM = _convection_diffusion()
_rng = np.random.default_rng(5)
CPLX = (NONSYM + 1j * sp.diags(_rng.standard_normal(25), 0) + 0.5j * sp.eye(25, k=2)).tocsr()
#: Kershaw's SPD matrix (J. Comput. Phys. 26, 1978): plain IC(0) breaks down on it
KERSHAW = sp.csr_matrix(np.array([[3.0, -2, 0, 2], [-2, 3, -2, 0], [0, -2, 3, -2], [2, 0, -2, 3]]))


def ilu0_dense(A):
    """ILU(0) on the pattern of ``A`` (Saad, Alg. 10.4, IKJ), dense and plain: ``(L unit lower, U)``."""
    A = np.array(A.toarray() if sp.issparse(A) else A, dtype=np.result_type(A.dtype, np.float64))
    P = A != 0
    n = A.shape[0]
    for i in range(1, n):
        for k in range(i):
            if P[i, k]:
                A[i, k] /= A[k, k]
                for j in range(k + 1, n):
                    if P[i, j]:
                        A[i, j] -= A[i, k] * A[k, j]
    return np.tril(A, -1) + np.eye(n), np.triu(A)


def lu_inverse(L, U):
    n = L.shape[0]
    Y = sla.solve_triangular(L, np.eye(n), lower=True, unit_diagonal=True)
    return sla.solve_triangular(U, Y, lower=False)


# ---- Jacobi --------------------------------------------------------------------------------
class TestJacobi(OperatorTestCase):
    covers = (JacobiPreconditioner,)
    expected_tags = {"symmetric": True, "positive_definite": True}

    def create(self):
        return kl.precond.jacobi(SPD)

    def dense(self):
        return np.diag(1.0 / SPD.diagonal())


class TestJacobiComplex(OperatorTestCase):
    covers = (JacobiPreconditioner,)
    expected_tags = {"symmetric": False, "hermitian": False, "positive_definite": False}

    def create(self):
        return kl.precond.jacobi(CPLX)

    def dense(self):
        return np.diag(1.0 / CPLX.diagonal())


class TestJacobiOfAnOperator(OperatorTestCase):
    """The diagonal read through ``diagonal()`` of a matrix-free stencil."""
    covers = (JacobiPreconditioner,)

    def create(self):
        return kl.precond.jacobi(kl.pde.poisson((6, 5), coefficient=np.linspace(1, 3, 30).reshape(6, 5)))

    def dense(self):
        return np.diag(1.0 / kl.pde.poisson((6, 5), coefficient=np.linspace(1, 3, 30).reshape(6, 5)).tocsr().diagonal())


# ---- SSOR ----------------------------------------------------------------------------------
def ssor_inverse(A, omega):
    """``M⁻¹`` for ``M = (D + ωL) D⁻¹ (D + ωU) / (ω(2 − ω))`` (the docstring's formula), dense."""
    A = A.toarray()
    D = np.diag(np.diag(A))
    L, U = np.tril(A, -1), np.triu(A, 1)
    Y = sla.solve_triangular(D + omega * L, np.eye(A.shape[0]) * omega * (2 - omega), lower=True)
    return sla.solve_triangular(D + omega * U, D @ Y, lower=False)


@pytest.mark.parametrize("omega", [1.0, 1.5])
class TestSSOR(OperatorTestCase):
    covers = (SSORPreconditioner,)
    expected_tags = {"symmetric": True, "positive_definite": True}

    @pytest.fixture(autouse=True)
    def _omega(self, omega):
        self.omega = omega

    def create(self):
        return kl.precond.ssor(SPD, omega=self.omega)

    def dense(self):
        return ssor_inverse(SPD, self.omega)


class TestSSORNonsymmetric(OperatorTestCase):
    covers = (SSORPreconditioner,)
    expected_tags = {"symmetric": False, "positive_definite": False}

    def create(self):
        return kl.precond.ssor(NONSYM, omega=0.8)

    def dense(self):
        return ssor_inverse(NONSYM, 0.8)


class TestSSORComplex(OperatorTestCase):
    covers = (SSORPreconditioner,)

    def create(self):
        return kl.precond.ssor(CPLX, omega=1.2).with_omega(0.7)

    def dense(self):
        return ssor_inverse(CPLX, 0.7)


# ---- IC(0) ---------------------------------------------------------------------------------
class TestIC0(OperatorTestCase):
    covers = (IC0Preconditioner,)
    expected_tags = {"symmetric": True, "positive_definite": True}
    matrix = SPD

    def create(self):
        return kl.precond.ic0(self.matrix)

    def dense(self):
        M = self.create()
        A = self.matrix + M.shift * sp.diags(np.abs(self.matrix.diagonal()))   # the matrix that was factored
        return lu_inverse(*ilu0_dense(A))

    def test_factor_matches_A_on_its_pattern(self):
        M = self.create()
        A = (self.matrix + M.shift * sp.diags(self.matrix.diagonal())).toarray()
        L = M.L.toarray()
        P = np.tril(A) != 0
        assert np.all(L[~P] == 0)
        np.testing.assert_allclose((L @ L.T)[P], A[P], rtol=1e-12, atol=1e-12 * np.abs(A).max())
        # the two triangular solves with the factor, through SciPy
        r = np.random.default_rng(0).standard_normal(A.shape[0])
        y = spla.spsolve_triangular(M.L.tocsr(), r, lower=True)
        z = spla.spsolve_triangular(M.L.T.tocsr(), y, lower=False)
        np.testing.assert_allclose(M @ r, z, rtol=1e-10)


class TestIC0Shifted(TestIC0):
    """An SPD matrix that is not an M-matrix: the factorization breaks down and is shifted."""
    matrix = KERSHAW
    rtol = 1e-9

    def test_it_was_shifted(self):
        assert self.create().shift > 0


# ---- ILU -----------------------------------------------------------------------------------
@pytest.mark.parametrize("which", ["nonsymmetric", "complex", "spd"])
class TestILU0(OperatorTestCase):
    covers = (ILUPreconditioner,)
    matrices = {"nonsymmetric": NONSYM, "complex": CPLX, "spd": SPD}

    @pytest.fixture(autouse=True)
    def _which(self, which):
        self.A = self.matrices[which]

    def create(self):
        M = kl.precond.ilu(self.A)
        assert M.shift == 0.0
        return M

    def dense(self):
        return lu_inverse(*ilu0_dense(self.A))

    def test_factors(self):
        L, U = self.create().factors
        Lref, Uref = ilu0_dense(self.A)
        np.testing.assert_allclose(L.toarray(), Lref, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(U.toarray(), Uref, rtol=1e-12, atol=1e-14)


class TestThresholdILU(OperatorTestCase):
    """SciPy's spilu path: ``M⁻¹ = Pc U⁻¹ L⁻¹ Pr`` from SciPy's own factors (``Pr A Pc ≈ L U``)."""
    covers = (ILUPreconditioner,)

    def create(self):
        return kl.precond.ilu(NONSYM, drop_tol=1e-2, fill_factor=3)

    def dense(self):
        lu = spla.spilu(NONSYM.tocsc(), drop_tol=1e-2, fill_factor=3)
        n = NONSYM.shape[0]
        Pr = sp.csc_matrix((np.ones(n), (lu.perm_r, np.arange(n))))
        Pc = sp.csc_matrix((np.ones(n), (np.arange(n), lu.perm_c)))
        cols = []
        for e in np.eye(n):
            y = spla.spsolve_triangular(lu.L.tocsr(), Pr @ e, lower=True)
            cols.append(Pc @ spla.spsolve_triangular(lu.U.tocsr(), y, lower=False))
        return np.column_stack(cols)


class TestCompleteILU(OperatorTestCase):
    """No dropping: the "incomplete" LU is complete, and ``M⁻¹ = A⁻¹``."""
    covers = (ILUPreconditioner,)
    rtol = 1e-9

    def create(self):
        return kl.precond.ilu(CPLX, drop_tol=0.0, fill_factor=30)

    def dense(self):
        return np.linalg.inv(CPLX.toarray())


@contextlib.contextmanager
def _global_numpy_seed(seed):
    """PyAMG estimates the spectral radius for the prolongation smoother from a random start
    (``np.random.rand``): two hierarchies of the same matrix differ by ~1e-5 unless the global
    NumPy RNG is seeded alike (restored afterwards)."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


# ---- AMG -----------------------------------------------------------------------------------
@pytest.mark.parametrize("cycle", ["V", "W"])
class TestAMG(OperatorTestCase):
    """One cycle of PyAMG smoothed aggregation: against PyAMG's own preconditioner on a hierarchy built
    here (smoothed aggregation is deterministic)."""
    covers = (AMGPreconditioner,)
    expected_tags = {"symmetric": True, "positive_definite": True}
    rtol = 1e-9
    A = kl.pde.poisson((12, 11)).tocsr()

    @pytest.fixture(autouse=True)
    def _cycle(self, cycle):
        pytest.importorskip("pyamg")
        self.cycle = cycle

    def create(self):
        with _global_numpy_seed(0):
            return kl.precond.amg(self.A, cycle=self.cycle, max_coarse=10)

    def dense(self):
        import pyamg

        with _global_numpy_seed(0):
            ml = pyamg.smoothed_aggregation_solver(self.A, max_coarse=10)
        assert len(ml.levels) >= 3
        P = ml.aspreconditioner(cycle=self.cycle)
        return np.column_stack([P.matvec(e) for e in np.eye(self.A.shape[0])])


# ---- Chebyshev -----------------------------------------------------------------------------
def chebyshev_dense(A, degree, bounds, M=None):
    """``(I − T_k(Y)/T_k(θ/δ)) A⁻¹`` with ``Y = (θ I − M A)/δ``, ``k = degree``: after ``k`` steps from
    zero the error of the Chebyshev iteration is the scaled Chebyshev polynomial of ``M A`` times
    the initial error ``A⁻¹ r`` (Saad §12.3)."""
    A = A.toarray() if sp.issparse(A) else np.asarray(A)
    n = A.shape[0]
    MA = A if M is None else M @ A
    lo, hi = bounds
    theta, delta = (hi + lo) / 2, (hi - lo) / 2
    Y = (theta * np.eye(n) - MA) / delta
    T0, T1 = np.eye(n), Y
    t0, t1 = 1.0, theta / delta
    for _ in range(degree - 1):
        T0, T1 = T1, 2 * Y @ T1 - T0
        t0, t1 = t1, 2 * (theta / delta) * t1 - t0
    return (np.eye(n) - T1 / t1) @ np.linalg.inv(A)


@pytest.mark.parametrize("degree", [1, 2, 5])
class TestChebyshev(OperatorTestCase):
    covers = (ChebyshevPreconditioner,)
    expected_tags = {"symmetric": True, "positive_definite": True}
    rtol = 1e-9

    @pytest.fixture(autouse=True)
    def _degree(self, degree):
        self.degree = degree
        lam = np.linalg.eigvalsh(SPD.toarray())
        self.bounds = (lam[0], lam[-1])

    def create(self):
        return kl.precond.chebyshev(SPD, self.degree, bounds=self.bounds)

    def dense(self):
        return chebyshev_dense(SPD, self.degree, self.bounds)


@pytest.mark.parametrize("smoother", [False, True])
class TestChebyshevJacobi(OperatorTestCase):
    """With an inner Jacobi preconditioner and the estimated interval (the reference reads the
    interval the estimate chose: the polynomial is what is tested)."""
    covers = (ChebyshevPreconditioner,)
    expected_tags = {"symmetric": True, "positive_definite": True}
    rtol = 1e-9
    A = kl.pde.poisson((6, 5), coefficient=np.linspace(1, 4, 30).reshape(6, 5)).tocsr()

    @pytest.fixture(autouse=True)
    def _smoother(self, smoother):
        self.smoother = smoother

    def create(self):
        return kl.precond.chebyshev(self.A, 4, M=kl.precond.jacobi(self.A), smoother=self.smoother)

    def dense(self):
        lo, hi = self.create().bounds
        Dinv = np.diag(1.0 / self.A.diagonal())
        lam = np.linalg.eigvals(Dinv @ self.A.toarray()).real
        assert hi >= lam.max()          # the estimate covers the top of the spectrum (safety factor)
        if self.smoother:
            assert lo == pytest.approx(0.1 * hi / 1.1)
        return chebyshev_dense(self.A, 4, (lo, hi), Dinv)

"""Many right-hand sides: batched CG and the column loop of the other solvers (issue 18)."""

import numpy as np
import pytest
import scipy.sparse as sp

import krylearn as kl
from krylearn.solvers.krylov._block_kernels import block_dots, block_update_xr, block_xpby, fused_matmat_dot
from krylearn.solvers.krylov.batched_cg import batched_cg, prefers_batched


def _masked(shape=(40, 36), seed=1):
    mask = kl.pde.obstacles.random_domain(shape, "ellipses_lshapes", seed=seed)
    return kl.pde.poisson(shape, mask=mask)


def _rhs(n, k, seed=0):
    return np.random.default_rng(seed).standard_normal((n, k))


@pytest.mark.parametrize("make", [lambda: _masked(), lambda: _masked().tocsr(),
                                  lambda: kl.pde.poisson((9, 10, 11), coefficient=np.linspace(1, 3, 990).reshape(9, 10, 11))])
def test_batched_equals_column_solves(make):
    A = make()
    B = _rhs(A.shape[0], 5)
    res = kl.cg(A, B, rtol=1e-9)
    assert res.info["batched"] is True and res.converged
    assert res.x.shape == B.shape
    assert res.residuals.shape == (res.iterations + 1, 5)
    C = kl.aslinearoperator(A).tocsr() if hasattr(kl.aslinearoperator(A), "tocsr") else sp.csr_matrix(A)
    for j in range(5):
        one = kl.cg(A, B[:, j], rtol=1e-9)
        assert abs(one.iterations - res.info["iterations"][j]) <= 1  # same recurrence, other rounding
        assert np.allclose(res.x[:, j], one.x, rtol=1e-6, atol=1e-9 * np.abs(one.x).max())
        assert np.linalg.norm(B[:, j] - C @ res.x[:, j]) <= 1e-9 * np.linalg.norm(B[:, j])
        its = res.info["iterations"][j]
        col = res.residuals[:, j]
        assert np.all(np.isfinite(col[: its + 1])) and np.all(np.isnan(col[its + 1:]))


def test_preconditioned_and_x0():
    A = _masked()
    B = _rhs(A.shape[0], 3)
    X0 = _rhs(A.shape[0], 3, seed=5)
    for M in (kl.precond.ic0(A.tocsr()), kl.precond.multigrid(A)):
        res = kl.cg(A, B, X0, rtol=1e-10, M=M)
        assert res.converged and res.method == "batched-pcg"
        for j in range(3):
            one = kl.cg(A, B[:, j], X0[:, j], rtol=1e-10, M=M)
            assert abs(one.iterations - res.info["iterations"][j]) <= 1
            assert np.allclose(res.x[:, j], one.x, rtol=1e-7, atol=1e-10)


def test_columns_at_any_scale_and_zero_column():
    A = _masked((24, 24))
    C = A.tocsr()
    B = _rhs(A.shape[0], 4)
    B[:, 0] *= 1e-170
    B[:, 1] = 0.0
    B[:, 2] *= 1e160
    res = kl.cg(A, B, rtol=1e-8)
    assert res.converged
    assert np.all(res.x[:, 1] == 0) and res.info["iterations"][1] == 0
    for j in (0, 2, 3):
        r = B[:, j] / np.abs(B[:, j]).max() - C @ (res.x[:, j] / np.abs(B[:, j]).max())
        assert np.linalg.norm(r) <= 1e-8 * np.linalg.norm(B[:, j] / np.abs(B[:, j]).max())
    assert np.all(np.isfinite(res.relative_residual)) and np.all(res.relative_residual <= 1e-8)


def test_maxiter_and_status_per_column():
    A = _masked()
    B = _rhs(A.shape[0], 2)
    B[:, 1] = A @ np.ones(A.shape[0])  # the smooth column converges faster
    res = kl.cg(A, B, rtol=1e-10, maxiter=8)
    assert res.status is kl.Status.MAX_ITERATIONS
    assert all(s is kl.Status.MAX_ITERATIONS for s in res.info["statuses"])
    assert res.iterations == 8 and res.residuals.shape == (9, 2)


def test_indefinite_columns_reported():
    A = sp.diags(np.r_[np.ones(20), -np.ones(5)]).tocsr()
    B = _rhs(25, 3)
    res = kl.cg(A, B, rtol=1e-10)
    assert res.status is kl.Status.INDEFINITE
    with pytest.raises(kl.SolverError):
        kl.cg(A, B, rtol=1e-10, raise_on_indefinite=True)


def test_uniform_stencil_runs_columns_in_a_loop():
    A = kl.pde.poisson((30, 30))
    assert not prefers_batched(A) and prefers_batched(_masked()) and prefers_batched(A.tocsr())
    B = _rhs(A.shape[0], 3)
    res = kl.cg(A, B, rtol=1e-8)
    assert res.info["batched"] is False and res.converged and res.x.shape == B.shape
    forced = batched_cg(A, B, rtol=1e-8)
    assert forced.info["batched"] is True and np.allclose(forced.x, res.x, atol=1e-6 * np.abs(res.x).max())


@pytest.mark.parametrize("solver", [kl.gmres, kl.minres, kl.bicgstab, kl.fcg])
def test_column_loop_of_other_solvers(solver):
    A = _masked((20, 20))
    B = _rhs(A.shape[0], 3)
    res = solver(A, B, rtol=1e-8)
    assert res.converged and res.x.shape == B.shape
    assert res.residuals.shape[1] == 3 and len(res.info["statuses"]) == 3
    C = A.tocsr()
    for j in range(3):
        assert np.linalg.norm(B[:, j] - C @ res.x[:, j]) <= 1.01e-8 * np.linalg.norm(B[:, j])


def test_bad_blocks_rejected():
    A = _masked((12, 12))
    n = A.shape[0]
    with pytest.raises(ValueError, match="shape"):
        kl.cg(A, np.ones((n + 1, 2)))
    B = np.ones((n, 2))
    B[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        kl.cg(A, B)
    with pytest.raises(ValueError, match="x0"):
        kl.cg(A, np.ones((n, 2)), np.ones((n, 3)))
    with pytest.raises(ValueError, match="estimate_eigenvalues"):
        kl.cg(A, np.ones((n, 2)), estimate_eigenvalues=True)


def test_block_kernels_match_numpy():
    rng = np.random.default_rng(3)
    for dt in (np.float64, np.float32):
        X, R, P, Q = (rng.standard_normal((57, 4)).astype(dt) for _ in range(4))
        alpha = rng.standard_normal(4)
        Xr, Rr = X + P * alpha.astype(dt), R - Q * alpha.astype(dt)
        rr = block_update_xr(X, R, P, Q, alpha)
        assert np.allclose(X, Xr, rtol=1e-5) and np.allclose(R, Rr, rtol=1e-5)
        assert np.allclose(rr, (Rr.astype(float) ** 2).sum(0), rtol=1e-5)
        assert np.allclose(block_dots(P, Q), (P.astype(float) * Q).sum(0), rtol=1e-5)
        beta = rng.standard_normal(4)
        want = Q + P * beta.astype(dt)
        block_xpby(P, Q, beta)
        assert np.allclose(P, want, rtol=1e-5)


@pytest.mark.parametrize("A", [_masked((17, 19)), kl.pde.poisson((5, 6, 7), bc="neumann"),
                               kl.pde.poisson((8, 9), coefficient=np.arange(1, 73.).reshape(8, 9))])
def test_stencil_matmat_is_one_block_product(A):
    X = _rhs(A.shape[0], 6, seed=2)
    want = A.tocsr() @ X
    assert np.allclose(A.matmat(X), want)
    out = np.empty_like(X)
    dots = A.matmat_dot(X, out)
    assert np.allclose(out, want) and np.allclose(dots, (X * want).sum(0))
    f = fused_matmat_dot(kl.aslinearoperator(A.tocsr()), X)
    out2 = np.empty_like(X)
    assert np.allclose(f(X, out2), dots) and np.allclose(out2, want)

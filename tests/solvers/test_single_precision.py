"""float32 and complex64 end to end (issue 18): x in the dtype of b, honest statuses."""

import numpy as np
import pytest

import krylearn as kl


def _problem(shape=(40, 36)):
    mask = kl.pde.obstacles.random_domain(shape, "ellipses_lshapes", seed=2)
    return kl.pde.poisson(shape, mask=mask)


SOLVERS = [kl.cg, kl.minres, kl.gmres, kl.bicgstab, kl.fcg]


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("kind", ["stencil", "csr", "ic0", "multigrid"])
def test_float32_in_float32_out(solver, kind):
    A = _problem()
    C = A.tocsr()
    b = np.random.default_rng(0).standard_normal(A.shape[0]).astype(np.float32)
    op = C if kind == "csr" else A
    M = {"ic0": kl.precond.ic0(C), "multigrid": kl.precond.multigrid(A)}.get(kind)
    res = solver(op, b, rtol=1e-5, M=M)
    assert res.converged and res.x.dtype == np.float32
    true = np.linalg.norm(b.astype(float) - C @ res.x.astype(float))
    assert true <= 1.5e-5 * np.linalg.norm(b.astype(float))
    ref = solver(op, b.astype(np.float64), rtol=1e-5, M=M)
    assert abs(res.iterations - ref.iterations) <= max(3, ref.iterations // 10)


@pytest.mark.parametrize("solver", [kl.cg, kl.gmres, kl.bicgstab])
def test_complex64_in_complex64_out(solver):
    A = _problem((20, 20))
    rng = np.random.default_rng(1)
    b = (rng.standard_normal(A.shape[0]) + 1j * rng.standard_normal(A.shape[0])).astype(np.complex64)
    res = solver(A, b, rtol=1e-5)
    assert res.converged and res.x.dtype == np.complex64
    assert np.linalg.norm(b - A.tocsr() @ res.x) <= 1.5e-5 * np.linalg.norm(b)


@pytest.mark.parametrize("solver", SOLVERS)
def test_unreachable_tolerance_stops_with_a_reason(solver):
    A = _problem()
    b = np.random.default_rng(0).standard_normal(A.shape[0]).astype(np.float32)
    res = solver(A, b, rtol=1e-11)
    assert res.status is kl.Status.STAGNATION
    assert "float32" in res.info["reason"]
    assert res.iterations < 10 * A.shape[0] // 4  # stopped by the guards, not by maxiter


@pytest.mark.parametrize("scale", [1e-30, 1e30])
def test_float32_at_extreme_scales(scale):
    A = _problem((24, 24))
    b = (np.random.default_rng(3).standard_normal(A.shape[0]) * scale).astype(np.float32)
    for solver in (kl.cg, kl.minres, kl.gmres, kl.bicgstab):
        res = solver(A, b, rtol=1e-5)
        assert res.converged and res.x.dtype == np.float32 and np.all(np.isfinite(res.x))
        bb = b.astype(float) / scale
        assert np.linalg.norm(bb - A.tocsr() @ (res.x.astype(float) / scale)) <= 1.5e-5 * np.linalg.norm(bb)


def test_float32_many_right_hand_sides():
    A = _problem()
    B = np.random.default_rng(4).standard_normal((A.shape[0], 3)).astype(np.float32)
    for op in (A, A.tocsr()):
        res = kl.cg(op, B, rtol=1e-5)
        assert res.converged and res.x.dtype == np.float32 and res.info["batched"]
        bad = kl.cg(op, B, rtol=1e-11)
        assert bad.status is kl.Status.STAGNATION and "float32" in bad.info["reason"]
        assert np.all(bad.relative_residual > 1e-11)  # the true residual is reported, not the drifted one


def test_float64_unchanged():
    A = _problem((16, 16))
    b = np.ones(A.shape[0], dtype=np.int64)
    assert kl.cg(A, b).x.dtype == np.float64
    assert kl.cg(A, b.astype(np.float32), np.zeros(A.shape[0])).x.dtype == np.float64  # float64 x0 wins


@pytest.mark.parametrize("solver", [kl.cg, kl.minres, kl.gmres, kl.bicgstab])
def test_mixed_precision_reaches_float64_accuracy(solver):
    A = _problem()
    C = A.tocsr()
    b = np.random.default_rng(5).standard_normal(A.shape[0])
    M = kl.precond.multigrid(A)
    res = solver(C, b, rtol=1e-10, M=M, precision="mixed")
    assert res.converged and res.x.dtype == np.float64
    assert np.linalg.norm(b - C @ res.x) <= 1e-10 * np.linalg.norm(b)
    assert res.info["precision"] == "mixed" and res.info["refinements"] >= 2
    assert res.iterations == sum(res.info["inner_iterations"])


def test_mixed_precision_errors_and_stagnation():
    A = _problem((16, 16))
    b = np.ones(A.shape[0])
    with pytest.raises(ValueError, match="precision"):
        kl.cg(A, b, precision="half")
    with pytest.raises(ValueError, match="callback"):
        kl.cg(A, b, precision="mixed", callback=lambda s: False)
    # a matrix too ill-conditioned for float32 corrections: stops with a reason, no hang
    n = 60
    d = np.logspace(0, 12, n)
    Q = np.linalg.qr(np.random.default_rng(0).standard_normal((n, n)))[0]
    H = (Q * d) @ Q.T
    res = kl.cg(H, np.ones(n), rtol=1e-12, precision="mixed", maxiter=5000)
    assert not res.converged
    assert res.status in (kl.Status.STAGNATION, kl.Status.MAX_ITERATIONS)

"""krylearn.petsc.solve: SolverResult from a PETSc KSP."""

import numpy as np
import pytest

PETSc = pytest.importorskip("petsc4py.PETSc")

import krylearn as kl  # noqa: E402
import krylearn.petsc as klp  # noqa: E402
from krylearn import Status  # noqa: E402


def test_result_object_matches_krylearn_cg(poisson2d):
    A, csr = poisson2d
    b = np.sin(np.arange(A.shape[0]))
    res = klp.solve(csr, b, rtol=1e-8)
    ref = kl.cg(A, b, rtol=1e-8)
    assert isinstance(res, kl.SolverResult)
    assert res.converged and res.status is Status.CONVERGED and res.info["ksp_reason"] == "CONVERGED_RTOL"
    assert len(res.residuals) == res.iterations + 1
    assert res.residuals[0] == pytest.approx(np.linalg.norm(b))
    assert res.tol == pytest.approx(1e-8 * np.linalg.norm(b))
    # the unpreconditioned 2-norm is monitored and tested: the same rule as krylearn's solvers
    assert res.residual_norm == "2-norm of b - Ax"
    assert np.linalg.norm(b - csr @ res.x) <= 1.01 * res.tol
    assert abs(res.iterations - ref.iterations) <= 1
    np.testing.assert_allclose(res.x, ref.x, atol=1e-6 * np.abs(ref.x).max())


def test_preconditioned_solve_tests_unpreconditioned_norm(poisson2d):
    _, csr = poisson2d
    b = np.ones(csr.shape[0])
    res = klp.solve(csr, b, pc="sor", rtol=1e-9)
    assert res.converged and res.residual_norm == "2-norm of b - Ax"
    assert np.linalg.norm(b - csr @ res.x) <= 1.01 * res.tol
    res = klp.solve(csr, b, pc="sor", rtol=1e-9, norm="preconditioned")
    assert "preconditioned" in res.residual_norm


def test_gmres_gets_unpreconditioned_norm_by_right_preconditioning(rng):
    import scipy.sparse as sp

    n = 200
    A = sp.diags([-1.3, 2.5, -0.7], [-1, 0, 1], shape=(n, n), format="csr")
    b = rng.standard_normal(n)
    res = klp.solve(A, b, ksp_type="gmres", pc="jacobi", rtol=1e-10)
    assert res.converged and res.residual_norm == "2-norm of b - Ax"
    assert res.info["pc_side"] == PETSc.PC.Side.RIGHT
    np.testing.assert_allclose(A @ res.x, b, atol=1e-8 * np.linalg.norm(b))


def test_maxiter_callback_and_indefinite(poisson2d):
    _, csr = poisson2d
    b = np.ones(csr.shape[0])
    res = klp.solve(csr, b, rtol=1e-12, maxiter=5)
    assert res.status is Status.MAX_ITERATIONS and not res.converged and res.iterations == 5
    seen = []

    def stop(state):
        seen.append(state.residual_norm)
        return state.iteration >= 3

    res = klp.solve(csr, b, rtol=1e-12, callback=stop)
    assert res.status is Status.USER_STOP and res.iterations == 3
    assert seen[0] == pytest.approx(np.linalg.norm(b))
    # x is built on demand inside the callback
    xs = []
    klp.solve(csr, b, rtol=1e-12, callback=lambda s: xs.append(s.x) or s.iteration >= 1)
    assert xs[-1].shape == b.shape
    indefinite = csr - 2e3 * kl.sparse_eye(csr.shape[0]) if hasattr(kl, "sparse_eye") else \
        csr - 6.0 * __import__("scipy.sparse").sparse.eye(csr.shape[0]) * csr.diagonal().max() / 4
    res = klp.solve(indefinite, b, rtol=1e-10)
    assert res.status is Status.INDEFINITE and not res.converged


def test_options_apply_to_one_solve_only(poisson2d):
    _, csr = poisson2d
    b = np.ones(csr.shape[0])
    r1 = klp.solve(csr, b, pc="sor", rtol=1e-8, options={"pc_sor_omega": 1.7})
    r2 = klp.solve(csr, b, pc="sor", rtol=1e-8)
    r3 = klp.solve(csr, b, pc="sor", rtol=1e-8, options={"-pc_sor_omega": 1.0})
    assert r1.iterations != r2.iterations and r2.iterations == r3.iterations
    assert not [k for k in PETSc.Options().getAll() if k.startswith("krylearn")]
    # options override the arguments: ksp_type from the options database
    r4 = klp.solve(csr, b, rtol=1e-8, options={"ksp_type": "minres"})
    assert r4.method.startswith("petsc-minres") and r4.converged


def test_x0_and_vec_inputs(poisson2d):
    _, csr = poisson2d
    b = np.ones(csr.shape[0])
    ref = klp.solve(csr, b, rtol=1e-10)
    res = klp.solve(csr, b, x0=ref.x, rtol=1e-10)
    assert res.iterations == 0 and res.converged
    mat = klp.as_aij(csr)
    bv = mat.createVecLeft()
    bv.set(1.0)
    res = klp.solve(mat, bv, rtol=1e-10)
    np.testing.assert_allclose(res.x, ref.x)


def test_bad_input_raises_before_solving(poisson2d):
    _, csr = poisson2d
    n = csr.shape[0]
    with pytest.raises(ValueError, match="length"):
        klp.solve(csr, np.ones(n + 1))
    with pytest.raises(ValueError, match="NaN"):
        klp.solve(csr, np.full(n, np.nan))
    with pytest.raises(ValueError, match="rtol"):
        klp.solve(csr, np.ones(n), rtol=-1.0)
    with pytest.raises(ValueError, match="maxiter"):
        klp.solve(csr, np.ones(n), maxiter=-3)
    with pytest.raises(ValueError, match="norm"):
        klp.solve(csr, np.ones(n), norm="energy")


def test_status_mapping():
    R = PETSc.KSP.ConvergedReason
    assert klp.status_from_reason(R.CONVERGED_ATOL) is Status.CONVERGED
    assert klp.status_from_reason(R.DIVERGED_MAX_IT) is Status.MAX_ITERATIONS
    assert klp.status_from_reason(R.DIVERGED_NANORINF) is Status.NOT_FINITE
    assert klp.status_from_reason(R.DIVERGED_INDEFINITE_PC) is Status.INDEFINITE
    assert klp.status_from_reason(R.DIVERGED_BREAKDOWN) is Status.BREAKDOWN
    assert klp.reason_name(R.DIVERGED_DTOL) == "DIVERGED_DTOL"


def test_options_prefix_and_restore(poisson2d):
    """With ``options_prefix=""`` the global (command-line) options apply; per-solve options are
    restored to their earlier values afterwards."""
    _, csr = poisson2d
    b = np.ones(csr.shape[0])
    db = PETSc.Options()
    db.setValue("pc_sor_omega", 1.7)
    try:
        r_global = klp.solve(csr, b, pc="sor", rtol=1e-8, options_prefix="")
        r_private = klp.solve(csr, b, pc="sor", rtol=1e-8)
        r_17 = klp.solve(csr, b, pc="sor", rtol=1e-8, options={"pc_sor_omega": 1.7})
        r_10 = klp.solve(csr, b, pc="sor", rtol=1e-8, options_prefix="", options={"pc_sor_omega": 1.0})
        assert r_global.iterations == r_17.iterations != r_private.iterations == r_10.iterations
        assert db.getReal("pc_sor_omega") == 1.7
    finally:
        db.delValue("pc_sor_omega")


def test_several_right_hand_sides_share_one_setup(poisson2d):
    A, csr = poisson2d
    rng = np.random.default_rng(0)
    B = rng.standard_normal((A.shape[0], 3))
    B[:, 1] *= 1e3
    res = klp.solve(csr, B, pc="icc", rtol=1e-8)
    assert res.converged and res.x.shape == B.shape
    assert len(res.info["statuses"]) == 3 and res.residuals.shape[1] == 3
    assert all(r == "CONVERGED_RTOL" for r in res.info["ksp_reasons"])
    for j in range(3):
        one = klp.solve(csr, B[:, j], pc="icc", rtol=1e-8)
        assert res.info["iterations"][j] == one.iterations
        assert np.linalg.norm(B[:, j] - csr @ res.x[:, j]) <= 1.01e-8 * np.linalg.norm(B[:, j])
    X0 = rng.standard_normal(B.shape)
    warm = klp.solve(csr, B, X0, pc="icc", rtol=1e-8)
    assert warm.converged
    with pytest.raises(ValueError, match="x0"):
        klp.solve(csr, B, X0[:, :2], rtol=1e-8)

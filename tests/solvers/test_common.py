import numpy as np

import krylearn as kl
from krylearn.solvers._common import Monitor, TrueResidualCheck


def test_true_residual_check_confirms_restarts_and_gives_up():
    A = kl.pde.poisson((6, 6)).tocsr()
    x_star = np.random.default_rng(0).standard_normal(A.shape[0])
    b = A @ x_star
    tol = 1e-8 * np.linalg.norm(b)
    mon = Monitor("test", np.linalg.norm(b), tol)
    check = TrueResidualCheck(lambda v: A @ v, b, mon, limit=2)
    r, norm, verdict = check(x_star)
    assert verdict is kl.Status.CONVERGED and norm <= tol and "restarts" not in mon.info
    np.testing.assert_allclose(r, b - A @ x_star)
    x_off = x_star + 1e-3
    for misses in (1, 2):       # misses up to the limit: restart from the returned true residual
        r, norm, verdict = check(x_off)
        assert verdict is None and mon.info["restarts"] == misses
        np.testing.assert_allclose(r, b - A @ x_off)
        assert norm == np.linalg.norm(r)
    assert check(x_off)[2] is kl.Status.STAGNATION and mon.info["restarts"] == 3


def test_solvers_confirm_with_the_true_residual():
    """Every solver that stops on a recursive residual reports a final residual that is the true one."""
    A = kl.pde.poisson((24, 24))
    b = np.random.default_rng(1).standard_normal(A.shape[0])
    for solve in (kl.cg, kl.fcg, kl.minres, kl.bicgstab):
        res = solve(A, b, rtol=1e-10)
        assert res.converged, solve
        true = np.linalg.norm(b - A.matvec(res.x))
        assert true <= 1e-10 * np.linalg.norm(b)
        np.testing.assert_allclose(res.residuals[-1], true, rtol=1e-6)

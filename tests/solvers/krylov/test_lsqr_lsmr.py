"""kl.lsqr and kl.lsmr against SciPy's implementations and dense least squares."""

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import krylearn as kl

METHODS = {"lsqr": (kl.lsqr if hasattr(kl, "lsqr") else None, spla.lsqr),
           "lsmr": (kl.lsmr if hasattr(kl, "lsmr") else None, spla.lsmr)}


def _problem(m, n, seed=0, density=None):
    rng = np.random.default_rng(seed)
    if density is None:
        A = rng.standard_normal((m, n)) @ np.diag(np.logspace(0, 2, n))
    else:
        A = sp.random(m, n, density=density, random_state=seed, format="csr") + sp.eye(m, n, format="csr")
    return A, rng.standard_normal(m)


@pytest.mark.parametrize("name", list(METHODS))
@pytest.mark.parametrize("shape", [(120, 30), (30, 30), (40, 90)])
def test_least_squares_solution(name, shape):
    A, b = _problem(*shape)
    ours = getattr(kl, name)
    res = ours(A, b, rtol=1e-12, maxiter=2000)
    assert res.converged, res
    x_ref = np.linalg.lstsq(A, b, rcond=None)[0]
    if shape[0] >= shape[1]:   # full column rank: the unique least-squares solution
        np.testing.assert_allclose(res.x, x_ref, rtol=1e-6, atol=1e-9 * np.abs(x_ref).max())
    else:                      # underdetermined, x0 = 0: the minimum-norm solution (x stays in range(Aᵀ))
        np.testing.assert_allclose(res.x, x_ref, rtol=1e-6, atol=1e-9 * np.abs(x_ref).max())
    r = b - A @ res.x
    assert res.residuals[-1] == pytest.approx(np.linalg.norm(r), rel=1e-10)
    assert res.info["least_squares"] == (shape[0] > shape[1])


@pytest.mark.parametrize("name", list(METHODS))
@pytest.mark.parametrize("damp", [0.0, 3.0])
def test_iterates_match_scipy(name, damp):
    """After the same number of steps (SciPy's own tests disabled), the iterates agree with SciPy's."""
    A, b = _problem(200, 50, seed=3, density=0.05)
    ours, theirs = getattr(kl, name), METHODS[name][1]
    for k in (5, 17, 40):
        res = ours(A, b, rtol=0.0, maxiter=k, damp=damp)
        if name == "lsqr":
            x_ref = theirs(A, b, damp=damp, atol=0, btol=0, conlim=0, iter_lim=k)[0]
        else:
            x_ref = theirs(A, b, damp=damp, atol=0, btol=0, conlim=0, maxiter=k)[0]
        assert res.iterations == k
        np.testing.assert_allclose(res.x, x_ref, rtol=1e-8, atol=1e-10 * np.abs(x_ref).max())


@pytest.mark.parametrize("name", list(METHODS))
def test_iteration_counts_close_to_scipy(name):
    A, b = _problem(400, 120, seed=4, density=0.03)
    ours, theirs = getattr(kl, name), METHODS[name][1]
    res = ours(A, b, rtol=1e-8)
    out = theirs(A, b, atol=1e-8, btol=1e-8, conlim=0)
    its = out[2]
    assert res.converged
    assert abs(res.iterations - its) <= max(2, 0.05 * its), (res.iterations, its)


@pytest.mark.parametrize("name", list(METHODS))
def test_consistent_square_system(name):
    A = kl.pde.poisson((12, 12))
    b = np.ones(A.shape[0])
    res = getattr(kl, name)(A, b, rtol=1e-10)
    assert res.converged and not res.info["least_squares"]
    assert np.linalg.norm(b - A @ res.x) <= 1e-10 * np.linalg.norm(b) * 1.0001


@pytest.mark.parametrize("name", list(METHODS))
def test_lsmr_normal_residual_monotone_and_bad_input(name):
    A, b = _problem(150, 40, seed=6)
    res = getattr(kl, name)(A, b, rtol=1e-10)
    nr = np.asarray(res.info["normal_residuals"])
    if name == "lsmr":
        assert np.all(np.diff(nr) <= 1e-9 * nr[0])
    with pytest.raises(ValueError):
        getattr(kl, name)(A, b[:-1])
    with pytest.raises(ValueError):
        getattr(kl, name)(A, b, damp=-1.0)
    bad = b.copy()
    bad[0] = np.nan
    with pytest.raises(ValueError):
        getattr(kl, name)(A, bad)
    zero = getattr(kl, name)(A, np.zeros(150))
    assert zero.converged and not np.any(zero.x)


@pytest.mark.parametrize("name", list(METHODS))
@pytest.mark.parametrize("scale", [1e-170, 1e160])
def test_scale(name, scale):
    A, b = _problem(80, 20, seed=7)
    x_ref = np.linalg.lstsq(A, b, rcond=None)[0]
    res = getattr(kl, name)(A, scale * b, rtol=1e-12, maxiter=500)
    assert res.converged
    np.testing.assert_allclose(res.x / scale, x_ref, rtol=1e-6)


@pytest.mark.parametrize("name", list(METHODS))
@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_fused_sparse_path_matches_the_generic_operator(name, fmt):
    """Sparse float64 input takes the fused Golub–Kahan kernels (the transpose built after 8 steps);
    the same matrix behind a plain callable operator takes the generic path: same iterates."""
    A, b = _problem(300, 80, seed=5, density=0.04)
    A = A.asformat(fmt)
    generic = kl.LinearOperator(A.shape, matvec=lambda v: A @ v, rmatvec=lambda u: A.T @ u, dtype=np.float64)
    ours = getattr(kl, name)
    for k in (3, 30):
        fused, plain = ours(A, b, rtol=0.0, maxiter=k), ours(generic, b, rtol=0.0, maxiter=k)
        np.testing.assert_allclose(fused.x, plain.x, rtol=1e-10, atol=1e-12 * np.abs(plain.x).max())
        np.testing.assert_allclose(fused.residuals, plain.residuals, rtol=1e-10)

"""kl.lstsq: every method against numpy.linalg.lstsq, every input kind, bad input, seeds."""

import importlib

import numpy as np
import pytest
import scipy.sparse as sp

import krylearn as kl
from krylearn.solvers.sketching.lstsq import linf_sketch_size, lstsq
from krylearn.solvers.sketching.sketches import SparseSign

ITERATIVE = ["sketch_precondition", "iterative_sketching", "fossils"]


def _problem(n=1500, d=15, kappa=1e3, seed=0, noise=1e-2):
    rng = np.random.default_rng(seed)
    U = np.linalg.qr(rng.standard_normal((n, d)))[0]
    V = np.linalg.qr(rng.standard_normal((d, d)))[0]
    A = (U * np.logspace(0, -np.log10(kappa), d)) @ V.T
    b = A @ rng.standard_normal(d) + noise * rng.standard_normal(n)
    return A, b


def _as(kind, A):
    if kind == "dense":
        return A
    if kind == "csr":
        return sp.csr_matrix(A)
    return kl.LinearOperator(A.shape, matvec=lambda v: A @ v, rmatvec=lambda v: A.T @ v,
                             matmat=lambda X: A @ X)


def test_reserved_name_resolves():
    assert kl.lstsq is lstsq
    # note: ``kl.solvers.lstsq`` is the *module* once it has been imported (Python sets the
    # submodule attribute on the package, shadowing the lazy name); the top-level name is the function.


@pytest.mark.parametrize("kind", ["dense", "csr", "operator"])
@pytest.mark.parametrize("method", ITERATIVE)
def test_iterative_methods_match_numpy(method, kind):
    A, b = _problem()
    x_np = np.linalg.lstsq(A, b, rcond=None)[0]
    res = kl.lstsq(_as(kind, A), b, method=method, seed=0, rtol=1e-12)
    assert res.converged, res
    assert res.method == method
    assert len(res.residuals) == res.iterations + 1
    np.testing.assert_allclose(res.x, x_np, rtol=0, atol=1e-8 * np.linalg.norm(x_np))
    r = b - A @ res.x
    assert abs(res.residuals[-1] - np.linalg.norm(r)) < 1e-10 * np.linalg.norm(b)
    # the documented stopping rule, checked independently: ‖Pᵀ Aᵀ r‖ = its last normal residual
    assert res.info["normal_residuals"][-1] <= max(1e-12 * np.linalg.norm(A @ res.x), res.info["floor"])


@pytest.mark.parametrize("sketch", ["gaussian", "srht", "srtt", "countsketch", "sparse_sign", "leverage"])
def test_every_sketch_preconditions(sketch):
    A, b = _problem(n=1200, d=10)
    x_np = np.linalg.lstsq(A, b, rcond=None)[0]
    m = 200 if sketch == "countsketch" else None      # CountSketch needs ~d² rows
    res = kl.lstsq(A, b, sketch=sketch, sketch_size=m, seed=1)
    assert res.converged and res.info["sketch"] == sketch
    np.testing.assert_allclose(res.x, x_np, atol=1e-8 * np.linalg.norm(x_np))


@pytest.mark.parametrize("kind", ["dense", "csr", "operator"])
def test_sketch_and_solve_residual_guarantee(kind):
    A, b = _problem(noise=1.0)
    x_np = np.linalg.lstsq(A, b, rcond=None)[0]
    r_opt = np.linalg.norm(b - A @ x_np)
    res = kl.lstsq(_as(kind, A), b, method="sketch_and_solve", seed=0)
    m, d = res.info["sketch_size"], A.shape[1]
    # ‖r‖ ≤ (1 + ε)‖r*‖ with ε ≈ d/m for an embedding (E‖r‖² = (1 + d/(m−d−1))‖r*‖² for Gaussian): 4x safety
    assert np.linalg.norm(b - A @ res.x) <= (1 + 4 * d / m) * r_opt
    assert res.converged and res.iterations == 0


def test_linf_mode():
    n, d, eps, delta = 4096, 2, 1.5, 0.01
    m = linf_sketch_size(n, d, eps, delta)
    assert m == int(np.ceil(d * np.log(n / delta) ** 3 / eps ** 2)) and m < n
    assert linf_sketch_size(1000, 50, 0.5, 0.01) == 1000        # capped at n
    rng = np.random.default_rng(0)
    A = rng.standard_normal((n, d))
    b = A @ rng.standard_normal(d) + rng.standard_normal(n)
    xs = np.linalg.lstsq(A, b, rcond=None)[0]
    bound = eps / np.sqrt(d) * np.linalg.norm(A @ xs - b) / np.linalg.svd(A, compute_uv=False).min()
    res = kl.lstsq(A, b, method="linf", eps=eps, delta=delta, seed=3)
    assert res.info["sketch"] == "srht" and res.info["sketch_size"] == m
    assert np.abs(res.x - xs).max() <= bound      # measured property (the proof is disputed)
    with pytest.raises(ValueError, match="SRHT"):
        kl.lstsq(A, b, method="linf", sketch="gaussian")


@pytest.mark.parametrize("method", ITERATIVE + ["sketch_and_solve"])
def test_rank_deficient_gives_min_norm_solution(method):
    rng = np.random.default_rng(2)
    n, d, k = 1000, 20, 8
    A = rng.standard_normal((n, k)) @ rng.standard_normal((k, d))
    b = A @ rng.standard_normal(d)            # consistent, so sketch-and-solve is exact too
    x_min = np.linalg.pinv(A) @ b
    res = kl.lstsq(A, b, method=method, seed=0)
    assert res.converged and res.info["rank"] == k
    np.testing.assert_allclose(res.x, x_min, atol=1e-7 * np.linalg.norm(x_min))


def test_zero_column_and_zero_rhs():
    A, b = _problem(n=500, d=6)
    A[:, 2] = 0.0
    res = kl.lstsq(A, b, seed=0)
    np.testing.assert_allclose(res.x, np.linalg.pinv(A) @ b, atol=1e-8)
    res0 = kl.lstsq(A, np.zeros(500))
    assert res0.converged and not np.any(res0.x)


def test_ill_conditioned_stable_variant():
    A, b = _problem(n=3000, d=30, kappa=1e10, noise=1e-8, seed=4)
    x_ref = np.linalg.lstsq(A, b, rcond=1e-15)[0]
    err_lapack = 1e-16 * 1e10   # forward-stable level κu
    res = kl.lstsq(A, b, method="fossils", seed=0)
    assert res.converged
    assert np.linalg.norm(res.x - x_ref) / np.linalg.norm(x_ref) < 100 * err_lapack
    # backward error (Karlson–Waldén) at the level of a backward-stable solver
    r = b - A @ res.x
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    xn = np.linalg.norm(res.x)
    be = np.linalg.norm((Vt @ (A.T @ r)) / np.sqrt(s ** 2 + (np.linalg.norm(r) / xn) ** 2)) / xn / s[0]
    assert be < 1e-13


def test_seed_reproducibility():
    A, b = _problem()
    for method in ITERATIVE + ["sketch_and_solve"]:
        x1 = kl.lstsq(A, b, method=method, seed=5).x
        x2 = kl.lstsq(A, b, method=method, seed=5).x
        np.testing.assert_array_equal(x1, x2)
    x3 = kl.lstsq(A, b, method="sketch_and_solve", seed=6).x
    assert not np.array_equal(x3, kl.lstsq(A, b, method="sketch_and_solve", seed=5).x)


def test_sketch_instance_and_options():
    A, b = _problem(n=800, d=8)
    S = SparseSign(64, 800, seed=0, zeta=4)
    res = kl.lstsq(A, b, sketch=S)
    assert res.converged and res.info["sketch_size"] == 64
    res2 = kl.lstsq(A, b, method="iterative_sketching", damping=0.5, momentum=0.0, seed=0, maxiter=500)
    assert res2.converged and res2.info["momentum"] == 0.0


def test_callback_and_maxiter():
    A, b = _problem()
    seen = []
    res = kl.lstsq(A, b, method="iterative_sketching", seed=0,
                   callback=lambda st: seen.append(st.residual_norm) or st.iteration >= 2)
    assert res.status is kl.Status.USER_STOP and res.iterations == 2 and len(seen) == 3
    res = kl.lstsq(A, b, method="iterative_sketching", seed=0, maxiter=1, sketch_size=16)
    assert res.status is kl.Status.MAX_ITERATIONS and not res.converged
    res = kl.lstsq(A, b, method="sketch_precondition", seed=0, maxiter=1)
    assert res.status is kl.Status.MAX_ITERATIONS


def test_large_sparse_not_densified():
    """A 50000 x 100 CSR matrix: the solve stays sparse (O(nnz) kernels, no dense copy)."""
    rng = np.random.default_rng(0)
    n, d = 50_000, 100
    A = sp.random(n, d, density=4 / d, random_state=1, format="csr") + sp.eye(n, d, format="csr")
    b = rng.standard_normal(n)
    res = kl.lstsq(A, b, method="iterative_sketching", seed=0, rtol=1e-10)
    assert res.converged
    g = A.T @ (b - A @ res.x)
    assert np.linalg.norm(g) < 1e-7 * np.linalg.norm(A.T @ b)


@pytest.mark.parametrize("args,match", [
    (dict(A=np.ones((5, 10)), b=np.ones(5)), "tall"),
    (dict(A=np.ones((20, 3)), b=np.ones(19)), "b has shape"),
    (dict(A=np.full((20, 3), np.nan), b=np.ones(20)), "NaN or Inf"),
    (dict(A=np.ones((20, 3)), b=np.r_[np.inf, np.ones(19)]), "NaN or Inf"),
    (dict(A=sp.csr_matrix(np.r_[[[np.inf, 1.0]], np.ones((19, 2))]), b=np.ones(20)), "NaN or Inf"),
    (dict(A=np.ones((20, 3)), b=np.ones(20), sketch_size=8.5), "integer"),
    (dict(A=np.ones((20, 3)), b=np.ones(20), sketch_size=2), "at least"),
    (dict(A=np.ones((20, 3)), b=np.ones(20), sketch_size=21), "exceeds"),
    (dict(A=np.ones((20, 3)), b=np.ones(20), method="qr"), "unknown lstsq method"),
    (dict(A=np.ones((20, 3)), b=np.ones(20), sketch="fft"), "unknown sketch"),
    (dict(A=np.ones((20, 3)), b=np.ones(20), rtol=-1.0), "rtol"),
    (dict(A=np.ones((20, 3)), b=np.ones(20), maxiter=2.5), "maxiter"),
    (dict(A=np.ones((20, 3)), b=np.ones(20), zeta=1.5), "zeta"),
    (dict(A=np.ones((20, 3)) * 1j, b=np.ones(20)), "complex"),
    (dict(A=np.ones((20, 3)), b=np.ones(20), method="linf", eps=-1.0), "eps"),
])
def test_bad_input_raises(args, match):
    A, b = args.pop("A"), args.pop("b")
    with pytest.raises(ValueError, match=match):
        kl.lstsq(A, b, **args)


def test_fused_kernels_serial_equals_parallel():
    """One-thread twins of the fused passes: identical to the parallel kernel with one thread."""
    lsm = importlib.import_module("krylearn.solvers.sketching._fused")
    rng = np.random.default_rng(0)
    A = rng.standard_normal((500, 7))
    b, x = rng.standard_normal(500), rng.standard_normal(7)
    r1, r2 = np.empty(500), np.empty(500)
    np.testing.assert_array_equal(lsm._dense_fused_1(A, b, x, r1, 0), lsm._dense_fused(A, b, x, r2, 1, 0))
    np.testing.assert_array_equal(r1, r2)
    np.testing.assert_allclose(r1, b - A @ x, atol=1e-12)
    C = sp.csr_matrix(A)
    ip, ix = C.indptr.astype(np.int64), C.indices.astype(np.int64)
    g1 = lsm._csr_resid_grad(ip, ix, C.data, b, x, r1, 7, 1, 0)
    g2 = lsm._csr_resid_grad(ip, ix, C.data, b, x, r2, 7, 2, 0)
    np.testing.assert_allclose(g1, g2, atol=1e-10)
    np.testing.assert_allclose(g1, A.T @ (b - A @ x), atol=1e-10)


def test_sketch_precondition_ill_conditioned_few_cycles():
    """κ(A) = 1e10: LSQR cycles stop at the trusted reduction η = 8uκ(SA) and restart from the
    true residual, so a handful of cycles reach the forward error of a forward-stable solver (the
    level κu, as in the stable-variant test; the benchmark compares with LAPACK against an
    extended-precision reference)."""
    A, b = _problem(n=3000, d=30, kappa=1e10, noise=1e-6, seed=4)
    x_ref = np.linalg.lstsq(A, b, rcond=1e-15)[0]
    res = kl.lstsq(A, b, method="sketch_precondition", seed=0)
    assert res.converged, res
    assert 1 <= res.info["cycles"] <= 4
    assert res.info["normal_residuals"][-1] <= res.info["floor"]
    err = np.linalg.norm(res.x - x_ref) / np.linalg.norm(x_ref)
    assert err < 100 * 1e-16 * 1e10


@pytest.mark.parametrize("method", ["sketch_precondition", "iterative_sketching", "fossils", "sketch_and_solve"])
def test_many_right_hand_sides_share_one_sketch(method):
    rng = np.random.default_rng(3)
    A = rng.standard_normal((3000, 30))
    B = rng.standard_normal((3000, 4))
    B[:, 2] = A @ rng.standard_normal(30)  # a consistent column
    res = kl.lstsq(A, B, method=method, seed=1)
    assert res.x.shape == (30, 4) and res.info["shared_sketch"] and len(res.info["statuses"]) == 4
    X = np.linalg.lstsq(A, B, rcond=None)[0]
    for j in range(4):
        one = kl.lstsq(A, B[:, j], method=method, seed=1)
        assert np.allclose(res.x[:, j], one.x, rtol=1e-8, atol=1e-10)  # the same sketch: the same answer
        if method != "sketch_and_solve":
            assert res.converged and np.allclose(res.x[:, j], X[:, j], rtol=1e-7, atol=1e-9)
    tiny = B.copy()
    tiny[:, 1] *= 1e-170  # outside the safe range: solved column by column, rescaled
    res2 = kl.lstsq(A, tiny, method=method, seed=1)
    assert "shared_sketch" not in res2.info and np.all(np.isfinite(res2.x))

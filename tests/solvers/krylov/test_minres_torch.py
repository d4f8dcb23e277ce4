"""kl.minres on torch tensors: the iteration runs in torch on the tensor's device (issue 18)."""

import numpy as np
import pytest
import scipy.sparse as sp

import krylearn as kl

torch = pytest.importorskip("torch")

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _indefinite(n=160, seed=0):
    rng = np.random.default_rng(seed)
    Q = np.linalg.qr(rng.standard_normal((n, n)))[0]
    ev = np.concatenate([-np.linspace(1.0, 5.0, n // 4), np.linspace(0.5, 10.0, n - n // 4)])
    return (Q * ev) @ Q.T, rng.standard_normal(n)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("form", ["dense", "operator", "callable"])
def test_tensor_in_tensor_out_matches_numpy_minres(device, form):
    A, b = _indefinite()
    T = torch.tensor(A, device=device)
    op = {"dense": T, "operator": kl.aslinearoperator(T), "callable": (lambda v: T @ v)}[form]
    res = kl.minres(op, torch.tensor(b, device=device), rtol=1e-10)
    assert res.converged and res.method == "minres-torch"
    assert isinstance(res.x, torch.Tensor) and res.x.device.type == device and res.x.dtype == torch.float64
    assert "host_products" not in res.info and "host_solve" not in res.info
    ref = kl.minres(A, b, rtol=1e-10)
    assert abs(res.iterations - ref.iterations) <= 1
    x = res.x.cpu().numpy()
    assert np.linalg.norm(b - A @ x) <= 1e-10 * np.linalg.norm(b) * (1 + 1e-6)
    np.testing.assert_allclose(x, ref.x, rtol=1e-7, atol=1e-9 * np.abs(ref.x).max())
    assert res.residuals[-1] == pytest.approx(np.linalg.norm(b - A @ x), rel=1e-6, abs=1e-14)


def test_preconditioned_and_from_x0():
    A, b = _indefinite(seed=1)
    D = np.abs(np.diag(A)) + 1.0
    M = torch.diag(torch.tensor(1.0 / D))
    res = kl.minres(torch.tensor(A), torch.tensor(b), rtol=1e-10, M=M)
    ref = kl.minres(A, b, rtol=1e-10, M=np.diag(1.0 / D))
    assert res.converged and abs(res.iterations - ref.iterations) <= 1
    x0 = torch.tensor(ref.x) + 1e-3
    warm = kl.minres(torch.tensor(A), torch.tensor(b), x0=x0, rtol=1e-10)
    assert warm.converged and warm.iterations < res.iterations
    assert np.linalg.norm(b - A @ warm.x.numpy()) <= 1e-10 * np.linalg.norm(b) * (1 + 1e-6)


def test_float32_stays_float32():
    A, b = _indefinite(seed=2)
    res = kl.minres(torch.tensor(A, dtype=torch.float32), torch.tensor(b, dtype=torch.float32), rtol=1e-5)
    assert res.converged and res.x.dtype == torch.float32
    assert np.linalg.norm(b - A @ res.x.double().numpy()) <= 2e-5 * np.linalg.norm(b)


def test_singular_inconsistent_system_reports_least_squares_as_numpy_minres():
    L = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(50, 50)).toarray()
    L[0, 0] = L[-1, -1] = 1.0            # all-Neumann: singular
    b = np.random.default_rng(3).standard_normal(50)
    res = kl.minres(torch.tensor(L), torch.tensor(b), rtol=1e-8, maxiter=500)
    ref = kl.minres(L, b, rtol=1e-8, maxiter=500)
    assert res.status == ref.status == kl.Status.BREAKDOWN and res.info["least_squares"]
    lsq = np.linalg.lstsq(L, b, rcond=None)[0]
    assert np.linalg.norm(b - L @ res.x.numpy()) == pytest.approx(np.linalg.norm(b - L @ lsq), rel=1e-6)


def test_zero_rhs_callback_and_bad_input():
    A, b = _indefinite(seed=4)
    T = torch.tensor(A)
    zero = kl.minres(T, torch.zeros(A.shape[0], dtype=torch.float64))
    assert zero.converged and zero.iterations == 0 and not bool(zero.x.any())
    seen = []
    stop = kl.minres(T, torch.tensor(b), rtol=1e-12, callback=lambda s: seen.append(s.iteration) or s.iteration >= 5)
    assert stop.status == kl.Status.USER_STOP and stop.iterations == 5 and seen[-1] == 5
    bad = torch.tensor(b)
    bad[3] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        kl.minres(T, bad)
    not_pd = -torch.eye(A.shape[0], dtype=torch.float64)
    res = kl.minres(T, torch.tensor(b), M=not_pd)
    assert res.status == kl.Status.INDEFINITE and "positive definite" in res.info["reason"]


def test_options_the_torch_path_declines_take_one_host_copy():
    A, b = _indefinite(seed=5)
    res = kl.minres(torch.tensor(A), torch.tensor(b), rtol=1e-8, shift=0.25)
    assert res.converged and res.info.get("host_solve") and isinstance(res.x, torch.Tensor)
    x = res.x.numpy()
    assert np.linalg.norm(b - (A - 0.25 * np.eye(len(b))) @ x) <= 1e-8 * np.linalg.norm(b) * (1 + 1e-6)

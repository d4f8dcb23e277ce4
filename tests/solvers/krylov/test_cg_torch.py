"""kl.cg on torch tensors: the iteration runs in torch on the tensor's device (issue 18)."""

import numpy as np
import pytest

import krylearn as kl

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore:Sparse:UserWarning")

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _system(shape=(30, 28)):
    mask = kl.pde.obstacles.random_domain(shape, "ellipses_lshapes", seed=3)
    A = kl.pde.poisson(shape, mask=mask)
    C = A.tocsr()
    return A, C


def _csr_tensor(C, device, dtype=torch.float64):
    return torch.sparse_csr_tensor(torch.as_tensor(C.indptr), torch.as_tensor(C.indices),
                                   torch.as_tensor(C.data), size=C.shape).to(device=device, dtype=dtype)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("form", ["sparse", "dense", "operator", "callable"])
def test_tensor_in_tensor_out(device, form):
    A, C = _system()
    T = _csr_tensor(C, device)
    op = {"sparse": T, "dense": T.to_dense(), "operator": kl.aslinearoperator(T),
          "callable": (lambda v: T @ v)}[form]
    b = torch.randn(C.shape[0], dtype=torch.float64, device=device)
    res = kl.cg(op, b, rtol=1e-9)
    assert res.converged and res.method == "cg-torch"
    assert isinstance(res.x, torch.Tensor) and res.x.device == b.device and res.x.dtype == b.dtype
    assert "host_products" not in res.info
    ref = kl.cg(C, b.cpu().numpy(), rtol=1e-9)
    assert abs(res.iterations - ref.iterations) <= 1
    assert np.allclose(res.x.cpu().numpy(), ref.x, rtol=1e-6, atol=1e-9 * np.abs(ref.x).max())


@pytest.mark.parametrize("device", DEVICES)
def test_float32_block_of_right_hand_sides(device):
    A, C = _system()
    T = _csr_tensor(C, device, torch.float32)
    B = torch.randn(C.shape[0], 3, device=device)
    res = kl.cg(T, B, rtol=1e-5)
    assert res.converged and res.x.shape == B.shape and res.x.dtype == torch.float32
    assert res.residuals.shape == (res.iterations + 1, 3) and len(res.info["statuses"]) == 3
    Xn = res.x.cpu().double().numpy()
    Bn = B.cpu().double().numpy()
    assert np.all(np.linalg.norm(Bn - C @ Xn, axis=0) <= 1.5e-5 * np.linalg.norm(Bn, axis=0))
    tight = kl.cg(T, B, rtol=1e-11)
    assert tight.status is kl.Status.STAGNATION and "float32" in tight.info["reason"]


def test_numpy_operators_and_preconditioners_through_the_host():
    A, C = _system()
    b = torch.randn(C.shape[0], dtype=torch.float64)
    M = kl.precond.multigrid(A)
    res = kl.cg(_csr_tensor(C, "cpu"), b, rtol=1e-9, M=M)
    assert res.converged and res.method == "pcg-torch" and res.info["host_products"] >= res.iterations
    res2 = kl.cg(A, b, rtol=1e-9)  # a grid stencil: products on the host, counted
    assert res2.converged and res2.info["host_products"] > 0


def test_fcg_runs_in_torch_with_a_varying_preconditioner():
    A, C = _system()
    T = _csr_tensor(C, "cpu")
    d = torch.as_tensor(C.diagonal())
    calls = []

    def noisy_jacobi(r):  # a different map at every call: plain PCG would lose conjugacy
        calls.append(1)
        return r / d * (1.0 + 0.3 * torch.rand(r.shape, dtype=r.dtype, generator=torch.Generator().manual_seed(len(calls))))

    b = torch.randn(C.shape[0], dtype=torch.float64)
    res = kl.fcg(T, b, rtol=1e-8, M=noisy_jacobi)
    assert res.converged and res.method == "fcg-torch" and isinstance(res.x, torch.Tensor)
    assert np.linalg.norm(b.numpy() - C @ res.x.numpy()) <= 1.01e-8 * np.linalg.norm(b.numpy())
    rng = np.random.default_rng(0)
    ref = kl.fcg(C, b.numpy(), rtol=1e-8, M=lambda r: r / C.diagonal() * (1.0 + 0.3 * rng.random(r.shape)))
    assert res.iterations <= 1.3 * ref.iterations + 5  # the same method as the NumPy FCG(1)
    host = kl.fcg(C, b, rtol=1e-8, truncation=2)  # other truncations: through the host
    assert host.converged and host.info["host_solve"]


@pytest.mark.parametrize("device", DEVICES)
def test_bicgstab_runs_in_torch_on_a_nonsymmetric_system(device):
    rng = np.random.default_rng(4)
    n = 300
    import scipy.sparse as sp

    C = (sp.diags([4.0 + rng.random(n), -1.0 - rng.random(n - 1), -0.5 * np.ones(n - 1)], [0, 1, -1])).tocsr()
    T = _csr_tensor(C, device)
    b = torch.randn(n, dtype=torch.float64, device=device)
    for M in (None, lambda r: r / torch.as_tensor(C.diagonal(), device=device)):
        res = kl.bicgstab(T, b, rtol=1e-10, M=M)
        assert res.converged and res.method == "bicgstab-torch" and res.x.device == b.device
        bn = b.cpu().numpy()
        assert np.linalg.norm(bn - C @ res.x.cpu().numpy()) <= 1.01e-10 * np.linalg.norm(bn)
        ref = kl.bicgstab(C, bn, rtol=1e-10, M=None if M is None else (lambda r: r / C.diagonal()))
        assert abs(res.iterations - ref.iterations) <= 2
    f32 = kl.bicgstab(T.to(torch.float32), b.float(), rtol=1e-5)
    assert f32.converged and f32.x.dtype == torch.float32
    tiny = kl.bicgstab(T, b * 1e-170, rtol=1e-8)
    assert tiny.converged and torch.isfinite(tiny.x).all()
    block = kl.bicgstab(T, torch.stack([b, 2 * b], 1), rtol=1e-8)  # columns: one host copy each
    assert block.converged and block.x.shape == (n, 2)


def test_other_solvers_take_tensors_through_one_host_copy():
    A, C = _system((16, 16))
    b = torch.randn(C.shape[0], dtype=torch.float64)
    res = kl.gmres(C, b, rtol=1e-8)
    assert res.converged and isinstance(res.x, torch.Tensor) and res.info["host_solve"]
    # minres has a torch path: a NumPy operator is applied through counted host copies instead
    res = kl.minres(C, b, rtol=1e-8)
    assert res.converged and res.method == "minres-torch" and res.info["host_products"] > 0


def test_scale_and_bad_input():
    A, C = _system((16, 16))
    T = _csr_tensor(C, "cpu")
    b = torch.randn(C.shape[0], dtype=torch.float64)
    for s in (1e-170, 1e160):
        res = kl.cg(T, b * s, rtol=1e-8)
        assert res.converged and torch.isfinite(res.x).all()
        rel = np.linalg.norm(b.numpy() - C @ (res.x.numpy() / s)) / np.linalg.norm(b.numpy())
        assert rel <= 1e-8
    bad = b.clone()
    bad[2] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        kl.cg(T, bad)
    with pytest.raises(ValueError, match="shape"):
        kl.cg(torch.eye(10, dtype=torch.float64), b)
    neg = -torch.eye(C.shape[0], dtype=torch.float64)
    assert kl.cg(neg, b).status is kl.Status.INDEFINITE

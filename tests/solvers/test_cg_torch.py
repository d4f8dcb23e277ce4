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


def test_other_solvers_take_tensors_through_one_host_copy():
    A, C = _system((16, 16))
    b = torch.randn(C.shape[0], dtype=torch.float64)
    for solver in (kl.minres, kl.gmres, kl.bicgstab, kl.fcg):
        res = solver(C, b, rtol=1e-8)
        assert res.converged and isinstance(res.x, torch.Tensor) and res.info["host_solve"]


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

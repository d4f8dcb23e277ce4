import numpy as np
import pytest

torch = pytest.importorskip("torch")

import krylearn as kl  # noqa: E402
from krylearn.learned.architectures import build_model  # noqa: E402
from krylearn.learned.model import DCDMNet  # noqa: E402
from krylearn.learned.multilevel_net import MultilevelNet  # noqa: E402
from krylearn.learned.train import dcdm_energy_loss, train  # noqa: E402


def _interp_1d(n):
    """Cell-centred linear interpolation from n//2 coarse cells to n fine cells (zero outside)."""
    P = np.zeros((n, n // 2))
    for i in range(n // 2):
        P[2 * i, i] += 0.75
        P[2 * i + 1, i] += 0.75
        if i > 0:
            P[2 * i, i - 1] += 0.25
        if i + 1 < n // 2:
            P[2 * i + 1, i + 1] += 0.25
    return P


def _bpx_dense(n, coarsest):
    """Σ_ℓ 4^ℓ P^ℓ R^ℓ with P = P1⊗P1 and R = Pᵀ/4, as a dense matrix on an n×n grid."""
    B = np.eye(n * n)
    chain, size, level = np.eye(n * n), n, 0
    while size > coarsest:
        P1 = _interp_1d(size)
        P = np.kron(P1, P1)
        chain = chain @ P
        size //= 2
        level += 1
        B += 4.0 ** level * chain @ chain.T / 4.0 ** level
    return B


def _perturbed(net, seed=0, scale=0.05):
    """Give the zero-initialised output convolutions random weights (a "trained" network)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for block in (net.pre, net.post):
            block.out.weight.copy_(scale * torch.randn(block.out.weight.shape, generator=g,
                                                       dtype=block.out.weight.dtype))
    return net


def test_untrained_network_is_bpx():
    n = 16
    net = MultilevelNet(2, coarsest=2).double().eval()
    assert net.levels_for((n, n)) == 3
    r = np.random.default_rng(0).standard_normal(n * n)
    with torch.no_grad():
        q = net(torch.tensor(r).view(1, 1, n, n))[0, 0].numpy().ravel()
    ref = _bpx_dense(n, 2) @ (r / np.sqrt(np.mean(r * r)))
    np.testing.assert_allclose(q, ref, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("dim,shape", [(2, (20, 12)), (2, (17, 9)), (3, (8, 6, 10))])
def test_shapes_homogeneity_and_mask(dim, shape):
    net = _perturbed(MultilevelNet(dim, channels=4)).double().eval()
    mask = torch.tensor(kl.pde.obstacles.random_domain(shape, seed=3)) if dim == 2 else None
    r = torch.randn((2, 1) + shape, dtype=torch.float64)
    with torch.no_grad():
        q = net(r, mask)
        assert q.shape == r.shape and net(r[:, 0], mask).shape == r[:, 0].shape
        np.testing.assert_allclose(net(3.5 * r, mask).numpy(), q.numpy(), rtol=1e-10)   # scale-free
        if mask is not None:
            assert not torch.any(q[:, 0][:, ~mask])
            # values at solid cells are not unknowns: they must not change the output
            r2 = r.clone()
            r2[:, 0][:, ~mask] = 7.0
            np.testing.assert_allclose(net(r2, mask).numpy(), q.numpy(), rtol=1e-12, atol=1e-12)
        # not a linear map once the level blocks are trained (ReLU), unlike plain BPX
        s = torch.randn_like(r)
        lin = net(r + s, mask) - net(r, mask) - net(s, mask)
        assert float(lin.abs().max()) > 1e-8
    with pytest.raises(ValueError, match=r"\(B, 1, \*grid\)"):
        net(torch.zeros((1, 2) + shape, dtype=torch.float64))


def test_levels_follow_the_grid_and_config_round_trip(tmp_path):
    net = MultilevelNet(2)
    assert [net.levels_for((n, n)) for n in (4, 8, 64, 128, 256)] == [0, 1, 4, 5, 6]
    cfg = net.config()
    assert cfg["arch"] == "multilevel"
    clone = build_model(cfg)
    assert isinstance(clone, MultilevelNet) and clone.config() == cfg
    assert isinstance(build_model(DCDMNet(2).config()), DCDMNet)
    with pytest.raises(ValueError, match="architecture"):
        build_model(dict(cfg, arch="transformer"))
    with pytest.raises(ValueError, match="dim"):
        MultilevelNet(4)
    with pytest.raises(ValueError, match="coarsest"):
        MultilevelNet(2, coarsest=1)
    # a weight file of this network loads through the generic loader
    path = tmp_path / "ml.pt"
    torch.save({"state_dict": _perturbed(net).state_dict(), "config": cfg}, path)
    loaded = kl.learned.load_weights(path)
    assert isinstance(loaded, MultilevelNet)
    x = torch.randn(1, 1, 32, 32)
    with torch.no_grad():
        np.testing.assert_allclose(loaded(x).numpy(), net.eval()(x).numpy(), rtol=1e-6)


def test_bpx_skeleton_iterations_grow_slowly_with_the_grid():
    """The untrained network (plain BPX) in DCDM: iterations to 1e-6 grow far slower than CG's."""
    its, cg_its = [], []
    for n in (32, 64):
        mask = kl.pde.obstacles.random_domain((n, n), seed=11)
        A = kl.pde.poisson((n, n), mask=mask)
        b = np.random.default_rng(n).standard_normal(A.shape[0])
        res = kl.learned.dcdm(A, b, MultilevelNet(2).double().eval(), rtol=1e-6, maxiter=100, k=2)
        assert res.converged
        its.append(res.iterations)
        cg_its.append(kl.cg(A, b, rtol=1e-6).iterations)
    assert its[1] <= 1.3 * its[0] and its[1] <= cg_its[1] / 3
    assert cg_its[1] >= 1.6 * cg_its[0]


def test_energy_loss_matches_dense_and_vanishes_for_exact_inverse():
    m = kl.pde.obstacles.random_domain((10, 10), seed=2)
    A = kl.pde.poisson((10, 10), mask=m)
    from krylearn.learned.stencil_torch import TorchStencil
    op = TorchStencil.from_operator(A, dtype=torch.float64)
    Ad = A.todense()
    Ainv = np.linalg.inv(Ad)
    mt = torch.tensor(m)
    rng = np.random.default_rng(0)
    b = torch.tensor(np.stack([A.to_grid(rng.standard_normal(A.shape[0])) for _ in range(3)]))
    energy = torch.tensor([float(bi[mt] @ torch.tensor(Ainv) @ bi[mt]) for bi in b], dtype=torch.float64)

    class Exact(torch.nn.Module):
        def forward(self, r, mask=None):
            x = torch.zeros_like(r)
            x[:, mt] = (torch.tensor(Ainv) @ r[:, mt].T).T
            return x

    assert abs(float(dcdm_energy_loss(Exact(), op, b, energy))) < 1e-12
    net = _perturbed(MultilevelNet(2, channels=4), seed=1).double().eval()
    with torch.no_grad():
        got = float(dcdm_energy_loss(net, op, b, energy, mask=mt.expand(3, 10, 10)))
    ref = []
    for bi in b:
        with torch.no_grad():
            q = net(bi[None], mt)[0][mt].numpy()
        v = bi[mt].numpy()
        x = Ainv @ v
        alpha = (q @ v) / (q @ Ad @ q)
        e = x - alpha * q
        ref.append((e @ Ad @ e) / (x @ Ad @ x))     # relative A-norm error after the line search
    np.testing.assert_allclose(got, np.mean(ref), rtol=1e-9)


def test_ritz_dataset_energy_is_exact():
    from krylearn.learned.data import RitzDataset, lanczos_ritz, poisson_system
    masks = [np.ones((8, 8), bool), kl.pde.obstacles.random_domain((8, 8), seed=5)]
    ritz = [lanczos_ritz(poisson_system(m).tocsr(), 30, progress=False) for m in masks]
    ds = RitzDataset(masks, ritz)
    idx, b = ds.sample(4, np.random.default_rng(0))
    e = ds.energy(idx, b)
    for i, k in enumerate(idx):
        v = b[i][masks[k]].astype(float)
        np.testing.assert_allclose(e[i], v @ np.linalg.solve(poisson_system(masks[k]).todense(), v), rtol=1e-10)


def test_training_multilevel_with_energy_loss(tmp_path):
    from krylearn.learned.data import RitzDataset, lanczos_ritz, poisson_system
    masks = [np.ones((16, 16), bool), kl.pde.obstacles.random_domain((16, 16), seed=1)]
    ds = RitzDataset(masks, [lanczos_ritz(poisson_system(m).tocsr(), 40, progress=False) for m in masks])
    model, hist = train(dim=2, n=16, domains=2, lanczos=40, steps=60, batch=4, lr=3e-3, lr_final=3e-4,
                        progress=False, dataset=ds, threads=1, arch="multilevel", loss="energy",
                        blocks=(1, 1), out=tmp_path / "run", validate_every=30)
    assert isinstance(model, MultilevelNet)
    assert all(0.0 <= h <= 1.0 for h in hist)
    assert np.mean(hist[-10:]) < 0.85 * np.mean(hist[:5])       # better than the BPX start
    import json
    vals = json.loads((tmp_path / "run" / "history.json").read_text())["validation"]
    assert [v["step"] for v in vals] == [0, 30, 60]              # the untrained start is validated too
    blob = torch.load(tmp_path / "run" / "model.pt", weights_only=False)
    assert blob["recipe"]["arch"] == "multilevel" and blob["recipe"]["loss"] == "energy"
    with pytest.raises(ValueError, match="loss"):
        train(dim=2, n=16, steps=1, dataset=ds, progress=False, loss="l1")
    with pytest.raises(ValueError, match="arch"):
        train(dim=2, n=16, steps=1, dataset=ds, progress=False, arch="mlp")


@pytest.mark.parametrize("arch", ["multilevel", "unet"])
@pytest.mark.parametrize("dim,n", [(2, 24), (3, 12)])
def test_onednn_inference_path_matches_pytorch_dispatch(arch, dim, n):
    """Inference (no autograd, CPU float32) calls oneDNN directly; it must agree with PyTorch's own
    convolution dispatch (used with autograd on) to float32 rounding, and leave float64 alone."""
    torch.manual_seed(0)
    net = build_model({"arch": arch, "dim": dim} if arch == "multilevel" else {"dim": dim, "bias": False})
    if arch == "multilevel":
        _perturbed(net, scale=0.3)
    net.eval()
    from krylearn.learned.model import _use_onednn
    x = torch.randn((2, 1) + (n,) * dim)
    with torch.no_grad():
        assert _use_onednn(x) == torch.backends.mkldnn.is_available()
        fast = net(x)
    with torch.enable_grad():
        assert not _use_onednn(x)
        ref = net(x).detach()
    np.testing.assert_allclose(fast.numpy(), ref.numpy(), rtol=1e-4, atol=1e-4 * float(ref.abs().max()))
    with torch.no_grad():
        assert not _use_onednn(x.double())

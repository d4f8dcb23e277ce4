import numpy as np
import pytest

torch = pytest.importorskip("torch")

import krylearn as kl  # noqa: E402
from krylearn.learned import DCDMNet  # noqa: E402
from krylearn.learned.data import RitzDataset, lanczos_ritz  # noqa: E402
from krylearn.learned.train import dcdm_loss, train  # noqa: E402


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("dim,shape", [(2, (16, 12)), (2, (15, 9)), (3, (8, 6, 10))])
def test_model_shapes_mask_and_scale_invariance(dim, shape, bias):
    torch.manual_seed(0)
    net = DCDMNet(dim, bias=bias).eval()
    r = torch.randn(2, 1, *shape)
    mask = torch.rand(2, 1, *shape) > 0.2
    with torch.no_grad():
        q = net(r, mask)
        q2 = net(7.5 * r, mask)
        q3 = net(r[:, 0], mask[:, 0])
    assert q.shape == r.shape and q.dtype == torch.float32
    assert torch.all(q[~mask] == 0)                   # no output in solid cells
    torch.testing.assert_close(q, q2, rtol=1e-4, atol=1e-5)   # invariant to the scale of r
    torch.testing.assert_close(q3, q[:, 0])
    if not bias:   # bias-free: positively homogeneous, zero input gives zero output
        with torch.no_grad():
            assert not torch.any(net(torch.zeros(1, 1, *shape)))


def test_model_fully_convolutional_and_param_count():
    for bias in (True, False):
        n_params = sum(p.numel() for p in DCDMNet(3, bias=bias).parameters())
        assert 90_000 < n_params < 110_000           # paper: ~97k for the 3D model
    net2 = DCDMNet(2, levels=3).eval()
    with torch.no_grad():
        for n in (16, 24, 40):
            assert net2(torch.randn(1, 1, n, n)).shape == (1, 1, n, n)
    with pytest.raises(ValueError, match="dim"):
        DCDMNet(4)
    with pytest.raises(ValueError, match="shape"):
        net2(torch.randn(1, 1, 8, 8, 8))


def test_shared_levels_adapt_to_the_grid_and_share_weights(tmp_path):
    torch.manual_seed(0)
    net = DCDMNet(2, bias=False, shared_levels=True, coarsest=8).eval()
    fixed = DCDMNet(2, bias=False, levels=4)
    assert [net.levels_for((n, n)) for n in (8, 16, 128, 256, 200)] == [1, 1, 4, 5, 5]
    assert net.levels_for((64, 256)) == 3                      # the smaller side decides
    assert sum(p.numel() for p in net.parameters()) < sum(p.numel() for p in fixed.parameters())
    calls = []
    net.enc[0].register_forward_hook(lambda *a: calls.append(1))
    with torch.no_grad():
        for n in (128, 256):
            calls.clear()
            r = torch.randn(1, 1, n, n)
            q = net(r)
            assert q.shape == r.shape and len(calls) == net.levels_for((n, n)) - 1
            torch.testing.assert_close(net(3.0 * r), q, rtol=1e-4, atol=1e-5)
    cfg = net.config()
    assert cfg["shared_levels"] is True and cfg["coarsest"] == 8 and "shared_levels" not in fixed.config()
    clone = DCDMNet(**cfg)
    clone.load_state_dict(net.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(clone(r), net(r))
    with pytest.raises(ValueError, match="coarsest"):
        DCDMNet(2, shared_levels=True, coarsest=1)


def test_lanczos_ritz_values_and_vectors():
    A = kl.pde.poisson((10, 10), mask=kl.pde.obstacles.random_domain((10, 10), seed=0)).tocsr()
    n = A.shape[0]
    theta, Y = lanczos_ritz(A, n, progress=False)
    ev = np.linalg.eigvalsh(A.toarray())
    np.testing.assert_allclose(theta, ev, rtol=1e-6)   # full Lanczos = all eigenvalues
    np.testing.assert_allclose(Y.T @ Y, np.eye(len(theta)), atol=1e-5)
    np.testing.assert_allclose(A @ Y[:, 0], theta[0] * Y[:, 0], atol=1e-4 * theta[-1])
    theta20, Y20 = lanczos_ritz(A, 20, progress=False)
    assert abs(theta20[-1] - ev[-1]) < 1e-3 * ev[-1]   # extreme Ritz values converge first


def _tiny_dataset():
    masks = [np.ones((16, 16), bool), kl.pde.obstacles.random_domain((16, 16), seed=3)]
    ritz = [lanczos_ritz(kl.pde.poisson(m.shape, mask=m).tocsr(), 40, progress=False) for m in masks]
    return RitzDataset(masks, ritz)


def test_spectral_decay_biases_samples_to_the_lowest_modes():
    ds = _tiny_dataset()
    theta, Y = ds.ritz[0]

    def low_share(d, seed=0):
        ds.spectral_decay = d
        _, b = ds.sample(200, np.random.default_rng(seed))
        coef = b.reshape(200, -1)[:, ds.masks[0].ravel()] @ Y        # open box: every cell is fluid
        return float(np.mean(coef[:, :3] ** 2) * 3 / np.mean(np.sum(coef ** 2, axis=1)))

    paper, decayed = low_share(0.0), low_share(2.0)
    assert decayed > 2 * paper and decayed > 0.4     # the three lowest modes carry far more of ‖b‖²
    _, b = ds.sample(4, np.random.default_rng(1))
    np.testing.assert_allclose(np.linalg.norm(b.reshape(4, -1), axis=1), 1, rtol=1e-5)
    with pytest.raises(ValueError, match="spectral_decay"):
        RitzDataset(ds.masks, ds.ritz, spectral_decay=-1.0)


def test_training_loss_decreases_and_resume(tmp_path):
    ds = _tiny_dataset()
    idx, b = ds.sample(5, np.random.default_rng(0))
    assert b.shape == (5, 16, 16)
    np.testing.assert_allclose(np.linalg.norm(b.reshape(5, -1), axis=1), 1, rtol=1e-5)
    kw = dict(dim=2, n=16, domains=2, lanczos=40, batch=4, lr=2e-3, lr_final=2e-4, progress=False,
              dataset=ds, threads=1, bias=False)
    model, hist = train(steps=80, **kw)
    assert np.mean(hist[-20:]) < 0.7 * np.mean(hist[:10])
    # resumable: 30 steps in two runs of 15 == 30 steps at once
    _, h_full = train(steps=30, out=tmp_path / "a", **kw)
    _, h1 = train(steps=30, out=tmp_path / "b", max_minutes=0.0, **kw)   # stops after 1 step
    assert len(h1) == 1 and (tmp_path / "b" / "checkpoint.pt").exists()
    _, h2 = train(steps=30, out=tmp_path / "b", **kw)
    assert len(h2) == 30
    np.testing.assert_allclose(h2, h_full, rtol=1e-4)
    assert (tmp_path / "b" / "loss.png").exists() and (tmp_path / "b" / "model.pt").exists()


def test_training_with_shared_levels_on_two_sizes(tmp_path):
    ds = _tiny_dataset()
    model, hist = train(dim=2, n=16, domains=2, lanczos=40, steps=40, batch=4, lr=2e-3, lr_final=2e-4,
                        progress=False, dataset=ds, threads=1, bias=False, shared_levels=True, coarsest=4,
                        extra_sizes=(8,), spectral_decay=1.0, out=tmp_path / "run",
                        cache_dir=tmp_path / "cache", validate_every=15)
    assert len(hist) == 40 and np.mean(hist[-10:]) < np.mean(hist[:5])
    blob = torch.load(tmp_path / "run" / "model.pt", weights_only=False)
    assert blob["config"]["shared_levels"] and blob["recipe"]["extra_sizes"] == [8]
    assert blob["recipe"]["spectral_decay"] == 1.0
    # validation at the start, steps 15, 30 and the end (40); the best of them is kept and exported
    import json
    vals = json.loads((tmp_path / "run" / "history.json").read_text())["validation"]
    assert [v["step"] for v in vals] == [0, 15, 30, 40]
    best = torch.load(tmp_path / "run" / "model_best.pt", weights_only=False)
    assert best["validation"]["score"] == min(v["score"] for v in vals)
    from krylearn.learned.train import export
    man = export(tmp_path / "run", "tiny", tmp_path / "export", best=True)
    assert man["validation"]["step"] == best["validation"]["step"]
    model2 = kl.learned.load_pretrained("tiny", directory=tmp_path / "export")
    assert model2.config() == model.config()
    with pytest.raises(ValueError, match="run directory"):
        train(dim=2, n=16, steps=1, dataset=ds, progress=False, validate_every=1)


def test_loss_is_zero_for_exact_inverse():
    m = kl.pde.obstacles.random_domain((8, 8), seed=2)
    A = kl.pde.poisson((8, 8), mask=m)
    from krylearn.learned.stencil_torch import TorchStencil
    op = TorchStencil.from_operator(A, dtype=torch.float64)
    Ainv = torch.tensor(np.linalg.inv(A.todense()))

    class Exact(torch.nn.Module):
        def forward(self, r, mask=None):
            x = torch.zeros_like(r)
            x[:, torch.tensor(m)] = (Ainv @ r[:, torch.tensor(m)].T).T
            return x

    b = torch.tensor(A.to_grid(np.random.default_rng(0).standard_normal(A.shape[0])))[None]
    assert float(dcdm_loss(Exact(), op, b)) < 1e-20


def test_fractional_iterations_breaks_ties():
    from krylearn.learned.train import fractional_iterations
    assert fractional_iterations([1.0, 1e-2, 1e-5], 1e-4) == pytest.approx(1 + 2 / 3)
    assert fractional_iterations([1.0, 1e-2, 1e-4], 1e-4) == pytest.approx(2.0)
    assert fractional_iterations([1.0, 1e-4], 1e-4) == pytest.approx(1.0)
    assert fractional_iterations([1e-5], 1e-4) == 0.0
    assert fractional_iterations([1.0, 1e-2, 1e-3], 1e-4) == float("inf")
    # the same whole count, different overshoot: the deeper last step ranks first
    assert fractional_iterations([1, 1e-3, 1e-6], 1e-4) < fractional_iterations([1, 1e-3, 5e-5], 1e-4)

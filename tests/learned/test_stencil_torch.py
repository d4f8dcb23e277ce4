import numpy as np
import pytest

torch = pytest.importorskip("torch")

import krylearn as kl  # noqa: E402
from krylearn.learned.stencil_torch import TorchStencil, face_coefficients  # noqa: E402


def _apply(T, A, x):
    g = torch.tensor(A.to_grid(x))[None]
    return A.from_grid(T.apply(g)[0].numpy())


CASES = [
    dict(shape=(12, 10)),
    dict(shape=(12, 10), bc="neumann", family="train"),
    dict(shape=(16, 16), family="train", spacing=0.1),
    dict(shape=(16, 16), family="heldout", coefficient="random"),
    dict(shape=(8, 6, 10)),
    dict(shape=(12, 12, 12), family="train"),
    dict(shape=(12, 12, 12), family="heldout", bc=[("dirichlet", "neumann"), "dirichlet", "neumann"]),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: str(c))
def test_torch_stencil_equals_poisson_stencil(case):
    shape = case["shape"]
    rng = np.random.default_rng(0)
    mask = None
    if "family" in case:
        mask = kl.pde.obstacles.random_domain(shape, case["family"], seed=1)
    coef = rng.uniform(0.5, 2.0, shape) if case.get("coefficient") == "random" else None
    A = kl.pde.poisson(shape, spacing=case.get("spacing"), bc=case.get("bc", "dirichlet"), mask=mask,
                       coefficient=coef)
    T = TorchStencil.from_operator(A, dtype=torch.float64)
    x = rng.standard_normal(A.shape[0])
    y = _apply(T, A, x)
    ref = A.matvec(x)
    np.testing.assert_allclose(y, ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())
    np.testing.assert_allclose(y, A.tocsr() @ x, rtol=1e-12, atol=1e-12 * np.abs(ref).max())
    # zero at solid cells
    out = T.apply(torch.tensor(A.to_grid(x))[None])[0].numpy()
    if mask is not None:
        assert np.all(out[~mask] == 0)


def test_batched_stack_and_float32():
    masks = [kl.pde.obstacles.random_domain((16, 16), "train", seed=s) for s in range(3)]
    ops = [kl.pde.poisson((16, 16), mask=m) for m in masks]
    T = TorchStencil.stack([TorchStencil.from_operator(A) for A in ops])
    assert T.K == 3 and T.dtype == torch.float32
    rng = np.random.default_rng(1)
    index = torch.tensor([2, 0, 1, 2])
    xs = [rng.standard_normal(ops[int(k)].shape[0]) for k in index]
    U = torch.stack([torch.tensor(ops[int(k)].to_grid(x), dtype=torch.float32) for k, x in zip(index, xs)])
    out = T.apply(U, index).numpy()
    for i, k in enumerate(index):
        A = ops[int(k)]
        np.testing.assert_allclose(A.from_grid(out[i]), A.matvec(xs[i]), rtol=1e-5, atol=1e-5 * 4 / A.spacing[0] ** 2)


def test_face_coefficients_reject_non_stencil():
    import scipy.sparse as sp
    mask = np.ones((4, 4), bool)
    M = sp.random(16, 16, density=0.5, random_state=0) + sp.eye(16)
    with pytest.raises(ValueError, match="nearest-neighbour"):
        face_coefficients(M + M.T, mask)
    with pytest.raises(ValueError, match="does not match"):
        face_coefficients(sp.eye(10), mask)

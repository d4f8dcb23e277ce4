import numpy as np
import pytest

torch = pytest.importorskip("torch")

import krylearn as kl  # noqa: E402
from krylearn.learned import DCDMNet, DCDMPreconditioner, dcdm  # noqa: E402


class ExactInverse(torch.nn.Module):
    """A "network" returning A^{-1} r exactly (dense inverse on the fluid cells)."""

    def __init__(self, A):
        super().__init__()
        self.dim = A.mask.ndim
        self.m = torch.tensor(A.mask)
        self.register_buffer("Ainv", torch.tensor(np.linalg.inv(A.todense()), dtype=torch.float64))

    def forward(self, r, mask=None):
        out = torch.zeros_like(r)
        vals = r[:, 0][:, self.m].to(torch.float64)
        out[:, 0][:, self.m] = (self.Ainv @ vals.T).T.to(r.dtype)
        return out


def _problem(shape, family="train", seed=1):
    mask = kl.pde.obstacles.random_domain(shape, family, seed=seed)
    A = kl.pde.poisson(shape, mask=mask)
    b = np.random.default_rng(seed).standard_normal(A.shape[0])
    return A, b


def _net(dim, seed=0):
    torch.manual_seed(seed)
    return DCDMNet(dim, bias=False).double().eval()


def test_exact_inverse_converges_in_one_step():
    A, b = _problem((12, 12))
    res = dcdm(A, b, ExactInverse(A), rtol=1e-10)
    assert res.converged and res.iterations == 1
    np.testing.assert_allclose(A.matvec(res.x), b, atol=1e-9 * np.linalg.norm(b))
    assert res.method == "dcdm" and len(res.residuals) == 2


@pytest.mark.parametrize("k", [1, 2, 3])
def test_directions_stay_A_orthogonal_to_last_k(k):
    A, b = _problem((16, 16), "heldout")
    xs = []
    dcdm(A, b, _net(2), rtol=0.0, maxiter=8, k=k, callback=lambda s: xs.append(s.x.copy()) and False)
    # the callback also sees x0 (iteration 0)
    P = [xs[i + 1] - xs[i] for i in range(len(xs) - 1)]     # alpha_i * p_i
    AP = [A.matvec(p) for p in P]
    nrm = [np.sqrt(p @ ap) for p, ap in zip(P, AP)]
    assert len(P) == 8
    for i in range(len(P)):
        for j in range(max(0, i - k), i):
            assert abs(P[i] @ AP[j]) <= 1e-8 * nrm[i] * nrm[j], (i, j)
    if k == 1:   # only the last direction is enforced: older ones are generally not A-orthogonal
        worst = max(abs(P[i] @ AP[i - 2]) / (nrm[i] * nrm[i - 2]) for i in range(2, len(P)))
        assert worst > 1e-6


def test_energy_error_decreases_and_residuals_are_true():
    A, b = _problem((16, 16))
    xstar = np.linalg.solve(A.todense(), b)
    xs = []
    res = dcdm(A, b, _net(2), rtol=1e-8, maxiter=30, callback=lambda s: xs.append(s.x.copy()) and False)
    errs = [np.sqrt((x - xstar) @ A.matvec(x - xstar)) for x in xs]
    assert all(e2 <= e1 * (1 + 1e-10) for e1, e2 in zip(errs, errs[1:]))   # exact line search in A-norm
    np.testing.assert_allclose(res.residuals[-1], np.linalg.norm(b - A.matvec(res.x)), rtol=1e-10)


def test_status_maxiter_zero_rhs_callback_and_grid_input():
    A, b = _problem((12, 12))
    net = _net(2)
    res = dcdm(A, b, net, rtol=1e-12, maxiter=3)
    assert res.status is kl.Status.MAX_ITERATIONS and not res.converged and res.iterations == 3
    z = dcdm(A, np.zeros(A.shape[0]), net)
    assert z.converged and z.iterations == 0 and not np.any(z.x)
    stop = dcdm(A, b, net, rtol=1e-12, maxiter=50, callback=lambda s: s.iteration >= 2)
    assert stop.status is kl.Status.USER_STOP and stop.iterations == 2
    grid_b = A.to_grid(b)
    r1 = dcdm(A, grid_b, net, rtol=1e-12, maxiter=2)
    np.testing.assert_allclose(r1.x, dcdm(A, b, net, rtol=1e-12, maxiter=2).x)


def test_bad_input_names_expected_shape():
    A, b = _problem((12, 12))
    n = A.shape[0]
    with pytest.raises(ValueError, match=rf"\({n},\).*\(12, 12\)"):
        dcdm(A, np.ones(n + 1), _net(2))
    with pytest.raises(ValueError, match=r"\(12, 12\)"):
        dcdm(A, np.ones((10, 10)), _net(2))
    with pytest.raises(ValueError, match="3D"):
        dcdm(A, b, DCDMNet(3))
    with pytest.raises(ValueError, match="k"):
        dcdm(A, b, _net(2), k=0)
    with pytest.raises(ValueError, match="NaN"):
        dcdm(A, np.full(n, np.nan), _net(2))
    with pytest.raises(ValueError, match="grid"):
        dcdm(A.tocsr(), b, _net(2))                 # a CSR carries no grid ...
    assert dcdm(A.tocsr(), b, _net(2), mask=A.mask, maxiter=2).iterations == 2   # ... unless given


def test_preconditioner_for_fcg():
    A, b = _problem((12, 12))
    M = DCDMPreconditioner(ExactInverse(A), A)
    assert M.shape == A.shape
    np.testing.assert_allclose(M.matvec(b), np.linalg.solve(A.todense(), b), rtol=1e-8)
    res = kl.fcg(A, b, M=M, rtol=1e-10)
    assert res.converged and res.iterations <= 2
    with pytest.raises(ValueError, match="grid"):
        DCDMPreconditioner(_net(2))


def test_the_learned_preconditioner_is_variable_and_cg_goes_flexible():
    # issue 14: a preconditioner that is not a fixed SPD map says so, and kl.cg sees it
    A, b = _problem((32, 32), seed=3)
    M = DCDMPreconditioner(kl.learned.load_pretrained("poisson2d"), A)
    assert M.variable
    res = kl.cg(A, b, M=M, rtol=1e-8, maxiter=400)
    ref = kl.fcg(A, b, M=M, rtol=1e-8, maxiter=400)
    assert res.info["flexible"] is True and res.converged and ref.converged
    assert abs(res.iterations - ref.iterations) <= 2   # FCG(1), the same recurrence
    assert np.linalg.norm(b - A @ res.x) <= 1e-8 * np.linalg.norm(b)
    with pytest.raises(ValueError, match="variable"):
        kl.minres(A, b, M=M)
    # what the flag prevents: plain PCG with the same map (measured: no convergence in 400 steps, 25 flexible)
    M.variable = False
    plain = kl.cg(A, b, M=M, rtol=1e-8, maxiter=400)
    assert not plain.converged or plain.iterations > 2 * res.iterations

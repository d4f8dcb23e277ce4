"""The learned DCDM preconditioner as a (nonlinear) operator: OperatorTestCase with linear = False,
on the shipped 2D model and a 24 x 24 masked grid."""

import numpy as np
import pytest

import krylearn as kl
from krylearn.operators.testing import OperatorTestCase

SHAPE = (24, 24)


class TestDCDMPreconditioner(OperatorTestCase):
    covers = ("krylearn.learned.dcdm.DCDMPreconditioner",)
    linear = False
    rtol, atol = 1e-5, 1e-7       # the shipped model runs in float32
    _cache = {}

    def create(self):
        pytest.importorskip("torch")
        if "M" not in self._cache:
            A = kl.pde.poisson(SHAPE, mask=kl.pde.obstacles.random_domain(SHAPE, seed=2))
            self._cache["A"] = A
            self._cache["M"] = kl.learned.DCDMPreconditioner(kl.learned.load_pretrained("poisson2d"), A)
        return self._cache["M"]

    def reference(self, r):
        """``‖r‖ f(r/‖r‖)``: the residual scattered onto the grid by hand, the model run in torch
        directly, the fluid cells gathered back (the Notes of the class)."""
        import torch

        M = self.create()
        mask = self._cache["A"].mask
        nr = np.linalg.norm(r)
        grid = np.zeros((1, 1) + mask.shape, dtype=np.float32)
        grid[0, 0][mask] = r / nr / np.abs(r / nr).max()
        with torch.no_grad():
            q = M.model.eval()(torch.from_numpy(grid), torch.from_numpy(mask))
        return nr * np.abs(r / nr).max() * q[0, 0].double().numpy()[mask]

    def test_positively_homogeneous_and_nonlinear(self):
        M = self.create()
        rng = np.random.default_rng(3)
        r, s = rng.standard_normal((2, M.shape[0]))
        np.testing.assert_allclose(M @ (3.5 * r), 3.5 * (M @ r), rtol=1e-5, atol=1e-6 * np.abs(M @ r).max())
        lin = (M @ r) + (M @ s)
        assert np.linalg.norm(M @ (r + s) - lin) > 1e-3 * np.linalg.norm(lin)   # genuinely not linear
        np.testing.assert_array_equal(M @ np.zeros(M.shape[0]), 0.0)

    def test_fcg_with_it_converges(self):
        M, A = self.create(), self._cache["A"]
        b = np.random.default_rng(0).standard_normal(A.shape[0])
        res = kl.fcg(A, b, M=M, rtol=1e-6, maxiter=200)
        assert res.converged

import numpy as np
import pytest

import krylearn as kl
from krylearn.pde import obstacles


@pytest.mark.parametrize("family", ["spheres_boxes", "ellipses_lshapes"])
@pytest.mark.parametrize("shape", [(48, 48), (16, 16, 16), (32, 24)])
def test_masks_are_valid_domains(family, shape):
    for seed in range(3):
        mask = obstacles.random_domain(shape, family, seed=seed)
        assert mask.shape == shape and mask.dtype == bool
        assert 0.3 < mask.mean() < 1.0          # some solid, mostly fluid
        A = kl.pde.poisson(shape, mask=mask, bc="dirichlet")
        assert A.shape[0] == mask.sum()
        # every fluid component touches the Dirichlet box: the system is non-singular
        assert A.singular_components == 0
        assert A.positive_definite


def test_deterministic_and_families_differ():
    a = obstacles.random_domain((40, 40), "train", seed=5)
    b = obstacles.random_domain((40, 40), "spheres_boxes", seed=5)
    c = obstacles.random_domain((40, 40), "heldout", seed=5)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.array_equal(a, obstacles.random_domain((40, 40), "train", seed=6))
    assert obstacles.random_domain((8, 8), "empty").all()


def test_remove_enclosed_pockets():
    solid = np.zeros((12, 12), bool)
    solid[3:9, 3:9] = True
    solid[5:7, 5:7] = False               # an enclosed fluid pocket: would be pure Neumann
    mask = obstacles.remove_enclosed(~solid)
    assert not mask[5:7, 5:7].any()
    assert mask[0].all()


def test_cg_solves_on_obstacle_domain():
    mask = obstacles.random_domain((32, 32), "heldout", seed=2)
    A = kl.pde.poisson(mask.shape, mask=mask)
    b = np.ones(A.shape[0])
    res = kl.cg(A, b, rtol=1e-8)
    assert res.converged
    assert np.linalg.norm(A.tocsr() @ res.x - b) <= 1e-7 * np.linalg.norm(b)


def test_bad_input():
    with pytest.raises(ValueError, match="family"):
        obstacles.random_domain((16, 16), "blobs")
    with pytest.raises(ValueError, match="shape"):
        obstacles.random_domain((16,), "train")
    with pytest.raises(ValueError, match="shape"):
        obstacles.random_domain((2, 2), "train")

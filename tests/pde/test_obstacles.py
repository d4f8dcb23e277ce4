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


# ---- thin_walls: the maze family ---------------------------------------------------------------

def _wall_lines(mask, axis):
    """Grid lines normal to ``axis`` that are mostly solid (the maze walls), by index."""
    solid_share = 1.0 - mask.mean(axis=tuple(a for a in range(mask.ndim) if a != axis))
    return np.flatnonzero(solid_share > 0.5)


@pytest.mark.parametrize("shape", [(128, 128), (48, 40), (32, 32, 32), (20, 24, 16)])
def test_thin_walls_is_a_valid_domain(shape):
    from scipy import ndimage

    for seed in range(2):
        mask = obstacles.random_domain(shape, "thin_walls", seed=seed)
        assert mask.shape == shape and mask.dtype == bool
        assert 0.3 < mask.mean() < 0.95
        assert ndimage.label(mask)[1] == 1                  # one fluid region, joined by the doors
        A = kl.pde.poisson(shape, mask=mask)
        assert A.shape[0] == mask.sum()
        assert A.n_components == 1 and A.singular_components == 0 and A.positive_definite


def test_thin_walls_deterministic():
    a = obstacles.thin_walls((64, 64), seed=7)
    assert np.array_equal(a, obstacles.random_domain((64, 64), "thin_walls", seed=7))
    assert not np.array_equal(a, obstacles.thin_walls((64, 64), seed=8))
    assert np.array_equal(obstacles.thin_walls((16, 16, 16), seed=2), obstacles.thin_walls((16, 16, 16), seed=2))


@pytest.mark.parametrize("shape", [(128, 128), (48, 48, 48)])
def test_thin_walls_geometry(shape):
    """Walls one cell thick, at both even and odd positions, corridors narrow relative to the grid;
    the fluid meets the box boundary only at the exits."""
    mask = obstacles.thin_walls(shape, seed=3)
    for axis, n in enumerate(shape):
        lines = _wall_lines(mask, axis)
        inner = lines[(lines > 0) & (lines < n - 1)]
        assert lines[0] == 0 and lines[-1] == n - 1          # the outer wall
        assert np.all(np.diff(lines) >= 3)                   # thin: no two adjacent wall lines
        assert {0, 1} <= set(inner % 2)                      # walls at even and odd cells
        corridors = np.diff(lines) - 1
        assert corridors.max() <= n / 6 and np.median(corridors) <= max(n / 12, 4)
        assert len(inner) >= 6
    border = np.zeros(shape, bool)
    for axis in range(len(shape)):
        border[obstacles._sl(axis, 0, len(shape))] = True
        border[obstacles._sl(axis, -1, len(shape))] = True
    assert 0 < (mask & border).sum() < 0.1 * border.sum()    # a few exits
    # one cell thick everywhere, crossings included: no solid 2x2 (2x2x2) block anywhere
    block = np.ones(tuple(n - 1 for n in shape), bool)
    for corner in np.ndindex(*(2,) * len(shape)):
        block &= ~mask[tuple(slice(c, n - 1 + c) for c, n in zip(corner, shape))]
    assert not block.any()


def test_thin_walls_options():
    from scipy import ndimage

    open_ = obstacles.thin_walls((64, 64), seed=1, exits=None)   # no outer wall
    assert open_[0].mean() > 0.5
    thick = obstacles.thin_walls((64, 64), seed=1, wall=2, spacing=10)
    assert ndimage.label(thick)[1] == 1
    lines = _wall_lines(thick, 0)
    assert np.all(np.diff(lines)[np.diff(lines) > 1] >= 3) and np.any(np.diff(lines) == 1)  # 2 thick
    with pytest.raises(ValueError, match="exits"):
        obstacles.thin_walls((32, 32), exits=0)
    with pytest.raises(ValueError, match="spacing"):
        obstacles.thin_walls((32, 32), wall=2, spacing=2)


def test_amg_pcg_solves_the_maze():
    pytest.importorskip("pyamg")
    mask = obstacles.thin_walls((128, 128), seed=1000)
    A = kl.pde.poisson(mask.shape, mask=mask)
    b = np.ones(A.shape[0])
    res = kl.cg(A, b, rtol=1e-8, M=kl.precond.amg(A.tocsr()))
    assert res.converged and res.iterations < 60
    assert np.linalg.norm(A.tocsr() @ res.x - b) <= 1.01e-8 * np.linalg.norm(b)
    plain = kl.cg(A, b, rtol=1e-8, maxiter=res.iterations * 10)
    assert not plain.converged                                  # ill-conditioned for one-level CG


@pytest.mark.parametrize("shape", [(32, 32), (16, 16, 16)])
def test_serpentine_maze_is_one_snaking_corridor(shape):
    from scipy import ndimage

    mask = kl.pde.obstacles.serpentine(shape, 4, seed=0)
    assert mask.shape == shape and mask.dtype == bool
    walls = [i for i in range(shape[0]) if mask[i].mean() < 0.5]
    assert walls == list(range(3, shape[0] - 2, 4))
    for i in walls:                                  # one door of 3 (3 × 3) cells per wall
        assert mask[i].sum() == 3 ** (len(shape) - 1)
    assert ndimage.label(mask)[1] == 1              # every corridor reachable
    assert np.array_equal(mask, kl.pde.obstacles.serpentine(shape, 4, seed=0))
    with pytest.raises(ValueError, match="square or cubic"):
        kl.pde.obstacles.serpentine((32, 16))
    with pytest.raises(ValueError, match="corridor"):
        kl.pde.obstacles.serpentine(shape, 2)

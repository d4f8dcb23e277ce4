"""Random obstacle domains on 2D/3D grids for Poisson (fluid pressure) test problems.

A domain is a boolean grid ``mask`` (True = fluid cell, inside the domain; False = solid cell),
usable as ``kl.pde.poisson(shape, mask=mask, bc="dirichlet")``: solid cells are removed from the
system with zero flux (Neumann) across solid faces, and the open box boundary keeps the Dirichlet
condition, as in the pressure projection of an incompressible flow around obstacles
(Kaneda et al., "A Deep Conjugate Direction Method for Iteratively Solving Linear Systems",
ICML 2023, use such domains).

Two families:

* ``"spheres_boxes"`` (the **training** family): random discs/spheres and axis-aligned boxes;
* ``"ellipses_lshapes"`` (the **held-out** family, never used in training): randomly rotated
  ellipses/ellipsoids, L-shaped blocks and (3D) cylinders of random axis.

Every generated mask is post-processed so that the system is non-singular: fluid components that
do not touch the box boundary (pockets enclosed by solids, which would be pure-Neumann and
singular) are made solid. The generators are deterministic given ``seed``.

Examples
--------
>>> import krylearn as kl
>>> mask = kl.pde.obstacles.random_domain((64, 64), family="spheres_boxes", seed=0)
>>> mask.shape, mask.dtype
((64, 64), dtype('bool'))
"""

from __future__ import annotations

import numpy as np

__all__ = ["FAMILIES", "TRAIN_FAMILY", "HELDOUT_FAMILY", "spheres_boxes", "ellipses_lshapes",
           "random_domain", "remove_enclosed"]

TRAIN_FAMILY = "spheres_boxes"
HELDOUT_FAMILY = "ellipses_lshapes"


def _check_shape(shape):
    try:
        shape = tuple(int(s) for s in shape)
    except TypeError:
        raise ValueError(f"shape must be a tuple of 2 or 3 ints, got {shape!r}") from None
    if len(shape) not in (2, 3) or min(shape) < 4:
        raise ValueError(f"shape must be a tuple of 2 or 3 ints, each >= 4, got {shape!r}")
    return shape


def _coords(shape):
    """Cell-centre coordinates in [0, 1] per axis (broadcastable open grids)."""
    return [(np.arange(n, dtype=float) + 0.5).reshape([-1 if a == d else 1 for a in range(len(shape))]) / n
            for d, n in enumerate(shape)]


def remove_enclosed(mask):
    """Make solid every fluid component that does not touch the box boundary.

    Such pockets are bounded by solid (Neumann) faces only, so the Poisson matrix would be
    singular on them. Connectivity is face-adjacency (the stencil's)."""
    from scipy import ndimage

    mask = np.asarray(mask, dtype=bool)
    labels, count = ndimage.label(mask)
    if count == 0:
        return mask.copy()
    border = np.zeros(mask.shape, dtype=bool)
    for d in range(mask.ndim):
        idx = [slice(None)] * mask.ndim
        idx[d] = 0
        border[tuple(idx)] = True
        idx[d] = -1
        border[tuple(idx)] = True
    keep = np.unique(labels[border & mask])
    keep = keep[keep > 0]
    return np.isin(labels, keep)


def _finish(solid):
    return remove_enclosed(~solid)


def _with_min_fluid(make, rng, min_fluid):
    """Draw domains until the fluid fraction is at least ``min_fluid`` (at most 50 tries)."""
    for _ in range(50):
        mask = make(rng)
        if mask.mean() >= min_fluid:
            return mask
    raise RuntimeError("could not draw a domain with enough fluid cells; lower the obstacle sizes")


def spheres_boxes(shape, count=None, *, seed=None, size=None, margin=0.1, min_fluid=0.6):
    """Training family: random discs/spheres and axis-aligned boxes.

    Parameters
    ----------
    shape : tuple of int
        Grid shape, 2D or 3D.
    count : int, optional
        Number of obstacles (default: random in 2..6).
    seed : int or numpy Generator, optional
    size : (float, float), optional
        Range of radii / half-widths as a fraction of the box side (default ``(0.05, 0.18)`` in
        2D, 1.4 times larger in 3D so that the obstacles block a similar share of the domain).
    margin : float
        Obstacle centres lie in ``[margin, 1 - margin]`` (fraction of the box).
    min_fluid : float
        Redraw until at least this fraction of the cells is fluid.

    Returns
    -------
    mask : ndarray of bool, shape ``shape``
        True for fluid cells.
    """
    shape = _check_shape(shape)
    rng = np.random.default_rng(seed)
    X = _coords(shape)
    dim = len(shape)
    if size is None:
        size = (0.05, 0.18) if dim == 2 else (0.07, 0.25)
    return _with_min_fluid(lambda rng: _spheres_boxes(shape, X, dim, count, rng, size, margin), rng, min_fluid)


def _spheres_boxes(shape, X, dim, count, rng, size, margin):
    if count is None:
        count = int(rng.integers(2, 7))
    solid = np.zeros(shape, dtype=bool)
    for _ in range(count):
        c = rng.uniform(margin, 1 - margin, dim)
        if rng.random() < 0.5:
            r = rng.uniform(*size)
            solid |= sum((X[d] - c[d]) ** 2 for d in range(dim)) <= r * r
        else:
            h = rng.uniform(*size, dim)
            box = np.ones(shape, dtype=bool)
            for d in range(dim):
                box = box & (np.abs(X[d] - c[d]) <= h[d])
            solid |= box
    return _finish(solid)


def _rotation(rng, dim):
    if dim == 2:
        t = rng.uniform(0, np.pi)
        return np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    Q, R = np.linalg.qr(rng.normal(size=(3, 3)))
    return Q * np.sign(np.diag(R))


def ellipses_lshapes(shape, count=None, *, seed=None, size=None, margin=0.12, min_fluid=0.6):
    """Held-out family: rotated ellipses/ellipsoids, L-shapes and (3D) cylinders.

    Same parameters and return value as :func:`spheres_boxes` (default sizes ``(0.04, 0.15)`` in 2D,
    1.4 times larger in 3D); the shapes differ (anisotropic,
    rotated, non-convex), so a model trained on :func:`spheres_boxes` never saw them.
    """
    shape = _check_shape(shape)
    rng = np.random.default_rng(seed)
    X = _coords(shape)
    dim = len(shape)
    if size is None:
        size = (0.04, 0.15) if dim == 2 else (0.056, 0.21)
    return _with_min_fluid(lambda rng: _ellipses_lshapes(shape, X, dim, count, rng, size, margin), rng,
                           min_fluid)


def _ellipses_lshapes(shape, X, dim, count, rng, size, margin):
    if count is None:
        count = int(rng.integers(2, 6))
    solid = np.zeros(shape, dtype=bool)
    kinds = ["ellipse", "lshape"] + (["cylinder"] if dim == 3 else [])
    for _ in range(count):
        c = rng.uniform(margin, 1 - margin, dim)
        kind = kinds[int(rng.integers(len(kinds)))]
        Q = _rotation(rng, dim)
        # rotated local coordinates y = Q^T (x - c)
        Y = [sum(Q[e, d] * (X[e] - c[e]) for e in range(dim)) for d in range(dim)]
        if kind == "ellipse":
            ax = rng.uniform(size[0], size[1], dim)
            ax[0] = min(max(ax[0], 2.0 * ax[1:].min()), 1.7 * size[1])      # clearly anisotropic
            solid |= sum((Y[d] / ax[d]) ** 2 for d in range(dim)) <= 1.0
        elif kind == "lshape":
            L = rng.uniform(size[0] * 1.5, size[1] * 1.5)
            t = L * rng.uniform(0.3, 0.5)
            inside = np.ones(shape, dtype=bool)
            for d in range(dim):
                inside = inside & (Y[d] >= -L / 2) & (Y[d] <= L / 2)
            cut = np.ones(shape, dtype=bool)
            for d in range(2):
                cut = cut & (Y[d] > -L / 2 + t)
            solid |= inside & ~cut
        else:  # cylinder of random axis Q[:, 0]
            r = rng.uniform(*size) * 0.6
            half = rng.uniform(size[0] * 2, size[1] * 2)
            solid |= (Y[1] ** 2 + Y[2] ** 2 <= r * r) & (np.abs(Y[0]) <= half)
    return _finish(solid)


FAMILIES = {"spheres_boxes": spheres_boxes, "ellipses_lshapes": ellipses_lshapes,
            "train": spheres_boxes, "heldout": ellipses_lshapes, "empty": None}


def random_domain(shape, family="spheres_boxes", *, seed=None, **kwargs):
    """A random obstacle mask of the named family.

    Parameters
    ----------
    shape : tuple of int
        2D or 3D grid shape.
    family : {"spheres_boxes", "ellipses_lshapes", "train", "heldout", "empty"}
        ``"train"`` and ``"heldout"`` are aliases of the first two; ``"empty"`` is the open box.
    seed : int, optional
    **kwargs
        Passed to the family's generator.

    Returns
    -------
    mask : ndarray of bool (True = fluid).
    """
    shape = _check_shape(shape)
    if family not in FAMILIES:
        raise ValueError(f"unknown obstacle family {family!r}; choose one of {sorted(FAMILIES)}")
    if family == "empty":
        return np.ones(shape, dtype=bool)
    return FAMILIES[family](shape, seed=seed, **kwargs)

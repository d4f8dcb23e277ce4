"""Random obstacle domains on 2D/3D grids for Poisson (fluid pressure) test problems.

A domain is a boolean grid ``mask`` (True = fluid cell, inside the domain; False = solid cell),
usable as ``kl.pde.poisson(shape, mask=mask, bc="dirichlet")``: solid cells are removed from the
system with zero flux (Neumann) across solid faces, and the open box boundary keeps the Dirichlet
condition, as in the pressure projection of an incompressible flow around obstacles
(Kaneda et al., "A Deep Conjugate Direction Method for Iteratively Solving Linear Systems",
ICML 2023, use such domains).

Three families:

* ``"spheres_boxes"`` (the **training** family): random discs/spheres and axis-aligned boxes;
* ``"ellipses_lshapes"`` (the **held-out** family, never used in training): randomly rotated
  ellipses/ellipsoids, L-shaped blocks and (3D) cylinders of random axis;
* ``"thin_walls"`` (a **stress test** for multigrid): a maze of one-cell-thick walls on a jittered
  lattice, rooms joined by doors along a random spanning tree, so the fluid is one long, winding,
  branching channel system that reaches the Dirichlet box only through a few exits.

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

from typing import TYPE_CHECKING, Any, Callable, Literal

import numpy as np

if TYPE_CHECKING:  # pragma: no cover - names for static checkers only
    from collections.abc import Sequence

    import numpy.typing as npt
    from numpy.typing import NDArray

    #: what the random families take as ``seed``
    Seed = int | np.random.Generator | None

#: the names :func:`random_domain` takes
Family = Literal["spheres_boxes", "ellipses_lshapes", "thin_walls", "train", "heldout", "empty"]

__all__ = ["FAMILIES", "TRAIN_FAMILY", "HELDOUT_FAMILY", "spheres_boxes", "ellipses_lshapes", "thin_walls",
           "serpentine", "random_domain", "remove_enclosed"]

TRAIN_FAMILY = "spheres_boxes"
HELDOUT_FAMILY = "ellipses_lshapes"


def _check_shape(shape: Sequence[int]) -> tuple[int, ...]:
    try:
        out = tuple(int(s) for s in shape)
    except TypeError:
        raise ValueError(f"shape must be a tuple of 2 or 3 ints, got {shape!r}") from None
    if len(out) not in (2, 3) or min(out) < 4:
        raise ValueError(f"shape must be a tuple of 2 or 3 ints, each >= 4, got {out!r}")
    return out


def _coords(shape):
    """Cell-centre coordinates in [0, 1] per axis (broadcastable open grids)."""
    return [(np.arange(n, dtype=float) + 0.5).reshape([-1 if a == d else 1 for a in range(len(shape))]) / n
            for d, n in enumerate(shape)]


def _sl(axis, s, nd):
    """The index selecting ``s`` along ``axis`` of an ``nd``-dimensional array."""
    idx = [slice(None)] * nd
    idx[axis] = s
    return tuple(idx)


def remove_enclosed(mask: npt.ArrayLike) -> NDArray[np.bool_]:
    """Make solid every fluid component that does not touch the box boundary.

    Such pockets are bounded by solid (Neumann) faces only, so the Poisson matrix would be
    singular on them. Connectivity is face-adjacency (the stencil's)."""
    from scipy import ndimage

    fluid = np.asarray(mask, dtype=bool)
    labels, count = ndimage.label(fluid)
    if count == 0:
        return fluid.copy()
    border = np.zeros(fluid.shape, dtype=bool)
    for d in range(fluid.ndim):
        idx: list[int | slice] = [slice(None)] * fluid.ndim
        idx[d] = 0
        border[tuple(idx)] = True
        idx[d] = -1
        border[tuple(idx)] = True
    keep = np.unique(labels[border & fluid])
    keep = keep[keep > 0]
    return np.isin(labels, keep)


def _finish(solid: NDArray[np.bool_]) -> NDArray[np.bool_]:
    return remove_enclosed(~solid)


def _with_min_fluid(make: Callable[[np.random.Generator], NDArray[np.bool_]], rng: np.random.Generator,
                    min_fluid: float) -> NDArray[np.bool_]:
    """Draw domains until the fluid fraction is at least ``min_fluid`` (at most 50 tries)."""
    for _ in range(50):
        mask = make(rng)
        if mask.mean() >= min_fluid:
            return mask
    raise RuntimeError("could not draw a domain with enough fluid cells; lower the obstacle sizes")


def _random_shapes(place, shape, count, seed, size, default_sizes, margin, min_fluid):
    """A domain of randomly placed solid shapes (``place(shape, X, dim, count, rng, size, margin)``
    draws them), redrawn until at least ``min_fluid`` of the cells are fluid; ``default_sizes``
    holds the 2D and 3D size ranges used when ``size`` is None."""
    shape = _check_shape(shape)
    rng = np.random.default_rng(seed)
    X = _coords(shape)
    dim = len(shape)
    if size is None:
        size = default_sizes[dim - 2]
    return _with_min_fluid(lambda rng: place(shape, X, dim, count, rng, size, margin), rng, min_fluid)


def spheres_boxes(shape: Sequence[int], count: int | None = None, *, seed: Seed = None,
                  size: tuple[float, float] | None = None, margin: float = 0.1,
                  min_fluid: float = 0.6) -> NDArray[np.bool_]:
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
    return _random_shapes(_spheres_boxes, shape, count, seed, size, ((0.05, 0.18), (0.07, 0.25)), margin, min_fluid)


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


def ellipses_lshapes(shape: Sequence[int], count: int | None = None, *, seed: Seed = None,
                     size: tuple[float, float] | None = None, margin: float = 0.12,
                     min_fluid: float = 0.6) -> NDArray[np.bool_]:
    """Held-out family: rotated ellipses/ellipsoids, L-shapes and (3D) cylinders.

    Same parameters and return value as :func:`spheres_boxes` (default sizes ``(0.04, 0.15)`` in 2D,
    1.4 times larger in 3D); the shapes differ (anisotropic,
    rotated, non-convex), so a model trained on :func:`spheres_boxes` never saw them.
    """
    return _random_shapes(_ellipses_lshapes, shape, count, seed, size, ((0.04, 0.15), (0.056, 0.21)), margin,
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

def _widths(total, m, jitter, rng, min_width):
    """``m`` positive integers summing to ``total``, close to ``total·p_i/Σp`` with
    ``p_i ~ uniform(1 - jitter, 1 + jitter)``, each at least ``min_width`` when ``total`` allows
    (largest-remainder rounding)."""
    base = min(min_width, total // m)
    p = rng.uniform(1.0 - jitter, 1.0 + jitter, m)
    over = np.maximum(total * p / p.sum() - base, 0.0)
    share = (total - m * base) * over / over.sum() if over.sum() > 0 else np.zeros(m)
    w = np.floor(share).astype(np.int64)
    w[np.argsort(share - w)[::-1][:total - m * base - int(w.sum())]] += 1
    return w + base


def _lattice(N, pitch, wall, outer, jitter, rng):
    """Wall start positions and room extents ``[lo, hi)`` along one axis of ``N`` cells."""
    n_walls = lambda m: m + 1 if outer else m - 1  # noqa: E731
    m = max(1, int(round((N - (wall if outer else -wall)) / pitch)))
    while m > 1 and N - n_walls(m) * wall < 2 * m:  # keep corridors >= 2 cells when possible
        m -= 1
    total = N - n_walls(m) * wall
    if total < m:
        raise ValueError(f"an axis of {N} cells cannot hold walls of thickness {wall}; lower wall")
    w = _widths(total, m, jitter, rng, 2)
    # both parities among the interior walls (a coarse grid that keeps every other cell sees some
    # walls and misses others): shift one wall by a cell if they all came out alike
    def walls(w):
        starts, pos = [], 0
        if outer:
            starts.append(0)
            pos = wall
        for i in range(m):
            pos += int(w[i])
            if i < m - 1 or outer:
                starts.append(pos)
                pos += wall
        return np.array(starts, dtype=np.int64)

    starts = walls(w)
    inner = starts[1:-1] if outer else starts
    if inner.size >= 2 and np.all(inner % 2 == inner[0] % 2):
        i = int(np.flatnonzero(w[:-1] >= 3)[0]) if np.any(w[:-1] >= 3) else None
        if i is not None:
            w[i] -= 1
            w[i + 1] += 1
            starts = walls(w)
    lo = np.empty(m, dtype=np.int64)
    hi = np.empty(m, dtype=np.int64)
    pos = wall if outer else 0
    for i in range(m):
        lo[i], hi[i] = pos, pos + w[i]
        pos = hi[i] + wall
    return starts, lo, hi


def thin_walls(shape: Sequence[int], *, seed: Seed = None, wall: int = 1, spacing: int | None = None,
               jitter: float = 0.5, door: tuple[float, float] = (0.25, 0.6), loops: float = 0.05,
               exits: int | None = 2) -> NDArray[np.bool_]:
    """Maze family: thin walls on a jittered lattice with doors along a random spanning tree.

    Walls ``wall`` cells thick (planes in 3D) cut the box into a lattice of rectangular rooms
    (boxes in 3D) whose widths vary randomly around ``spacing``; adjacent rooms are joined by a door
    (a rectangular hole in the wall between them) along a random spanning tree of the room lattice
    (randomised Kruskal), plus a few extra doors (``loops``) that close cycles. An outer wall on the
    box boundary has ``exits`` doors, so the fluid, one connected region, meets the Dirichlet box
    only there and paths to it are long and winding: a hard, strongly non-smooth problem for
    geometric multigrid (walls at both even and odd cell positions, corridors about 1/16 of the box
    wide, so after a few coarsenings a coarse cell straddles a wall and coarse basis functions leak
    through it) and ill-conditioned for one-level methods (IC(0)-PCG needs ~3000 iterations to
    1e-6 on 512², PETSc's geometric PCMG with Galerkin coarse operators ~140, smoothed
    aggregation AMG ~20).

    Parameters
    ----------
    shape : tuple of int
        Grid shape, 2D or 3D.
    seed : int or numpy Generator, optional
    wall : int
        Wall thickness in cells (default 1).
    spacing : int, optional
        Mean room pitch (corridor width + wall) in cells; default ``max(wall + 3, round(min(shape)/16))``,
        i.e. about 16 rooms per axis (mean corridor width 5 cells on a 96 grid, 7 on 128, 31 on 512).
    jitter : float
        Corridor widths are proportional to ``uniform(1 - jitter, 1 + jitter)`` (at least 2 cells
        when the axis is long enough).
    door : (float, float)
        Range of a door's side as a fraction of the wall it is cut into (at least one cell).
    loops : float
        Probability that a wall between two rooms not joined by the spanning tree gets a door anyway.
    exits : int or None
        Number of doors in the outer wall (default 2, at least 1). ``None``: no outer wall, every
        room on the box boundary meets the Dirichlet condition directly (an easier variant).

    Returns
    -------
    mask : ndarray of bool, shape ``shape``
        True for fluid cells; every fluid cell is connected to the box boundary.

    Examples
    --------
    >>> import krylearn as kl
    >>> mask = kl.pde.obstacles.thin_walls((64, 64), seed=0)
    >>> mask.shape, bool(mask[0].all())
    ((64, 64), False)
    """
    shape = _check_shape(shape)
    rng = np.random.default_rng(seed)
    dim = len(shape)
    wall = int(wall)
    if wall < 1:
        raise ValueError(f"wall must be at least 1 cell, got {wall}")
    if spacing is None:
        spacing = max(wall + 3, int(round(min(shape) / 16)))
    if spacing < wall + 1:
        raise ValueError(f"spacing ({spacing}) must exceed the wall thickness ({wall})")
    if not 0 <= jitter < 1:
        raise ValueError(f"jitter must be in [0, 1), got {jitter}")
    if not 0 < door[0] <= door[1] <= 1:
        raise ValueError(f"door must be a range (lo, hi) with 0 < lo <= hi <= 1, got {door}")
    outer = exits is not None
    if exits is not None and int(exits) < 1:
        raise ValueError(f"exits must be at least 1 (or None for no outer wall), got {exits}")

    axes = [_lattice(N, spacing, wall, outer, jitter, rng) for N in shape]
    solid = np.zeros(shape, dtype=bool)
    for a, (starts, _, _) in enumerate(axes):
        for s0 in starts:
            solid[_sl(a, slice(s0, s0 + wall), dim)] = True
    rooms = tuple(len(lo) for _, lo, _ in axes)

    def cut(room, a, side):
        """Open a door in the wall on side ``side`` (0 low, 1 high) of ``room`` along axis ``a``."""
        starts, lo, hi = axes[a]
        k = room[a] + side if outer else room[a] - 1 + side
        idx = [slice(None)] * dim
        idx[a] = slice(starts[k], starts[k] + wall)
        for b in range(dim):
            if b == a:
                continue
            L0, H0 = axes[b][1][room[b]], axes[b][2][room[b]]
            width = H0 - L0
            dw = max(1, int(round(rng.uniform(*door) * width)))
            start = L0 + int(rng.integers(0, width - dw + 1))
            idx[b] = slice(start, start + dw)
        solid[tuple(idx)] = False

    # walls between adjacent rooms, in random order; union-find for the spanning tree
    edges = [(r, a) for r in np.ndindex(*rooms) for a in range(dim) if r[a] + 1 < rooms[a]]
    parent = np.arange(int(np.prod(rooms)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for e in rng.permutation(len(edges)):
        r, a = edges[e]
        i = np.ravel_multi_index(r, rooms)
        nb = list(r)
        nb[a] += 1
        j = np.ravel_multi_index(tuple(nb), rooms)
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[ri] = rj
            cut(r, a, 1)
        elif rng.random() < loops:
            cut(r, a, 1)
    if exits is not None:  # outer
        faces = [(a, side) for a in range(dim) for side in (0, 1)]
        for _ in range(int(exits)):
            a, side = faces[int(rng.integers(len(faces)))]
            room = [int(rng.integers(m)) for m in rooms]
            room[a] = 0 if side == 0 else rooms[a] - 1
            cut(tuple(room), a, side)
    return _finish(solid)


def serpentine(shape: Sequence[int], corridor: int = 4, *, seed: int = 0) -> NDArray[np.bool_]:
    """A serpentine maze: one-cell walls across axis 0 every ``corridor`` cells, each with one door
    (3 cells wide, 3 × 3 in 3D) near alternating ends — the flow snakes through all corridors, so the
    solution differs strongly across every wall. The multigrid defaults for walls are chosen on this
    family (``benchmarks/multigrid.py``); :func:`thin_walls` stays held out.

    Parameters
    ----------
    shape : tuple of int
        ``(n, n)`` or ``(n, n, n)`` (square/cubic, ``n ≥ 12``).
    corridor : int
        Wall spacing (≥ 3).
    seed : int
        Door positions (and, when odd, a one-cell shift of the walls).

    Returns
    -------
    mask : ndarray of bool (True = fluid).
    """
    shp = _check_shape(shape)
    n = shp[0]
    if any(s != n for s in shp) or n < 12:
        raise ValueError(f"serpentine needs a square or cubic grid with sides >= 12, got {shp}")
    if int(corridor) < 3:
        raise ValueError(f"corridor must be at least 3, got {corridor!r}")
    rng = np.random.default_rng(seed)
    mask = np.ones(shp, bool)
    for k, i in enumerate(range(corridor - 1 + seed % 2, n - 2, corridor)):
        mask[i] = False
        door = [int(g) for g in rng.integers(1, n // 4, size=len(shp) - 1)]
        # near the low end of every axis on even walls, near the high end on odd ones
        idx = tuple(slice(n - g - 3, n - g) if k % 2 else slice(g, g + 3) for g in door)
        mask[(i,) + idx] = True
    return mask


FAMILIES: dict[str, Callable[..., NDArray[np.bool_]] | None] = {
    "spheres_boxes": spheres_boxes, "ellipses_lshapes": ellipses_lshapes, "thin_walls": thin_walls,
    "train": spheres_boxes, "heldout": ellipses_lshapes, "empty": None}


def random_domain(shape: Sequence[int], family: Family = "spheres_boxes", *, seed: Seed = None,
                  **kwargs: Any) -> NDArray[np.bool_]:
    """A random obstacle mask of the named family.

    Parameters
    ----------
    shape : tuple of int
        2D or 3D grid shape.
    family : {"spheres_boxes", "ellipses_lshapes", "thin_walls", "train", "heldout", "empty"}
        ``"train"`` and ``"heldout"`` are aliases of the first two; ``"empty"`` is the open box.
    seed : int, optional
    **kwargs
        Passed to the family's generator.

    Returns
    -------
    mask : ndarray of bool (True = fluid).
    """
    shp = _check_shape(shape)
    if family not in FAMILIES:
        raise ValueError(f"unknown obstacle family {family!r}; choose one of {sorted(FAMILIES)}")
    make = FAMILIES[family]
    if make is None:  # "empty"
        return np.ones(shp, dtype=bool)
    return make(shp, seed=seed, **kwargs)

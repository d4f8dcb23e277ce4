"""Input normalisation of :class:`~krylearn.operators.stencil.PoissonStencil` (boundary conditions,
spacings) and the reconstruction of its geometry from an assembled matrix (:meth:`PoissonStencil.from_csr`)."""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, TypeVar, cast

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

if TYPE_CHECKING:  # annotations only
    from collections.abc import Sequence

    from .stencil import PoissonStencil

_Stencil = TypeVar("_Stencil", bound="PoissonStencil")   # a subclass gets itself back

_BCS = ("dirichlet", "neumann")


# --------------------------------------------------------------------------------------
# input normalisation
# --------------------------------------------------------------------------------------
def _parse_bc(bc, ndim):
    """Return a tuple of ``(lo, hi)`` pairs of "dirichlet"/"neumann", one per axis."""

    def one(v, where):
        if not isinstance(v, str) or v.lower() not in _BCS:
            raise ValueError(f"bc{where} must be 'dirichlet' or 'neumann', got {v!r}")
        return v.lower()

    if isinstance(bc, str):
        b = one(bc, "")
        return tuple((b, b) for _ in range(ndim))
    try:
        items = list(bc)
    except TypeError:
        raise ValueError(f"bc must be a string or a sequence of {ndim} per-axis entries, got {bc!r}") from None
    if len(items) != ndim:
        raise ValueError(f"bc needs one entry per axis ({ndim}), got {len(items)}")
    out = []
    for a, item in enumerate(items):
        if isinstance(item, str):
            b = one(item, f"[{a}]")
            out.append((b, b))
        else:
            pair = list(item)
            if len(pair) != 2:
                raise ValueError(f"bc[{a}] must be a string or a (low, high) pair, got {item!r}")
            out.append((one(pair[0], f"[{a}][0]"), one(pair[1], f"[{a}][1]")))
    return tuple(out)


def grid_spacing(spacing: float | Sequence[float] | None, shape: Sequence[int]) -> tuple[float, ...]:
    """The cell spacings ``h_a`` of a grid of ``shape``: one number for every axis, one per axis, or
    None for the unit box (``1/(N_a + 1)``, the Dirichlet convention); each finite and positive."""
    nd = len(shape)
    if spacing is None:
        h = [1.0 / (n + 1) for n in shape]
    elif isinstance(spacing, numbers.Real):
        h = [float(spacing)] * nd
    else:
        h = [float(s) for s in cast("Sequence[float]", spacing)]   # not a number: a sequence
        if len(h) != nd:
            raise ValueError(f"spacing needs one value per axis ({nd}), got {len(h)}")
    for v in h:
        if not np.isfinite(v) or v <= 0:
            raise ValueError(f"spacing must be finite and positive, got {spacing!r}")
    return tuple(h)


def _sl(axis, s, nd):
    idx = [slice(None)] * nd
    idx[axis] = s
    return tuple(idx)


def geometry_from_csr(op: _Stencil, csr: sp.spmatrix | sp.sparray) -> _Stencil:
    """Fill the unmasked stencil ``op`` (built on the grid and spacing) with the face weights, box
    conditions and tags of the matrix ``csr``; see :meth:`PoissonStencil.from_csr`."""
    shape, nd = op.grid_shape, len(op.grid_shape)
    n = int(np.prod(shape))
    if sp.issparse(csr):
        if np.iscomplexobj(csr.data):
            raise ValueError("from_csr: the matrix is complex; a Poisson stencil is real")
        A = sp.csr_matrix(csr, dtype=np.float64, copy=True)
    else:
        arr = np.asarray(csr)
        if np.iscomplexobj(arr):
            raise ValueError("from_csr: the matrix is complex; a Poisson stencil is real")
        if arr.ndim != 2:
            raise ValueError(f"from_csr: expected a 2-D matrix, got an array of shape {arr.shape}")
        A = sp.csr_matrix(arr.astype(np.float64))
    if A.shape != (n, n):
        raise ValueError(f"from_csr: the matrix is {A.shape[0]}x{A.shape[1]}, but the grid {shape} has "
                         f"{n} cells (all cells are unknowns)")
    A.sum_duplicates()
    if not np.all(np.isfinite(A.data)):
        raise ValueError("from_csr: the matrix has NaN or Inf entries")
    A.eliminate_zeros()
    A.sort_indices()
    scale = float(np.abs(A.data).max()) if A.nnz else 0.0
    asym = abs(A - A.T)
    if asym.nnz and asym.max() > 1e-12 * scale:
        coo = asym.tocoo()
        k = int(np.argmax(coo.data))
        raise ValueError(f"from_csr: the matrix is not symmetric: |a_ij - a_ji| = {coo.data[k]:.3g} at "
                         f"(i, j) = ({coo.row[k]}, {coo.col[k]})")
    A = ((A + A.T) * 0.5).tocoo()
    off = A.row != A.col
    r, c, v = A.row[off], A.col[off], A.data[off]
    # ---- pattern: every off-diagonal couples two cells that share a face
    ri = np.unravel_index(r, shape)
    ci = np.unravel_index(c, shape)
    dist = sum(np.abs(ci[a] - ri[a]) for a in range(nd)) if r.size else np.zeros(0, dtype=np.int64)
    bad = np.flatnonzero(dist != 1)
    if bad.size:
        k = bad[0]
        cell_r = tuple(int(ri[a][k]) for a in range(nd))
        cell_c = tuple(int(ci[a][k]) for a in range(nd))
        raise ValueError(f"from_csr: entry ({r[k]}, {c[k]}) couples cells {cell_r} and {cell_c}, which do not "
                         f"share a face of the grid {shape}: not a {2 * nd + 1}-point stencil on that grid "
                         "(wrong grid_shape or ordering? cells are numbered in C order)")
    pos = np.flatnonzero(v > 0)
    if pos.size:
        k = pos[0]
        raise ValueError(f"from_csr: off-diagonal entry ({r[k]}, {c[k]}) = {v[k]:.6g} is positive; a Poisson "
                         "stencil has nonpositive off-diagonals (face weights w_f >= 0)")
    d = np.asarray(A.diagonal(), dtype=np.float64)
    if np.any(d <= 0):
        k = int(np.flatnonzero(d <= 0)[0])
        raise ValueError(f"from_csr: diagonal entry {k} is {d[k]:.6g}; a Poisson stencil has a positive "
                         "diagonal in every cell")
    offsum = np.bincount(r, weights=-v, minlength=n)
    excess = d - offsum
    tol = 64.0 * np.finfo(np.float64).eps * d
    short = np.flatnonzero(excess < -tol)
    if short.size:
        k = short[np.argmin(excess[short] / d[short])]
        raise ValueError(f"from_csr: row {k} is not diagonally dominant: diagonal {d[k]:.6g} < sum of "
                         f"|off-diagonals| {offsum[k]:.6g}; a Poisson stencil has diagonal = interior face "
                         "weights + Dirichlet sink >= 0")
    sink = np.where(excess > tol, excess, 0.0).reshape(shape)

    # ---- box faces of every cell
    faces = [(a, side) for a in range(nd) for side in (0, 1)]

    def on_face(a, side):
        idx = np.arange(shape[a]) == (0 if side == 0 else shape[a] - 1)
        return np.broadcast_to(idx.reshape([-1 if b == a else 1 for b in range(nd)]), shape)

    touch = {f: on_face(*f) for f in faces}
    nfaces = sum(t.astype(np.int64) for t in touch.values())
    inner = (nfaces == 0) & (sink > 0)
    if inner.any():
        k = int(np.flatnonzero(inner.ravel())[0])
        raise ValueError(f"from_csr: cell {np.unravel_index(k, shape)} (row {k}) lies on no box face but its "
                         f"diagonal exceeds its |off-diagonals| by {sink.ravel()[k]:.6g}: a reaction/shift "
                         "term, which a Poisson stencil (face fluxes, Dirichlet sinks on box faces) cannot "
                         "represent")
    has = sink > 0
    active = {f: bool(np.any(has & touch[f] & (nfaces == 1))) for f in faces}
    reached = np.zeros(shape, dtype=bool)
    for f in faces:
        if active[f]:
            reached |= touch[f]
    orphan = has & ~reached
    for f in faces:
        if np.any(orphan & touch[f]):
            active[f] = True
    inv_h2 = [1.0 / h ** 2 for h in op.spacing]
    denom = np.zeros(shape)
    for (a, side) in faces:
        if active[(a, side)]:
            denom += np.where(touch[(a, side)], inv_h2[a], 0.0)
    share = np.divide(sink, denom, out=np.zeros(shape), where=denom > 0)

    # ---- face weights: interior faces from the off-diagonals, box faces from the sinks
    weights = []
    up = c > r
    for a in range(nd):
        N = shape[a]
        fshape = list(shape)
        fshape[a] += 1
        W = np.zeros(fshape)
        sel = up & (ci[a] != ri[a])     # the upper-triangle entries along axis a: face c_a
        idx = tuple(ci[b][sel] for b in range(nd))
        W[idx] = -v[sel]
        if active[(a, 0)]:
            W[_sl(a, 0, nd)] = (share * inv_h2[a])[_sl(a, 0, nd)]
        if active[(a, 1)]:
            W[_sl(a, N, nd)] = (share * inv_h2[a])[_sl(a, N - 1, nd)]
        weights.append(np.ascontiguousarray(W))
    bw = np.zeros(shape)
    for a in range(nd):
        N = shape[a]
        bw[_sl(a, 0, nd)] += weights[a][_sl(a, 0, nd)]
        bw[_sl(a, N - 1, nd)] += weights[a][_sl(a, N, nd)]
    diag = np.ascontiguousarray(d.reshape(shape))
    op._geo = {"face_weights": tuple(weights), "cells": np.arange(n, dtype=np.int64),
               "index": np.arange(n, dtype=np.int64).reshape(shape), "diag_grid": diag,
               "boundary_weights": bw.ravel(), "diag_c": diag.ravel()}
    op.bc = tuple(tuple("dirichlet" if active[(a, s)] else "neumann" for s in (0, 1)) for a in range(nd))
    op.coefficient = None
    op._carr = None
    op.uniform = False
    ncomp, labels = connected_components(op.tocsr(), directed=False)
    has_dir = np.bincount(labels, weights=op.boundary_weights, minlength=ncomp) > 0
    op.n_components = int(ncomp)
    op.singular_components = int(np.count_nonzero(~has_dir))
    op.positive_definite = op.singular_components == 0
    return op

"""Matrix-free finite-volume Poisson stencils on 2D/3D boxes with cell masks.

The operator is the 5-point (2D) / 7-point (3D) discretisation of ``−∇·(c ∇u)`` on a uniform
grid of cells, with the positive (semi)definite sign convention so that CG applies. It is the
standard pressure-Poisson matrix of grid-based fluid solvers (R. Bridson, "Fluid Simulation for
Computer Graphics", 2nd ed., CRC Press 2015, ch. 5): solid cells are removed and their faces
carry no flux; the box faces follow ``bc``. Face coefficients of a variable coefficient are the
harmonic means of the two cells' values (the flux-continuous choice for layered media; S. V.
Patankar, "Numerical Heat Transfer and Fluid Flow", 1980, §4.2).

Exact definition (used by the numba kernels, :meth:`PoissonStencil.tocsr` and exposed as
attributes so that other back ends can rebuild the identical operator)::

    (A u)_i = Σ_faces f of cell i   w_f · (u_i − u_nb(f))

``w_f = c_f / h_a²`` for a face normal to axis ``a`` (``h_a`` the spacing), with
``u_nb = 0`` across a Dirichlet box face (the Dirichlet value sits in the ghost cell one
spacing outside the box), and ``w_f = 0`` across a Neumann box face or a face touching a solid
cell. ``face_weights[a]`` stores all ``w_f`` of axis ``a`` (shape: the grid with axis ``a``
one longer; entry ``j`` along axis ``a`` is the face between cells ``j−1`` and ``j``; entries
``0`` and ``N_a`` are the box faces).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import numbers

import numpy as np
import scipy.sparse as sp

from ..threads import pick
from . import _stencil_kernels as K
from .base import LinearOperator

if TYPE_CHECKING:  # annotations only
    from collections.abc import Sequence
    from typing import Any

    import numpy.typing as npt
    from typing_extensions import Self


__all__ = ["PoissonStencil"]

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


def _parse_spacing(spacing, shape):
    nd = len(shape)
    if spacing is None:
        h = [1.0 / (n + 1) for n in shape]
    elif isinstance(spacing, numbers.Real):
        h = [float(spacing)] * nd
    else:
        h = [float(s) for s in spacing]
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


class PoissonStencil(LinearOperator):
    """The 5-point (2D) / 7-point (3D) operator ``−∇·(c∇u)`` on the cells of a (masked) box.

    Build it with :func:`krylearn.pde.poisson`, which documents the parameters, or from an
    assembled matrix of a full box with :meth:`from_csr`.

    Attributes
    ----------
    grid_shape : tuple of int
        The box of cells ``(N0, N1[, N2])``, C order (the last axis is contiguous).
    spacing : tuple of float
        ``h_a`` per axis.
    bc : tuple of (str, str)
        ``(low, high)`` box condition per axis.
    mask : ndarray of bool, grid shape
        True for the cells that are unknowns.
    index : ndarray of int64, grid shape
        The unknown number of each cell, −1 for solid cells (unknowns are numbered in C order).
    cells : ndarray of int64
        Flat (C-order) grid index of each unknown: ``cells[index[g]] == g``.
    coefficient : float or ndarray or None
        The cell coefficient ``c`` (an array of the grid shape if it varies; None for an operator
        rebuilt from its matrix by :meth:`from_csr`).
    face_weights : tuple of ndarray
        ``face_weights[a]`` has the grid shape with axis ``a`` one longer: the weight
        ``w_f = c_f/h_a²`` of every face normal to axis ``a`` (see the module docstring); zero for
        Neumann box faces and faces touching a solid cell.
    boundary_weights : ndarray
        Per unknown, the sum of its Dirichlet box-face weights (its diagonal minus its interior
        face weights).
    n_components, singular_components : int
        Connected components of the unknowns, and how many of them touch no Dirichlet face (each
        such component adds one constant vector to the null space).
    positive_definite : bool
        True when ``singular_components == 0``; otherwise the operator is only positive
        *semidefinite* (e.g. all-Neumann): CG still works for consistent right-hand sides.

    Notes
    -----
    Kernels: unmasked constant coefficient → a dedicated constant-weight kernel; unmasked variable
    coefficient → per-face weight arrays; masked → the index map. Each loops over the outer grid
    axis with ``prange``; they run serial below ``krylearn.threads.PARALLEL_MIN`` unknowns
    (``2**21`` by default) and as ``parallel=True`` twins above it. Face weights and index maps of
    unmasked grids are built on first access only.
    """

    coefficient: float | np.ndarray | None  # None: c = 1
    _geo: dict[str, Any]  # the geometry arrays of the kernels, built on first use

    def __init__(self, shape: Sequence[int], spacing: float | Sequence[float] | None = None,
                 bc: str | tuple = "dirichlet", mask: npt.ArrayLike | None = None,
                 coefficient: float | npt.ArrayLike | None = None) -> None:
        try:
            shape = tuple(int(n) for n in shape)
        except TypeError:
            raise ValueError(f"shape must be a tuple of 2 or 3 grid sizes, got {shape!r}") from None
        nd = len(shape)
        if nd not in (2, 3):
            raise ValueError(f"poisson supports 2D and 3D grids, got shape {shape}")
        if any(n < 1 for n in shape):
            raise ValueError(f"grid sizes must be positive, got {shape}")
        self.grid_shape = shape
        self.spacing = _parse_spacing(spacing, shape)
        self.bc = _parse_bc(bc, nd)

        if mask is None:
            fluid = None
        else:
            fluid = np.asarray(mask)
            if fluid.shape != shape:
                raise ValueError(f"mask has shape {fluid.shape}, the grid is {shape}")
            if fluid.dtype != bool:
                if not np.all(np.isin(fluid, (0, 1))):
                    raise ValueError("mask must be boolean (True for cells inside the domain)")
                fluid = fluid.astype(bool)
            if fluid.all():
                fluid = None
            elif not fluid.any():
                raise ValueError("mask has no cell inside the domain (all False)")
        self.masked = fluid is not None
        self.mask = np.ones(shape, dtype=bool) if fluid is None else np.ascontiguousarray(fluid)

        if coefficient is None:
            coefficient = 1.0
        if isinstance(coefficient, numbers.Real) or np.ndim(coefficient) == 0:
            c = float(cast(float, coefficient))  # a number or a 0-d array here (mypy keeps the ArrayLike union)
            if not np.isfinite(c) or c <= 0:
                raise ValueError(f"coefficient must be finite and positive, got {coefficient!r}")
            self.coefficient = c
            carr = None
        else:
            carr = np.asarray(coefficient, dtype=np.float64)
            if carr.shape != shape:
                raise ValueError(f"coefficient has shape {carr.shape}, the grid is {shape}")
            inside = carr[self.mask]
            if not np.all(np.isfinite(inside)) or not np.all(inside > 0):
                raise ValueError("coefficient must be finite and positive in every cell inside the domain")
            carr = np.where(self.mask, carr, 0.0)
            self.coefficient = carr
        self.uniform = carr is None and not self.masked and all(n >= 2 for n in shape)

        self._carr = carr
        self._geo = {}
        if self.masked:  # (masked: the geometry is needed now, for the definiteness check below)
            n = int(np.count_nonzero(self.mask))
        else:
            n = int(np.prod(shape))
        # ---- definiteness: every connected component needs a Dirichlet face
        if self.masked:
            from scipy.sparse.csgraph import connected_components

            self._geometry()
            ncomp, labels = connected_components(self.tocsr(), directed=False)
            has_dir = np.bincount(labels, weights=self.boundary_weights, minlength=ncomp) > 0
            self.n_components = int(ncomp)
            self.singular_components = int(np.count_nonzero(~has_dir))
        else:
            self.n_components = 1
            has_dirichlet = any(side == "dirichlet" for pair in self.bc for side in pair)
            self.singular_components = 0 if has_dirichlet else 1
        super().__init__((n, n), dtype=np.float64, symmetric=True,
                         positive_definite=self.singular_components == 0)
        self.positive_semidefinite = True

    def _geometry(self):
        """Face weights, diagonal and index maps (built on first use for unmasked grids, so a large
        uniform grid costs no memory beyond its vectors)."""
        g = self._geo
        if g:
            return g
        shape, nd = self.grid_shape, len(self.grid_shape)
        m = self.mask
        weights = []
        diag = np.zeros(shape)
        for a in range(nd):
            N, h2 = shape[a], self.spacing[a] ** 2
            fshape = list(shape)
            fshape[a] += 1
            W = np.zeros(fshape)
            lo, hi = _sl(a, slice(0, N - 1), nd), _sl(a, slice(1, N), nd)
            both = m[lo] & m[hi]
            if self._carr is None:
                W[_sl(a, slice(1, N), nd)] = np.where(both, self.coefficient / h2, 0.0)
                cl = ch = np.where(m, self.coefficient, 0.0)
            else:
                ca, cb = self._carr[lo], self._carr[hi]
                with np.errstate(divide="ignore", invalid="ignore"):
                    hm = np.where(both, 2.0 * ca * cb / np.where(both, ca + cb, 1.0), 0.0)
                W[_sl(a, slice(1, N), nd)] = hm / h2
                cl = ch = self._carr
            if self.bc[a][0] == "dirichlet":
                W[_sl(a, 0, nd)] = cl[_sl(a, 0, nd)] / h2
            if self.bc[a][1] == "dirichlet":
                W[_sl(a, N, nd)] = ch[_sl(a, N - 1, nd)] / h2
            weights.append(np.ascontiguousarray(W))
            diag += W[_sl(a, slice(0, N), nd)] + W[_sl(a, slice(1, N + 1), nd)]
        g['face_weights'] = tuple(weights)
        cells = np.flatnonzero(m.ravel()).astype(np.int64)
        n = cells.size
        g['cells'] = cells
        index = np.full(m.size, -1, dtype=np.int64)
        index[cells] = np.arange(n)
        g['index'] = index.reshape(shape)
        g['diag_grid'] = diag
        bw = np.zeros(shape)
        for a in range(nd):
            N = shape[a]
            bw[_sl(a, 0, nd)] += weights[a][_sl(a, 0, nd)]
            bw[_sl(a, N - 1, nd)] += weights[a][_sl(a, N, nd)]
        g['boundary_weights'] = bw.ravel()[cells] if self.masked else bw.ravel()
        g['diag_c'] = np.ascontiguousarray(diag.ravel()[cells]) if self.masked else diag.ravel()
        return g

    @classmethod
    def from_csr(cls, csr: sp.spmatrix | sp.sparray, grid_shape: tuple[int, ...], *,
                 spacing: float | Sequence[float] | None = None) -> Self:
        """Rebuild the stencil operator of an assembled matrix on the cells of a full box.

        Parameters
        ----------
        csr : scipy.sparse matrix or array
            ``n × n`` with ``n = prod(grid_shape)``; row/column ``k`` is the cell with C-order
            (last axis fastest) grid index ``k``. Every cell is an unknown (no mask).
        grid_shape : tuple of int
            The box of cells, 2D or 3D.
        spacing : float or sequence of float, optional
            ``h_a`` per axis, as in :func:`krylearn.pde.poisson` (default ``1/(N_a + 1)``). It does
            not change the operator; it only decides how the Dirichlet sink of an edge/corner cell
            is split between its box faces (see Notes) and sets ``spacing``.

        Returns
        -------
        PoissonStencil
            Unmasked, with ``tocsr()`` equal to ``csr`` (to rounding; explicit zeros dropped),
            ``face_weights``, ``boundary_weights`` (the per-cell Dirichlet sink), ``bc`` (see Notes)
            and the definiteness tags recomputed. ``coefficient`` is ``None`` (a matrix does not
            determine it); the operator uses the per-face-weight kernels.

        Raises
        ------
        ValueError
            If the matrix is not such an operator: wrong size, not finite or real, not symmetric,
            an entry outside the 5-point (2D) / 7-point (3D) pattern of ``grid_shape``, a positive
            off-diagonal, a nonpositive diagonal, a diagonal smaller than the sum of the row's
            ``|off-diagonals|``, or a diagonal excess (sink) in a cell that lies on no box face
            (a reaction/shift term, which a face-flux operator cannot represent).

        Notes
        -----
        Interior face weights are the negated off-diagonals (of ``(A + Aᵀ)/2``; the diagonal is kept
        as given). The *sink* of a cell is its diagonal minus the sum of its ``|off-diagonals|``
        (set to 0 below ``64·eps·a_ii``, so rounding does not create a Dirichlet face). It belongs
        to the cell's box faces:

        1. a box face is **Dirichlet** (``bc``) if some cell that lies on it and on no other box
           face has a sink; then, if a cell with a sink touches no Dirichlet face (possible only
           for edge/corner cells, e.g. on a face that is all edges), all its box faces become
           Dirichlet; every other face is Neumann (zero weight);
        2. each cell's sink is split between its Dirichlet faces in proportion to ``1/h_a²``.

        For a matrix from ``kl.pde.poisson(shape, spacing=h, bc=..., coefficient=...)`` (any
        coefficient) given the same ``spacing``, this recovers the original face weights and ``bc``
        exactly (to rounding) whenever every box face has a cell on no other box face (sides of at
        least 3 cells); otherwise, or with another spacing, the face weights of edge/corner cells may
        be split differently, but the operator (``tocsr()``, the sinks) is always reproduced.

        Examples
        --------
        >>> import numpy as np, krylearn as kl
        >>> from krylearn.operators.stencil import PoissonStencil
        >>> A = kl.pde.poisson((16, 12), bc=["dirichlet", ("neumann", "dirichlet")])
        >>> B = PoissonStencil.from_csr(A.tocsr(), (16, 12))
        >>> B.bc == A.bc and bool(abs(B.tocsr() - A.tocsr()).max() < 1e-9)
        True
        """
        from scipy.sparse.csgraph import connected_components

        op = cls(grid_shape, spacing=spacing)   # validates grid_shape/spacing; geometry set below
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

    face_weights = property(lambda self: self._geometry()["face_weights"],
                            doc="Per-axis face weights ``w_f = c_f/h_a²`` (see the class docstring).")
    index = property(lambda self: self._geometry()["index"],
                     doc="Grid-shaped map cell -> unknown number (−1 for solid cells).")
    cells = property(lambda self: self._geometry()["cells"],
                     doc="Flat C-order grid index of each unknown.")
    boundary_weights = property(lambda self: self._geometry()["boundary_weights"],
                                doc="Per unknown, the sum of its Dirichlet box-face weights.")
    _diag_grid = property(lambda self: self._geometry()["diag_grid"])
    _diag_c = property(lambda self: self._geometry()["diag_c"])

    # ---- grid helpers ---------------------------------------------------------------
    @property
    def ndim_grid(self) -> int:
        return len(self.grid_shape)

    def to_grid(self, v: npt.ArrayLike, fill: float = 0.0) -> np.ndarray:
        """Scatter a vector of unknowns (or an ``(n, k)`` block) to the grid; ``fill`` outside the domain.

        ``fill=np.nan`` marks solid cells for plotting."""
        v = np.asarray(v)
        n = self.shape[0]
        if v.shape[0] != n or v.ndim not in (1, 2):
            raise ValueError(f"to_grid: expected {n} values (or an ({n}, k) block), got shape {v.shape}")
        extra = v.shape[1:]
        out = np.full(self.grid_shape + extra, fill, dtype=np.result_type(v.dtype, np.asarray(fill).dtype))
        out[self.mask] = v
        return out

    def from_grid(self, u: npt.ArrayLike) -> np.ndarray:
        """Gather the unknowns from a grid array (inverse of :meth:`to_grid`)."""
        u = np.asarray(u)
        if u.shape[:self.ndim_grid] != self.grid_shape:
            raise ValueError(f"from_grid: expected an array of grid shape {self.grid_shape}, got {u.shape}")
        return u[self.mask] if self.masked else u.reshape((self.shape[0],) + u.shape[self.ndim_grid:]).copy()

    # ---- products ---------------------------------------------------------------------
    def matvec_dot(self, x: np.ndarray, out: np.ndarray) -> float:
        """``out[:] = A x`` in place and return ``xᵀ A x`` (one fused pass; CG's hook).

        ``x`` and ``out`` must be C-contiguous vectors of length ``n``, both float64 or both float32
        (the float32 kernels read the float64 coefficients and accumulate the dot in float64)."""
        nd = self.ndim_grid
        n = x.shape[0]
        if self.masked:
            W = self.face_weights
            if nd == 2:
                return pick(K._masked2d, n)(x, out, self._diag_c, W[0], W[1], self.index)
            return pick(K._masked3d, n)(x, out, self._diag_c, W[0], W[1], W[2], self.index)
        X = x.reshape(self.grid_shape)
        Y = out.reshape(self.grid_shape)
        if self.uniform:
            a = [self.coefficient / h ** 2 for h in self.spacing]
            nn = [float(s == "neumann") for pair in self.bc for s in pair]
            if nd == 2:
                return pick(K._uniform2d, n)(X, Y, a[0], a[1], *nn)
            return pick(K._uniform3d, n)(X, Y, a[0], a[1], a[2], *nn)
        if min(self.grid_shape) >= 2:
            W = self.face_weights
            if nd == 2:
                return pick(K._variable2d, n)(X, Y, self._diag_grid, W[0], W[1])
            return pick(K._variable3d, n)(X, Y, self._diag_grid, W[0], W[1], W[2])
        # degenerate boxes (an axis of length 1): the index-map kernel handles every case
        W = self.face_weights
        if nd == 2:
            return pick(K._masked2d, n)(x, out, self._diag_c, W[0], W[1], self.index)
        return pick(K._masked3d, n)(x, out, self._diag_c, W[0], W[1], W[2], self.index)

    def _matvec(self, x):
        if np.iscomplexobj(x):
            return self._matvec(np.ascontiguousarray(x.real)) + 1j * self._matvec(np.ascontiguousarray(x.imag))
        x = np.ascontiguousarray(x, dtype=np.float32 if x.dtype == np.float32 else np.float64)
        out = np.empty_like(x)
        self.matvec_dot(x, out)
        return out

    _rmatvec = _matvec

    def matmat_dot(self, X: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``out[:] = A X`` in place for ``X`` of shape ``(n, k)`` and return the ``k`` column dots
        ``x_cᵀ A x_c`` — one pass over the operator for all columns (batched CG's hook).

        ``X`` and ``out`` must be C-contiguous arrays, both float64 or both float32 (the ``k``
        values of a cell are contiguous). Uses the index-map kernels for every grid (an unmasked grid builds its face
        weights on first use)."""
        W = self.face_weights
        partial = np.empty((self.grid_shape[0], X.shape[1]))
        if self.ndim_grid == 2:
            pick(K._block2d, X.size)(X, out, self._diag_c, W[0], W[1], self.index, partial)
        else:
            pick(K._block3d, X.size)(X, out, self._diag_c, W[0], W[1], W[2], self.index, partial)
        return partial.sum(axis=0)

    def _matmat(self, X):
        if X.shape[1] == 1 or np.iscomplexobj(X):
            out = np.empty(X.shape, dtype=np.result_type(X.dtype, np.float64))
            for j in range(X.shape[1]):
                out[:, j] = self._matvec(X[:, j])
            return out
        X = np.ascontiguousarray(X, dtype=np.float32 if X.dtype == np.float32 else np.float64)
        out = np.empty_like(X)
        self.matmat_dot(X, out)
        return out

    _rmatmat = _matmat

    def _diagonal(self):
        return self._diag_c.copy()

    def tocsr(self) -> sp.csr_matrix:
        """The identical matrix as ``scipy.sparse.csr_matrix`` (sorted indices, no duplicates)."""
        nd, shape = self.ndim_grid, self.grid_shape
        n = self.cells.size
        rows, cols, vals = [np.arange(n)], [np.arange(n)], [self._diag_c]
        for a in range(nd):
            N = shape[a]
            w = self.face_weights[a][_sl(a, slice(1, N), nd)]
            i1 = self.index[_sl(a, slice(0, N - 1), nd)]
            i2 = self.index[_sl(a, slice(1, N), nd)]
            keep = w != 0
            w, i1, i2 = w[keep], i1[keep], i2[keep]
            rows += [i1, i2]
            cols += [i2, i1]
            vals += [-w, -w]
        A = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
        A.sum_duplicates()
        A.sort_indices()
        return A

    def todense(self) -> np.ndarray:
        return self.tocsr().toarray()

    def __repr__(self):
        kind = "masked " if self.masked else ""
        pd = "positive definite" if self.positive_definite else "positive semidefinite"
        return (f"<{self.shape[0]}x{self.shape[1]} {kind}PoissonStencil grid={self.grid_shape} "
                f"bc={self.bc} {pd}>")

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
from ._stencil_geometry import _parse_bc, _sl, geometry_from_csr, grid_spacing
from .base import LinearOperator

if TYPE_CHECKING:  # annotations only
    from collections.abc import Sequence
    from typing import Any

    import numpy.typing as npt
    from typing_extensions import Self


__all__ = ["PoissonStencil", "grid_spacing"]

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
        self.spacing = grid_spacing(spacing, shape)
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
        op = cls(grid_shape, spacing=spacing)   # validates grid_shape/spacing; geometry set below
        return geometry_from_csr(op, csr)

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
            c = cast(float, self.coefficient)    # uniform: the coefficient is one number
            a = [c / h ** 2 for h in self.spacing]
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

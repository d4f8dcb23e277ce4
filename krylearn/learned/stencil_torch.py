"""The grid Poisson operator of :func:`krylearn.pde.poisson` applied in torch, by shifts on the grid.

The DCDM loss (Kaneda et al., ICML 2023) needs ``A q`` for a batch of network outputs ``q`` living
on the grid; assembling a dense or sparse torch matrix is avoided: the operator is stored as
face coefficients and applied with slicing/padding (the flux form of a 5/7-point stencil)::

    (A u)_i = Σ_d [ w_d,i+½ (u_i − u_{i+e_d}) + w_d,i−½ (u_i − u_{i−e_d}) ] + c_i u_i

``w_d`` holds the coefficient of every *interior* face along axis ``d`` (zero across a solid
face: Neumann), and ``c`` collects what the box boundary adds to the diagonal (Dirichlet faces;
zero for Neumann faces). Both are read off the assembled CSR matrix of the krylearn operator,
so the torch operator is *identical* to ``PoissonStencil.matvec`` / ``.tocsr()`` (the tests
check it), whatever spacing, coefficient or boundary convention the stencil uses. Solid cells
(``mask`` False) have no faces and ``c = 0``, so ``A u`` is zero there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from .._optional import require

if TYPE_CHECKING:  # pragma: no cover - names for static checkers only
    from collections.abc import Sequence

    import numpy.typing as npt
    import torch
    from numpy.typing import NDArray
    from typing_extensions import Self

    from ..operators.base import LinearOperator
    from ..operators.stencil import PoissonStencil
else:
    torch = require("torch", "the DCDM learned solver (krylearn.learned)")
F = torch.nn.functional

__all__ = ["TorchStencil", "grid_index", "face_coefficients"]


def grid_index(mask: npt.ArrayLike) -> NDArray[np.int64]:
    """Grid of unknown numbers (C order over the fluid cells), -1 at solid cells."""
    fluid = np.asarray(mask, dtype=bool)
    idx = np.full(fluid.shape, -1, dtype=np.int64)
    idx[fluid] = np.arange(int(fluid.sum()))
    return idx


def face_coefficients(csr: sp.spmatrix | sp.sparray,
                      mask: npt.ArrayLike) -> tuple[list[NDArray[np.float64]], NDArray[np.float64]]:
    """Face coefficients ``w_d`` and boundary diagonal ``c`` of a grid stencil matrix.

    Parameters
    ----------
    csr : scipy.sparse matrix, shape (n, n)
        The assembled stencil over the fluid cells of ``mask`` (C order).
    mask : ndarray of bool
        True for fluid cells; ``n = mask.sum()``.

    Returns
    -------
    weights : list of ndarray
        ``weights[d]`` has the grid shape with ``shape[d] - 1`` along axis ``d``.
    c : ndarray
        Grid-shaped diagonal remainder ``A_ii − Σ_faces w`` (the Dirichlet boundary terms).

    Raises
    ------
    ValueError
        If the matrix size does not match the mask, or it has couplings that are not
        nearest-neighbour faces of the grid.
    """
    fluid = np.asarray(mask, dtype=bool)
    csr = sp.csr_matrix(csr)
    n = int(fluid.sum())
    if csr.shape != (n, n):
        raise ValueError(f"matrix of shape {csr.shape} does not match a mask with {n} fluid cells")
    idx = grid_index(fluid)
    dim = fluid.ndim
    diag = csr.diagonal()
    c = np.zeros(fluid.shape)
    c[fluid] = diag
    weights: list[NDArray[np.float64]] = []
    nnz_faces = 0
    for d in range(dim):
        lo: list[slice] = [slice(None)] * dim
        hi: list[slice] = [slice(None)] * dim
        lo[d] = slice(0, -1)
        hi[d] = slice(1, None)
        a, b = idx[tuple(lo)], idx[tuple(hi)]
        both = (a >= 0) & (b >= 0)
        w = np.zeros(a.shape)
        if both.any():
            vals = -np.asarray(csr[a[both], b[both]]).ravel()
            w[both] = vals
            nnz_faces += int(np.count_nonzero(vals))
        weights.append(w)
        # remove the face contributions from the diagonal of both cells
        c[tuple(lo)] -= w
        c[tuple(hi)] -= w
    offdiag = csr.nnz - np.count_nonzero(diag)
    if offdiag != 2 * nnz_faces:
        raise ValueError("the matrix has couplings beyond nearest-neighbour grid faces; "
                         "it is not a 5/7-point stencil on this mask")
    c[~fluid] = 0.0
    c[np.abs(c) < 1e-12 * max(1.0, np.abs(diag).max(initial=0.0))] = 0.0
    return weights, c


class TorchStencil:
    """A (batch of) grid stencil operator(s) applied to torch tensors by shifts.

    Parameters
    ----------
    weights : sequence of array_like
        Per axis ``d`` the interior face coefficients, shape ``(K, *face_shape_d)`` for ``K``
        operators (or without the leading ``K`` for one).
    c : array_like
        Boundary diagonal terms, shape ``(K, *grid)`` (or ``grid``).
    mask : array_like of bool
        ``(K, *grid)`` or ``grid``.
    device, dtype : torch device and dtype (default CPU, float32).

    Notes
    -----
    :meth:`apply` takes ``u`` of shape ``(B, *grid)`` or ``(B, 1, *grid)`` and an optional
    ``index`` (length ``B``) choosing which of the ``K`` operators acts on each batch entry.
    """

    def __init__(self, weights: Sequence[npt.ArrayLike | torch.Tensor], c: npt.ArrayLike | torch.Tensor,
                 mask: npt.ArrayLike | torch.Tensor, *, device: str | torch.device | None = None,
                 dtype: torch.dtype | None = None) -> None:
        dtype = dtype or torch.float32
        mask = torch.as_tensor(np.asarray(mask, dtype=bool))
        self.grid = tuple(mask.shape[-len(weights):])
        self.dim = len(weights)
        if self.dim not in (2, 3):
            raise ValueError("only 2D and 3D grids are supported")

        def _b(t):
            t = torch.as_tensor(np.asarray(t), dtype=dtype, device=device)
            return t if t.dim() == self.dim + 1 else t.unsqueeze(0)

        self.weights = [_b(w) for w in weights]
        self.c = _b(c)
        self.mask = _b(np.asarray(mask, dtype=float))
        self.K = self.c.shape[0]
        self.device = self.c.device
        self.dtype = dtype

    @classmethod
    def from_csr(cls, csr: sp.spmatrix | sp.sparray, mask: npt.ArrayLike, **kw: Any) -> Self:
        """From an assembled stencil matrix over the fluid cells of ``mask``."""
        w, c = face_coefficients(csr, mask)
        return cls(w, c, mask, **kw)

    @classmethod
    def from_operator(cls, A: PoissonStencil, **kw: Any) -> Self:
        """From a :class:`krylearn.operators.PoissonStencil` (uses its ``mask`` and ``tocsr()``)."""
        mask = grid_mask(A)
        return cls.from_csr(A.tocsr(), mask, **kw)

    @classmethod
    def stack(cls, ops: Sequence[TorchStencil]) -> Self:
        """One batched operator from several single ones (same grid)."""
        return cls([torch.cat([o.weights[d] for o in ops]) for d in range(ops[0].dim)],
                   torch.cat([o.c for o in ops]), torch.cat([o.mask for o in ops]).bool(),
                   device=ops[0].device, dtype=ops[0].dtype)

    def to(self, device: str | torch.device) -> TorchStencil:
        """The same operator(s) on another device."""
        return TorchStencil(self.weights, self.c, self.mask.bool(), device=device, dtype=self.dtype)

    def _sel(self, t, index, B):
        if index is None:
            return t if t.shape[0] in (1, B) else t[:1].expand(B, *t.shape[1:])
        return t[index]

    def apply(self, u: torch.Tensor, index: torch.Tensor | Sequence[int] | None = None) -> torch.Tensor:
        """``A u`` for ``u`` of shape ``(B, *grid)`` or ``(B, 1, *grid)``."""
        squeeze = u.dim() == self.dim + 2
        if squeeze:
            u = u[:, 0]
        B = u.shape[0]
        out = self._sel(self.c, index, B) * u
        for d in range(self.dim):
            ax = d + 1
            n = u.shape[ax]
            du = u.narrow(ax, 0, n - 1) - u.narrow(ax, 1, n - 1)   # u_i − u_{i+1} on each face
            flux = self._sel(self.weights[d], index, B) * du
            # cell i receives +flux_{i+½} and −flux_{i−½}
            pad_hi = [0, 0] * (self.dim - d - 1) + [0, 1]
            pad_lo = [0, 0] * (self.dim - d - 1) + [1, 0]
            out = out + F.pad(flux, pad_hi) - F.pad(flux, pad_lo)
        out = out * self._sel(self.mask, index, B)
        return out.unsqueeze(1) if squeeze else out


def grid_mask(A: LinearOperator) -> NDArray[np.bool_]:
    """The boolean fluid mask of a grid operator (``PoissonStencil``), all-True if it has none."""
    for name in ("mask", "grid_mask"):
        m = getattr(A, name, None)
        if m is not None:
            return np.asarray(m, dtype=bool)
    grid = getattr(A, "grid_shape", None) or getattr(A, "grid", None)
    if grid is None:
        raise ValueError("the operator carries no grid: pass a krylearn.pde.poisson(...) operator")
    return np.ones(tuple(grid), dtype=bool)

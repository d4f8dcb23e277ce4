"""A DCDM network on a BPX multilevel skeleton: learned level blocks, fixed grid transfers.

The network approximates ``A⁻¹`` up to a scale, as the DCDM network of Kaneda et al. (ICML 2023,
arXiv 2205.10763) does, but its coarse-to-fine structure is that of the additive multilevel
preconditioner of Bramble, Pasciak and Xu ("Parallel multilevel preconditioners", Math. Comp. 55,
1990): restrict the residual to every level of a grid hierarchy, treat each level locally, scale
it by the level's mesh size squared, interpolate back and add,

    q = Σ_ℓ 4^ℓ · P^ℓ g(R^ℓ r),

with ``R`` the cell-centred full-weighting restriction (an average, the adjoint of ``P`` over
``2^dim``) and ``P`` bilinear (trilinear) interpolation. ``g`` is learned: a small bias-free
residual convolutional net, one set of weights shared by every level, plus a second shared block
``h`` applied after each level's coarse contribution has been added (so the levels also act
multiplicatively, as in a U-Net decoder). Both start as zero maps (their last convolution is
zero-initialised), so the untrained network *is* the BPX preconditioner, and training improves it.

Why this skeleton (measured; benchmarks/results/dcdm.md). The paper's network and our U-Net
variants of :class:`~krylearn.learned.model.DCDMNet` have a fixed number of poolings; trained on
2D 128² obstacle problems they reach DCDM's tolerance there but stall at 256² and 512², because a
2D Green's function decays only logarithmically and a fixed-depth network sees a smaller share of a
larger domain, and because the ``4^ℓ`` growth of ``A⁻¹`` with the scale is something it has to
learn per level from one grid size. Here the number of levels follows the grid (down to a coarsest
side ≤ ``coarsest``) and the ``4^ℓ`` factor is fixed, so weights trained at 128² act on a 256² grid
exactly as on a 128² grid plus one more coarse level: the iteration counts of BPX itself grow only
slowly with the grid (2D obstacle problems, DCDM to 1e-4: 18, 21, 24 iterations at 128², 256², 512²),
and the trained network (shipped ``poisson2d``, 128², energy loss) needs 10 at all three sizes, with the
paper's ``k = 2``; in 3D 7–8 at 32³ and 64³ against BPX's 13–17 and the paper's network's 10
(benchmarks/results/dcdm.md).

Training uses :func:`~krylearn.learned.train.dcdm_energy_loss` (``--loss energy``): with the
paper's residual loss the same network converged only with ``k = 32`` and stalled with ``k = 2``.

The same input conventions as :class:`DCDMNet`: ``forward(r, mask)`` with ``r`` of shape
``(B, 1, *grid)`` or ``(B, *grid)``; the residual is zeroed at solid cells and normalised to unit
RMS over the fluid; the geometry enters every level as ``r · s`` with ``s`` the share of solid
cells around each (coarse) cell, which keeps the map positively homogeneous (``f(c r) = c f(r)``
for ``c > 0``); the output is multiplied by the mask. Any grid size works (odd sides are padded
by the transfers' ceil rule; sides divisible by ``2^levels`` coarsen exactly).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._optional import require

if TYPE_CHECKING:  # annotations only
    from collections.abc import Sequence

    import numpy as np
    import torch
else:
    torch = require("torch", "the DCDM learned solver (krylearn.learned)")
nn: Any = torch.nn  # typed Any: a static checker then takes nn.Module as a base class
F = torch.nn.functional

from .model import Conv2d, Conv3d, _ResBlock, coarsenings, normalized_input, solid_share  # noqa: E402

if TYPE_CHECKING:  # annotations only
    from ..typing import ArrayLike

__all__ = ["MultilevelNet"]


class _LevelBlock(nn.Module):
    """``x ↦ out(blocks(inp([x, x·s])))``: 2 input channels, ``channels`` features, 1 output, no biases.

    The output convolution starts at zero, so the block starts as the zero map."""

    def __init__(self, conv, channels, blocks):
        super().__init__()
        self.inp = conv(2, channels, 3, padding=1, bias=False)
        self.body = nn.Sequential(*[_ResBlock(conv, channels, bias=False) for _ in range(blocks)])
        self.out = conv(channels, 1, 3, padding=1, bias=False)
        nn.init.zeros_(self.out.weight)

    def forward(self, x, solid_share):
        return self.out(self.body(self.inp(torch.cat([x, x * solid_share], dim=1))))


class MultilevelNet(nn.Module):
    """``r ↦ q ≈ c·A⁻¹ r``: BPX multilevel skeleton with shared learned level blocks (see module doc).

    Parameters
    ----------
    dim : {2, 3}
    channels : int
        Feature channels of the level blocks (16, as the paper's network).
    blocks : (int, int)
        Residual blocks in the pre-block ``g`` (applied to each level's restricted residual) and the
        post-block ``h`` (applied after a level's coarse contribution is added).
    coarsest : int
        Coarsen while the smallest side exceeds this (4: a 128² grid has 6 levels, 256² has 7).
    level_factor : float
        Scale between consecutive levels: 4 = (2h)²/h², the growth of ``A⁻¹`` with the mesh size for
        the unscaled 5-/7-point stencil of :func:`krylearn.pde.poisson`.
    """

    arch = "multilevel"

    def __init__(self, dim: int = 2, channels: int = 16, blocks: tuple[int, ...] = (1, 1), coarsest: int = 4, level_factor: float = 4.0) -> None:
        super().__init__()
        if dim not in (2, 3):
            raise ValueError(f"dim must be 2 or 3, got {dim!r}")
        if int(coarsest) < 2:
            raise ValueError(f"coarsest must be >= 2, got {coarsest!r}")
        self.dim = int(dim)
        self.channels = int(channels)
        self.blocks = tuple(int(b) for b in blocks)
        if len(self.blocks) != 2 or min(self.blocks) < 0:
            raise ValueError(f"blocks must be two non-negative counts (pre, post), got {blocks!r}")
        self.coarsest = int(coarsest)
        self.level_factor = float(level_factor)
        conv = Conv2d if dim == 2 else Conv3d
        self.pre = _LevelBlock(conv, self.channels, self.blocks[0])
        self.post = _LevelBlock(conv, self.channels, self.blocks[1])
        w = torch.tensor([1.0, 3.0, 3.0, 1.0]) / 4.0      # 1D bilinear weights; sums to 2
        kernel = w
        for _ in range(dim - 1):
            kernel = kernel[..., None] * w
        self.register_buffer("_kernel", kernel.view(1, 1, *kernel.shape), persistent=False)
        self._conv = F.conv2d if dim == 2 else F.conv3d
        self._convT = F.conv_transpose2d if dim == 2 else F.conv_transpose3d

    def config(self) -> dict[str, Any]:
        """Constructor arguments (stored with the weights); ``arch`` picks this class on loading."""
        return {"arch": self.arch, "dim": self.dim, "channels": self.channels, "blocks": list(self.blocks),
                "coarsest": self.coarsest, "level_factor": self.level_factor}

    def levels_for(self, grid: Sequence[int]) -> int:
        """Number of coarsenings used on a grid of this shape."""
        return coarsenings(grid, self.coarsest)

    def _restrict(self, x):
        # full weighting: the adjoint of bilinear interpolation divided by 2^dim (an average)
        pad = [p for s in reversed(x.shape[2:]) for p in (0, s % 2)]
        if any(pad):
            x = F.pad(x, pad)
        k = self._kernel.to(x.dtype)
        return self._conv(x, k, stride=2, padding=1) / float(2 ** self.dim)

    def _prolong(self, x, like):
        k = self._kernel.to(x.dtype)
        y = self._convT(x, k, stride=2, padding=1)
        return y[(...,) + tuple(slice(0, s) for s in like.shape[2:])]

    def forward(self, r: ArrayLike, mask: torch.Tensor | np.ndarray | None = None) -> torch.Tensor:
        r, m, squeeze = normalized_input(r, mask, self.dim)
        residuals, fluids = [r], [m]
        for _ in range(self.levels_for(r.shape[2:])):
            residuals.append(self._restrict(residuals[-1]))
            fluids.append(self._restrict(fluids[-1]))
        shares = [solid_share(f, self.dim) for f in fluids]
        q = None
        for level in range(len(residuals) - 1, -1, -1):
            x, s = residuals[level], shares[level]
            y = x + self.pre(x, s)                  # BPX: the level's residual; learned: + g
            if q is not None:
                y = y + self.level_factor * self._prolong(q, x)
            q = y + self.post(y, s)
        return (q * m)[:, 0] if squeeze else q * m

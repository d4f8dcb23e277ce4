"""The DCDM network: a fully convolutional residual net approximating ``A⁻¹`` up to a scale.

Architecture after Kaneda et al., "A Deep Conjugate Direction Method for Iteratively Solving
Linear Systems", ICML 2023 (arXiv 2205.10763), §3.3/Fig. 2: 16 channels, 3×3 (3×3×3) kernels
with "same" zero padding; a linear input convolution, residual blocks at full resolution, one 2×
average pooling, residual blocks at half resolution, nearest-neighbour 2× upsampling, skip-add
of the full-resolution features, more residual blocks, and a final linear 1-channel convolution
(16 convolutions; 3D: ≈ 97k parameters, as in the paper's 64³ model).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._optional import require

if TYPE_CHECKING:  # annotations only
    from collections.abc import Sequence

    import numpy as np
    import torch

    from ..typing import ArrayLike
else:
    torch = require("torch", "the DCDM learned solver (krylearn.learned)")
nn: Any = torch.nn  # typed Any: a static checker then takes nn.Module as a base class
F = torch.nn.functional

__all__ = ["DCDMNet"]


def _use_onednn(x):
    return (x.device.type == "cpu" and x.dtype == torch.float32 and not torch.is_grad_enabled()
            and torch.backends.mkldnn.is_available())


class _OneDNNConv:
    """Mixin for ``nn.Conv2d``/``nn.Conv3d``: inference on CPU goes straight to oneDNN.

    PyTorch's CPU dispatch sends a batch-1 convolution with a small leading volume (``N·C·D·H ≤
    20480``, e.g. 16 channels on a 32³ grid) to its unblocked reference kernel; measured on one
    thread for 16→16 channels, 3×3×3: 43 ms at 32³ against 4 ms with oneDNN (10×, 16³ likewise),
    so a 3D network pass was dominated by its coarse levels. Training (autograd on) keeps PyTorch's
    own dispatch; the weights, state-dict keys and results (to float32 rounding) are unchanged."""

    def _conv_forward(self, x, weight, bias):
        if _use_onednn(x) and self.padding_mode == "zeros" and not isinstance(self.padding, str):
            return torch.mkldnn_convolution(x, weight, bias, list(self.padding), list(self.stride),
                                            list(self.dilation), self.groups)
        return super()._conv_forward(x, weight, bias)


class Conv2d(_OneDNNConv, nn.Conv2d):
    """``nn.Conv2d`` with the oneDNN inference path of :class:`_OneDNNConv`."""


class Conv3d(_OneDNNConv, nn.Conv3d):
    """``nn.Conv3d`` with the oneDNN inference path of :class:`_OneDNNConv`."""


class _ResBlock(nn.Module):
    """``x + relu(conv_b(relu(conv_a(x))))``."""

    def __init__(self, conv, channels, bias=True):
        super().__init__()
        self.a = conv(channels, channels, 3, padding=1, bias=bias)
        self.b = conv(channels, channels, 3, padding=1, bias=bias)

    def forward(self, x):
        return x + F.relu(self.b(F.relu(self.a(x))))


class DCDMNet(nn.Module):
    """Fully convolutional network ``r ↦ q ≈ c·A⁻¹ r`` on a 2D or 3D grid.

    Parameters
    ----------
    dim : {2, 3}
        Grid dimension.
    channels : int
        Feature channels (16 in the paper).
    blocks : (int, int, int)
        Residual blocks before pooling, at half resolution, and after the skip-add.
    mask_channel : bool
        Feed the fluid mask as a second input channel (default True).
    bias : bool
        Biases in the convolutions (default True, as in the paper; the shipped models use
        ``bias=False``, see Notes).
    levels : int
        Number of 2× poolings. ``levels=1`` is the paper's network (one pooling, residual
        blocks at half resolution, upsampling, skip-add). ``levels > 1`` nests the same
        pattern: at each intermediate level one residual block before pooling further and one
        after the upsample-and-skip-add, the ``blocks[1]`` middle blocks at the coarsest level,
        a U-Net with residual blocks. More levels widen the receptive field (the coarsest level
        of a 128² grid with ``levels=4`` is 8², which sees the whole domain), which a
        discrete Green's function needs, at little cost (each level has 1/4 (2D) or 1/8 (3D) of
        the cells of the one above). Measured on 128² obstacle problems: with ``levels=1`` DCDM
        stalls near ‖r‖/‖b‖ ≈ 2e-2 with 73% of the residual's energy in the lowest Fourier modes
        (``|k| ≤ 2``), the scale the paper's single pooling cannot see at this size; with
        ``levels=4`` the stall moves down and the residual left concentrates next to the solids,
        but the network still stalls at 256². The model shipped as ``poisson3d_paper`` uses the
        paper's ``levels=1``; the shipped ``poisson2d``/``poisson3d`` are
        :class:`~krylearn.learned.multilevel_net.MultilevelNet`.
    shared_levels : bool
        Size-adaptive variant (not in the paper): ``levels`` is ignored and the number of
        poolings is chosen per input so that the coarsest side is ≤ ``coarsest`` (4 on 128², 5 on
        256²); all intermediate levels share one encoder and one decoder block. A grid twice as
        large gets one more level with the same weights, as a multigrid V-cycle does, so the
        receptive field keeps covering the domain at any size: with fixed ``levels`` the
        coarsest level of a 128²-trained net covers half as much of a 256² domain, and DCDM
        stalled there (benchmarks/results/dcdm.md). Not a fix: trained 3400 steps on 64² and
        128² together (CPU), it converged neither at 128² nor at 256² (not shipped). What fixed 2D
        is :class:`~krylearn.learned.multilevel_net.MultilevelNet`, which also fixes the ``4^ℓ``
        scale between levels instead of leaving it to be learned.
    coarsest : int
        With ``shared_levels``: largest side of the coarsest level (default 8).

    Notes
    -----
    **Input/output.** ``forward(r, mask=None)`` takes ``r`` of shape ``(B, 1, *grid)`` (or
    ``(B, *grid)``) and returns the same shape. Any grid size works: pooling uses
    ``ceil_mode`` and upsampling returns to the exact size of the skip connection (sides
    divisible by ``2**levels`` pool exactly). The network is fully convolutional, so weights
    trained on one grid run on larger ones.

    **Scale.** DCDM only uses the *direction* of the output (an exact line search follows), so the
    input is normalised to unit root-mean-square over the fluid cells inside ``forward``; the map
    is therefore invariant to the scale of ``r`` and its output is well defined for residuals of any
    size (the paper normalises ``r/‖r‖``, whose entries shrink like ``1/√n`` with the grid).

    **Obstacles (solid cells).** Two mechanisms, chosen so the network both *sees* the geometry and
    can never leave the solution space:

    1. geometry as input: with ``bias=True`` the mask (1 = fluid, 0 = solid) is a second input
       channel (the natural extension of the paper's one-channel input); with ``bias=False``
       (the shipped models) the second channel is ``r · s``, ``s`` the share of solid cells in
       each cell's 3×3(×3) neighbourhood. Either way the convolutions can learn the Neumann
       (zero-flux) behaviour next to solids, which differs from the Dirichlet behaviour that zero
       padding already encodes at the open box boundary;
    2. the input residual is zeroed at solid cells and the *output* is multiplied by the mask, so
       ``q`` is exactly zero outside the domain: it is a vector of the system's unknowns, and the
       values the network may produce inside solids (which are not unknowns) cannot leak into the
       A-orthogonalisation or the line search.

    **Why bias-free.** With biases and a constant mask channel the network has an output
    component that does not depend on ``r`` (a fixed smooth "bubble" per geometry). The one-step
    training loss tolerates it, but inside DCDM it is fatal: successive directions share that
    component, A-orthogonalisation against the last ``k`` directions removes it, and the iteration
    stagnates (measured: no progress to 1e-4 in 800+ iterations on 64² with a 128²-trained
    model, where CG needs 136). Without biases, with ReLU, average pooling and nearest
    upsampling, the map is positively homogeneous, ``f(c r) = c f(r)`` for ``c > 0`` and
    ``f(0) = 0``, like the operator ``A⁻¹`` it imitates; the ``r · s`` channel keeps that
    property. ``bias=True`` remains available (the paper's layers have biases).

    Without a mask (``mask=None``) the whole box is fluid.

    Float32 by default; move with ``.to(device)`` (CPU or CUDA).
    """

    def __init__(self, dim: int = 2, channels: int = 16, blocks: tuple[int, ...] = (2, 3, 2), mask_channel: bool = True, levels: int = 1, bias: bool = True,
                 shared_levels: bool = False, coarsest: int = 8) -> None:
        super().__init__()
        if dim not in (2, 3):
            raise ValueError(f"dim must be 2 or 3, got {dim!r}")
        self.dim = int(dim)
        self.channels = int(channels)
        self.blocks = tuple(int(b) for b in blocks)
        self.mask_channel = bool(mask_channel)
        if int(levels) < 1:
            raise ValueError(f"levels must be >= 1, got {levels!r}")
        self.levels = int(levels)
        self.bias = bool(bias)
        conv = Conv2d if dim == 2 else Conv3d
        c = channels
        self.inp = conv(2 if mask_channel else 1, c, 3, padding=1, bias=bias)
        self.pre = nn.Sequential(*[_ResBlock(conv, c, bias) for _ in range(self.blocks[0])])
        self.mid = nn.Sequential(*[_ResBlock(conv, c, bias) for _ in range(self.blocks[1])])
        self.shared_levels = bool(shared_levels)
        self.coarsest = int(coarsest)
        if self.shared_levels and self.coarsest < 2:
            raise ValueError(f"coarsest must be >= 2, got {coarsest!r}")
        # shared: one encoder and one decoder block reused at every intermediate level
        n_blocks = 1 if self.shared_levels else self.levels - 1
        self.enc = nn.ModuleList([_ResBlock(conv, c, bias) for _ in range(n_blocks)])
        self.dec = nn.ModuleList([_ResBlock(conv, c, bias) for _ in range(n_blocks)])
        self.post = nn.Sequential(*[_ResBlock(conv, c, bias) for _ in range(self.blocks[2])])
        self.out = conv(c, 1, 3, padding=1, bias=bias)
        self._pool = F.avg_pool2d if dim == 2 else F.avg_pool3d

    def config(self) -> dict[str, Any]:
        """Constructor arguments (stored with the weights)."""
        cfg = {"dim": self.dim, "channels": self.channels, "blocks": list(self.blocks),
               "mask_channel": self.mask_channel, "levels": self.levels, "bias": self.bias}
        if self.shared_levels:
            cfg.update(shared_levels=True, coarsest=self.coarsest)
        return cfg

    def levels_for(self, grid: Sequence[int]) -> int:
        """Number of poolings used on a grid of this shape."""
        if not self.shared_levels:
            return self.levels
        return max(1, coarsenings(grid, self.coarsest))

    def _down(self, x):
        return self._pool(x, 2, ceil_mode=True)

    @staticmethod
    def _up(x, like):
        return F.interpolate(x, size=like.shape[2:], mode="nearest")

    def forward(self, r: ArrayLike, mask: torch.Tensor | np.ndarray | None = None) -> torch.Tensor:
        x, m, squeeze = normalized_input(r, mask, self.dim)
        if self.mask_channel and self.bias:
            x = torch.cat([x, m], dim=1)
        elif self.mask_channel:
            # bias-free (homogeneous) variant: the geometry enters as r times the share of solid
            # neighbours of each cell, so the whole map stays positively homogeneous in r
            x = torch.cat([x, x * solid_share(m, self.dim)], dim=1)
        x = self.inp(x)
        full = self.pre(x)
        skips = [full]
        h = full
        if self.shared_levels:
            inner = self.levels_for(x.shape[2:]) - 1
            enc, dec = [self.enc[0]] * inner, [self.dec[0]] * inner
        else:
            enc, dec = self.enc, self.dec
        for block in enc:
            h = block(self._down(h))
            skips.append(h)
        h = self.mid(self._down(h))
        for block, skip in zip(reversed(dec), reversed(skips[1:])):
            h = block(self._up(h, skip) + skip)
        h = self._up(h, full) + full
        q = self.out(self.post(h)) * m
        return q[:, 0] if squeeze else q


def normalized_input(r, mask, dim):
    """Shared input handling of the DCDM networks: ``(x, m, squeeze)``.

    ``r``: ``(B, 1, *grid)`` or ``(B, *grid)`` (``squeeze`` says which); ``mask``: fluid cells, any of
    ``grid``, ``(B, *grid)``, ``(B, 1, *grid)``, or None (all fluid). ``m`` is the mask as a float
    tensor shaped like ``r``; ``x`` is ``r`` zeroed at solid cells and scaled to unit root-mean-square
    over the fluid cells of each batch entry (the scale of a residual carries no information for a
    method with a line search)."""
    squeeze = r.dim() == dim + 1
    if squeeze:
        r = r.unsqueeze(1)
    if r.dim() != dim + 2 or r.shape[1] != 1:
        raise ValueError(f"expected input of shape (B, 1, *grid) with a {dim}D grid, got {tuple(r.shape)}")
    if mask is None:
        m = torch.ones_like(r)
    else:
        m = mask.to(r.dtype)
        if m.dim() == dim:
            m = m.unsqueeze(0)
        if m.dim() == dim + 1:
            m = m.unsqueeze(1)
        m = m.expand_as(r)
    r = r * m
    count = m.flatten(1).sum(1).clamp_min(1.0)
    rms = torch.sqrt((r * r).flatten(1).sum(1) / count).clamp_min(1e-30)
    return r / rms.view(-1, *([1] * (dim + 1))), m, squeeze


def coarsenings(grid, coarsest):
    """How many 2× coarsenings (ceil) take the smallest side of ``grid`` to ``coarsest`` or below."""
    side, n = min(int(g) for g in grid), 0
    while side > coarsest:
        side = (side + 1) // 2
        n += 1
    return n


def solid_share(fluid, dim):
    """Share of solid cells in each cell's 3×3(×3) neighbourhood, from a fluid fraction ``(B, 1, *grid)``
    (cells outside the grid do not count)."""
    pool = F.avg_pool2d if dim == 2 else F.avg_pool3d
    return 1.0 - pool(fluid, 3, stride=1, padding=1, count_include_pad=False)

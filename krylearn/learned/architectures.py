"""The DCDM network architectures by name: the one place that knows both of them.

A weight file's config names its architecture (``"unet"``: :class:`~krylearn.learned.model.DCDMNet`,
the paper's network; ``"multilevel"``: :class:`~krylearn.learned.multilevel_net.MultilevelNet`);
:func:`build_model` builds the network it describes. (It lives here, not in ``model.py``, because
``multilevel_net.py`` builds on ``model.py``'s blocks: the two modules must not import each other.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .model import DCDMNet
from .multilevel_net import MultilevelNet

if TYPE_CHECKING:  # annotations only
    from collections.abc import Mapping
    from typing import Any

__all__ = ["build_model"]


def build_model(config: Mapping[str, Any]) -> DCDMNet | MultilevelNet:
    """The network a stored config describes: ``config["arch"]`` ``"multilevel"`` builds a
    :class:`~krylearn.learned.multilevel_net.MultilevelNet`, absent or ``"unet"`` a :class:`DCDMNet`."""
    config = dict(config)
    arch = config.pop("arch", "unet")
    if arch == "unet":
        return DCDMNet(**config)
    if arch == "multilevel":
        return MultilevelNet(**config)
    raise ValueError(f"unknown DCDM network architecture {arch!r} (expected 'unet' or 'multilevel')")

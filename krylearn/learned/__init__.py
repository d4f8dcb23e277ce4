"""Learned solvers (PyTorch): DCDM, the deep conjugate direction method.

Kaneda et al., "A Deep Conjugate Direction Method for Iteratively Solving Linear Systems",
ICML 2023 (arXiv 2205.10763). Importing this subpackage imports torch (``import krylearn`` does not).

The calls, for an operator ``A`` and a right-hand side ``b`` (runnable examples: the docstrings of
:func:`dcdm` and :class:`DCDMPreconditioner`):

>>> import krylearn as kl
>>> model = kl.learned.load_pretrained("poisson2d")         # doctest: +SKIP
>>> res = kl.learned.dcdm(A, b, model, rtol=1e-6)            # doctest: +SKIP
>>> res = kl.fcg(A, b, M=kl.learned.DCDMPreconditioner(model, A))   # doctest: +SKIP
"""

from .._optional import require

require("torch", "the learned solvers (krylearn.learned)")

from .dcdm import DCDMPreconditioner, NetworkApply, dcdm  # noqa: E402
from .architectures import build_model  # noqa: E402
from .model import DCDMNet  # noqa: E402
from .multilevel_net import MultilevelNet  # noqa: E402
from .pretrained import available, load_pretrained, load_weights  # noqa: E402
from .stencil_torch import TorchStencil  # noqa: E402
from .train import dcdm_energy_loss, dcdm_loss, train  # noqa: E402
from .train import main as train_main  # noqa: E402

__all__ = ["dcdm", "DCDMPreconditioner", "DCDMNet", "MultilevelNet", "build_model", "load_pretrained",
           "load_weights", "available", "TorchStencil", "train", "train_main", "dcdm_loss", "dcdm_energy_loss",
           "NetworkApply"]

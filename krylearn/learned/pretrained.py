"""Shipped DCDM weights: ``data/dcdm/<name>.pt`` with a JSON manifest ``data/dcdm/<name>.json``.

The manifest records the grid size and dimension the model was trained at, the training recipe
and command (see :mod:`krylearn.learned.train`), the loss reached, and the SHA-256 of the weight
file; :func:`load_pretrained` checks all of it before returning a model.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from .._optional import require

if TYPE_CHECKING:  # annotations only
    from collections.abc import Mapping
    from os import PathLike

    import torch

    from .model import DCDMNet
    from .multilevel_net import MultilevelNet
else:
    torch = require("torch", "the DCDM learned solver (krylearn.learned)")

__all__ = ["load_pretrained", "available", "data_dir", "load_weights", "pretrained_preconditioner"]

_NAMES = {"poisson2d": 2, "poisson3d": 3, "poisson3d_paper": 3}


def data_dir() -> Path:
    """``$KRYLEARN_DATA/dcdm`` if set, else ``<repo>/data/dcdm``."""
    env = os.environ.get("KRYLEARN_DATA")
    if env:
        return Path(env) / "dcdm"
    return Path(__file__).resolve().parents[2] / "data" / "dcdm"


def available(directory: str | PathLike[str] | None = None) -> list[str]:
    """Names of the models with a manifest in the data directory."""
    d = Path(directory) if directory is not None else data_dir()
    return sorted(p.stem for p in d.glob("*.json")) if d.is_dir() else []


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_weights(weights: str | PathLike[str], manifest: Mapping[str, Any] | None = None, *,
                 device: str | torch.device | None = None) -> DCDMNet | MultilevelNet:
    """Build the network a weight file describes (:class:`DCDMNet` or :class:`MultilevelNet`),
    validated against an optional manifest dict.

    Raises ``ValueError`` (checksum, dimension or parameter-shape mismatch, unreadable file)."""
    from .architectures import build_model

    weights = Path(weights)
    if manifest is not None:
        want = manifest.get("sha256")
        if not want:
            raise ValueError(f"the manifest for {weights.name} has no sha256 checksum")
        got = _sha256(weights)
        if got != want:
            raise ValueError(f"checksum mismatch for {weights}: sha256 is {got[:16]}..., the manifest says "
                             f"{want[:16]}...; the file is corrupted or was replaced (re-train or re-export it)")
    try:
        blob = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"cannot read DCDM weights from {weights}: {exc}") from exc
    if not isinstance(blob, dict) or "state_dict" not in blob or "config" not in blob:
        raise ValueError(f"{weights} is not a DCDM weight file (needs 'state_dict' and 'config')")
    config = dict(blob["config"])
    if manifest is not None:
        if manifest.get("config") is not None and dict(manifest["config"]) != config:
            raise ValueError(f"{weights}: the model config {config} does not match the manifest's "
                             f"{manifest['config']}")
        if manifest.get("dims") is not None and int(manifest["dims"]) != int(config["dim"]):
            raise ValueError(f"{weights}: the weights are for a {config['dim']}D model, the manifest says "
                             f"{manifest['dims']}D")
    try:
        model = build_model(config)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{weights}: cannot build a DCDM network from the config {config}: {exc}") from exc
    try:
        model.load_state_dict(blob["state_dict"], strict=True)
    except RuntimeError as exc:
        raise ValueError(f"the weights in {weights} do not fit the DCDM network {config}: {exc}") from exc
    model.eval()
    if device is not None:
        model = model.to(device)
    return model


@overload
def load_pretrained(name: str = ..., *, device: str | torch.device | None = ...,
                    directory: str | PathLike[str] | None = ...,
                    return_manifest: Literal[False] = ...) -> DCDMNet | MultilevelNet: ...


@overload
def load_pretrained(name: str = ..., *, device: str | torch.device | None = ...,
                    directory: str | PathLike[str] | None = ...,
                    return_manifest: Literal[True]) -> tuple[DCDMNet | MultilevelNet, dict[str, Any]]: ...


def load_pretrained(name: str = "poisson2d", *, device: str | torch.device | None = None,
                    directory: str | PathLike[str] | None = None, return_manifest: bool = False
                    ) -> DCDMNet | MultilevelNet | tuple[DCDMNet | MultilevelNet, dict[str, Any]]:
    """Load a shipped DCDM model.

    Parameters
    ----------
    name : {"poisson2d", "poisson3d", "poisson3d_paper"}
        ``poisson2d`` (trained on 128² grids) and ``poisson3d`` (32³): the BPX-skeleton
        :class:`~krylearn.learned.multilevel_net.MultilevelNet` trained with the energy-norm loss;
        ``poisson3d_paper`` (32³): the paper's network (:class:`DCDMNet`, ``levels=1``) and loss,
        kept for comparison. Obstacle domains, Dirichlet box, Neumann at solids; all run on any grid
        size of their dimension. The manifest records the steps, loss, recipe and the command that
        reproduces them.
    device : str or torch.device, optional
    directory : path, optional
        Where ``<name>.json`` and the weights live (default :func:`data_dir`).
    return_manifest : bool
        Also return the manifest dict.

    Returns
    -------
    model : DCDMNet (eval mode, float32), and the manifest if asked.

    Raises
    ------
    FileNotFoundError
        No manifest/weights for ``name`` (the message lists what is available and how to train).
    ValueError
        Checksum mismatch (corrupted file), a model of the wrong dimension for ``name``, or weights
        that do not fit the network.
    """
    d = Path(directory) if directory is not None else data_dir()
    man_path = d / f"{name}.json"
    if not man_path.exists():
        raise FileNotFoundError(f"no DCDM model {name!r} in {d} (available: {available(d) or 'none'}); train one "
                                f"with: python -m krylearn train-dcdm --dim {_NAMES.get(name, 2)} --export {name}")
    try:
        manifest = json.loads(man_path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"the manifest {man_path} is not valid JSON: {exc}") from exc
    weights = d / manifest.get("file", f"{name}.pt")
    if not weights.exists():
        raise FileNotFoundError(f"the manifest {man_path} names {weights.name}, which is missing")
    if name in _NAMES and int(manifest.get("dims", _NAMES[name])) != _NAMES[name]:
        raise ValueError(f"{man_path}: model {name!r} must be {_NAMES[name]}D, the manifest says "
                         f"{manifest.get('dims')}D")
    model = load_weights(weights, manifest, device=device)
    if name in _NAMES and model.dim != _NAMES[name]:
        raise ValueError(f"{weights}: model {name!r} must be {_NAMES[name]}D, the weights are {model.dim}D")
    return (model, manifest) if return_manifest else model


_PRETRAINED: dict[str, DCDMNet | MultilevelNet] = {}  # "poisson2d"/"poisson3d" -> the loaded model


def pretrained_preconditioner(A):
    """The shipped learned preconditioner for a grid operator ``A`` (a
    :class:`~krylearn.learned.DCDMPreconditioner` with the model of ``A``'s dimension, for
    :func:`krylearn.fcg`); the weights are loaded once per process, not per operator. This is what
    the AutoSolver candidate ``"learned-fcg"`` sets up."""
    from .dcdm import DCDMPreconditioner

    key = f"poisson{len(A.grid_shape)}d"
    if key not in _PRETRAINED:
        _PRETRAINED[key] = load_pretrained(key)
    return DCDMPreconditioner(_PRETRAINED[key], A)

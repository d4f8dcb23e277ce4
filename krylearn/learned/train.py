"""Training of the DCDM network with the paper's unsupervised loss.

Kaneda et al., "A Deep Conjugate Direction Method for Iteratively Solving Linear Systems",
ICML 2023, §3.4: for a training right-hand side ``b`` (``‖b‖ = 1``) and ``q = f(b)``, the loss is

    ‖b − A q (qᵀb)/(qᵀAq)‖²,

the residual left after an exact line search along ``q``; it needs no reference solutions, only
products with ``A``, applied here by :class:`~krylearn.learned.stencil_torch.TorchStencil` (the
same operator as :func:`krylearn.pde.poisson`, by shifts on the grid). Adam with a cosine decay of
the learning rate; a tqdm progress bar shows the loss; checkpoints (model, optimiser, RNG states,
history) are written regularly and a run resumes from its checkpoint; a loss-curve PNG is kept
up to date.

Command line (also ``python -m krylearn train-dcdm ...``)::

    python -m krylearn.learned.train --dim 2 --n 128 --out runs/dcdm2d
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import operator
import time
from functools import reduce
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:  # pragma: no cover - names for static checkers only
    from collections.abc import Sequence

    import torch

    from .data import RitzDataset
    from .stencil_torch import TorchStencil

__all__ = ["dcdm_loss", "dcdm_energy_loss", "fractional_iterations", "train", "main", "DEFAULT_RECIPES"]

#: recipes of the shipped models (CPU, 1 thread on a shared 2-core machine): the BPX-skeleton
#: :class:`~krylearn.learned.multilevel_net.MultilevelNet` trained with the energy-norm loss, run with
#: ``--validate-every`` (250 in 2D, 100 in 3D) and ``--export-best``; each run was stopped by
#: ``--max-minutes`` before its schedule ended, and the manifests (``data/dcdm/poisson{2,3}d.json``)
#: give the exact command with ``--stop-after``. The paper's network and loss (``arch="unet"``,
#: ``levels=1``, ``loss="residual"``) trained the 3D model shipped as ``poisson3d_paper``; its
#: manifest gives its two-stage recipe. (``levels`` and ``bias`` are unused by the multilevel network;
#: they are kept as recorded in the shipped manifests.)
#: (keyword arguments of :func:`train`, of several types: Any per value)
DEFAULT_RECIPES: dict[int, dict[str, Any]] = {
    2: dict(n=128, domains=16, lanczos=500, steps=7000, batch=8, lr=1e-3, lr_final=1e-5, seed=1, levels=4,
            bias=False, arch="multilevel", loss="energy"),
    3: dict(n=32, domains=4, lanczos=200, steps=3000, batch=4, lr=1e-3, lr_final=1e-5, seed=0, levels=1,
            bias=False, arch="multilevel", loss="energy"),
}


def dcdm_loss(model: torch.nn.Module, op: TorchStencil, b: torch.Tensor, index: torch.Tensor | None = None,
              mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over the batch of ``‖b − A q (qᵀb)/(qᵀAq)‖²`` with ``q = model(b)``.

    ``b``: ``(B, *grid)`` tensor; ``op``: a :class:`TorchStencil` (``index`` picks its operator
    per batch entry); ``mask``: ``(B, *grid)`` fluid mask fed to the model."""
    q = model(b, mask)
    Aq = op.apply(q, index)
    dims = tuple(range(1, b.dim()))
    alpha = (q * b).sum(dims, keepdim=True) / (q * Aq).sum(dims, keepdim=True).clamp_min(1e-30)
    res = b - alpha * Aq
    return (res * res).sum(dims).mean()


def dcdm_energy_loss(model: torch.nn.Module, op: TorchStencil, b: torch.Tensor, energy: torch.Tensor,
                     index: torch.Tensor | None = None, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over the batch of ``1 − (qᵀb)² / ((qᵀAq)(bᵀA⁻¹b))`` with ``q = model(b)``.

    The A-norm error left by an exact line search along ``q`` from ``x = 0``, relative to the
    error of ``x = 0``: ``‖A⁻¹b − αq‖²_A / ‖A⁻¹b‖²_A``, i.e. the squared sine of the A-angle between
    ``q`` and the solution (0 when ``q ∥ A⁻¹b``, at most 1). This is the error reduction of one
    DCDM step, and it weights the smooth modes by ``1/λ`` where the paper's residual loss weights
    them by ``λ``: the residual loss barely sees the low modes that dominate the error CG-type
    methods are left with. ``energy``: ``(B,)`` tensor of ``bᵀA⁻¹b`` (exact, from
    :meth:`RitzDataset.energy`). Not in the paper (``loss="energy"`` in :func:`train`)."""
    q = model(b, mask)
    Aq = op.apply(q, index)
    dims = tuple(range(1, b.dim()))
    qb = (q * b).sum(dims)
    qAq = (q * Aq).sum(dims).clamp_min(1e-30)
    return (1.0 - qb * qb / (qAq * energy)).mean()


def _lr(step, steps, lr, lr_final, warmup=50):
    if step < warmup:
        return lr * (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, steps - warmup))
    return lr_final + 0.5 * (lr - lr_final) * (1 + math.cos(math.pi * t))


def _save_plot(history, path, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    h = np.asarray(history, dtype=float)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.semilogy(h, lw=0.5, alpha=0.4, label="batch loss")
    if len(h) >= 20:
        w = max(10, len(h) // 50)
        sm = np.convolve(h, np.ones(w) / w, mode="valid")
        ax.semilogy(np.arange(w - 1, len(h)), sm, lw=1.5, label=f"moving mean ({w})")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _atomic_save(torch, obj, path):
    tmp = Path(str(path) + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def train(dim: int = 2, n: int = 128, *, domains: int = 6, lanczos: int = 400, steps: int = 3000, batch: int = 8,
          lr: float = 1e-3, lr_final: float = 5e-5, seed: int = 0, channels: int = 16, levels: int = 1,
          bias: bool = True, out: str | os.PathLike[str] | None = None,
          cache_dir: str | os.PathLike[str] | None = None, device: str | torch.device = "cpu", threads: int = 1,
          max_minutes: float | None = None, checkpoint_seconds: float = 120.0, resume: bool = True,
          progress: bool = True, dataset: RitzDataset | None = None, log_every: int = 10,
          stop_after: int | None = None, init: str | os.PathLike[str] | None = None, spectral_decay: float = 0.0,
          shared_levels: bool = False, coarsest: int = 8, extra_sizes: Sequence[int] = (), validate_every: int = 0,
          arch: Literal["unet", "multilevel"] = "unet", loss: Literal["residual", "energy"] = "residual",
          blocks: Sequence[int] | None = None) -> tuple[torch.nn.Module, list[float]]:
    """Train a DCDM network; returns ``(model, history)``.

    Parameters
    ----------
    dim, n : int
        Grid ``n^dim`` of the training domains (``n`` even).
    domains : int
        Training domains: the open box plus ``domains − 1`` random ``spheres_boxes`` obstacle domains.
    lanczos : int
        Lanczos steps per domain (Ritz vectors of the training data).
    steps, batch, lr, lr_final : training schedule (Adam, linear warm-up then cosine decay).
    arch : {"unet", "multilevel"}
        ``"unet"``: :class:`DCDMNet` (``levels=1`` is the paper's network); ``"multilevel"``:
        :class:`~krylearn.learned.multilevel_net.MultilevelNet` (BPX skeleton, learned level
        blocks; ``levels``, ``shared_levels`` and ``bias`` are then unused).
    loss : {"residual", "energy"}
        ``"residual"``: the paper's ``‖b − A q (qᵀb)/(qᵀAq)‖²`` (:func:`dcdm_loss`); ``"energy"``: the
        relative A-norm error of the line-search step (:func:`dcdm_energy_loss`).
    blocks : tuple of int, optional
        The network's block counts (default: its class's default).
    channels, levels : int
        Network width and number of poolings (see :class:`DCDMNet`).
    shared_levels, coarsest :
        The size-adaptive network variant (see :class:`DCDMNet`); ``levels`` is then unused.
    validate_every : int
        Every this many steps (and at the end), run DCDM (k = 32, rtol 1e-4, at most 200
        iterations) on a held-out obstacle problem at the training size (a ``spheres_boxes``
        domain with a seed no training domain uses) and keep the weights with the fewest
        iterations as ``model_best.pt`` (ties broken by :func:`fractional_iterations`; the score of a
        run that does not converge grows with its final residual). The one-step training loss is a
        poor proxy for how well DCDM converges with the network, and the latter swings between checkpoints (2D 128²,
        measured: 40 → >250 iterations between steps 566 and 1833 of one run).
    extra_sizes : sequence of int
        Further grid sides trained alongside ``n`` (each step adds one batch per size, its own
        domains and Ritz data; the loss is the mean over sizes). With ``shared_levels`` a smaller
        size (e.g. 64 next to 128) exercises the shared level blocks at another depth.
    seed : int
        Seeds the domains, Lanczos starts, data draws and the initial weights.
    out : path, optional
        Run directory: ``checkpoint.pt``, ``model.pt`` (weights + config), ``loss.png``,
        ``history.json``. Without it nothing is written.
    max_minutes : float, optional
        Stop (after saving) when the wall time exceeds this; resume later with the same command.
    stop_after : int, optional
        Stop after this many steps while keeping the learning-rate schedule of ``steps``
        (reproduces a run cut short by ``max_minutes``).
    resume : bool
        Continue from ``out/checkpoint.pt`` if it exists (the recipe must match).
    dataset : RitzDataset, optional
        Use this instead of building one (tests).
    spectral_decay : float
        Extra bias of the right-hand sides towards the lowest modes (see
        :class:`~krylearn.learned.data.RitzDataset`); 0 is the paper's recipe.
    init : path, optional
        Warm start: initial weights from a run's ``model.pt`` (or a shipped ``<name>.pt``) whose
        network config matches; a fresh Adam state and a new learning-rate schedule (``steps``,
        ``lr``, ``lr_final``) follow, and the data stream is drawn from a different seed than a
        cold start. This is how training is continued past a finished schedule (the shipped
        models were trained in two stages; their manifests give both commands).
    """
    from .._optional import require
    torch = require("torch", "DCDM training")
    from tqdm.auto import tqdm

    from .data import build_dataset
    from .architectures import build_model
    from .stencil_torch import TorchStencil

    if threads:
        torch.set_num_threads(int(threads))
    if loss not in ("residual", "energy"):
        raise ValueError(f"loss must be 'residual' or 'energy', got {loss!r}")
    recipe: dict[str, object] = dict(dim=dim, n=n, domains=domains, lanczos=lanczos, steps=steps, batch=batch, lr=lr,
                  lr_final=lr_final, seed=seed, channels=channels, levels=levels, bias=bias)
    if arch != "unet":
        recipe["arch"] = arch
    if loss != "residual":
        recipe["loss"] = loss
    if blocks is not None:
        recipe["blocks"] = [int(v) for v in blocks]
    if spectral_decay:
        recipe["spectral_decay"] = float(spectral_decay)
    if shared_levels:
        recipe.update(shared_levels=True, coarsest=int(coarsest))
    extra_sizes = tuple(int(v) for v in extra_sizes)
    if extra_sizes:
        recipe["extra_sizes"] = list(extra_sizes)
    if validate_every:
        if out is None:
            raise ValueError("validate_every needs a run directory (out): it writes out/model_best.pt")
        recipe["validate_every"] = int(validate_every)
    if init is not None:
        recipe["init"] = str(init)
    config: dict[str, object] = {"arch": arch, "dim": dim, "channels": channels}
    if arch == "unet":
        config.update(levels=levels, bias=bias, shared_levels=shared_levels, coarsest=coarsest)
    if blocks is not None:
        config["blocks"] = tuple(int(v) for v in blocks)
    torch.manual_seed(seed)
    model = build_model(config).to(device)     # before the (possibly long) data generation: bad arch fails at once
    t_start = time.perf_counter()
    if dataset is None:
        dataset = build_dataset(dim, n, domains=domains, lanczos=lanczos, seed=seed, cache_dir=cache_dir,
                                progress=progress)
    datasets = [dataset] + [build_dataset(dim, m, domains=domains, lanczos=min(lanczos, m ** dim // 4), seed=seed,
                                          cache_dir=cache_dir, progress=progress) for m in extra_sizes]
    from .data import poisson_system
    stacks = []
    for ds in datasets:
        if spectral_decay:
            ds.spectral_decay = float(spectral_decay)
        op = TorchStencil.stack([TorchStencil.from_csr(poisson_system(m).tocsr(), m, device=device)
                                 for m in ds.masks])
        stacks.append((ds, op, op.mask))

    init_info = None
    if init is not None:
        blob = torch.load(init, map_location=device, weights_only=False)
        if blob.get("config") is not None and dict(blob["config"]) != model.config():
            raise ValueError(f"--init {init}: its network config {blob['config']} differs from "
                             f"{model.config()}")
        model.load_state_dict(blob["state_dict"])
        init_info = {"file": Path(init).name, "sha256": _sha256(init), "steps": blob.get("step"),
                     "recipe": blob.get("recipe"), "loss": blob.get("loss")}
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed + (54321 if init is not None else 12345))
    history = []
    best = {"score": float("inf"), "history": []}      # validation (see validate_every)
    step = 0
    out = Path(out) if out is not None else None
    ckpt = out / "checkpoint.pt" if out is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        if resume and ckpt is not None and ckpt.exists():
            state = torch.load(ckpt, map_location=device, weights_only=False)
            if state["recipe"] != recipe:
                raise ValueError(f"checkpoint {ckpt} was made with recipe {state['recipe']}, not {recipe}; "
                                 "use another --out or --fresh")
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            rng.bit_generator.state = state["numpy_rng"]
            torch.set_rng_state(state["torch_rng"])
            history = list(state["history"])
            step = int(state["step"])
            best.update(state.get("best") or {})

    validator = _Validator(dim, n, seed) if validate_every else None

    def weights(**extra):
        """The loadable weight file (float32 on CPU, config, recipe, provenance)."""
        sd = {k: t.detach().cpu().float().clone() for k, t in model.state_dict().items()}
        return {"state_dict": sd, "config": model.config(), "recipe": recipe, "step": step,
                "loss": _recent(history), "init": init_info, **extra}

    def validate():
        model.eval()
        v = validator(model)
        model.train()
        v["step"] = step
        best["history"].append(v)
        if v["score"] < best["score"]:
            best["score"] = v["score"]
            _atomic_save(torch, weights(validation=v), out / "model_best.pt")
        if bar is not None:
            bar.write(f"step {step}: validation {v['iterations']} iterations (residual {v['residual']:.2e}); "
                      f"best score {best['score']:.1f}")

    def save(final=False):
        if out is None:
            return
        _atomic_save(torch, {"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step,
                             "history": history, "recipe": recipe, "numpy_rng": rng.bit_generator.state,
                             "torch_rng": torch.get_rng_state(), "best": best}, ckpt)
        _atomic_save(torch, weights(), out / "model.pt")
        (out / "history.json").write_text(json.dumps({"recipe": recipe, "step": step, "history": history,
                                                      "final": final, "validation": best["history"]}))
        try:
            _save_plot(history, out / "loss.png", f"DCDM {dim}D {n}^{dim}, {loss} loss: step {step}/{steps}")
        except Exception:  # a plot must never kill a training run
            pass

    model.train()
    last_save = time.perf_counter()
    bar = tqdm(total=steps, initial=step, desc=f"train DCDM {dim}D n={n}", disable=not progress)
    if validator is not None and step == 0:
        validate()              # the starting point (for MultilevelNet: plain BPX) is a candidate too
    stopped_early = False
    while step < steps:
        for g in opt.param_groups:
            g["lr"] = _lr(step, steps, lr, lr_final)
        terms = []
        for ds, op, masks_t in stacks:
            index, b = ds.sample(batch, rng)
            index_t = torch.as_tensor(index, device=device)
            b_t = torch.as_tensor(b, device=device)
            if loss == "energy":
                energy = torch.as_tensor(ds.energy(index, b), dtype=b_t.dtype, device=device)
                term = dcdm_energy_loss(model, op, b_t, energy, index_t, masks_t[index_t])
            else:
                term = dcdm_loss(model, op, b_t, index_t, masks_t[index_t])
            terms.append(term / len(stacks))
        total = reduce(operator.add, terms)  # the mean over the sizes (a torch scalar)
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()
        step += 1
        history.append(float(total.detach()))
        bar.update(1)
        if step % log_every == 0:
            bar.set_postfix(loss=f"{_recent(history):.4g}", lr=f"{opt.param_groups[0]['lr']:.2g}")
        if validator is not None and step % validate_every == 0:
            validate()
        now = time.perf_counter()
        if now - last_save > checkpoint_seconds:
            save()
            last_save = now
        if (max_minutes is not None and now - t_start > 60 * max_minutes) or \
                (stop_after is not None and step >= stop_after):
            stopped_early = True
            break
    if validator is not None and step % validate_every != 0:
        validate()
    bar.close()
    save(final=not stopped_early)
    model.eval()
    return model, history


class _Validator:
    """DCDM (k = 32) to rtol 1e-4 on a held-out obstacle problem at the training size."""

    MAXITER = 200

    def __init__(self, dim, n, seed):
        from ..pde.obstacles import random_domain
        from .data import poisson_system

        vseed = 99_991 + int(seed)          # training domains use seeds seed·1000 + i, i < domains
        self.A = poisson_system(random_domain((n,) * dim, "spheres_boxes", seed=vseed))
        self.b = np.random.default_rng(vseed).standard_normal(self.A.shape[0])

    def __call__(self, model):
        from .dcdm import dcdm

        res = dcdm(self.A, self.b, model, rtol=1e-4, maxiter=self.MAXITER, k=32)
        rel = float(np.linalg.norm(self.b - self.A.matvec(res.x)) / np.linalg.norm(self.b))
        if res.converged:
            score = fractional_iterations(np.asarray(res.residuals) / np.linalg.norm(self.b), 1e-4)
        else:   # rank by the final residual, one maxiter per decade above the tolerance
            score = self.MAXITER * (1.0 + math.log10(max(rel, 1e-4) / 1e-4))
        return {"iterations": int(res.iterations), "converged": bool(res.converged), "residual": rel, "score": score}


def fractional_iterations(relative_residuals, tol):
    """Iterations to ``tol`` with the last step interpolated log-linearly (a tie-free score).

    ``relative_residuals[i]`` is ``‖r_i‖/‖b‖`` after iteration ``i`` (index 0: the start). Two
    networks that both need 11 whole iterations differ in how far below ``tol`` the 11th lands;
    this ranks them (10.3 beats 10.9) where the integer count would keep the first one found."""
    h = np.asarray(relative_residuals, dtype=float)
    hit = np.flatnonzero(h <= tol)
    if hit.size == 0:
        return float("inf")
    k = int(hit[0])
    if k == 0:
        return 0.0
    hi, lo = h[k - 1], max(h[k], 1e-300)
    return (k - 1) + math.log(hi / tol) / math.log(hi / lo) if hi > lo else float(k)


def _recent(history, k=100):
    return float(np.mean(history[-k:])) if history else float("nan")


def _sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def export(run_dir, name, dest_dir, command=None, best=False):
    """Copy a run's weights as ``dest_dir/<name>.pt`` with a JSON manifest (incl. sha256).

    ``best``: export ``model_best.pt`` (the validation-selected weights, see ``validate_every``)."""
    from .._optional import require
    torch = require("torch", "DCDM export")
    run_dir, dest_dir = Path(run_dir), Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    src = run_dir / ("model_best.pt" if best else "model.pt")
    if not src.exists():
        raise FileNotFoundError(f"{src} does not exist" + (" (train with --validate-every)" if best else ""))
    m = torch.load(src, map_location="cpu", weights_only=False)
    hist = json.loads((run_dir / "history.json").read_text())
    weights = dest_dir / f"{name}.pt"
    torch.save({"state_dict": m["state_dict"], "config": m["config"]}, weights)
    recipe = dict(m["recipe"])
    recipe.setdefault("levels", m["config"].get("levels", 1))
    manifest = {
        "name": name,
        "file": weights.name,
        "sha256": _sha256(weights),
        "dims": m["config"]["dim"],
        "grid": [recipe["n"]] * recipe["dim"],
        "config": m["config"],
        "recipe": recipe,
        "steps_done": m["step"] + int((m.get("init") or {}).get("steps") or 0),
        "steps_this_stage": m["step"],
        "init": m.get("init"),
        "finished": bool(hist.get("final", False)),
        "loss_final_mean100": m["loss"],
        "loss_initial_mean10": float(np.mean(hist["history"][:10])) if hist["history"] else None,
        "command": command or (f"python -m krylearn train-dcdm --dim {recipe['dim']} --n {recipe['n']} "
                               f"--stop-after {m['step']} --out runs/{name} --export {name}"),
        "training_domains": "open box + random 'spheres_boxes' obstacles (krylearn.pde.obstacles), "
                            "Dirichlet box, Neumann at solids",
        "torch_version": torch.__version__,
    }
    if m.get("validation") is not None:
        manifest["validation"] = dict(m["validation"], selected="fewest DCDM iterations on the held-out "
                                      "validation problem (train --validate-every)")
    (dest_dir / f"{name}.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m krylearn train-dcdm`` / ``python -m krylearn.learned.train``."""
    p = argparse.ArgumentParser(prog="krylearn train-dcdm",
                                description="Train the DCDM network (Kaneda et al., ICML 2023) on grid "
                                            "Poisson problems with obstacles.")
    p.add_argument("--dim", type=int, default=2, choices=(2, 3))
    p.add_argument("--n", type=int, default=None, help="grid side (default: 128 in 2D, 32 in 3D)")
    for key, typ in (("domains", int), ("lanczos", int), ("steps", int), ("batch", int), ("lr", float),
                     ("lr-final", float), ("seed", int), ("spectral-decay", float)):
        p.add_argument(f"--{key}", type=typ, default=None, help="default: the shipped recipe")
    p.add_argument("--channels", type=int, default=16)
    p.add_argument("--shared-levels", action="store_true",
                   help="size-adaptive network: poolings down to --coarsest, one shared block pair per level")
    p.add_argument("--coarsest", type=int, default=8)
    p.add_argument("--extra-sizes", default=None,
                   help="comma-separated further grid sides trained alongside --n (e.g. 64)")
    p.add_argument("--levels", type=int, default=None, help="poolings (1 = the paper's net); default: recipe")
    p.add_argument("--arch", choices=("unet", "multilevel"), default=None,
                   help="network: 'unet' (DCDMNet; levels=1 is the paper's) or 'multilevel' (BPX skeleton)")
    p.add_argument("--loss", choices=("residual", "energy"), default=None,
                   help="training loss: the paper's residual norm, or the relative A-norm error")
    p.add_argument("--blocks", default=None, help="comma-separated block counts of the network")
    p.add_argument("--out", default=None, help="run directory (default runs/dcdm{dim}d)")
    p.add_argument("--cache-dir", default=None, help="Ritz-vector cache (default ~/.cache/krylearn/dcdm)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's default)")
    p.add_argument("--max-minutes", type=float, default=None, help="stop and checkpoint after this")
    p.add_argument("--checkpoint-seconds", type=float, default=120.0)
    p.add_argument("--stop-after", type=int, default=None,
                   help="stop after this many steps, keeping the schedule of --steps")
    p.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint")
    p.add_argument("--init", default=None, metavar="MODEL_PT",
                   help="warm start from these weights (a run's model.pt) with a new schedule")
    p.add_argument("--export", default=None, metavar="NAME",
                   help="after training, copy weights + manifest to data/dcdm/NAME.{pt,json}")
    p.add_argument("--export-dir", default=None)
    p.add_argument("--validate-every", type=int, default=0,
                   help="validate DCDM iterations on a held-out problem every N steps; keep model_best.pt")
    p.add_argument("--export-best", action="store_true", help="export model_best.pt instead of model.pt")
    args = p.parse_args(argv)
    rec = dict(DEFAULT_RECIPES[args.dim])
    if args.n is not None:
        rec["n"] = args.n
    for key in ("domains", "lanczos", "steps", "batch", "lr", "lr_final", "seed", "levels", "spectral_decay"):
        v = getattr(args, key)
        if v is not None:
            rec[key] = v
    if args.shared_levels:
        rec.update(shared_levels=True, coarsest=args.coarsest)
    if args.validate_every:
        rec["validate_every"] = args.validate_every
    for key in ("arch", "loss"):
        if getattr(args, key) is not None:
            rec[key] = getattr(args, key)
    if args.blocks:
        rec["blocks"] = tuple(int(v) for v in args.blocks.split(","))
    if args.extra_sizes:
        rec["extra_sizes"] = tuple(int(v) for v in args.extra_sizes.split(","))
    out = args.out or f"runs/dcdm{args.dim}d"
    model, history = train(args.dim, channels=args.channels, out=out, cache_dir=args.cache_dir,
                           device=args.device, threads=args.threads, max_minutes=args.max_minutes,
                           checkpoint_seconds=args.checkpoint_seconds, resume=not args.fresh,
                           stop_after=args.stop_after, init=args.init, **rec)
    print(f"done: {len(history)} steps, mean loss of the last 100: {_recent(history):.4g}; run dir {out}")
    if args.export:
        dest = args.export_dir or Path(__file__).resolve().parents[2] / "data" / "dcdm"
        cmd = "python -m krylearn train-dcdm " + " ".join(argv if argv is not None else __import__("sys").argv[1:])
        man = export(out, args.export, dest, command=cmd, best=args.export_best)
        print(f"exported {man['file']} (sha256 {man['sha256'][:12]}...) to {dest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

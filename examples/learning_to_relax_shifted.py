"""Learning to Relax, experiment 1: SOR on a sequence of shifted 2D Laplacians.
============================================================================

Khodak, Chow, Balcan, Talwalkar, "Learning to Relax: Setting Solver Parameters Across a Sequence
of Linear System Instances", ICLR 2024 (arXiv:2310.02246), Section 5 / public code.

A = 5-point Laplacian on a 10×10 interior grid (n = 100, diagonal 4); A_t = A + ((12c−3)/20) I
with c ~ Beta(2, 6) ("low" variance) or Beta(1/2, 3/2) ("high" variance); b_t standard Gaussian
truncated to ‖b‖ ≤ √n; SOR from x = 0 to ‖r‖ ≤ 1e-8‖b‖ (= 1e-8‖r_0‖), cap 10,000; T = 5000.
Policies: fixed ω ∈ {1, 1.2, 1.4, 1.6, 1.8}, best fixed grid ω in hindsight, Tsallis-INF, Exp3,
Tsallis-INF-CB, ChebCB (context: the diagonal shift) and Young's instance-optimal ω*.

Run from the repository root::

    .venv/bin/python examples/learning_to_relax_shifted.py                # full size (minutes)
    .venv/bin/python examples/learning_to_relax_shifted.py --T 300 --seeds 1 --out out/
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import scipy.sparse as sp

import krylearn as kl
from krylearn.solvers.tuning.omega import young_policy
from krylearn.solvers.tuning.sequence import grid_costs, solve_sequence
from krylearn.solvers.tuning.contextual_tuners import ChebCB, TsallisINFCB
from krylearn.solvers.tuning.bandits import Exp3, TsallisINF, omega_grid

DISTS = {"low": (2.0, 6.0), "high": (0.5, 1.5)}
SHIFT_RANGE = (-0.15, 0.45)          # (12c − 3)/20 for c in [0, 1]
FIXED = (1.0, 1.2, 1.4, 1.6, 1.8)


def shifted_systems(dist="high", T=5000, seed=0, m=10):
    """The list of ``(A_t, b_t, shift_t)`` of the experiment (A_t in CSR)."""
    a, b = DISTS[dist]
    rng = np.random.default_rng(seed)
    A = kl.pde.poisson((m, m), spacing=1.0).tocsr()       # diag 4, off-diagonals −1 (MATLAB delsq)
    A.sort_indices()
    n = A.shape[0]
    dpos = np.array([A.indptr[i] + np.searchsorted(A.indices[A.indptr[i]:A.indptr[i + 1]], i) for i in range(n)])
    out = []
    for _ in range(T):
        shift = (12.0 * rng.beta(a, b) - 3.0) / 20.0
        data = A.data.copy()
        data[dpos] += shift
        At = sp.csr_matrix((data, A.indices, A.indptr), shape=A.shape)
        while True:
            bt = rng.standard_normal(n)
            if np.linalg.norm(bt) <= np.sqrt(n):
                break
        out.append((At, bt, float(shift)))
    return out


def make_tuners(seed, grid):
    return {
        "Tsallis-INF": TsallisINF(grid=grid, seed=seed),
        "Exp3": Exp3(grid=grid, seed=seed),
        "Tsallis-INF-CB": TsallisINFCB(grid=grid, context_range=SHIFT_RANGE, bins=5, seed=seed),
        "ChebCB": ChebCB(grid=grid, context_range=SHIFT_RANGE, degree=5, seed=seed),
    }


def run(T=5000, seeds=(0, 1, 2), dists=("low", "high"), comparators=True, tuners=None, out=None,
        progress=False, verbose=True):
    """Run the experiment; returns ``{dist: {policy: array (seeds, T) of iterations}}`` plus
    ``omegas`` (chosen ω of the first seed) and the timing summary under key ``"_meta"``."""
    grid = omega_grid("sor")
    results, omegas, meta = {}, {}, {"tuner_us": {}, "wall_s": {}}
    for dist in dists:
        res = {}
        om = {}
        for s_i, seed in enumerate(seeds):
            t0 = time.perf_counter()
            systems = shifted_systems(dist, T, seed)
            contexts = np.array([c for _, _, c in systems])
            if comparators:
                gc = grid_costs(systems, grid, "sor", progress=progress)
                for w in FIXED:
                    res.setdefault(f"ω = {w:g}", []).append(gc.column(w))
                res.setdefault("best fixed ω (grid, hindsight)", []).append(gc.best_fixed_iterations)
                res.setdefault("instance-optimal grid ω", []).append(gc.instance_optimal)
                om.setdefault("best fixed", gc.best_fixed_omega)
                young = solve_sequence(systems, "sor", young_policy(), progress=progress)
                res.setdefault("Young ω* (Lanczos)", []).append(young.iterations)
                if s_i == 0:
                    om["Young ω*"] = young.omega
            else:
                r1 = solve_sequence(systems, "sor", 1.0)
                res.setdefault("ω = 1", []).append(r1.iterations)
            for name, tuner in make_tuners(seed, grid).items():
                if tuners is not None and name not in tuners:
                    continue
                r = solve_sequence(systems, "sor", tuner, progress=progress)
                res.setdefault(name, []).append(r.iterations)
                meta["tuner_us"].setdefault(name, []).append(1e6 * float(np.median(r.tuner_time)))
                if s_i == 0:
                    om[name] = r.omega
            if s_i == 0:
                om["context"] = contexts
            meta["wall_s"].setdefault(dist, 0.0)
            meta["wall_s"][dist] += time.perf_counter() - t0
            if verbose:
                print(f"[{dist}] seed {seed}: {time.perf_counter() - t0:.1f}s", file=sys.stderr)
        results[dist] = {k: np.asarray(v) for k, v in res.items()}
        omegas[dist] = om
    results["_meta"] = meta
    results["_omegas"] = omegas
    if out is not None:
        plot(results, out, T)
    return results


def summary(results, last=1000):
    """Rows ``(dist, policy, mean, mean over the last `last`)`` averaged over seeds."""
    rows = []
    for dist, res in results.items():
        if dist.startswith("_"):
            continue
        for name, its in res.items():
            its = np.atleast_2d(its)
            rows.append((dist, name, float(its.mean()), float(its[:, -last:].mean())))
    return rows


def markdown(results, last=1000):
    """The results table (and the targets) as markdown."""
    lines = [f"| sequence | policy | mean iterations | mean, last {last} |", "|---|---|---:|---:|"]
    for dist, name, m, ml in summary(results, last):
        lines.append(f"| {dist} variance | {name} | {m:.1f} | {ml:.1f} |")
    lines.append("")
    for dist in ("low", "high"):
        res = results.get(dist)
        if not res or "best fixed ω (grid, hindsight)" not in res:
            continue
        L = lambda k: float(np.atleast_2d(res[k])[:, -last:].mean())  # noqa: E731
        if "Tsallis-INF" in res:
            lines.append(f"- {dist}: Tsallis-INF last-{last} / best fixed grid ω = "
                         f"{L('Tsallis-INF') / L('best fixed ω (grid, hindsight)'):.3f} (target ≤ 1.1)")
        if "ChebCB" in res:
            lines.append(f"- {dist}: ChebCB last-{last} / Young ω* = "
                         f"{L('ChebCB') / L('Young ω* (Lanczos)'):.3f} "
                         "(target ≤ 1.15 on the high-variance sequence)")
    return "\n".join(lines)


def plot(results, out, T):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(out, exist_ok=True)
    for dist, res in results.items():
        if dist.startswith("_"):
            continue
        fig, ax = plt.subplots(1, 2, figsize=(13, 4.8))
        for name, its in res.items():
            if name.startswith("ω =") and name not in ("ω = 1", "ω = 1.6", "ω = 1.8"):
                continue
            cum = np.cumsum(np.atleast_2d(its).mean(axis=0))
            ax[0].plot(np.arange(1, cum.size + 1), cum, label=name,
                       ls="--" if name.startswith(("ω", "best", "Young", "instance")) else "-")
        ax[0].set_xlabel("instance t")
        ax[0].set_ylabel("cumulative SOR iterations (mean over seeds)")
        ax[0].set_yscale("log")
        ax[0].legend(fontsize=8)
        ax[0].set_title(f"shifted Laplacians, {dist} variance")
        om = results["_omegas"][dist]
        w = max(T // 100, 1)
        kern = np.ones(w) / w
        for name in ("Tsallis-INF", "Tsallis-INF-CB", "ChebCB", "Young ω*"):
            if name in om:
                ax[1].plot(np.convolve(om[name], kern, mode="valid"), label=f"{name} (moving mean)")
        if "best fixed" in om:
            ax[1].axhline(om["best fixed"], color="k", ls=":", label="best fixed ω")
        ax[1].set_xlabel("instance t")
        ax[1].set_ylabel("ω")
        ax[1].legend(fontsize=8)
        ax[1].set_title("chosen ω (seed 0)")
        fig.tight_layout()
        path = os.path.join(out, f"learning_to_relax_shifted_{dist}.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--T", type=int, default=5000)
    p.add_argument("--seeds", type=int, default=3, help="number of seeds (0..seeds-1)")
    p.add_argument("--out", default="out/")
    p.add_argument("--dists", default="low,high")
    p.add_argument("--no-comparators", action="store_true", help="skip the grid table and Young's ω*")
    p.add_argument("--progress", action="store_true")
    a = p.parse_args(argv)
    res = run(T=a.T, seeds=tuple(range(a.seeds)), dists=tuple(a.dists.split(",")),
              comparators=not a.no_comparators, out=a.out, progress=a.progress)
    print(markdown(res, last=min(1000, a.T)))
    print("median tuner overhead per step (µs):",
          {k: round(float(np.median(v)), 1) for k, v in res["_meta"]["tuner_us"].items()})
    print(f"figures in {a.out}")


if __name__ == "__main__":
    main()

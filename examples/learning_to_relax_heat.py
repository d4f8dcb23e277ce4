"""Learning to Relax, experiment 2: SSOR-preconditioned CG along a 2D heat-equation simulation.
============================================================================================

Khodak, Chow, Balcan, Talwalkar, "Learning to Relax: Setting Solver Parameters Across a Sequence
of Linear System Instances", ICLR 2024 (arXiv:2310.02246), heat-equation experiment (public code).

∂u/∂t = κ(t)Δu + f on [0,1]², Crank–Nicolson, Δt = 1e-3, 5000 steps, κ(t) = max(0.1 sin 2πt,
−10 sin 2πt), a moving bump forcing (:class:`krylearn.pde.heat.HeatEquation2D`). Every step solves
its SPD system by SSOR-PCG to ‖r‖ ≤ 1e-8‖b‖, warm-started from the previous step; the context of
the contextual tuners is κ at the step. Policies: CG, SSOR-CG with ω = 1 and 1.5, the best fixed
ω in hindsight (grid of 20 values in [1, 1.95], estimated on every ``every``-th step, then rerun),
the instance-optimal comparator (golden-section search per step, on every ``every``-th step),
Tsallis-INF, Tsallis-INF-CB and ChebCB. Reported: total iterations and total wall time (setup,
solves and the tuner's suggest/observe), and the iteration reduction against ω = 1.

Run from the repository root::

    .venv/bin/python examples/learning_to_relax_heat.py --nx 25,50,100        # full size
    .venv/bin/python examples/learning_to_relax_heat.py --nx 25 --steps 300 --dt 0.0166667 --out out/
    .venv/bin/python examples/learning_to_relax_heat.py --nx 100 --kappa-low 0.01   # paper-text κ
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from krylearn.pde.heat import HeatEquation2D, sine_coefficient
from krylearn.solvers.tuning.sequence import grid_costs, instance_optimal, solve_sequence
from krylearn.solvers.tuning.contextual_tuners import ChebCB, TsallisINFCB
from krylearn.solvers.tuning.bandits import TsallisINF, omega_grid

RTOL = 1e-8


def run_nx(nx, steps=5000, dt=1e-3, trials=1, every=10, comparators=True, tuners=("Tsallis-INF",
           "Tsallis-INF-CB", "ChebCB"), fixed=(1.0, 1.5), cg=True, verbose=True, kappa_low=0.1):
    """All policies at one grid size; returns ``{policy: dict(iterations, omega, time, total_*)}``.

    ``kappa_low``: κ(t) = max(kappa_low · sin 2πt, −10 sin 2πt); 0.1 is the authors' public code,
    0.01 the paper's text."""
    _warmup()
    heat = HeatEquation2D(nx=nx, steps=steps, dt=dt, coefficient=sine_coefficient(kappa_low))
    crange = heat.context_range
    grid = omega_grid("sor")           # the paper's grid for SSOR-PCG too: 20 points in [1, 1.95]
    out = {}

    def record(name, r, **extra):
        out[name] = dict(iterations=r.iterations, omega=r.omega, time=r.time, tuner_time=r.tuner_time,
                         total_iterations=int(r.total_iterations), total_time=float(r.total_time),
                         total_cpu_time=float(r.total_cpu_time),
                         converged=bool(np.all(r.converged)), **extra)
        if verbose:
            print(f"  [nx={nx}] {name:28s} iterations {r.total_iterations:8d}  time {r.total_time:7.2f} s  "
                  f"cpu {r.total_cpu_time:7.2f} s  tuner median {1e6 * np.median(r.tuner_time):.1f} µs",
                  file=sys.stderr)

    if cg:
        record("CG", solve_sequence(heat, "cg", None, warm_start=True, rtol=RTOL))
    for w in fixed:
        record(f"SSOR-CG ω = {w:g}", solve_sequence(heat, "ssor_cg", w, warm_start=True, rtol=RTOL))
    for name in tuners:
        runs = []
        for seed in range(trials):
            tuner = {"Tsallis-INF": lambda: TsallisINF(grid=grid, seed=seed),
                     "Tsallis-INF-CB": lambda: TsallisINFCB(grid=grid, context_range=crange, bins=6, seed=seed),
                     "ChebCB": lambda: ChebCB(grid=grid, context_range=crange, degree=5, seed=seed)}[name]()
            runs.append(solve_sequence(heat, "ssor_cg", tuner, warm_start=True, rtol=RTOL))
        best = runs[0]
        record(name, best, trials_total_iterations=[int(r.total_iterations) for r in runs],
               trials_total_time=[float(r.total_time) for r in runs])
        out[name]["total_iterations"] = float(np.mean([r.total_iterations for r in runs]))
        out[name]["total_time"] = float(np.mean([r.total_time for r in runs]))
        out[name]["total_cpu_time"] = float(np.mean([r.total_cpu_time for r in runs]))
        out[name]["tuner_median_us"] = float(1e6 * np.median(np.concatenate([r.tuner_time for r in runs])))
    if comparators:
        t0 = time.perf_counter()
        gc = grid_costs(heat, grid, "ssor_cg", warm_start=True, rtol=RTOL, every=every)
        w_best = gc.best_fixed_omega
        record("best fixed ω (hindsight)", solve_sequence(heat, "ssor_cg", w_best, warm_start=True, rtol=RTOL),
               omega_value=w_best, table=gc.table, steps=gc.steps)
        om, its, st = instance_optimal(heat, "ssor_cg", lo=1.0, hi=1.95, evals=12, start=5, warm_start=True,
                                       rtol=RTOL, every=every)
        scale = steps / max(len(st), 1)
        out["instance-optimal (golden section)"] = dict(
            omega_sampled=om, iterations_sampled=its, steps=st, total_iterations=float(its.sum() * scale),
            estimated=every > 1, grid_instance_optimal_total=float(gc.instance_optimal.sum() * steps / len(gc.steps)))
        if verbose:
            print(f"  [nx={nx}] comparators {time.perf_counter() - t0:.1f} s (best fixed ω = {w_best:.3f}; "
                  f"instance-optimal ≈ {its.sum() * scale:.0f} iterations)", file=sys.stderr)
    out["_contexts"] = np.asarray(heat.coefficient(np.arange(steps) * dt), dtype=float)
    return out


def _warmup():
    """Load/compile every numba kernel once, so that no policy's wall time pays for it."""
    small = HeatEquation2D(nx=6, steps=2)
    for solver, tuner in (("cg", None), ("ssor_cg", 1.5), ("ssor_cg", TsallisINF(seed=0)),
                          ("ssor_cg", TsallisINFCB(context_range=(0, 10), seed=0)),
                          ("ssor_cg", ChebCB(context_range=(0, 10), seed=0))):
        solve_sequence(small, solver, tuner, warm_start=True)


def run(nxs=(25, 50, 100), steps=5000, dt=1e-3, trials=1, every=10, comparators=True, out=None, **kw):
    """``run_nx`` for each ``nx``; figures into ``out`` when given. Returns ``{nx: results}``."""
    res = {}
    for nx in nxs:
        t0 = time.perf_counter()
        res[nx] = run_nx(nx, steps=steps, dt=dt, trials=trials, every=every, comparators=comparators, **kw)
        print(f"[nx={nx}] {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    if out is not None:
        plot(res, out)
    return res


def table_rows(res):
    """``(nx, policy, total iterations, wall time or None, reduction vs ω = 1, CPU time or None)`` rows."""
    rows = []
    for nx, r in res.items():
        base = r.get("SSOR-CG ω = 1", {}).get("total_iterations")
        for name, v in r.items():
            if name.startswith("_"):
                continue
            it = float(v["total_iterations"])
            tm = v.get("total_time")
            ct = v.get("total_cpu_time")
            rows.append([int(nx), name, it, None if tm is None else float(tm),
                         None if not base else float(base) / it, None if ct is None else float(ct)])
    return rows


def markdown(res):
    lines = ["| nx | policy | total iterations | iterations: ω=1 / policy | wall time (s) | CPU time (s) |",
             "|---:|---|---:|---:|---:|---:|"]
    for nx, name, it, tm, red, ct in table_rows(res):
        est = " (est.)" if name.startswith("instance") and res[nx][name].get("estimated") else ""
        tms = "—" if tm is None else f"{tm:.2f}"
        cts = "—" if ct is None else f"{ct:.2f}"
        reds = "—" if not red else f"{red:.2f}"
        lines.append(f"| {nx} | {name} | {it:.0f}{est} | {reds} | {tms} | {cts} |")
    lines.append("")
    for nx, r in res.items():
        base = r.get("SSOR-CG ω = 1")
        if not base:
            continue
        parts = []
        for name, target in (("Tsallis-INF", 2.4), ("ChebCB", 3.5)):
            if name in r:
                parts.append(f"{name} {base['total_iterations'] / r[name]['total_iterations']:.2f}× "
                             f"(paper ≈ {target}×)")
        if parts:
            lines.append(f"- nx = {nx}: iteration reduction vs ω = 1: " + ", ".join(parts))
        if "ChebCB" in r:
            for key, what in (("total_time", "wall"), ("total_cpu_time", "CPU")):
                others = {k: r[k][key] for k in ("CG", "SSOR-CG ω = 1", "SSOR-CG ω = 1.5") if k in r}
                if others:
                    k_best = min(others, key=others.get)
                    short = {"CG": "CG", "SSOR-CG ω = 1": "ω=1", "SSOR-CG ω = 1.5": "ω=1.5"}
                    lines.append(f"- nx = {nx}: ChebCB {what} time {r['ChebCB'][key]:.2f} s vs best of "
                                 f"{{{', '.join(short[k] for k in others)}}} = {k_best} {others[k_best]:.2f} s "
                                 f"(ratio {r['ChebCB'][key] / others[k_best]:.3f}; target < 1 at nx = 100)")
            if "tuner_median_us" in r["ChebCB"]:
                lines.append(f"- nx = {nx}: median tuner overhead per step: " + ", ".join(
                    f"{k} {r[k]['tuner_median_us']:.1f} µs" for k in ("Tsallis-INF", "Tsallis-INF-CB", "ChebCB")
                    if k in r and "tuner_median_us" in r[k]))
    return "\n".join(lines)


def plot(res, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(out, exist_ok=True)
    for nx, r in res.items():
        fig, ax = plt.subplots(3, 1, figsize=(11, 9), sharex=True)
        steps = len(r["_contexts"])
        w = max(steps // 100, 1)
        kern = np.ones(w) / w
        for name, v in r.items():
            if name.startswith("_") or "iterations" not in v:
                continue
            ax[0].plot(np.convolve(v["iterations"], kern, mode="valid"), label=name, lw=1)
        if "instance-optimal (golden section)" in r:
            io = r["instance-optimal (golden section)"]
            ax[0].plot(io["steps"], io["iterations_sampled"], "k.", ms=2, label="instance-optimal (sampled)")
        ax[0].set_ylabel(f"iterations per step\n(moving mean, {w})")
        ax[0].legend(fontsize=7, ncol=2)
        ax[0].set_title(f"2D heat equation, SSOR-PCG, nx = {nx}")
        for name in ("Tsallis-INF", "Tsallis-INF-CB", "ChebCB"):
            if name in r:
                ax[1].plot(np.convolve(r[name]["omega"], kern, mode="valid"), label=f"{name} (moving mean)", lw=1)
        if "best fixed ω (hindsight)" in r:
            ax[1].axhline(r["best fixed ω (hindsight)"]["omega_value"], color="k", ls=":", label="best fixed ω")
        if "instance-optimal (golden section)" in r:
            io = r["instance-optimal (golden section)"]
            ax[1].plot(io["steps"], io["omega_sampled"], "k.", ms=2, label="instance-optimal ω")
        ax[1].set_ylabel("chosen ω")
        ax[1].legend(fontsize=7)
        ax[2].plot(r["_contexts"])
        ax[2].set_ylabel("κ(t) (context)")
        ax[2].set_xlabel("time step")
        fig.tight_layout()
        fig.savefig(os.path.join(out, f"learning_to_relax_heat_nx{nx}.png"), dpi=110)
        plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--nx", default="25,50,100")
    p.add_argument("--steps", type=int, default=5000)
    p.add_argument("--dt", type=float, default=1e-3)
    p.add_argument("--trials", type=int, default=1, help="seeds per tuner")
    p.add_argument("--every", type=int, default=10, help="comparator stride (1: every step, 12+20 solves each)")
    p.add_argument("--no-comparators", action="store_true")
    p.add_argument("--kappa-low", type=float, default=0.1,
                   help="κ(t) = max(low·sin 2πt, −10 sin 2πt): 0.1 public code (default), 0.01 paper text")
    p.add_argument("--out", default="out/")
    a = p.parse_args(argv)
    res = run(nxs=tuple(int(v) for v in a.nx.split(",")), steps=a.steps, dt=a.dt, trials=a.trials,
              every=a.every, comparators=not a.no_comparators, out=a.out, kappa_low=a.kappa_low)
    print(markdown(res))
    print(f"figures in {a.out}")


if __name__ == "__main__":
    main()

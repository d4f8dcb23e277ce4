"""DCDM benchmark: iterations and wall time to rtol 1e-4 and 1e-6.

Methods, on the same obstacle-domain Poisson systems (Dirichlet box, Neumann at solids):
DCDM (Kaneda et al., ICML 2023; ``kl.learned.dcdm`` with the shipped models), FCG+DCDM
(``kl.fcg`` with ``kl.learned.DCDMPreconditioner``), CG, IC(0)-PCG (``kl.precond.ic0``) and
AMG-PCG (``kl.precond.amg``, PyAMG smoothed aggregation). Grids: 2D 128², 256², 512² and 3D
32³, 64³ (models trained at 128² and 32³); obstacle families ``spheres_boxes`` (seen in training,
new random draws) and ``ellipses_lshapes`` (never seen).
``DCDM@NAME`` rows run DCDM with another shipped model (``@poisson3d_paper``: the paper's network
and loss) or, with ``@bpx``, with the untrained multilevel network, which is the BPX preconditioner:
what the learned blocks add on top of their skeleton.

Each solve runs once to rtol 1e-6; the iteration count and the elapsed time at which the
residual first meets 1e-4 and 1e-6 are read from a callback (time stamps at each iteration).
Classical solves are repeated (median); a DCDM run is costly on CPU and runs once, after one
untimed warm-up iteration (torch's first call on a grid size pays one-off set-up costs). A solve that
exceeds ``--time-limit`` seconds is stopped and shown as ``>k``.

    .venv/bin/python benchmarks/dcdm.py            # full run (long on 2 shared cores)
    .venv/bin/python benchmarks/dcdm.py --quick    # smoke run, small grids
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

import krylearn as kl

ROOT = Path(__file__).resolve().parents[1]


def problem(shape, family, seed=1000):
    mask = kl.pde.obstacles.random_domain(shape, family, seed=seed)
    A = kl.pde.poisson(shape, mask=mask)
    b = np.random.default_rng(seed).standard_normal(A.shape[0])
    return A, b


def timed_solve(fn, b_norm, time_limit):
    """Run ``fn(callback)``; return (iters to 1e-4, time to 1e-4, iters to 1e-6, time to 1e-6, status)."""
    stamps = []
    t0 = time.perf_counter()

    def cb(state):
        t = time.perf_counter() - t0
        stamps.append((state.iteration, state.residual_norm, t))
        return t > time_limit

    res = fn(cb)
    out = []
    for tol in (1e-4, 1e-6):
        hit = [(k, t) for k, r, t in stamps if r <= tol * b_norm]
        if hit:
            out += [hit[0][0], hit[0][1]]
        else:
            out += [None, None]
    last = stamps[-1][0] if stamps else 0
    return out + [str(res.status), last]


def run_methods(A, b, models, methods, repeats, time_limit):
    b_norm = float(np.linalg.norm(b))
    rows = {}
    csr = A.tocsr()
    dim = A.mask.ndim
    for name in methods:
        setup = 0.0
        if name == "CG":
            fn = lambda cb: kl.cg(A, b, rtol=1e-6, callback=cb, maxiter=20000)  # noqa: E731
            reps = repeats
        elif name == "IC(0)-PCG":
            t = time.perf_counter(); M = kl.precond.ic0(csr); setup = time.perf_counter() - t
            fn = lambda cb, M=M: kl.cg(csr, b, rtol=1e-6, M=M, callback=cb, maxiter=20000)  # noqa: E731
            reps = repeats
        elif name == "AMG-PCG":
            try:
                t = time.perf_counter(); M = kl.precond.amg(csr); setup = time.perf_counter() - t
            except ImportError:
                continue
            fn = lambda cb, M=M: kl.cg(csr, b, rtol=1e-6, M=M, callback=cb, maxiter=20000)  # noqa: E731
            reps = repeats
        elif name.startswith("DCDM"):     # "DCDM" (k = 2, the paper) or "DCDM-k32"; "...@name": another model
            base, _, other = name.partition("@")
            k = int(base.split("-k")[1]) if "-k" in base else 2
            model = models[other] if other else models[dim]
            if isinstance(model, dict):         # "@bpx": the untrained network of this dimension
                model = model[dim]
            if getattr(model, "dim", dim) != dim:
                continue
            # one untimed iteration first: torch's first call on a grid size pays one-off set-up costs
            kl.learned.dcdm(A, b, model, maxiter=1, k=k)
            fn = lambda cb, m=model, k=k: kl.learned.dcdm(A, b, m, rtol=1e-6, callback=cb, maxiter=5000, k=k)  # noqa: E731
            reps = 1
        elif name.startswith("FCG+DCDM"):  # "FCG+DCDM" (truncation 1) or "FCG+DCDM-m32"
            m = int(name.split("-m")[1]) if "-m" in name else 1
            M = kl.learned.DCDMPreconditioner(models[dim], A)
            M.matvec(b)     # untimed warm-up, as for DCDM
            fn = lambda cb, M=M, m=m: kl.fcg(A, b, rtol=1e-6, M=M, callback=cb, maxiter=5000, truncation=m)  # noqa: E731
            reps = 1
        else:
            raise ValueError(name)
        runs = [timed_solve(fn, b_norm, time_limit) for _ in range(reps)]
        med = lambda i: (None if any(r[i] is None for r in runs) else float(np.median([r[i] for r in runs])))  # noqa: E731
        rows[name] = dict(it4=runs[0][0], t4=med(1), it6=runs[0][2], t6=med(3), status=runs[0][4],
                          last=runs[0][5], setup=setup, reps=reps)
        print(f"    {name:10s} it(1e-4)={rows[name]['it4']} it(1e-6)={rows[name]['it6']} "
              f"t(1e-6)={rows[name]['t6']} status={rows[name]['status']}", flush=True)
    return rows


def fmt_it(row, key):
    v = row[key]
    return f">{row['last']}" if v is None else str(v)


def fmt_t(row, key):
    v = row[key]
    return "—" if v is None else f"{v:.3g}"


def target_rows(dname, families, results, it, with_cg=True):
    """Rows of the target table for one DCDM variant: ratio to IC(0) at 256²/64³, growth to twice the side."""
    L = []

    def ran(shape, fam):     # this variant ran on that problem (a model of another dimension did not)
        return (shape, fam) in results and dname in results[(shape, fam)][1]

    for big in [(256, 256), (64, 64, 64)]:
        for fam in families:
            d, ic = it(big, fam, dname), it(big, fam, "IC(0)-PCG")
            if ran(big, fam):
                if ic is None:
                    v, met = "n/a", "n/a"
                elif d is None:      # DCDM did not reach 1e-4 (time limit or maxiter): a miss, not n/a
                    v, met = f"not reached (IC(0): {ic})", "no"
                else:
                    v, met = f"{d / ic:.2f}", ("yes" if d <= ic / 3 else "no")
                L.append(f"| {dname} / IC(0)-PCG iterations to 1e-4 at {'x'.join(map(str, big))} | {fam} | {v} | ≤ 0.33 | {met} |")
    for small, big in [((128, 128), (256, 256)), ((32, 32, 32), (64, 64, 64))]:
        for fam in families:
            for name in (dname, "CG") if with_cg else (dname,):
                a, c = it(small, fam, name), it(big, fam, name)
                if ran(small, fam) and ran(big, fam):
                    tgt = "≤ 1.5" if name != "CG" else "(≈ 2 expected)"
                    if a is None:
                        v, met = "n/a", "n/a"
                    elif c is None:   # reached 1e-4 at the small size, not at the large one
                        v, met = f"{a} → not reached", "no"
                    else:
                        v, met = f"{c / a:.2f}", ("yes" if c <= 1.5 * a else "no")
                    met = "" if name == "CG" else met
                    L.append(f"| {name} growth of iterations to 1e-4, {'x'.join(map(str, small))} → "
                             f"{'x'.join(map(str, big))} | {fam} | {v} | {tgt} | {met} |")
    return L


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small grids only (smoke run)")
    p.add_argument("--sizes2d", default="128,256,512")
    p.add_argument("--sizes3d", default="32,64")
    p.add_argument("--families", default="spheres_boxes,ellipses_lshapes")
    p.add_argument("--methods", default="DCDM,DCDM-k32,FCG+DCDM-m32,DCDM@bpx,DCDM@poisson3d_paper,CG,IC(0)-PCG,"
                                        "AMG-PCG",
                   help="DCDM[-kK][@NAME]: dcdm keeping K directions A-orthogonal (paper: 2), with the shipped "
                        "model NAME (default poisson2d/poisson3d by dimension; NAME = bpx: the untrained "
                        "MultilevelNet, i.e. BPX); FCG+DCDM[-mM]: kl.fcg with the "
                        "network preconditioner and truncation M")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--time-limit", type=float, default=240.0, help="seconds per solve before it is stopped")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads (default: krylearn's policy in the user's default environment)")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "dcdm.md"))
    args = p.parse_args(argv)
    import torch
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.quick:
        args.sizes2d, args.sizes3d, args.repeats = "64", "16", 1
        args.time_limit = min(args.time_limit, 30.0)
    methods = args.methods.split(",")
    shapes = [(int(n),) * 2 for n in args.sizes2d.split(",") if n] + \
             [(int(n),) * 3 for n in args.sizes3d.split(",") if n]
    models, manifests = {}, {}
    for dim in sorted({len(s) for s in shapes}):
        models[dim], manifests[dim] = kl.learned.load_pretrained(f"poisson{dim}d", return_manifest=True)
    for other in sorted({m.partition("@")[2] for m in methods if "@" in m}):
        if other == "bpx":      # the multilevel network untrained: exactly the BPX preconditioner
            models[other] = {d: kl.learned.MultilevelNet(d).eval() for d in (2, 3)}
            continue
        models[other], manifests[other] = kl.learned.load_pretrained(other, return_manifest=True)
    families = args.families.split(",")
    load0 = os.getloadavg()
    results = {}
    t_all = time.perf_counter()
    for shape in shapes:
        for fam in families:
            A, b = problem(shape, fam)
            print(f"{'x'.join(map(str, shape))} {fam}: n = {A.shape[0]}", flush=True)
            results[(shape, fam)] = (A.shape[0], run_methods(A, b, models, methods, args.repeats, args.time_limit))
    load1 = os.getloadavg()
    elapsed = time.perf_counter() - t_all

    cmd = "python benchmarks/dcdm.py " + " ".join(argv if argv is not None else sys.argv[1:])
    run_info = [
        f"Command: `{cmd.strip()}`  ",
        f"Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}; machine: {platform.machine()}, "
        f"{os.cpu_count()} cores shared with other jobs (load average {load0[0]:.1f} at start, "
        f"{load1[0]:.1f} at end; wall times are noisy, compare within a row); torch threads: "
        f"{'default (krylearn policy)' if args.threads is None else args.threads}; total {elapsed / 60:.1f} min.  ",
        "Models: " + ", ".join(f"{m['name']} ({m['config'].get('arch', 'unet')} network) trained at "
                               f"{'x'.join(map(str, m['grid']))} ({m['steps_done']} steps, final "
                               f"{m['recipe'].get('loss', 'residual')} loss {m['loss_final_mean100']:.3g})"
                               for m in manifests.values()) + ".  ",
        "Right-hand side: seeded N(0,1) per unknown; x0 = 0; stopping rule ||b - Ax|| <= rtol ||b||. "
        f"Times in seconds (classical: median of {args.repeats}; DCDM, FCG+DCDM: one run after a warm-up); "
        "setup (IC(0) factorisation, AMG hierarchy) excluded from the solve time and shown separately. "
        f"`>k`: stopped at iteration k by the {args.time_limit:.0f} s limit or maxiter.", ""]

    def it(shape, fam, name, key="it4"):
        r = results.get((shape, fam), (0, {}))[1].get(name)
        return None if r is None or r[key] is None else r[key]

    L = ["# DCDM benchmark results", "", *run_info]
    notes = Path(__file__).with_name("dcdm_notes.md")
    if notes.exists() and not args.quick:
        L += [notes.read_text().strip(), ""]
    L += ["## Targets", "", "| check | family | value | target | met |", "|---|---|---:|---:|---|"]
    dnames = [m for m in methods if m.startswith("DCDM")]
    for i, dname in enumerate(dnames):
        L += target_rows(dname, families, results, it, with_cg=(i == 0))
    L += ["", "## Wall time to 1e-6 (seconds)", "",
          "| grid | family | DCDM | IC(0)-PCG (+ setup) | AMG-PCG (+ setup) | DCDM / (IC(0)-PCG + setup) | "
          "DCDM / (AMG-PCG + setup) |",
          "|---|---|---:|---:|---:|---:|---:|"]
    for (shape, fam), (n, rows) in results.items():
        d, ic, amg = (rows.get(k) for k in ("DCDM", "IC(0)-PCG", "AMG-PCG"))
        if d is None or d["t6"] is None:
            continue

        def total(r):
            return None if r is None or r["t6"] is None else r["t6"] + r["setup"]

        def cell(r):
            return "—" if total(r) is None else f"{r['t6']:.3g} (+ {r['setup']:.2g})"

        ratio = lambda r: "—" if total(r) is None else f"{d['t6'] / total(r):.1f}×"  # noqa: E731
        L.append(f"| {'x'.join(map(str, shape))} | {fam} | {d['t6']:.3g} | {cell(ic)} | {cell(amg)} | "
                 f"{ratio(ic)} | {ratio(amg)} |")
    L += ["", "## Per problem", ""]
    for (shape, fam), (n, rows) in results.items():
        seen = "seen family" if fam == "spheres_boxes" else "unseen family"
        L += [f"### {'x'.join(map(str, shape))} — {fam} ({seen}), n = {n}", "",
              "| method | iters to 1e-4 | time to 1e-4 | iters to 1e-6 | time to 1e-6 | setup | status |",
              "|---|---:|---:|---:|---:|---:|---|"]
        for name, row in rows.items():
            L.append(f"| {name} | {fmt_it(row, 'it4')} | {fmt_t(row, 't4')} | {fmt_it(row, 'it6')} | "
                     f"{fmt_t(row, 't6')} | {row['setup']:.3g} | {row['status']} |")
        L.append("")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(L) + "\n")
    print("\n".join(L))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

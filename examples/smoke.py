"""Smoke rising past a moving obstacle, with the pressure solve chosen online by AutoSolver.
=========================================================================================

Run from the repository root::

    python examples/smoke.py                        # 2D 256², 200 steps, --solver auto
    python examples/smoke.py --dim 3 --n 64 --steps 100
    python examples/smoke.py --solver mg-cg         # one candidate for the whole run

Each step prints the solver used, its iterations and its set-up/solve times; PNG frames and an
animation (GIF, imageio) go to ``--out`` (default ``smoke_out/``), with ``auto.png`` (the choice of
solver over the run) and ``auto.json`` (the AutoSolver state) when ``--solver auto``.
The simulation is :class:`krylearn.pde.smoke.SmokeSimulation`; the candidates are those of
:mod:`krylearn.solvers.tuning.candidates`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

import krylearn as kl
from krylearn.pde.smoke import SmokeSimulation
from krylearn.solvers.tuning.candidates import BUILTIN


def frame(sim, path):
    """Density (3D: the largest value along the depth axis), axis 0 up, the obstacle in grey."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    dens = sim.density if sim.ndim == 2 else sim.density.max(axis=2)
    solid = ~sim.mask if sim.ndim == 2 else ~sim.mask.all(axis=2)
    img = np.stack([dens] * 3, axis=-1).clip(0, 1)
    img[solid] = (0.45, 0.45, 0.5)
    fig, ax = plt.subplots(figsize=(4, 4 * sim.shape[0] / sim.shape[1]))
    ax.imshow(img, origin="lower", interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(f"step {sim.step_count}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def make_solver(name, rtol):
    """``solve(A, b, x0, rtol)`` for the simulation, and the AutoSolver (or None)."""
    if name == "auto":
        auto = kl.solvers.AutoSolver(seed=0)
        return (lambda A, b, x0, rtol: auto.solve(A, b, x0, rtol=rtol)), auto
    fixed = kl.solvers.AutoSolver([name])  # one candidate: the same set-up caching, no choice
    return (lambda A, b, x0, rtol: fixed.solve(A, b, x0, rtol=rtol)), None


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dim", type=int, default=2, choices=(2, 3))
    p.add_argument("--n", type=int, default=None, help="cells per side (default 256 in 2D, 64 in 3D)")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--solver", default="auto", help=f"'auto' or one of {list(BUILTIN)}")
    p.add_argument("--rtol", type=float, default=1e-6)
    p.add_argument("--frames", type=int, default=10, help="write a frame every this many steps (0: none)")
    p.add_argument("--out", default="smoke_out")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    if args.solver != "auto" and args.solver not in BUILTIN:
        p.error(f"unknown solver {args.solver!r}; choose 'auto' or one of {list(BUILTIN)}")
    n = args.n or (256 if args.dim == 2 else 64)
    sim = SmokeSimulation((n,) * args.dim, period=max(args.steps, 2))
    solve, auto = make_solver(args.solver, args.rtol)
    os.makedirs(args.out, exist_ok=True)
    frames = []

    def report(sim, e):
        if not args.quiet:
            print(f"step {e['step']:4d}  {e['solver']:<12} {e['iterations']:4d} its  set-up {e['setup_time']:7.4f} s"
                  f"  solve {e['solve_time']:7.4f} s  step {e['step_time']:7.4f} s", flush=True)
        if args.frames and (e["step"] % args.frames == 0 or e["step"] == 1):
            path = os.path.join(args.out, f"frame_{e['step']:05d}.png")
            frame(sim, path)
            frames.append(path)

    t0 = time.perf_counter()
    sim.run(args.steps, solve, rtol=args.rtol, callback=report)
    wall = time.perf_counter() - t0
    log = sim.log
    solve_total = sum(e["total_time"] for e in log)
    print(f"\n{len(log)} steps of {n}^{args.dim} in {wall:.1f} s; pressure solves {solve_total:.2f} s "
          f"({sum(e['iterations'] for e in log)} iterations); all converged: {all(e['converged'] for e in log)}")
    if auto is not None:
        print(auto.report())
        auto.plot(os.path.join(args.out, "auto.png"), title=f"AutoSolver on smoke {n}^{args.dim}")
        auto.save(os.path.join(args.out, "auto.json"))
    if frames:
        try:
            import imageio.v2 as imageio
        except ImportError:
            print("imageio is not installed (pip install imageio): frames written, no animation", file=sys.stderr)
        else:
            images = [imageio.imread(f) for f in frames]
            shape = images[0].shape
            images = [im for im in images if im.shape == shape]
            imageio.mimsave(os.path.join(args.out, "smoke.gif"), images, duration=0.15, loop=0)
            print(f"animation: {os.path.join(args.out, 'smoke.gif')}")
    return sim


if __name__ == "__main__":
    main()

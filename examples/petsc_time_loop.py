"""A time loop of PETSc KSP solves whose option set is chosen online by krylearn.petsc.AutoKSP.
============================================================================================

Run from the repository root::

    .venv/bin/python examples/petsc_time_loop.py
    mpiexec -n 2 .venv/bin/python examples/petsc_time_loop.py --steps 200 --compare

Implicit Euler for the heat equation on a DMDA grid: every step solves ``(I + κ_t Δt L) u_t = u_{t−1} + Δt f``
with ``L = krylearn.petsc.poisson(shape)`` and a diffusion coefficient ``κ_t`` that changes every step
(a new matrix each step, so each option set's preconditioner is rebuilt, as in a simulation whose
coefficients move). Rank 0 prints per-step choices; ``--compare`` also runs every option set fixed over
the same steps and prints the totals (the slowest rank's wall time of set-up + solve), the best fixed
set in hindsight and AutoKSP's ratio to it. The chooser sees the context ``log10(κ_t Δt)`` (a contextual
:class:`krylearn.solvers.UCB` with six bins; ``--no-context`` for one choice for all κ). ``--save F`` writes this rank's choices and final solution
to ``F.rank<r>.npz`` (the tests compare the ranks).
"""

from __future__ import annotations

import argparse
import math
import sys

import petsc4py

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--shape", type=int, nargs="+", default=[256, 256])
ap.add_argument("--steps", type=int, default=100)
ap.add_argument("--rtol", type=float, default=1e-8)
ap.add_argument("--sets", default="gamg,icc,jacobi,sor",
                help="option sets to choose among (of gamg, icc, jacobi, sor, none; mg = krylearn.petsc.Multigrid "
                "is for pure Poisson matrices and fails on these shifted ones: a test of the fallback)")
ap.add_argument("--compare", action="store_true", help="also run every option set fixed")
ap.add_argument("--no-context", action="store_true",
                help="choose without the context log10(κΔt) (a non-contextual UCB: one choice for all κ)")
ap.add_argument("--save", default=None)
ap.add_argument("--json", default=None, help="with --compare: write the totals to this JSON file (rank 0)")
ap.add_argument("--quiet", action="store_true")
args, petsc_args = ap.parse_known_args()
petsc4py.init([sys.argv[0]] + petsc_args)

import numpy as np  # noqa: E402
from petsc4py import PETSc  # noqa: E402

import krylearn.petsc as klp  # noqa: E402
from krylearn.solvers.tuning.ucb import UCB  # noqa: E402

OPTION_SETS = {
    "gamg": {"ksp_type": "cg", "pc_type": "gamg"},
    "icc": {"ksp_type": "cg", "pc_type": "bjacobi", "sub_pc_type": "icc"},
    "jacobi": {"ksp_type": "cg", "pc_type": "jacobi"},
    "sor": {"ksp_type": "cg", "pc_type": "sor", "pc_sor_local_symmetric": None},
    "mg": {"ksp_type": "cg", "pc_type": "python", "pc_python_type": "krylearn.petsc.Multigrid"},
    "none": {"ksp_type": "cg", "pc_type": "none"},
    # global symmetric SOR is not supported on several ranks (a PETSc error): tests the fallback
    "sor_global": {"ksp_type": "cg", "pc_type": "sor", "pc_sor_symmetric": None},
}


def kappa(step):
    """Diffusion coefficient of a step: slow swings over three decades (the systems range from
    nearly the identity, where Jacobi wins, to strongly diffusive, where multigrid wins)."""
    return 10.0 ** (1.5 * math.sin(2 * math.pi * step / 100.0) + 0.5)


def run(sets, steps, L, rtol, chooser):
    rank = PETSc.COMM_WORLD.getRank()
    u = L.createVecLeft()
    f = L.createVecLeft()
    f.set(1.0)
    dt = 1e-3
    x = u.duplicate()
    b = u.duplicate()
    total, log = 0.0, []
    for step in range(steps):
        A = L.copy()
        A.scale(kappa(step) * dt)
        A.shift(1.0)
        u.copy(b)
        b.axpy(dt, f)
        u.copy(x)                                       # warm start from the previous step
        res = chooser.solve(A, b, x, rtol=rtol, context=math.log10(kappa(step) * dt))
        total += res.info["total_time"]
        log.append((res.info["chosen"], res.info["candidate"], res.iterations, res.converged))
        if not args.quiet and rank == 0 and chooser is not None and len(sets) > 1:
            print(f"step {step:4d} κΔt {kappa(step) * dt:8.2e}  {res.info['candidate']:<7} {res.iterations:4d} its  "
                  f"{res.info['total_time']:.4f} s", flush=True)
        x.copy(u)
        A.destroy()
    return total, log, u


def main():
    comm = PETSc.COMM_WORLD
    rank = comm.getRank()
    sets = {n: OPTION_SETS[n] for n in args.sets.split(",")}
    L = klp.poisson(tuple(args.shape), comm=comm)
    if args.no_context:
        tuner = None
    else:  # one confidence-bound rule per range of log10(κΔt): the best option set depends on it
        lo, hi = math.log10(kappa(75) * 1e-3), math.log10(kappa(25) * 1e-3)
        tuner = UCB(arms=list(sets), context_range=(lo, hi), bins=6)
    auto = klp.AutoKSP(sets, tuner=tuner, seed=0)
    total, log, u = run(sets, args.steps, L, args.rtol, auto)
    if rank == 0:
        print(f"AutoKSP: {total:.3f} s over {args.steps} steps on {comm.getSize()} rank(s); "
              f"all converged: {all(r[3] for r in log)}")
        for n, r in auto.report().items():
            print(f"  {n:<7} chosen {r['chosen']:4d}  mean {r['mean_cost']:.4g} s  failures {r['failures']}")
    if args.save:
        np.savez(f"{args.save}.rank{rank}.npz", chosen=np.array([r[0] for r in log]),
                 candidate=np.array([r[1] for r in log]), iterations=np.array([r[2] for r in log]),
                 converged=np.array([r[3] for r in log]), u=u.array_r.copy())
    if args.compare:
        fixed = {}
        for n, opts in sets.items():
            one = klp.AutoKSP({n: opts})
            t, lg, _ = run({n: opts}, args.steps, L, args.rtol, one)
            fixed[n] = (t, all(r[3] for r in lg))
            one.destroy()
        if rank == 0:
            ok = {n: v[0] for n, v in fixed.items() if v[1]}
            best = min(ok, key=ok.get)
            for n, (t, conv) in fixed.items():
                print(f"fixed {n:<7} {t:8.3f} s  converged every step: {conv}")
            print(f"best fixed in hindsight: {best} {ok[best]:.3f} s; AutoKSP {total:.3f} s = "
                  f"{total / ok[best]:.3f}x")
            if args.json:
                import json
                with open(args.json, "w") as fh:
                    json.dump({"ranks": comm.getSize(), "shape": args.shape, "steps": args.steps, "rtol": args.rtol,
                               "contextual": not args.no_context, "auto": total,
                               "chosen": {n: r["chosen"] for n, r in auto.report().items()},
                               "fixed": {n: {"total": t, "converged": c} for n, (t, c) in fixed.items()}}, fh, indent=1)
    auto.destroy()


if __name__ == "__main__":
    main()

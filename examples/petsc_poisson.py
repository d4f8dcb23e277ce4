"""Distributed Poisson solve with PETSc KSP and krylearn preconditioners (serial or under MPI).
============================================================================================

Run from the repository root::

    .venv/bin/python examples/petsc_poisson.py                       # one rank
    mpiexec -n 2 .venv/bin/python examples/petsc_poisson.py          # two ranks
    mpiexec -n 2 .venv/bin/python examples/petsc_poisson.py --shape 64 64 64 -ksp_view

The matrix is ``krylearn.petsc.poisson(shape)`` (a DMDA-assembled MPI AIJ matrix, identical to
``krylearn.pde.poisson(shape).tocsr()``); the right-hand side is the unit source. KSPCG runs with
PETSc's own preconditioners and with krylearn's python contexts, which on several ranks
precondition each rank's diagonal block (like PETSc's block Jacobi): krylearn SSOR therefore
matches PETSc's SOR (local symmetric sweeps) iteration for iteration, and krylearn IC(0) matches
``-pc_type bjacobi -sub_pc_type icc``. Rank 0 prints one table; every solution is compared with
the first one. Extra arguments are PETSc options for every solve (``-ksp_view``, ``-ksp_monitor``, ...;
``-pc_type`` would override the preconditioner of every row).
"""

from __future__ import annotations

import argparse
import sys
import time

import petsc4py

args = argparse.ArgumentParser(description=__doc__.split("\n")[0])
args.add_argument("--shape", type=int, nargs="+", default=[256, 256], help="grid of cells (2 or 3 ints)")
args.add_argument("--rtol", type=float, default=1e-8)
args.add_argument("--pcs", default="none,jacobi,krylearn.petsc.Jacobi,sor,krylearn.petsc.SSOR,"
                  "bjacobi+icc,krylearn.petsc.IC0,gamg,krylearn.petsc.AMG",
                  help="comma-separated preconditioners (PETSc types or krylearn.petsc classes)")
args.add_argument("--omega", type=float, default=1.0, help="SOR/SSOR relaxation (both sides)")
args.add_argument("--repeat", type=int, default=1, help="solves per preconditioner (median time)")
args.add_argument("--save", default=None, help="write the solutions (natural order) and counts to this .npz")
args, petsc_args = args.parse_known_args()
petsc4py.init([sys.argv[0]] + petsc_args)

import numpy as np  # noqa: E402
from petsc4py import PETSc  # noqa: E402

import krylearn.petsc as klp  # noqa: E402


def options_for(pc, omega):
    """(pc argument, per-solve options) for one entry of --pcs."""
    if pc == "bjacobi+icc":
        return "bjacobi", {"sub_pc_type": "icc"}
    if pc == "sor":
        return "sor", {"pc_sor_omega": omega}
    if pc == "krylearn.petsc.SSOR":
        return pc, {"krylearn_ssor_omega": omega}
    if pc == "none":
        return None, {}
    return pc, {}


def main():
    comm = PETSc.COMM_WORLD
    rank, size = comm.getRank(), comm.getSize()
    shape = tuple(args.shape)
    t0 = time.perf_counter()
    A = klp.poisson(shape, comm=comm)
    t_assemble = time.perf_counter() - t0
    b = A.createVecLeft()
    b.set(1.0)
    n = A.getSize()[0]
    if rank == 0:
        print(f"Poisson {'x'.join(map(str, shape))} ({n} unknowns) on {size} rank(s); "
              f"assembly {t_assemble:.3f} s; KSPCG rtol={args.rtol:g}")
        print(f"{'preconditioner':<24}{'iterations':>11}{'setup [s]':>11}{'solve [s]':>11}"
              f"{'rel. residual':>15}{'max |x - x_ref|':>17}")
    ref = None
    saved = {}
    for name in [p.strip() for p in args.pcs.split(",") if p.strip()]:
        pc, opts = options_for(name, args.omega)
        times, res = [], None
        for _ in range(max(1, args.repeat)):
            res = klp.solve(A, b, ksp_type="cg", pc=pc, rtol=args.rtol, options=opts, options_prefix="")
            times.append(res.time)
        x = klp.to_natural(res.info["x_vec"])
        if ref is None:
            ref = x
        err = float(np.max(np.abs(x - ref)))
        if rank == 0:
            print(f"{name:<24}{res.iterations:>11d}{res.info['setup_time']:>11.3f}{np.median(times):>11.4f}"
                  f"{res.relative_residual:>15.3e}{err:>17.2e}" + ("" if res.converged else f"  {res.status}"))
        saved[name] = dict(x=x, iterations=res.iterations, time=float(np.median(times)),
                           setup=res.info["setup_time"], converged=res.converged)
    if args.save and rank == 0:
        flat = {"shape": np.array(shape), "ranks": size, "names": np.array(list(saved))}
        for i, (name, d) in enumerate(saved.items()):
            for k, v in d.items():
                flat[f"{i}_{k}"] = np.asarray(v)
        np.savez(args.save, **flat)


if __name__ == "__main__":
    main()

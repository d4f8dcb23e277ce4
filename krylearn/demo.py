"""The main job: a 3D Poisson problem solved by every applicable krylearn solver.

``python -m krylearn demo [--n 64] [--rtol 1e-8] [--out out/demo_convergence.png]``

Builds the 7-point Poisson operator on an ``n^3`` grid (matrix-free, and assembled for the
preconditioners), solves ``A x = b`` for a smooth right-hand side with CG, IC(0)-PCG,
SSOR-PCG, AMG-PCG (PyAMG), GMG-PCG (krylearn geometric multigrid), MINRES, and — where installed — DCDM with the shipped 3D weights
and PETSc's KSPCG+ICC, then prints one table (setup time, iterations, solve time, final
relative true residual) and writes a convergence plot.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import krylearn as kl


def _rhs(A, shape):
    grids = np.meshgrid(*[(np.arange(n) + 0.5) / n for n in shape], indexing="ij")
    f = np.ones(shape)
    for g in grids:
        f = f * np.sin(np.pi * g)
    f = f + 0.5 * np.exp(-sum((g - 0.3) ** 2 for g in grids) / 0.01)
    return A.from_grid(f) if hasattr(A, "from_grid") else f.ravel()


def _cases(A, csr, rtol):
    """(label, setup callable returning a solve callable) for each solver that is available."""
    cases = [
        ("CG (matrix-free)", lambda: (lambda b: kl.cg(A, b, rtol=rtol))),
        ("CG (CSR)", lambda: (lambda b: kl.cg(csr, b, rtol=rtol))),
        ("IC(0)-PCG", lambda: _with(kl.precond.ic0(csr), lambda M, b: kl.cg(A, b, rtol=rtol, M=M))),
        ("SSOR-PCG (w=1.5)", lambda: _with(kl.precond.ssor(csr, omega=1.5), lambda M, b: kl.cg(A, b, rtol=rtol, M=M))),
        ("AMG-PCG (PyAMG SA)", lambda: _with(kl.precond.amg(csr), lambda M, b: kl.cg(A, b, rtol=rtol, M=M))),
        ("GMG-PCG (geometric MG)", lambda: _with(kl.precond.multigrid(A), lambda M, b: kl.cg(A, b, rtol=rtol, M=M))),
        ("MINRES", lambda: (lambda b: kl.minres(A, b, rtol=rtol))),
    ]
    try:
        import torch  # noqa: F401

        def dcdm_setup():
            model = kl.learned.load_pretrained("poisson3d")
            return lambda b: kl.learned.dcdm(A, b, model, rtol=rtol, maxiter=200)

        def fcg_dcdm_setup():
            model = kl.learned.load_pretrained("poisson3d")
            M = kl.learned.DCDMPreconditioner(model, A)
            return lambda b: kl.fcg(A, b, rtol=rtol, M=M, maxiter=200)

        cases += [("DCDM (shipped 3D net)", dcdm_setup), ("FCG + DCDM", fcg_dcdm_setup)]
    except ImportError:
        pass
    try:
        import petsc4py  # noqa: F401

        def petsc_setup():
            return lambda b: kl.petsc.solve(csr, b, ksp_type="cg", pc="icc", rtol=rtol)

        cases.append(("PETSc CG+ICC (setup in solve)", petsc_setup))
    except ImportError:
        pass
    return cases


def _with(M, fn):
    return lambda b: fn(M, b)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m krylearn demo", description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=64, help="grid points per axis (n^3 unknowns; default 64)")
    ap.add_argument("--rtol", type=float, default=1e-8)
    ap.add_argument("--out", default=os.path.join("out", "demo_convergence.png"))
    args = ap.parse_args(argv)

    shape = (args.n,) * 3
    t = time.perf_counter()
    A = kl.pde.poisson(shape)
    csr = A.tocsr()
    b = _rhs(A, shape)
    b_norm = np.linalg.norm(b)
    print(f"3D Poisson, 7-point stencil, {args.n}^3 = {A.shape[0]:,} unknowns, {csr.nnz:,} nonzeros "
          f"(built in {time.perf_counter() - t:.2f} s); stopping rule ||b - Ax|| <= {args.rtol:g} ||b||\n")

    # Warm-up on a small grid so numba compilation (cached on disk after the first run) and
    # library start-up are not charged to the first solver in the table.
    A_small = kl.pde.poisson((8, 8, 8))
    for _, setup in _cases(A_small, A_small.tocsr(), args.rtol):
        try:
            setup()(_rhs(A_small, (8, 8, 8)))
        except Exception:
            pass

    rows, histories = [], {}
    for label, setup in _cases(A, csr, args.rtol):
        try:
            t0 = time.perf_counter()
            solve = setup()
            t_setup = time.perf_counter() - t0
            t0 = time.perf_counter()
            res = solve(b)
            t_solve = time.perf_counter() - t0
        except Exception as exc:  # a missing optional piece must not hide the other rows
            rows.append((label, None, None, None, None, f"unavailable: {type(exc).__name__}: {exc}"))
            continue
        true_rel = np.linalg.norm(b - A.matvec(res.x)) / b_norm
        rows.append((label, t_setup, res.iterations, t_solve, true_rel, str(res.status)))
        histories[label] = (np.asarray(res.residuals) / b_norm, t_solve)

    head = f"{'solver':<30} {'setup [s]':>9} {'iters':>6} {'solve [s]':>9} {'ms/iter':>8} {'rel. residual':>13}  status"
    print(head)
    print("-" * len(head))
    for label, ts, it, tsol, rel, status in rows:
        if it is None:
            print(f"{label:<30} {'':>9} {'':>6} {'':>9} {'':>8} {'':>13}  {status}")
            continue
        per = 1e3 * tsol / max(it, 1)
        print(f"{label:<30} {ts:9.3f} {it:6d} {tsol:9.3f} {per:8.2f} {rel:13.2e}  {status}")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax_t) = plt.subplots(1, 2, figsize=(12, 4.8))
    styles = ["-", "--", "-.", ":"]
    for i, (label, (h, seconds)) in enumerate(histories.items()):
        ls = styles[i % len(styles)]
        k = np.arange(len(h))
        ax.semilogy(k, h, ls, label=label)
        # wall-time axis: iterations spread evenly over the measured solve time
        ax_t.semilogy(k * seconds / max(len(h) - 1, 1), h, ls, label=label)
    for a, xl in ((ax, "iteration"), (ax_t, "solve time [s] (setup excluded)")):
        a.axhline(args.rtol, color="k", lw=0.8, ls="--")
        a.set_xlabel(xl)
        a.set_ylabel("||r_k|| / ||b||")
        a.grid(True, which="both", alpha=0.3)
    ax.set_title(f"3D Poisson {args.n}^3: residual per iteration")
    ax_t.set_title("residual against wall time")
    ax.legend(fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    fig.savefig(args.out, dpi=120)
    print(f"\nconvergence plot written to {args.out}")
    return 0

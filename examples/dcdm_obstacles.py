"""DCDM on a pressure-Poisson problem with solid obstacles (Kaneda et al., ICML 2023).
===================================================================================

Run from the repository root::

    .venv/bin/python examples/dcdm_obstacles.py                 # 2D 256², unseen obstacle shapes
    .venv/bin/python examples/dcdm_obstacles.py --dim 3 --n 64  # 3D
    .venv/bin/python examples/dcdm_obstacles.py --device cuda   # network on a GPU

Builds the Poisson operator of a box with random obstacles (Dirichlet on the open boundary, Neumann
at the solids, as in a fluid pressure projection) from the family *not* used in training, solves it
with DCDM and the shipped network (trained at 128² / 32³), with flexible CG preconditioned by the
same network, and with CG, IC(0)-PCG and AMG-PCG, prints iterations and times, and writes a figure
of the domain, the DCDM solution and the convergence histories.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import krylearn as kl  # noqa: E402


def solvers(A, b, model, device):
    """``(name, setup, solve)`` per method; ``solve(M, callback, rtol)`` returns a SolverResult."""
    import krylearn.learned as kll
    csr = A.tocsr()
    out = [("DCDM (k = 2)", lambda: None,
            lambda M, cb, rtol: kll.dcdm(A, b, model, rtol=rtol, callback=cb, device=device)),
           ("FCG + DCDM", lambda: kll.DCDMPreconditioner(model, A, device=device),
            lambda M, cb, rtol: kl.fcg(A, b, M=M, rtol=rtol, callback=cb)),
           ("CG", lambda: None, lambda M, cb, rtol: kl.cg(A, b, rtol=rtol, callback=cb, maxiter=50_000)),
           ("IC(0)-PCG", lambda: kl.precond.ic0(csr), lambda M, cb, rtol: kl.cg(csr, b, M=M, rtol=rtol, callback=cb))]
    try:
        import pyamg  # noqa: F401
        out.append(("AMG-PCG", lambda: kl.precond.amg(csr),
                    lambda M, cb, rtol: kl.cg(csr, b, M=M, rtol=rtol, callback=cb)))
    except ImportError:
        pass
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dim", type=int, default=2, choices=(2, 3))
    ap.add_argument("--n", type=int, default=None, help="grid side (default 256 in 2D, 64 in 3D)")
    ap.add_argument("--family", default="heldout", help="obstacle family (default: the one never trained on)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--rtol", type=float, default=1e-6)
    ap.add_argument("--device", default=None, help="torch device for the network (default: CPU)")
    ap.add_argument("--out", default="out/dcdm_obstacles.png")
    args = ap.parse_args(argv)
    import torch
    torch.set_num_threads(1)
    n = args.n or (256 if args.dim == 2 else 64)
    shape = (n,) * args.dim
    mask = kl.pde.obstacles.random_domain(shape, args.family, seed=args.seed)
    A = kl.pde.poisson(shape, mask=mask, bc="dirichlet")
    b = np.random.default_rng(args.seed).standard_normal(A.shape[0])
    model, manifest = kl.learned.load_pretrained(f"poisson{args.dim}d", device=args.device, return_manifest=True)
    print(f"{args.dim}D {'x'.join(map(str, shape))}, {args.family} obstacles: {A.shape[0]:,} unknowns "
          f"({100 * (1 - mask.mean()):.0f}% solid); network trained at {'x'.join(map(str, manifest['grid']))}")
    print(f"{'method':14s} {'setup [s]':>9s} {'iters':>6s} {'solve [s]':>9s} {'rel. residual':>13s}  status")
    histories, results = {}, {}
    for name, setup, solve in solvers(A, b, model, args.device):
        t0 = time.perf_counter()
        M = setup()
        t_setup = time.perf_counter() - t0
        hist = []
        t0 = time.perf_counter()
        res = solve(M, lambda s: hist.append(s.residual_norm) and False, args.rtol)
        t_solve = time.perf_counter() - t0
        rel = np.linalg.norm(b - A.matvec(res.x)) / np.linalg.norm(b)
        histories[name], results[name] = np.asarray(hist) / np.linalg.norm(b), res
        print(f"{name:14s} {t_setup:9.3f} {res.iterations:6d} {t_solve:9.3f} {rel:13.2e}  {res.status}")
    try:
        plot(args.out, mask, A.to_grid(results["DCDM (k = 2)"].x), histories)
        print(f"figure written to {args.out}")
    except ImportError:
        pass
    return results


def plot(path, mask, x_grid, histories):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sl = (slice(None), slice(None)) if mask.ndim == 2 else (slice(None), slice(None), mask.shape[2] // 2)
    fig, ax = plt.subplots(1, 3, figsize=(14, 4.2))
    ax[0].imshow(mask[sl].T, origin="lower", cmap="gray")
    ax[0].set_title("domain (white: fluid)" + (" — middle slice" if mask.ndim == 3 else ""))
    im = ax[1].imshow(np.where(mask, x_grid, np.nan)[sl].T, origin="lower", cmap="RdBu_r")
    fig.colorbar(im, ax=ax[1], shrink=0.8)
    ax[1].set_title("DCDM solution")
    for name, h in histories.items():
        ax[2].semilogy(np.arange(len(h)), h, label=name)
    ax[2].set_xscale("symlog", linthresh=10)
    ax[2].set_xlabel("iteration")
    ax[2].set_ylabel("‖b − A x‖ / ‖b‖")
    ax[2].grid(True, which="both", alpha=0.3)
    ax[2].legend()
    fig.tight_layout()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()

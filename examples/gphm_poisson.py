"""GP-HM on the 1D Poisson problem u'' = f with u = sin(100x) on [0, 1] (Fang et al., ICLR 2024).
==============================================================================================

Run from the repository root:  .venv/bin/python examples/gphm_poisson.py [--out out/gphm]

Fits the spectral-mixture GP (inner exact solve for the grid values, outer L-BFGS on the kernel),
prints the relative L2 error on a 300-point test grid and the learned dominant frequency
(true: 100/2π ≈ 15.915 cycles per unit), and writes a plot of the solution and the spectrum.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import math  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

import krylearn as kl  # noqa: E402
from krylearn.pde import equations  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="out/gphm")
    ap.add_argument("--grid", type=int, default=200)
    args = ap.parse_args()
    torch.set_num_threads(1)

    eq = equations.poisson(lambda x: torch.sin(100 * x), dim=1, domain=[(0.0, 1.0)], name="poisson1d-sin100")
    gp = kl.pde.GPHMSolver(eq, grid=args.grid, max_outer=150).fit()
    err = gp.error(300)
    spec = gp.spectrum()[0]
    top = spec["freq"][np.argmax(spec["weight"])]
    print(f"relative L2 error {err:.2e}  fit time {gp.fit_time_:.1f} s  outer steps {len(gp.history_)}")
    print(f"dominant learned frequency {top:.4f} (true {100 / (2 * math.pi):.4f})")

    x = np.linspace(0, 1, 300)
    out = gp.predict(x[:, None], derivatives=("u", "u_xx"))
    print(f"max |u_xx - f| at 300 test points, relative: "
          f"{np.max(np.abs(out['u_xx'] + 1e4 * np.sin(100 * x))) / 1e4:.2e}")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(args.out, exist_ok=True)
    fig, ax = plt.subplots(1, 3, figsize=(15, 3.5))
    ax[0].plot(x, np.sin(100 * x), "k-", lw=2, label="exact")
    ax[0].plot(x, out["u"], "r--", label="GP-HM")
    ax[0].legend()
    ax[1].semilogy(x, np.abs(out["u"] - np.sin(100 * x)) + 1e-300)
    ax[1].set_title("pointwise |error|")
    ax[2].stem(spec["freq"], spec["weight"], basefmt=" ")
    ax[2].set_yscale("log")
    ax[2].axvline(100 / (2 * math.pi), color="r", ls="--", label="true frequency")
    ax[2].legend()
    ax[2].set_title("learned spectrum")
    fig.tight_layout()
    path = os.path.join(args.out, "example_poisson1d.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

"""GP-HM benchmark: the paper's PDE set, GP-HM (spectral mixture) vs GP with an SE kernel vs a
second-order finite-difference solve on the same grid, plus the paper's Adam optimiser as a reference.

Reference: S. Fang et al., "Solving High Frequency and Multi-Scale PDEs with Gaussian Processes",
ICLR 2024 (arXiv 2311.04465).

Run:  .venv/bin/python benchmarks/gphm.py [--quick] [--out out/gphm] [--problems a,b,...]

Errors are relative L2 errors of the FINAL model (no checkpoint picked with the true solution) on a
300-point (300×300 in 2D) test grid; FD solutions are interpolated to it by cubic splines.
Writes benchmarks/results/gphm.md and plots (solution, pointwise error, learned spectrum) to --out.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # BLAS threads thrash on this shared 2-core machine
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import datetime  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import scipy.sparse.linalg as spla  # noqa: E402

import torch  # noqa: E402

from krylearn.pde import equations  # noqa: E402
from krylearn.pde.gphm import GPHMSolver  # noqa: E402

torch.set_num_threads(1)
PROGRESS = sys.stderr.isatty()

# problem -> (grid, max outer iterations, extra solver options); grids follow the paper's 200-900
# per axis where the 2-core time budget allows
FULL = {
    "poisson1d-sin100": ((200,), 300, {}),
    "poisson1d-xsin200": ((300,), 300, {}),
    "poisson1d-sin6cos100": ((300,), 300, {}),
    "allencahn1d-sin100": ((200,), 300, {}),
    "poisson1d-multiscale": ((200,), 300, {}),
    "poisson1d-sin500": ((600,), 300, {}),
    "allencahn1d-sin6cos100": ((300,), 300, {}),
    # 200×200 (the paper's smallest 2D size): kernel learned on 100×100 first (multigrid-style warm start),
    # then 15 outer steps on the fine grid with a tight inner tolerance
    "poisson2d-sin100": ((200, 200), 15, {"inner_rtol": 1e-10, "time_limit": 300.0,
                                          "coarse": ((100, 100), 60, {"inner_rtol": 1e-8})}),
    "poisson2d-sin6cos20": ((100, 100), 40, {"inner_rtol": 1e-8}),
    "allencahn2d-multiscale": ((200, 200), 20, {"inner_rtol": 1e-8}),
    "advection": ((40, 240), 40, {"inner_rtol": 1e-8, "lambda_b": 500.0}),
}
QUICK = {
    "poisson1d-sin100": ((150,), 30, {}),
    "allencahn1d-sin100": ((150,), 30, {}),
    "poisson2d-sin100": ((80, 80), 10, {"inner_rtol": 1e-8}),
}
TARGETS = {"poisson1d-sin100": 1e-4, "poisson1d-xsin200": 1e-4, "poisson1d-sin6cos100": 1e-4,
           "allencahn1d-sin100": 1e-4, "poisson2d-sin100": 1e-4, "allencahn2d-multiscale": 1e-2,
           "advection": 1e-2}
ADVECTION_NOTE = (
    "Advection diagnosis (it ended at rel L2 1.05 before): the source is zero, so the old default residual "
    "precision (misfit 1e-3 × a floor of 1e-3) was τ_r = 1e12 against λ_b τ_b ≈ 1e9 on the boundary, while the "
    "kernel's derivative error alone leaves a residual of rms 1.6 on the exact solution: U ≈ 0 (zero residual, "
    "boundary violated) was the optimum even of the exact inner solve, and PCG did not converge on that system. "
    "With the residual scale taken from the operator's terms (τ_r ≈ 3.7e5) the inner solve at the initial "
    "kernel already gives ≈ 4e-4 (measured 3.9e-4 to 4.1e-4 for τ_r from 1e2 to 1e6). Second cause: with a zero source the objective is unbounded below along "
    "U → 0, τ_r → ∞, so learning the noise drifts back to U ≈ 0 (a β = 5 fit ended at 1.05 after 20 steps "
    "with learned noise, 3.6e-4 with fixed noise); the noise is now fixed for zero sources. All four sides "
    "carry the boundary likelihood (as in the paper); the initial frequency range in y, [0, 59.75], contains "
    "β/2π ≈ 31.8, and the learned top y-frequency lands next to it — but after ~20 outer steps the weights "
    "have moved by < 1 % (the spectrum plot only starts to peak at the true frequencies): the accuracy comes "
    "from the broad initial kernel plus the now well-balanced likelihood, not from a learned spectrum.")
TIME_LIMIT = 120.0  # seconds per GP-HM fit
SE_TIME_LIMIT = 45.0  # seconds per GP-SE baseline fit (stops the outer loop; the final model is evaluated)


# --------------------------------------------------------------------------------------------------
# second-order finite differences on the same grid
# --------------------------------------------------------------------------------------------------
def _d2(n, h):
    return sp.diags([np.ones(n - 1), -2 * np.ones(n), np.ones(n - 1)], [-1, 0, 1]) / h ** 2


def _d1(n, h):
    return sp.diags([-np.ones(n - 1), np.ones(n - 1)], [-1, 1]) / (2 * h)


def fd_solve(eq, domain, grid):
    """Dirichlet BVP with 2nd-order central differences (Newton for Allen–Cahn); returns grid values."""
    axes = [np.linspace(lo, hi, n) for (lo, hi), n in zip(domain, grid)]
    mesh = np.meshgrid(*axes, indexing="ij")
    hs = [a[1] - a[0] for a in axes]
    d = len(grid)
    ops = {}
    for i in range(d):
        eye = [sp.identity(n) for n in grid]
        for order, mk in ((1, _d1), (2, _d2)):
            mats = list(eye)
            mats[i] = mk(grid[i], hs[i])
            M = mats[0]
            for m in mats[1:]:
                M = sp.kron(M, m)
            ops[equations.field_name(i, order)] = M.tocsr()
    bmask = np.zeros(grid, dtype=bool)
    for i in range(d):
        sl = [slice(None)] * d
        sl[i] = 0
        bmask[tuple(sl)] = True
        sl[i] = -1
        bmask[tuple(sl)] = True
    b = bmask.reshape(-1)
    inner = ~b
    f = eq.source_values(mesh).reshape(-1)
    u = np.zeros(int(np.prod(grid)))
    u[b] = eq.boundary(*[m[bmask] for m in mesh])
    for _ in range(30):
        fields = {"u": torch.tensor(u, requires_grad=True)}
        for name in eq.fields:
            if name != "u":
                fields[name] = torch.tensor(ops[name] @ u, requires_grad=True)
        r = eq.residual({k: v for k, v in fields.items()}, torch.as_tensor(f))
        grads = torch.autograd.grad(r.sum(), list(fields.values()), allow_unused=True)
        J = sp.csr_matrix((u.size, u.size))
        for (name, _), g in zip(fields.items(), grads):
            if g is None:
                continue
            coef = sp.diags(g.numpy())
            J = J + (coef if name == "u" else coef @ ops[name])
        J = J.tocsr()[inner][:, inner]
        du = spla.spsolve(J.tocsc(), -r.detach().numpy()[inner])
        u[inner] += du
        if eq.linear or np.linalg.norm(du) <= 1e-12 * max(np.linalg.norm(u), 1e-300):
            break
    return axes, u.reshape(grid)


def fd_error(eq, domain, grid, n_test=300):
    from scipy.interpolate import CubicSpline, RegularGridInterpolator

    t0 = time.perf_counter()
    axes, U = fd_solve(eq, domain, grid)
    wall = time.perf_counter() - t0
    test = [np.linspace(lo, hi, n_test) for lo, hi in domain]
    if len(grid) == 1:
        pred = CubicSpline(axes[0], U)(test[0])
    else:
        interp = RegularGridInterpolator(axes, U, method="cubic")
        T = np.meshgrid(*test, indexing="ij")
        pred = interp(np.stack([t.ravel() for t in T], axis=1)).reshape(T[0].shape)
    ex = eq.exact_numpy(*np.meshgrid(*test, indexing="ij"))
    return float(np.linalg.norm(pred - ex) / np.linalg.norm(ex)), wall


# --------------------------------------------------------------------------------------------------
def run_gp(eq, grid, max_outer, opts, kernel="sm", mode="newton", time_limit=TIME_LIMIT):
    """Fit and time one GP. ``opts["coarse"] = (grid, outer steps, options)``: multigrid-style continuation —
    learn the kernel on the coarse grid first, warm-start the fine solver from it (both stages timed)."""
    t0 = time.perf_counter()
    opts = dict(opts)
    coarse = opts.pop("coarse", None)
    time_limit = opts.pop("time_limit", time_limit) if mode == "newton" and kernel == "sm" else time_limit
    opts.pop("time_limit", None)

    def stop(solver, step):
        return time.perf_counter() - t0 > time_limit

    gp = GPHMSolver(eq, grid=grid, kernel=kernel, mode=mode, max_outer=max_outer, progress=PROGRESS, **opts)
    if coarse is not None and mode == "newton":
        cgrid, csteps, copts = coarse
        gc = GPHMSolver(eq, grid=cgrid, kernel=kernel, mode=mode, max_outer=csteps, progress=PROGRESS, **copts)
        gc.fit(callback=stop)
        gp.warm_start(gc)
        gp.coarse_outer_ = len(gc.history_)
    gp.fit(callback=stop)
    wall = time.perf_counter() - t0
    return gp, gp.error(300), wall


def plot_problem(gp, eq, out_dir):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = len(gp.grid)
    test = [np.linspace(lo, hi, 300) for lo, hi in gp.domain]
    pred = gp.predict_grid(test, "u")
    ex = eq.exact_numpy(*np.meshgrid(*test, indexing="ij"))
    if d == 1:
        fig, ax = plt.subplots(1, 2, figsize=(11, 3.5))
        ax[0].plot(test[0], ex, "k-", lw=2, label="exact")
        ax[0].plot(test[0], pred, "r--", lw=1, label="GP-HM")
        ax[0].legend()
        ax[0].set_title(f"{eq.name}: solution")
        ax[1].semilogy(test[0], np.abs(pred - ex) + 1e-300)
        ax[1].set_title("pointwise |error|")
    else:
        fig, ax = plt.subplots(1, 3, figsize=(15, 4))
        ext = [gp.domain[1, 0], gp.domain[1, 1], gp.domain[0, 0], gp.domain[0, 1]]
        for a, data, title in ((ax[0], ex, "exact"), (ax[1], pred, "GP-HM"), (ax[2], np.abs(pred - ex), "|error|")):
            im = a.imshow(data, origin="lower", extent=ext, aspect="auto")
            a.set_title(f"{eq.name}: {title}")
            a.set_xlabel("y")
            a.set_ylabel("x")
            fig.colorbar(im, ax=a)
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, f"{eq.name}_solution.png"), dpi=110)
    plt.close(fig)
    spec = gp.spectrum()
    fig, ax = plt.subplots(1, d, figsize=(5.5 * d, 3.5), squeeze=False)
    for i, s in enumerate(spec):
        a = ax[0, i]
        if "freq" in s:
            a.stem(s["freq"], s["weight"], basefmt=" ")
            a.set_yscale("log")
        true = list(np.atleast_1d(eq.frequencies[i])) if eq.frequencies is not None else []
        for k, fq in enumerate(true):
            a.axvline(fq, color="r", ls="--", lw=1, label="true frequency" if k == 0 else None)
        a.set_xlabel("frequency (cycles / unit length)")
        a.set_ylabel("weight")
        a.set_title(f"{eq.name}: learned spectrum, axis {i}")
        if true:
            a.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, f"{eq.name}_spectrum.png"), dpi=110)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small grids, few steps (smoke run)")
    ap.add_argument("--out", default="out/gphm", help="folder for the plots")
    ap.add_argument("--problems", default=None, help="comma-separated subset of problems")
    ap.add_argument("--no-se", action="store_true", help="skip the SE-kernel GP baseline")
    ap.add_argument("--se-max-dim", type=int, default=1,
                    help="run the SE baseline only up to this dimension (2D SE fits diverge or stall, see notes)")
    ap.add_argument("--adam-steps", type=int, default=None, help="Adam steps of the reference run")
    ap.add_argument("--results", default=None, help="markdown output (default benchmarks/results/gphm.md)")
    args = ap.parse_args(argv)
    table = QUICK if args.quick else FULL
    names = list(table) if args.problems is None else args.problems.split(",")
    os.makedirs(args.out, exist_ok=True)
    rows = []
    for name in names:
        grid, steps, opts = table[name]
        eq = equations.benchmark_problem(name)
        dom = eq.domain
        print(f"== {name} grid {grid}", flush=True)
        gp, err, wall = run_gp(eq, grid, steps, opts)
        plot_problem(gp, eq, args.out)
        spec = gp.spectrum()
        top = [float(s["freq"][np.argmax(s["weight"])]) for s in spec]
        print(f"   GP-HM  err {err:.3e}  {wall:.1f}s  outer {len(gp.history_)}  top freq {top}", flush=True)
        if args.no_se or len(grid) > args.se_max_dim:
            se_err, se_wall = float("nan"), float("nan")
        else:
            _, se_err, se_wall = run_gp(eq, grid, steps, opts, kernel="se", time_limit=SE_TIME_LIMIT)
            print(f"   GP-SE  err {se_err:.3e}  {se_wall:.1f}s", flush=True)
        fd_err, fd_wall = fd_error(eq, dom, grid)
        print(f"   FD     err {fd_err:.3e}  {fd_wall:.2f}s", flush=True)
        outer = len(gp.history_) - 1
        outer = f"{gp.coarse_outer_ - 1} + {outer}" if hasattr(gp, "coarse_outer_") else str(outer)
        rows.append(dict(name=name, grid=grid, err=err, wall=wall, outer=outer, se_err=se_err,
                         se_wall=se_wall, fd_err=fd_err, fd_wall=fd_wall, top=top, target=TARGETS.get(name),
                         inner=int(np.sum(gp.inner_iterations_)), stop=getattr(gp, "stop_reason_", "")))
    # the paper's optimiser (joint Adam, lr 0.01) on the first 1D problem, for contrast
    adam = None
    ref = names[0]
    if ref in table:
        grid, steps, opts = table[ref]
        eq = equations.benchmark_problem(ref)
        n_adam = args.adam_steps or (300 if args.quick else 2000)
        gp, err, wall = run_gp(eq, grid, n_adam, opts, mode="adam", time_limit=10 * TIME_LIMIT)
        adam = dict(name=ref, grid=grid, steps=len(gp.history_), err=err, wall=wall)
        print(f"== Adam reference on {ref}: {adam['steps']} steps, err {err:.3e}, {wall:.1f}s", flush=True)
    write_md(rows, adam, args, argv)


def write_md(rows, adam, args, argv):
    path = args.results or os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "gphm.md")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    cmd = ".venv/bin/python benchmarks/gphm.py " + " ".join(argv if argv is not None else sys.argv[1:])
    load = os.getloadavg()
    lines = [
        "# GP-HM benchmark (Fang et al., ICLR 2024)",
        "",
        f"Command: `{cmd.strip()}`  ",
        f"Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"BLAS threads 1.  ",
        f"Machine load at the end (1/5/15 min): {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f} on 2 shared cores "
        "(other engineers' jobs ran at the same time: wall times are noisy).",
        "",
        "Relative L2 error of the **final** model on a 300-point (300×300 in 2D) test grid; no checkpoint is "
        "picked with the true solution. GP-HM: spectral mixture (Gaussian-mixture spectrum, Q = 30, "
        "frequencies initialised on [0, (N−1)/(4L)] — no knowledge of the solution), jitter 1e-6, "
        "inner exact/PCG/Gauss–Newton solve for U, outer L-BFGS-B on the kernel parameters and noise "
        f"precisions (outer loop stopped after {TIME_LIMIT:.0f} s unless the row's options say otherwise; GP-SE after "
        f"{SE_TIME_LIMIT:.0f} s). Noise precisions are learned except for a zero source (advection), where "
        "the objective is unbounded below along U → 0, τ_r → ∞ (`learn_noise=\"auto\"`); the initial residual "
        "precision of a zero-source PDE is set from the size of the operator's terms. poisson2d-sin100 "
        "(200×200) is a multigrid-style continuation: kernel learned on 100×100 (60 outer steps), then "
        "`warm_start` on 200×200 and 15 outer steps there (\"outer its\" = coarse + fine; time covers both; "
        "limit 300 s). GP-SE: the same solver with a squared-exponential "
        "kernel per axis (lengthscale learned). FD: second-order central differences on the same grid "
        "(Newton for Allen–Cahn), interpolated to the test grid by cubic splines. Domains: [0, 1] per axis "
        "except advection ([0, 2π] × [0, 1], u = sin(x − 200y)).",
        "",
        "| problem | grid | target | GP-HM rel L2 | GP-HM time (s) | outer its | learned top freq | "
        "GP-SE rel L2 | GP-SE time (s) | FD rel L2 | FD time (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        tgt = f"≤ {r['target']:.0e}" if r["target"] else "—"
        ok = "" if not r["target"] else (" ✅" if r["err"] <= r["target"] else " ❌")
        lines.append(
            f"| {r['name']} | {'×'.join(map(str, r['grid']))} | {tgt} | {r['err']:.2e}{ok} | {r['wall']:.1f} | "
            f"{r['outer']} | {', '.join(f'{t:.3f}' for t in r['top'])} | {r['se_err']:.2e} | {r['se_wall']:.1f} | "
            f"{r['fd_err']:.2e} | {r['fd_wall']:.2f} |")
    if adam:
        lines += ["", f"Paper's optimiser for contrast (`mode=\"adam\"`: joint Adam on U, kernel and noise, lr 0.01) "
                      f"on {adam['name']} ({'×'.join(map(str, adam['grid']))}): {adam['steps']} steps, "
                      f"rel L2 {adam['err']:.2e}, {adam['wall']:.1f} s (the authors run 1e5–3e6 steps, "
                      "2,000–18,000 s per problem)."]
    lines += ["", "GP-SE in 2D is skipped by default (`--se-max-dim 1`): in a run with it enabled, the SE fit of "
                  "poisson2d-sin100 (100×100) ended at rel L2 2.3e+10 after 54 s (the kernel matrices become "
                  "numerically singular as the lengthscale grows) and the SE fit of allencahn2d-multiscale "
                  "(200×200) had not finished one outer step after 5 minutes."]
    lines += ["", ADVECTION_NOTE]
    lines += ["", "Plots: `<out>/<problem>_solution.png` (exact, prediction, pointwise error) and "
                  "`<out>/<problem>_spectrum.png` (learned weights vs frequency, true frequencies dashed)."]
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

"""MINRES, GMRES(30) and BiCGSTAB: krylearn vs SciPy (and PETSc when petsc4py imports).

Problems (both assembled with ``scipy.sparse``, the same CSR matrix given to every package):

* ``poisson``: the 2D Dirichlet 5-point Laplacian ``tridiag(−1, 2, −1) ⊕ tridiag(−1, 2, −1)``
  (SPD) on a k×k grid; MINRES, GMRES(30), BiCGSTAB.
* ``convdiff``: 2D convection–diffusion (also with ``b`` = ones, where BiCGSTAB's recursive
  residual drifts: a robustness check) ``−Δu + β·∇u`` with central differences (cell Péclet
  numbers 0.5 and 0.25, scaled by h²: diagonal 4, neighbours −1 ∓ P), nonsymmetric;
  GMRES(30), BiCGSTAB.

``b`` standard normal (seed 0), ``x0`` = 0, no preconditioner, stopping rule ``‖b − Ax‖₂ ≤ rtol‖b‖₂`` in every
package (``rtol`` per problem below). SciPy's ``minres`` stops on its own backward-error test
(``‖r‖ ≤ rtol(‖A‖‖x‖ + ‖b‖)``), looser than ours, so it may report fewer iterations: compare
MINRES by time per iteration. SciPy's ``gmres`` restarts every 30 inner steps as ours does.
All runs are interleaved (repeat after repeat, method after method) so that machine load hits
them alike; figures are medians over the repeats.

Run ``.venv/bin/python benchmarks/krylov.py`` (``--quick`` for a small smoke run). BLAS and numba
are held to one thread (``--threads`` to change). Writes ``benchmarks/results/krylov.md``.
"""

from __future__ import annotations

import os
import platform
import sys
import time

from _common import pin_threads, standard_parser, thread_note  # noqa: E402

args = standard_parser(__doc__, "small grids (64²) and 2 repeats", "krylov").parse_args()
pin_threads(args.threads)

import numpy as np  # noqa: E402
import scipy  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import scipy.sparse.linalg as spla  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import krylearn as kl  # noqa: E402

RESTART = 30
MAXITER = 20000


def poisson2d(k):
    T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(k, k))
    I = sp.identity(k)
    return (sp.kron(I, T) + sp.kron(T, I)).tocsr()


def convdiff2d(k, px=0.5, py=0.25):
    Tx = sp.diags([-1.0 - px, 2.0, -1.0 + px], [-1, 0, 1], shape=(k, k))
    Ty = sp.diags([-1.0 - py, 2.0, -1.0 + py], [-1, 0, 1], shape=(k, k))
    I = sp.identity(k)
    return (sp.kron(I, Tx) + sp.kron(Ty, I)).tocsr()


# ---- runners: f(b) -> (x, iterations, converged) --------------------------------------------
def run_kl(name, A, rtol, **kw):
    fn = getattr(kl, name)

    def f(b):
        res = fn(A, b, rtol=rtol, maxiter=MAXITER, **kw)
        return res.x, res.iterations, res.converged
    return f


def run_scipy(name, C, rtol):
    fn = getattr(spla, name)

    def f(b):
        it = [0]

        def cb(_):
            it[0] += 1
        if name == "gmres":
            x, info = fn(C, b, rtol=rtol, atol=0.0, restart=RESTART, maxiter=MAXITER // RESTART + 1,
                         callback=cb, callback_type="pr_norm")
        else:
            x, info = fn(C, b, rtol=rtol, maxiter=MAXITER, callback=cb)
        return x, it[0], info == 0
    return f


def run_petsc(ksp_type, C, rtol):
    from petsc4py import PETSc

    A = PETSc.Mat().createAIJ(size=C.shape, csr=(C.indptr.astype(PETSc.IntType),
                                                  C.indices.astype(PETSc.IntType), C.data),
                              comm=PETSc.COMM_SELF)
    A.assemble()
    ksp = PETSc.KSP().create(comm=PETSc.COMM_SELF)
    ksp.setOperators(A)
    ksp.setType(ksp_type)
    ksp.getPC().setType("none")
    if ksp_type == "gmres":
        ksp.setGMRESRestart(RESTART)
    if ksp_type != "minres":   # PETSc's MINRES supports only its own (preconditioned = 2-) norm
        ksp.setNormType(PETSc.KSP.NormType.UNPRECONDITIONED)
    ksp.setTolerances(rtol=rtol, atol=0.0, max_it=MAXITER)
    bv, xv = A.createVecs()

    def f(b):
        bv.getArray()[:] = b
        xv.set(0.0)
        ksp.solve(bv, xv)
        return xv.getArray().copy(), ksp.getIterationNumber(), ksp.getConvergedReason() > 0
    return f


def methods_for(problem, C, rtol, have_petsc):
    solvers = {"poisson": ["minres", "gmres", "bicgstab"], "convdiff": ["gmres", "bicgstab"],
               "convdiff-ones": ["bicgstab"]}[problem]
    petsc_name = {"minres": "minres", "gmres": "gmres", "bicgstab": "bcgs"}
    out = {}
    for s in solvers:
        group = {}
        if s == "gmres":
            group[f"krylearn gmres({RESTART}), MGS+reorth"] = run_kl("gmres", C, rtol, restart=RESTART)
            group[f"krylearn gmres({RESTART}), CGS2"] = run_kl("gmres", C, rtol, restart=RESTART,
                                                              orthogonalization="cgs2")
            group[f"scipy gmres({RESTART})"] = run_scipy("gmres", C, rtol)
        else:
            group[f"krylearn {s}"] = run_kl(s, C, rtol)
            group[f"scipy {s}"] = run_scipy(s, C, rtol)
        if have_petsc:
            group[f"PETSc KSP{petsc_name[s].upper()}"] = run_petsc(petsc_name[s], C, rtol)
        out[s] = group
    return out


def main():
    repeats = args.repeats or (2 if args.quick else 5)
    k = 64 if args.quick else 256
    problems = [("poisson", f"2D Poisson {k // 2}²", poisson2d(k // 2), 1e-8),
                ("convdiff", f"2D conv–diff {k}²", convdiff2d(k), 1e-8),
                ("convdiff-ones", f"2D conv–diff {k}², b = ones", convdiff2d(k), 1e-8)]
    try:
        import petsc4py  # noqa: F401
        have_petsc = True
    except ImportError:
        have_petsc = False
    load0 = os.getloadavg()
    t_start = time.time()
    rows = []
    for key, label, C, rtol in problems:
        b = np.ones(C.shape[0]) if key.endswith("ones") else \
            np.random.default_rng(0).standard_normal(C.shape[0])
        for solver, methods in methods_for(key, C, rtol, have_petsc).items():
            for f in methods.values():   # warm-up (numba compilation, caches)
                f(b.copy())
            times = {k: [] for k in methods}
            info = {}
            for _ in range(repeats):
                for name, f in methods.items():
                    t0 = time.perf_counter()
                    x, its, ok = f(b.copy())
                    times[name].append(time.perf_counter() - t0)
                    info[name] = (its, ok, np.linalg.norm(b - C @ x) / np.linalg.norm(b))
            ref_name = next(k for k in methods if k.startswith("scipy"))
            ref_t = np.median(times[ref_name])
            ref_per = ref_t / max(info[ref_name][0], 1)
            for name in methods:
                med = float(np.median(times[name]))
                its, ok, relres = info[name]
                per = med / max(its, 1)
                rows.append((label, solver, name, its, ok, relres, med, per * 1e3, med / ref_t, per / ref_per))
                print(f"{label:18s} {name:32s} its={its:5d} conv={ok!s:5s} relres={relres:.2e} "
                      f"{med:8.4f} s  {per * 1e3:7.3f} ms/it  {med / ref_t:5.2f}x  {per / ref_per:5.2f}x/it",
                      flush=True)
    load1 = os.getloadavg()
    write_md(rows, repeats, load0, load1, time.time() - t_start, have_petsc, problems)


def write_md(rows, repeats, load0, load1, elapsed, have_petsc, problems):
    out = args.output or os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "krylov.md")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    cmd = "python benchmarks/krylov.py" + (" --quick" if args.quick else "") + \
        (f" --repeats {args.repeats}" if args.repeats else "") + \
        (f" --threads {args.threads}" if args.threads is not None else "")
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if "model name" in line)
    except (OSError, StopIteration):
        cpu = platform.processor()
    probs = "; ".join(f"{label} (n = {C.shape[0]}, rtol = {rtol:g})" for _, label, C, rtol in problems)
    lines = [
        "# MINRES, GMRES(30), BiCGSTAB: krylearn vs SciPy" + (" and PETSc" if have_petsc else ""),
        "",
        f"Command: `{cmd}`  ",
        f"Date: {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}  ",
        f"Machine: {os.cpu_count()} CPUs ({cpu}); {thread_note(args.threads)}; "
        f"load average {load0[0]:.1f} at start, {load1[0]:.1f} at end (the machine is shared with other "
        "jobs, so absolute times are noisy; the ratios come from interleaved runs in the same process)  ",
        f"Versions: numpy {np.__version__}, scipy {scipy.__version__}, krylearn {kl.__version__}"
        + ("" if have_petsc else "; petsc4py not importable (PETSc rows missing)") + "  ",
        f"Problems: {probs}; b = standard normal (seed 0) unless marked b = ones, x0 = 0, no preconditioner, "
        "CSR matrices from scipy.sparse; "
        f"median over {repeats} repeats; run took {elapsed:.0f} s.  ",
        "SciPy's minres stops on a looser backward-error test, so its iteration count can be lower: "
        "compare MINRES per iteration. GMRES iterations are inner steps for every package. "
        "PETSc's MINRES tests its preconditioned (= unpreconditioned here, PC none) norm.  ",
        "The last block (b = ones) is a robustness check, not a speed comparison: BiCGSTAB's residual "
        "grows by many orders of magnitude before it falls there; read the 'converged' column together "
        "with the true residual recomputed by this script. krylearn confirms every convergence with a "
        "true residual and restarts from it when the recursive one disagrees (once, here).",
        "",
        "| problem | solver | method | iterations | converged | final ‖b−Ax‖/‖b‖ | time (s) | ms / iteration "
        "| time × SciPy | per-iteration × SciPy |",
        "|---|---|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for label, solver, name, its, ok, relres, med, ms, ratio, ratio_it in rows:
        lines.append(f"| {label} | {solver} | {name} | {its} | {ok} | {relres:.2e} | {med:.4f} | {ms:.3f} "
                     f"| {ratio:.2f} | {ratio_it:.2f} |")
    lines.append("")
    with open(out, "w") as fh:
        fh.write("\n".join(lines))
    print("wrote", out)


if __name__ == "__main__":
    main()

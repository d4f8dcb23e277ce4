"""Preconditioners and SOR sweeps: krylearn vs PETSc (petsc4py), PyAMG and SciPy, in one run.

(a) IC(0)-PCG on the 2D Dirichlet Poisson problem 256² (``kl.pde.poisson``), b = ones, x0 = 0,
    rtol 1e-8, vs PETSc KSPCG + PCICC (same AIJ matrix). krylearn's CG tests the
    unpreconditioned residual; PETSc is run with both its default (preconditioned) norm, which
    gives the 173 iterations quoted in issue 2, and the unpreconditioned norm (same test as ours).
(b) One SOR sweep on 512²: krylearn's forward sweep (residual of the input fused in) vs PETSc
    ``MatSOR(SOR_FORWARD_SWEEP, its=1)``; and the SSOR preconditioner application (a symmetric
    sweep from zero) vs PETSc ``PCApply`` with PCSOR (its=1, symmetric, the default).
(c) SSOR-PCG (ω = 1.5) on 256² vs PETSc KSPCG + PCSOR (symmetric, ω = 1.5).
(d) AMG-PCG: krylearn CG with ``kl.precond.amg`` vs PyAMG's own CG-accelerated solve (same hierarchy).
(e) The per-call cost of ``SOR(A).solve`` on the 10×10 problem of the ω tuner (issue 4).

Timings: all methods of a section are interleaved repeat after repeat; figures are medians.
The machine (2 cores) is shared by many jobs, so besides wall time we report the **CPU time of
this process** (``time.process_time``; every code path here runs on one thread: numba, BLAS
and PETSc are held to one thread), which is what the ratios use: it is not inflated when the
scheduler takes the core away. Run ``.venv/bin/python benchmarks/precond.py`` (``--quick``
for a small smoke run); writes ``benchmarks/results/precond.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--quick", action="store_true", help="small grids (64², 128²) and 2 repeats")
ap.add_argument("--repeats", type=int, default=None, help="repeats (default 5; 2 with --quick)")
ap.add_argument("--output", default=None, help="markdown output (default benchmarks/results/precond.md)")
args = ap.parse_args()
from _common import pin_threads  # noqa: E402

pin_threads(1)

import numpy as np  # noqa: E402
import scipy  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import krylearn as kl  # noqa: E402
from krylearn.solvers._sweeps import CSRSystem, sor_backward, sor_forward  # noqa: E402
from krylearn.solvers.stationary.sor import SOR  # noqa: E402

RTOL = 1e-8
try:
    from petsc4py import PETSc
except ImportError:  # PETSc columns are left out
    PETSc = None


def clock():
    return time.perf_counter(), time.process_time()


def timed(f, repeats_out, *a):
    w0, c0 = clock()
    out = f(*a)
    w1, c1 = clock()
    repeats_out.append((w1 - w0, c1 - c0))
    return out


def med(ts, i):
    return float(np.median([t[i] for t in ts]))


# ---------------------------------------------------------------------------------------
def petsc_mat(C):
    A = PETSc.Mat().createAIJ(size=C.shape, csr=(C.indptr.astype(PETSc.IntType),
                                                  C.indices.astype(PETSc.IntType), C.data),
                              comm=PETSc.COMM_SELF)
    A.assemble()
    return A


def petsc_pcg(A, pc_type, norm=None, omega=None):
    """A function running KSPCG (setup included) and returning (x, iterations, converged)."""
    def f(b):
        ksp = PETSc.KSP().create(comm=PETSc.COMM_SELF)
        ksp.setOperators(A)
        ksp.setType("cg")
        pc = ksp.getPC()
        pc.setType(pc_type)
        if omega is not None:
            ksp.setOptionsPrefix("klbench_")
            PETSc.Options().setValue("klbench_pc_sor_omega", omega)
            pc.setFromOptions()
        if norm is not None:
            ksp.setNormType(norm)
        ksp.setTolerances(rtol=RTOL, atol=0.0, max_it=20000)
        bv, xv = A.createVecs()
        bv.getArray()[:] = b
        xv.set(0.0)
        ksp.solve(bv, xv)
        out = xv.getArray().copy(), ksp.getIterationNumber(), ksp.getConvergedReason() > 0
        ksp.destroy()
        return out
    return f


def kl_pcg(C, make_M):
    def f(b):
        M = make_M(C)  # setup included, like PETSc's PCSetUp inside KSPSolve
        res = kl.cg(C, b, rtol=RTOL, maxiter=20000, M=M)
        return res.x, res.iterations, res.converged
    return f


def pcg_section(title, C, methods, ref, repeats, rows):
    b = np.ones(C.shape[0])
    for f in methods.values():  # warm-up: numba compilation, caches
        f(b)
    times = {k: [] for k in methods}
    info = {}
    for _ in range(repeats):
        for name, f in methods.items():
            x, its, ok = timed(f, times[name], b)
            info[name] = (its, ok, np.linalg.norm(b - C @ x) / np.linalg.norm(b))
    for name in methods:
        its, ok, rel = info[name]
        wall, cpu = med(times[name], 0), med(times[name], 1)
        ratio = cpu / med(times[ref], 1) if ref in times else float("nan")
        rows.append((title, name, str(its), str(ok), f"{rel:.2e}", f"{wall * 1e3:.1f}", f"{cpu * 1e3:.1f}",
                     f"{ratio:.2f}"))
        print(f"{title:22s} {name:48s} its={its:5d} conv={ok!s:5s} rel={rel:.1e} wall={wall * 1e3:8.1f} ms "
              f"cpu={cpu * 1e3:8.1f} ms  {ratio:5.2f}x", flush=True)


def sweep_section(C, repeats, rows, inner):
    """Sweep / preconditioner-application times (per call), krylearn vs PETSc."""
    n = C.shape[0]
    rng = np.random.default_rng(0)
    b = rng.standard_normal(n)
    sysm = CSRSystem(C, "bench")
    x = np.zeros(n)
    d = np.zeros(n)
    M = kl.precond.ssor(C, 1.0)
    z = np.empty(n)
    methods = {
        "krylearn forward SOR sweep (+ fused ‖r‖)": lambda: sor_forward(
            sysm.indptr, sysm.indices, sysm.data, sysm.dptr, sysm.invdiag, b, x, d, 1.0),
        "krylearn SSOR iteration (fwd + bwd sweep)": lambda: (
            sor_forward(sysm.indptr, sysm.indices, sysm.data, sysm.dptr, sysm.invdiag, b, x, d, 1.0),
            sor_backward(sysm.indptr, sysm.indices, sysm.data, sysm.dptr, sysm.invdiag, b, x, d, 1.0)),
        "krylearn SSOR precond apply (M @ r)": lambda: M.matvec(b),
    }
    pairs = {}
    if PETSc is not None:
        A = petsc_mat(C)
        bv, xv = A.createVecs()
        bv.getArray()[:] = b
        xv.set(0.0)
        yv = xv.duplicate()
        fwd = PETSc.Mat.SORType.FORWARD_SWEEP
        sym = PETSc.Mat.SORType.SYMMETRIC_SWEEP
        pc = PETSc.PC().create(comm=PETSc.COMM_SELF)
        pc.setOperators(A)
        pc.setType("sor")
        pc.setUp()
        methods["PETSc MatSOR forward, its=1"] = lambda: A.SOR(bv, xv, 1.0, fwd, 0.0, 1, 1)
        rv = xv.duplicate()

        def sor_and_residual():  # the same work as krylearn's fused sweep: a sweep and ‖b − A x‖
            A.mult(xv, rv)
            rv.aypx(-1.0, bv)
            rv.norm()
            A.SOR(bv, xv, 1.0, fwd, 0.0, 1, 1)
        methods["PETSc MatSOR forward + ‖b − Ax‖ (MatMult, VecAYPX, VecNorm)"] = sor_and_residual
        methods["PETSc MatSOR symmetric, its=1"] = lambda: A.SOR(bv, xv, 1.0, sym, 0.0, 1, 1)
        methods["PETSc PCApply PCSOR (symmetric, its=1)"] = lambda: pc.apply(bv, yv)
        pairs = {"krylearn forward SOR sweep (+ fused ‖r‖)": "PETSc MatSOR forward, its=1",
                 "↳ same krylearn sweep, vs PETSc sweep + residual (equal work)": "PETSc MatSOR forward + ‖b − Ax‖ (MatMult, VecAYPX, VecNorm)",
                 "krylearn SSOR iteration (fwd + bwd sweep)": "PETSc MatSOR symmetric, its=1",
                 "krylearn SSOR precond apply (M @ r)": "PETSc PCApply PCSOR (symmetric, its=1)"}
    for f in methods.values():
        f()
    times = {k: [] for k in methods}
    if PETSc is not None:  # the same krylearn timings, compared with equal work
        alias = "↳ same krylearn sweep, vs PETSc sweep + residual (equal work)"
    for _ in range(repeats):
        for name, f in methods.items():
            w0, c0 = clock()
            for _ in range(inner):
                f()
            w1, c1 = clock()
            times[name].append(((w1 - w0) / inner, (c1 - c0) / inner))
    label = f"(b) sweeps {int(round(np.sqrt(n)))}²"
    names = list(methods)
    if PETSc is not None:
        times[alias] = times["krylearn forward SOR sweep (+ fused ‖r‖)"]
        names.append(alias)
    for name in names:
        wall, cpu = med(times[name], 0), med(times[name], 1)
        ref = pairs.get(name)
        ratio = cpu / med(times[ref], 1) if ref else float("nan")
        rows.append((label, name, "1", "", "", f"{wall * 1e3:.3f}", f"{cpu * 1e3:.3f}",
                     f"{ratio:.2f}" if ref else ""))
        print(f"{label:22s} {name:48s} wall={wall * 1e3:8.3f} ms cpu={cpu * 1e3:8.3f} ms"
              + (f"  {ratio:5.2f}x PETSc" if ref else ""), flush=True)


def tuner_section(repeats, rows):
    A = kl.pde.poisson((10, 10)).tocsr()
    rng = np.random.default_rng(1)
    b = rng.standard_normal(100)
    S = SOR(A)
    S.solve(b, omega=1.5, rtol=1e-8)
    ts, its = [], 0
    for _ in range(repeats):
        w0, c0 = clock()
        for _ in range(200):
            r = S.solve(b, omega=1.5, rtol=1e-8)
        w1, c1 = clock()
        ts.append(((w1 - w0) / 200, (c1 - c0) / 200))
        its = r.iterations
    w0, c0 = clock()
    for _ in range(200):
        SOR(A)
    w1, c1 = clock()
    rows.append(("(e) tuner 10×10", f"SOR(A).solve(b, omega=1.5, rtol=1e-8): {its} sweeps", str(its), "True", "",
                 f"{med(ts, 0) * 1e3:.4f}", f"{med(ts, 1) * 1e3:.4f}", ""))
    rows.append(("(e) tuner 10×10", "SOR(A) setup (per matrix)", "", "", "",
                 f"{(w1 - w0) / 200 * 1e3:.4f}", f"{(c1 - c0) / 200 * 1e3:.4f}", ""))
    print(f"(e) SOR.solve 10x10: {med(ts, 1) * 1e6:.1f} us cpu for {its} sweeps; setup "
          f"{(c1 - c0) / 200 * 1e6:.1f} us", flush=True)


def main():
    repeats = args.repeats or (2 if args.quick else 5)
    m_pcg, m_sweep = (64, 128) if args.quick else (256, 512)
    load0 = os.getloadavg()
    t_start = time.time()
    rows = []
    C = kl.pde.poisson((m_pcg, m_pcg)).tocsr()
    U = None if PETSc is None else PETSc.KSP.NormType.UNPRECONDITIONED

    # (a) IC(0)-PCG
    methods = {"krylearn cg + precond.ic0 (setup incl.)": kl_pcg(C, kl.precond.ic0)}
    if PETSc is not None:
        A = petsc_mat(C)
        methods["PETSc KSPCG + PCICC, unpreconditioned norm"] = petsc_pcg(A, "icc", norm=U)
        methods["PETSc KSPCG + PCICC, default (precond.) norm"] = petsc_pcg(A, "icc")
    pcg_section(f"(a) IC(0)-PCG {m_pcg}²", C, methods, "PETSc KSPCG + PCICC, unpreconditioned norm",
                repeats, rows)

    # (b) sweeps
    C2 = kl.pde.poisson((m_sweep, m_sweep)).tocsr()
    sweep_section(C2, repeats, rows, inner=5 if args.quick else 10)

    # (c) SSOR-PCG
    methods = {"krylearn cg + precond.ssor(ω=1.5)": kl_pcg(C, lambda A: kl.precond.ssor(A, 1.5))}
    if PETSc is not None:
        methods["PETSc KSPCG + PCSOR symmetric ω=1.5, unprec. norm"] = petsc_pcg(A, "sor", norm=U, omega=1.5)
    pcg_section(f"(c) SSOR-PCG {m_pcg}²", C, methods, "PETSc KSPCG + PCSOR symmetric ω=1.5, unprec. norm",
                repeats, rows)

    # (d) AMG-PCG
    try:
        import pyamg
    except ImportError:
        pyamg = None
    if pyamg is not None:
        def pyamg_cg(Cm):
            def f(b):
                ml = pyamg.smoothed_aggregation_solver(Cm)
                res = []
                x = ml.solve(b, tol=RTOL, accel="cg", maxiter=1000, residuals=res)
                return x, len(res) - 1, res[-1] <= RTOL * np.linalg.norm(b) * 1.0001
            return f
        methods = {"krylearn cg + precond.amg (setup incl.)": kl_pcg(C, kl.precond.amg),
                   "pyamg SA solve(accel='cg') (setup incl.)": pyamg_cg(C)}
        pcg_section(f"(d) AMG-PCG {m_pcg}²", C, methods, "pyamg SA solve(accel='cg') (setup incl.)", repeats, rows)

    # (e) per-call cost for the tuner
    tuner_section(repeats, rows)
    write_md(rows, repeats, load0, os.getloadavg(), time.time() - t_start, m_pcg, m_sweep)


def write_md(rows, repeats, load0, load1, elapsed, m_pcg, m_sweep):
    out = args.output or os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "precond.md")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    cmd = "python benchmarks/precond.py" + (" --quick" if args.quick else "") + \
        (f" --repeats {args.repeats}" if args.repeats else "")
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if "model name" in line)
    except (OSError, StopIteration):
        cpu = platform.processor()
    petsc_v = "not importable (PETSc rows missing)" if PETSc is None else \
        ".".join(map(str, PETSc.Sys.getVersion()))
    lines = [
        "# Preconditioners and SOR sweeps: krylearn vs PETSc, PyAMG",
        "",
        f"Command: `{cmd}`  ",
        f"Date: {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}  ",
        f"Machine: {os.cpu_count()} CPUs ({cpu}); one thread for numba/BLAS/PETSc (1 rank); load average "
        f"{load0[0]:.1f} at start, {load1[0]:.1f} at end — the machine is shared with other jobs, so wall "
        "times are inflated and noisy; the ratios use the CPU time of this process (time.process_time), "
        "from interleaved repeats in the same process  ",
        f"Versions: numpy {np.__version__}, scipy {scipy.__version__}, PETSc {petsc_v}, krylearn {kl.__version__}  ",
        f"Problems: `kl.pde.poisson((m, m))` Dirichlet 5-point, m = {m_pcg} for the PCG runs (b = ones, "
        f"x0 = 0, rtol = {RTOL:g}), m = {m_sweep} for the sweeps; medians over {repeats} repeats; run took "
        f"{elapsed:.0f} s. PCG times include the preconditioner setup (IC factorization, AMG hierarchy), "
        "as PETSc's KSPSolve includes PCSetUp.",
        "",
        "| section | method | iterations | converged | final ‖b−Ax‖/‖b‖ | wall ms | CPU ms | × reference (CPU) |",
        "|---|---|---:|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append("| " + " | ".join(r) + " |")
    lines += ["",
              "Reference of the ratio: (a) PETSc CG+ICC with the unpreconditioned norm (the same stopping test "
              "as krylearn's CG); (b) the PETSc row of the same operation; (c) PETSc CG+SOR; (d) PyAMG's own "
              "CG solve.",
              "",
              "Targets (issue 2): IC(0)-PCG iterations within 10% of PETSc CG+ICC (173 at 256²) and time ≤ 1.2× "
              "PETSc; SOR sweep within 1.5× of PETSc's PCSOR sweep; SSOR-PCG within 1.5× of PETSc.", ""]
    with open(out, "w") as fh:
        fh.write("\n".join(lines))
    print("wrote", out)


if __name__ == "__main__":
    main()

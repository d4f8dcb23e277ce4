"""LSQR, LSMR, FGMRES and Chebyshev (issue 16): krylearn against SciPy and PETSc in the same run.

Problems:

* least squares: a sparse ``m × n`` matrix (``m = 8n``, ≈ 6 nonzeros per row, column scales over two
  decades, plus ``[I; 0]`` so that it has full rank), ``b`` standard normal — ``kl.lsqr``/``kl.lsmr``
  against ``scipy.sparse.linalg.lsqr``/``lsmr`` with ``atol = btol = rtol`` and ``conlim = 0`` (SciPy's
  least-squares test 2 is ours); iterations and time per iteration;
* FGMRES: 2D convection–diffusion (central differences, cell Péclet 0.5/0.25), ILU(0) right
  preconditioner (fixed, so FGMRES must take GMRES's iterations), against PETSc ``KSPFGMRES`` with
  ``PCILU``, restart 30;
* Chebyshev: the 2D Poisson matrix with Jacobi, against PETSc ``KSPCHEBYSHEV`` + ``PCJACOBI`` given the
  same spectrum bounds (``-ksp_chebyshev_eigenvalues emin,emax``), and with krylearn's estimated bounds;
* RecyclingCG: the heat equation ``HeatEquation2D(nx=257)`` (256² unknowns), Crank–Nicolson,
  Δt = 1e-3, κ(t) = 1 + 0.5 sin(2πt/0.05) (the coefficient changes every step), 100 steps, rtol 1e-8,
  IC(0) rebuilt every step, both warm-started from the previous step: ``RecyclingCG(k=6)`` against
  plain PCG (same preconditioner, same set-up cost, included in both); and the *bound* of any
  deflation on this sequence: one step deflated by 6, 20 and 40 exact eigenvectors of the
  IC(0)-preconditioned operator (ARPACK), against plain PCG on the same step.

The stopping rule is ``‖b − Ax‖₂ ≤ rtol‖b‖₂`` everywhere (PETSc: unpreconditioned norm). Times are
medians of ``--repeats``; the default thread environment unless ``--threads`` pins one.

    .venv/bin/python benchmarks/krylov_breadth.py [--quick] [--threads 1]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import pin_threads  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--quick", action="store_true")
ap.add_argument("--repeats", type=int, default=3)
ap.add_argument("--threads", type=int, default=None)
ARGS = ap.parse_args()
if ARGS.threads is not None:
    pin_threads(ARGS.threads)

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import scipy.sparse.linalg as spla  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import krylearn as kl  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def median_time(fn, repeats):
    out, times = None, []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, float(np.median(times))


def ls_problem(n, seed=0):
    m = 8 * n
    rng = np.random.default_rng(seed)
    cols = rng.integers(0, n, size=(m, 6))          # ≈ 6 nonzeros per row (sp.random would build m·n indices)
    vals = rng.standard_normal((m, 6))
    A = sp.csr_matrix((vals.ravel(), cols.ravel(), np.arange(0, 6 * m + 1, 6)), shape=(m, n))
    A.sum_duplicates()
    A = (A @ sp.diags(np.logspace(0, 2, n)) + sp.eye(m, n)).tocsr()
    return A, rng.standard_normal(m)


def poisson(k):
    T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(k, k))
    return (sp.kron(sp.identity(k), T) + sp.kron(T, sp.identity(k))).tocsr()


def convdiff(k, px=0.5, py=0.25):
    Tx = sp.diags([-1.0 - px, 2.0, -1.0 + px], [-1, 0, 1], shape=(k, k))
    Ty = sp.diags([-1.0 - py, 2.0, -1.0 + py], [-1, 0, 1], shape=(k, k))
    return (sp.kron(sp.identity(k), Tx) + sp.kron(Ty, sp.identity(k))).tocsr()


def petsc_solve(C, b, ksp_type, pc_type, rtol, options=None):
    from petsc4py import PETSc
    A = PETSc.Mat().createAIJ(size=C.shape, csr=(C.indptr, C.indices, C.data), comm=PETSc.COMM_SELF)
    ksp = PETSc.KSP().create(PETSc.COMM_SELF)
    ksp.setOperators(A)
    ksp.setType(ksp_type)
    ksp.getPC().setType(pc_type)
    ksp.setTolerances(rtol=rtol, atol=0.0, max_it=100000)
    ksp.setNormType(PETSc.KSP.NormType.UNPRECONDITIONED)
    if options:
        prefix = f"kb{ksp_type}_"
        opts = PETSc.Options(prefix)
        for k, v in options.items():
            opts[k] = v
        ksp.setOptionsPrefix(prefix)
        ksp.setFromOptions()
    bv = A.createVecLeft()
    bv.array[:] = b
    xv = A.createVecRight()

    def run():
        xv.set(0.0)
        ksp.solve(bv, xv)
        return ksp.getIterationNumber(), int(ksp.getConvergedReason())

    return run


def main():
    reps = 2 if ARGS.quick else ARGS.repeats
    rows = []
    # -- least squares ---------------------------------------------------------------------------
    n = 2000 if ARGS.quick else 40000
    A, b = ls_problem(n)
    rtol = 1e-8
    for name, ours, theirs in (("lsqr", kl.lsqr, lambda: spla.lsqr(A, b, atol=rtol, btol=rtol, conlim=0,
                                                                   iter_lim=20 * n)),
                               ("lsmr", kl.lsmr, lambda: spla.lsmr(A, b, atol=rtol, btol=rtol, conlim=0,
                                                                   maxiter=20 * n))):
        res, t_kl = median_time(lambda: ours(A, b, rtol=rtol, maxiter=20 * n), reps)
        out, t_sp = median_time(theirs, reps)
        its_sp = int(out[2])
        rows.append((f"{name}, {A.shape[0]}×{A.shape[1]} sparse LS", res.iterations, its_sp,
                     1e3 * t_kl / max(res.iterations, 1), 1e3 * t_sp / max(its_sp, 1), "SciPy",
                     f"{res.status}"))
    # -- FGMRES vs PETSc KSPFGMRES -------------------------------------------------------------------
    k = 64 if ARGS.quick else 400
    C = convdiff(k)
    bb = np.random.default_rng(0).standard_normal(C.shape[0])
    M = kl.precond.ilu(C)
    res, t_kl = median_time(lambda: kl.fgmres(C, bb, M=M, rtol=1e-8, restart=30), reps)
    res_g, _ = median_time(lambda: kl.gmres(C, bb, M=M, rtol=1e-8, restart=30), 1)
    try:
        run = petsc_solve(C, bb, "fgmres", "ilu", 1e-8)
        (its_p, reason), t_p = median_time(run, reps)
    except ImportError:
        its_p, t_p = None, float("nan")
    rows.append((f"fgmres + ILU(0), convdiff {k}² (kl.gmres: {res_g.iterations} its)", res.iterations, its_p,
                 1e3 * t_kl / res.iterations, 1e3 * t_p / its_p if its_p else float("nan"), "PETSc KSPFGMRES",
                 f"{res.status}"))
    # -- Chebyshev vs PETSc KSPCHEBYSHEV -------------------------------------------------------------
    k = 64 if ARGS.quick else 200
    P = poisson(k)
    bp = np.random.default_rng(1).standard_normal(P.shape[0])
    lam = (2 - 2 * np.cos(np.pi / (k + 1))) * 2 / 4, (2 + 2 * np.cos(np.pi / (k + 1))) * 2 / 4  # of D⁻¹A
    Mj = kl.precond.jacobi(P)
    res, t_kl = median_time(lambda: kl.chebyshev(P, bp, M=Mj, rtol=1e-6, eigenvalue_bounds=lam), reps)
    res_e, t_e = median_time(lambda: kl.chebyshev(P, bp, M=Mj, rtol=1e-6), reps)
    try:
        run = petsc_solve(P, bp, "chebyshev", "jacobi", 1e-6,
                          options={"ksp_chebyshev_eigenvalues": f"{float(lam[0])!r},{float(lam[1])!r}"})
        (its_p, reason), t_p = median_time(run, reps)
    except ImportError:
        its_p, t_p = None, float("nan")
    rows.append((f"chebyshev + Jacobi, Poisson {k}², exact bounds", res.iterations, its_p,
                 1e3 * t_kl / res.iterations, 1e3 * t_p / its_p if its_p else float("nan"), "PETSc KSPCHEBYSHEV",
                 f"{res.status}"))
    rows.append((f"chebyshev + Jacobi, Poisson {k}², bounds from 10 CG steps (×1.1)", res_e.iterations, None,
                 1e3 * t_e / res_e.iterations, float("nan"), "", f"{res_e.status}, bounds "
                 f"[{res_e.info['eigenvalue_bounds'][0]:.3g}, {res_e.info['eigenvalue_bounds'][1]:.3g}]"))
    rows.append(recycling(reps))
    base, bound, note = recycling_bound()
    for k, its in bound:
        rows.append((f"bound: PCG + IC(0) deflated by {k} exact eigenvectors (one step of the heat sequence)", its, base,
                     float("nan"), float("nan"), "PCG + IC(0), same step",
                     f"its ratio {its / base:.2f}" + (f"; {note}" if k == bound[-1][0] else "")))
    write(rows)


def recycling(reps):
    from krylearn.pde.heat import HeatEquation2D
    nx = 65 if ARGS.quick else 257
    steps = 30 if ARGS.quick else 100

    def run(recycle):
        heat = HeatEquation2D(nx=nx, dt=1e-3, steps=steps, coefficient=lambda t: 1.0 + 0.5 * np.sin(2 * np.pi * t / 0.05))
        heat.reset()
        rcg = kl.solvers.RecyclingCG(k=6) if recycle else None
        its = 0
        t_total = 0.0
        x = None
        for _ in range(steps):
            A, b, _ctx = heat.system()
            op = kl.aslinearoperator(A, positive_definite=True)
            t0 = time.perf_counter()
            M = kl.precond.ic0(A)
            x0 = heat.u if x is None else x
            res = rcg.solve(op, b, x0=x0, rtol=1e-8, M=M) if recycle else kl.cg(op, b, x0, rtol=1e-8, M=M)
            t_total += time.perf_counter() - t0
            its += res.iterations
            x = res.x
            heat.advance(x)
        return its, t_total

    (its_cg, t_cg), _ = median_time(lambda: run(False), 1)
    (its_r, t_r), _ = median_time(lambda: run(True), 1)
    return (f"RecyclingCG(k=6) + IC(0), heat {nx - 1}², {steps} steps (total its; ms per step)", its_r, its_cg,
            1e3 * t_r / steps, 1e3 * t_cg / steps, "warm-started PCG + IC(0)",
            f"its ratio {its_r / its_cg:.2f} (target ≤ 0.6), time ratio {t_r / t_cg:.2f} (target ≤ 0.8)")


def recycling_bound():
    """What any deflation could gain on this sequence: at step 6, PCG + IC(0) deflated with the
    *exact* eigenvectors of the smallest eigenvalues of the preconditioned operator (the pencil
    A v = λ LLᵀ v, by ARPACK on L⁻¹ A L⁻ᵀ), the best a recycled space can approximate."""
    from krylearn.pde.heat import HeatEquation2D

    nx = 65 if ARGS.quick else 257
    heat = HeatEquation2D(nx=nx, dt=1e-3, steps=10, coefficient=lambda t: 1.0 + 0.5 * np.sin(2 * np.pi * t / 0.05))
    heat.reset()
    for _ in range(5):
        A, b, _ctx = heat.system()
        heat.advance(kl.cg(A, b, heat.u, rtol=1e-8, M=kl.precond.ic0(A)).x)
    A, b, _ctx = heat.system()
    M = kl.precond.ic0(A)
    base = kl.cg(A, b, heat.u, rtol=1e-8, M=M).iterations
    L = sp.csc_matrix(M.L)
    lo = spla.splu(L, permc_spec="NATURAL")
    up = spla.splu(sp.csc_matrix(L.T), permc_spec="NATURAL")
    n = A.shape[0]
    S = spla.LinearOperator((n, n), matvec=lambda v: lo.solve(A @ up.solve(v)))
    kmax = 40
    theta, Y = spla.eigsh(S, k=kmax, which="SA", tol=1e-6)
    order = np.argsort(theta)
    theta, Y = theta[order], Y[:, order]
    lam_max = float(spla.eigsh(S, k=1, which="LA", tol=1e-3)[0][0])
    V = np.column_stack([up.solve(Y[:, j]) for j in range(kmax)])
    out = []
    for k in (6, 20, 40):
        rcg = kl.solvers.RecyclingCG(k=k)
        rcg.W = np.ascontiguousarray(V[:, :k])
        out.append((k, rcg.solve(A, b, x0=heat.u, rtol=1e-8, M=M).iterations))
    note = (f"smallest eigenvalues of the IC(0)-preconditioned operator {theta[0]:.4f} … {theta[9]:.4f} (10th), "
            f"{theta[-1]:.4f} (40th), largest {lam_max:.3f}: no isolated small eigenvalues")
    return base, out, note


def write(rows):
    threads = "default environment" if ARGS.threads is None else f"{ARGS.threads} (pinned)"
    lines = ["# Krylov breadth: LSQR, LSMR, FGMRES, Chebyshev (issue 16)", "",
             f"Command: `python benchmarks/krylov_breadth.py{' --quick' if ARGS.quick else ''}"
             f"{'' if ARGS.threads is None else f' --threads {ARGS.threads}'}`  ",
             f"Date: {datetime.date.today()}, {platform.machine()}, {os.cpu_count()} cores, threads: {threads}", "",
             "| problem | krylearn its | peer its | krylearn ms/it | peer ms/it | peer | status |",
             "|---|---|---|---|---|---|---|"]
    for name, its, its_p, t, tp, peer, st in rows:
        lines.append(f"| {name} | {its} | {its_p if its_p is not None else '—'} | {t:.3f} | "
                     f"{'—' if tp != tp else f'{tp:.3f}'} | {peer} | {st} |")
    lines += ["", "Targets: LSQR/LSMR iterations within 5 % of SciPy's and time per iteration ≤ 1.0× SciPy; FGMRES "
              "within 5 % of KSPFGMRES's iterations; Chebyshev within 5 % of KSPCHEBYSHEV's."]
    text = "\n".join(lines) + "\n"
    name = "krylov_breadth" + ("_quick" if ARGS.quick else "") + ("" if ARGS.threads is None else "_pinned")
    with open(os.path.join(ROOT, "benchmarks", "results", name + ".md"), "w") as fh:
        fh.write(text)
    print(text)


if __name__ == "__main__":
    main()

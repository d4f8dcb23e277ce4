"""Kernels at scale: out-of-cache CG and SOR/SSOR sweeps against the memory-bandwidth limit, and CSR
CG on real finite-element matrices against SciPy (issue 17).

Run:  .venv/bin/python benchmarks/kernels.py [--quick] [--repeats R]

Method. Every section runs twice, each time in a fresh worker process: in the user's default thread
environment and pinned to one thread (``*_NUM_THREADS = 1``), the two interleaved per section.

- **Bandwidth.** A STREAM triad ``a = b + s c`` (numba, 2²⁵ doubles per array, far beyond the
  caches) is timed in the same worker, with as many threads as krylearn's kernels use there; it moves
  32 bytes per entry (two reads, the write and the write-allocate read of ``a``). The limit of a
  kernel is its bytes moved divided by that bandwidth.
- **Matrix-free CG** (``kl.pde.poisson``, Dirichlet, 2D 2048² and 3D 160³, 4.2M and 4.1M unknowns;
  30 iterations, median of the repeats, ms per iteration). One unpreconditioned CG iteration moves
  12 vectors of 8 bytes per unknown: ``q = A p`` with ``(p, q)`` reads ``p`` and writes ``q`` (3,
  with the write-allocate), ``x += αp, r −= αq, ‖r‖²`` reads 4 and writes 2 (6), ``p = r + βp``
  reads 2 and writes 1 (3). The stencil's neighbour reads hit the cache (one pass over ``p``).
- **SOR / SSOR sweeps** (``kl.sor`` / ``kl.ssor`` on the CSR matrix of the same grids, 10 sweeps):
  a forward sweep streams the matrix (values, column indices, row pointers, the diagonal
  positions) and ``b``, ``1/diag``, ``x`` (read and write) and the increment ``d`` (write and its
  allocate); the residual is fused into the sweep. SSOR is two sweeps.
- **CSR CG on FEM matrices** against ``scipy.sparse.linalg.cg`` (same matrix, ``b``, 200 iterations
  unless converged, time per iteration): PyAMG's gallery (``linear_elasticity`` 2D Q1, the ``bar``
  and ``local_disc_galerkin_diffusion`` examples) and scikit-fem assemblies (3D linear elasticity P1
  on a 28³-point tetrahedral cube clamped on one face — 63,504 unknowns, 2.2M nonzeros —, 3D Poisson
  P2, 2D Poisson P2).

Targets (issue 17): matrix-free CG per iteration within 1.3× of the streaming limit at 2048² and
160³; CSR CG per iteration ≤ 1.0× SciPy on every FEM matrix.
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _common import write_result  # noqa: E402

ROOT = os.path.dirname(HERE)
PIN_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
USER_VARIABLES = PIN_VARIABLES + ("KRYLEARN_NUM_THREADS",)
CG_VECTORS = 12


# -- worker ---------------------------------------------------------------------------------------
def _median_time(f, repeats):
    import numpy as np

    f()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = f()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts)), out


def triad_bandwidth(threads, repeats):
    """GB/s of ``a = b + s c`` over 2²⁵ doubles with ``threads`` numba threads (32 bytes per entry)."""
    import numba as nb
    import numpy as np

    @nb.njit(parallel=True, cache=False)
    def triad(a, b, c, s):
        for i in nb.prange(a.shape[0]):
            a[i] = b[i] + s * c[i]

    n = 1 << 25
    a, b, c = np.empty(n), np.ones(n), np.full(n, 2.0)
    old = nb.get_num_threads()
    nb.set_num_threads(threads)
    try:
        t, _ = _median_time(lambda: triad(a, b, c, 3.0), max(repeats, 5))
    finally:
        nb.set_num_threads(old)
    return 32.0 * n / t / 1e9


def worker(sections, quick, repeats):
    import numpy as np
    import scipy.sparse.linalg as spla

    import krylearn as kl
    from krylearn.threads import PARALLEL_MIN, get_num_threads

    out = {"threads": get_num_threads()}
    rng = np.random.default_rng(0)
    if "bandwidth" in sections:
        out["triad_serial"] = triad_bandwidth(1, repeats)
        out["triad_threads"] = triad_bandwidth(get_num_threads(), repeats) if get_num_threads() > 1 else out["triad_serial"]
        grids = [(512, 512), (48, 48, 48)] if quick else [(2048, 2048), (160, 160, 160)]
        rows = []
        for shape in grids:
            A = kl.pde.poisson(shape)
            n = A.shape[0]
            bw = out["triad_threads"] if (n >= PARALLEL_MIN and get_num_threads() > 1) else out["triad_serial"]
            b = rng.standard_normal(n)
            its = 30
            t, res = _median_time(lambda: kl.cg(A, b, rtol=1e-14, maxiter=its), repeats)
            per = t / res.iterations
            limit = CG_VECTORS * 8.0 * n / (bw * 1e9)
            rows.append({"kind": "cg", "shape": shape, "n": n, "ms": per * 1e3, "limit_ms": limit * 1e3,
                         "bytes": CG_VECTORS * 8 * n, "gbs_used": bw})
            C = A.tocsr()
            from krylearn.solvers.stationary.sor import SOR

            S = SOR(C)
            sys_ = S.system
            mat_bytes = (sys_.data.nbytes + sys_.indices.nbytes + sys_.indptr.nbytes + sys_.dptr.nbytes)
            vec_bytes = 8 * n * 6            # b, 1/diag, x read + write, d write + allocate
            for name, sweeps_per in (("sor", 1), ("ssor", 2)):
                sweeps = 10
                if name == "sor":
                    f = lambda: S.solve(b, omega=1.9, rtol=1e-14, maxiter=sweeps)  # noqa: E731
                else:
                    f = lambda: kl.ssor(C, b, omega=1.9, rtol=1e-14, maxiter=sweeps)  # noqa: E731
                t, res = _median_time(f, repeats)
                per = t / (res.iterations + 1) / sweeps_per      # the last sweep measures and is undone
                byts = mat_bytes + vec_bytes
                rows.append({"kind": name + " sweep", "shape": shape, "n": n, "ms": per * 1e3,
                             "limit_ms": byts / (out["triad_serial"] * 1e9) * 1e3, "bytes": byts,
                             "gbs_used": out["triad_serial"]})
        out["bandwidth"] = rows
    if "fem" in sections:
        rows = []
        for name, A in fem_matrices(quick):
            b = rng.standard_normal(A.shape[0])
            its = 200

            def ours():
                return kl.cg(A, b, rtol=1e-30, maxiter=its)

            def scipys():
                count = [0]

                def cb(_):
                    count[0] += 1
                spla.cg(A, b, rtol=1e-30, atol=0.0, maxiter=its, callback=cb)
                return count[0]

            t_o, res = _median_time(ours, repeats)
            t_s, its_s = _median_time(scipys, repeats)
            rows.append({"name": name, "n": A.shape[0], "nnz": int(A.nnz), "ours_ms": t_o / max(res.iterations, 1) * 1e3,
                         "scipy_ms": t_s / max(its_s, 1) * 1e3, "its": int(res.iterations), "its_scipy": int(its_s)})
        out["fem"] = rows
    print(json.dumps(out))


def fem_matrices(quick):
    """(name, CSR) pairs: PyAMG's gallery and scikit-fem assemblies."""
    import pyamg
    import scipy.sparse as sp

    mats = []
    A, _ = pyamg.gallery.linear_elasticity((120, 120) if quick else (300, 300))
    mats.append(("PyAMG linear_elasticity 2D Q1", sp.csr_matrix(A)))
    for ex in ("bar", "local_disc_galerkin_diffusion"):
        A = sp.csr_matrix(pyamg.gallery.load_example(ex)["A"])
        mats.append((f"PyAMG example {ex}", sp.csr_matrix(0.5 * (A + A.T))))
    try:
        import skfem
        from skfem.helpers import ddot, dot, grad, sym_grad, trace
    except ImportError:
        return mats

    import numpy as np

    refine = 3 if quick else 4
    # the matrix: 28 points per axis, the face x = 0 clamped: 63,504 unknowns, 2.2M nonzeros
    side = np.linspace(0.0, 1.0, 12 if quick else 28)
    mesh = skfem.MeshTet.init_tensor(side, side, side)
    e = skfem.ElementVector(skfem.ElementTetP1())
    basis = skfem.Basis(mesh, e)
    lam, mu = 1.0, 1.0

    @skfem.BilinearForm
    def elasticity(u, v, w):
        eps_u, eps_v = sym_grad(u), sym_grad(v)
        return 2.0 * mu * ddot(eps_u, eps_v) + lam * trace(eps_u) * trace(eps_v)

    K = elasticity.assemble(basis)
    K = skfem.condense(K, D=basis.get_dofs(lambda x: x[0] == 0.0).all(), expand=False)
    mats.append((f"scikit-fem 3D elasticity P1 (tensor tet mesh {side.size}³)", sp.csr_matrix(K)))

    @skfem.BilinearForm
    def laplace(u, v, w):
        return dot(grad(u), grad(v))

    mesh3 = skfem.MeshTet().refined(refine)
    b3 = skfem.Basis(mesh3, skfem.ElementTetP2())
    L = skfem.condense(laplace.assemble(b3), D=b3.get_dofs().all(), expand=False)
    mats.append((f"scikit-fem 3D Poisson P2 (cube refined {refine}×)", sp.csr_matrix(L)))
    mesh2 = skfem.MeshTri().refined(6 if quick else 8)
    b2 = skfem.Basis(mesh2, skfem.ElementTriP2())
    L2 = skfem.condense(laplace.assemble(b2), D=b2.get_dofs().all(), expand=False)
    mats.append((f"scikit-fem 2D Poisson P2 (square refined {6 if quick else 8}×)", sp.csr_matrix(L2)))
    return mats


# -- parent ---------------------------------------------------------------------------------------
def run_worker(env_kind, sections, quick, repeats):
    env = {k: v for k, v in os.environ.items() if k not in USER_VARIABLES}
    if env_kind == "pinned":
        env.update({k: "1" for k in PIN_VARIABLES})
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", ",".join(sections), "--repeats", str(repeats)]
    if quick:
        cmd.append("--quick")
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT, timeout=3600)
    if out.returncode != 0:
        raise RuntimeError(f"{env_kind} worker failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--sections", default="bandwidth,fem")
    ap.add_argument("--output", default=None)
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    repeats = args.repeats or (2 if args.quick else 5)
    if args.worker is not None:
        sys.path.insert(0, ROOT)
        worker(args.worker.split(","), args.quick, repeats)
        return
    t0 = time.time()
    results = {}
    for section in args.sections.split(","):
        for env_kind in ("default", "pinned"):
            print(f"-- {section} ({env_kind})", flush=True)
            results.setdefault(env_kind, {}).update(run_worker(env_kind, [section], args.quick, repeats))
    write(results, args, repeats, time.time() - t0)


def write(results, args, repeats, elapsed):
    d, p = results["default"], results["pinned"]
    lines = ["## Kernels at scale: bandwidth limit and FEM matrices (issue 17)", "",
             f"Command: `python benchmarks/kernels.py{' --quick' if args.quick else ''}`  ",
             f"Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
             f"{os.cpu_count()} cores; median of {repeats} repeats; each environment in its own process; "
             f"total {elapsed / 60:.1f} min. *default*: no thread variable set ({d.get('threads')} threads "
             f"for krylearn); *pinned*: every pool at one thread. Method: `benchmarks/kernels.py` docstring.", ""]
    if "bandwidth" in d:
        lines += [f"STREAM triad (numba, 2²⁵ doubles, 32 B per entry): default {d['triad_threads']:.1f} GB/s with "
                  f"{d['threads']} threads, {d['triad_serial']:.1f} GB/s on one; pinned {p['triad_serial']:.1f} GB/s.", "",
                  "| kernel | grid | unknowns | bytes per iteration / sweep | default [ms] | limit [ms] | ÷ limit | "
                  "pinned [ms] | pinned limit [ms] | pinned ÷ limit | default ÷ pinned |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for rd, rp in zip(d["bandwidth"], p["bandwidth"]):
            grid = "×".join(str(s) for s in rd["shape"])
            lines.append(f"| {rd['kind']} | {grid} | {rd['n']:,} | {rd['bytes'] / 1e6:.0f} MB | {rd['ms']:.2f} | "
                         f"{rd['limit_ms']:.2f} | {rd['ms'] / rd['limit_ms']:.2f} | {rp['ms']:.2f} | "
                         f"{rp['limit_ms']:.2f} | {rp['ms'] / rp['limit_ms']:.2f} | {rd['ms'] / rp['ms']:.2f} |")
        lines += ["", "Target: matrix-free CG per iteration within 1.3× of the streaming limit (cg rows). SOR/SSOR "
                  "sweeps are sequential (Gauss–Seidel order): their limit is the one-thread bandwidth.", ""]
    if "fem" in d:
        lines += ["| matrix | n | nnz | krylearn default [ms/it] | SciPy default [ms/it] | ÷ SciPy | "
                  "krylearn pinned | SciPy pinned | ÷ SciPy pinned |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for rd, rp in zip(d["fem"], p["fem"]):
            lines.append(f"| {rd['name']} | {rd['n']:,} | {rd['nnz']:,} | {rd['ours_ms']:.3f} | {rd['scipy_ms']:.3f} | "
                         f"{rd['ours_ms'] / rd['scipy_ms']:.2f} | {rp['ours_ms']:.3f} | {rp['scipy_ms']:.3f} | "
                         f"{rp['ours_ms'] / rp['scipy_ms']:.2f} |")
        lines += ["", "Target: CSR CG per iteration ≤ 1.0× SciPy on every matrix.", ""]
    write_result("\n".join(lines) + "\n", "kernels", args.quick, args.output)


if __name__ == "__main__":
    main()

"""The arrays users bring (issue 18): many right-hand sides, float32, torch tensors — against SciPy.

Run:  .venv/bin/python benchmarks/many_rhs.py [--quick] [--repeats R]

Method. Each section runs twice, in fresh worker processes: in the user's default thread
environment and pinned to one thread (``*_NUM_THREADS = 1``). Times are medians of ``--repeats``
runs. Every solve runs a fixed number of CG iterations (``rtol = 0``, ``maxiter = ITERS``), so the
figure is the cost of one iteration for one right-hand side; the convergence of batched CG equals
the single-column solver's (tested in ``tests/solvers/test_batched_cg.py``).

- **Many right-hand sides** (``k`` = 1, 8, 32 columns): ``kl.cg(A, B)`` (batched CG where
  :func:`krylearn.solvers.krylov.batched_cg.prefers_batched` says so, else a loop), batched CG forced
  (:func:`~krylearn.solvers.krylov.batched_cg.batched_cg`), ``k`` separate ``kl.cg`` calls, and ``k``
  separate ``scipy.sparse.linalg.cg`` calls (SciPy has no block solver), on: the scikit-fem 3D
  elasticity matrix of ``benchmarks/kernels.py`` (CSR, 63,504 unknowns, 2.2M nonzeros), a masked
  grid stencil (``kl.pde.poisson`` 1024² with ``ellipses_lshapes`` obstacles) and a uniform grid
  stencil (1024², no obstacles: the operator reads nothing but the vectors).
- **float32 vs float64**: one CG iteration in each precision (``b`` in that dtype: krylearn's
  working precision), krylearn and SciPy, on the elasticity CSR matrix and the 2048² uniform stencil
  (SciPy gets the stencil's CSR matrix).
- **torch on CPU**: ``kl.cg`` (and ``kl.minres``) with a torch CSR tensor and a torch ``b`` (the torch path of
  ``kl.cg``, :mod:`krylearn.solvers.krylov.cg_torch`) against ``kl.cg`` on the same matrix in SciPy CSR
  form. (No GPU was lent to this task: CUDA timings are not measured here.)
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
from _common import median_time, write_result  # noqa: E402

ROOT = os.path.dirname(HERE)
PIN_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
USER_VARIABLES = PIN_VARIABLES + ("KRYLEARN_NUM_THREADS",)


def parse():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small problems, k up to 8, 1 repeat")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--output", default=None)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return ap.parse_args()


# -- worker ---------------------------------------------------------------------------------------
def _median_time(fn, repeats):
    return median_time(fn, repeats)[0]


def _elasticity(quick):
    from kernels import fem_matrices

    return [m for m in fem_matrices(quick) if "elasticity P1" in m[0]][0]


def worker(quick, repeats):
    import numpy as np
    import scipy.sparse.linalg as spla

    import krylearn as kl
    from krylearn.solvers.krylov.batched_cg import batched_cg

    iters = 20 if quick else 100
    side = 256 if quick else 1024
    out = {"threads": kl.get_num_threads(), "iters": iters}
    name, K = _elasticity(quick)
    mask = kl.pde.obstacles.random_domain((side, side), "ellipses_lshapes", seed=7)
    problems = [(name, K), (f"grid stencil {side}², ellipses_lshapes obstacles", kl.pde.poisson((side, side), mask=mask)),
                (f"grid stencil {side}², no obstacles", kl.pde.poisson((side, side)))]
    ks = (1, 8) if quick else (1, 8, 32)
    rng = np.random.default_rng(0)
    rows = []
    for pname, A in problems:
        n = A.shape[0]
        C = A if hasattr(A, "indptr") else A.tocsr()
        Bfull = rng.standard_normal((n, max(ks)))
        # compile every path's kernels outside the timings
        kl.cg(A, Bfull[:, :2], rtol=0.0, maxiter=2)
        kl.cg(A, Bfull[:, 0], rtol=0.0, maxiter=2)
        kl.cg(A, Bfull[:, :1], rtol=0.0, maxiter=2)
        batched_cg(A, Bfull[:, :2], rtol=0.0, maxiter=2)
        batched_cg(A, Bfull[:, :1], rtol=0.0, maxiter=2)
        for k in ks:
            B = np.ascontiguousarray(Bfull[:, :k])
            per = lambda t: 1e3 * t / (k * iters)  # noqa: E731  ms per iteration per column
            r = {"problem": pname, "n": n, "k": k}
            r["auto"] = per(_median_time(lambda: kl.cg(A, B, rtol=0.0, maxiter=iters), repeats))
            r["auto_batched"] = bool(kl.cg(A, B[:, :2], rtol=0.0, maxiter=1).info["batched"]) if k > 1 else False
            r["batched"] = per(_median_time(lambda: batched_cg(A, B, rtol=0.0, maxiter=iters), repeats))
            r["loop"] = per(_median_time(lambda: [kl.cg(A, B[:, j], rtol=0.0, maxiter=iters) for j in range(k)], repeats))
            r["scipy"] = per(_median_time(lambda: [spla.cg(C, B[:, j], rtol=0.0, atol=0.0, maxiter=iters)
                                                    for j in range(k)], repeats))
            rows.append(r)
            print(json.dumps(r), file=sys.stderr, flush=True)
    out["many"] = rows

    # float32 against float64
    side2 = 512 if quick else 2048
    prec = []
    for pname, A in ((name, K), (f"grid stencil {side2}², no obstacles", kl.pde.poisson((side2, side2)))):
        C = A if hasattr(A, "indptr") else A.tocsr()
        b = rng.standard_normal(A.shape[0])
        r = {"problem": pname, "n": A.shape[0]}
        for dt in ("float64", "float32"):
            bb = b.astype(dt)
            Cd = C.astype(dt)
            kl.cg(A, bb, rtol=0.0, maxiter=2)
            r[f"kl_{dt}"] = 1e3 * _median_time(lambda: kl.cg(A, bb, rtol=0.0, maxiter=iters), repeats) / iters
            r[f"scipy_{dt}"] = 1e3 * _median_time(lambda: spla.cg(Cd, bb, rtol=0.0, atol=0.0, maxiter=iters),
                                                  repeats) / iters
        prec.append(r)
        print(json.dumps(r), file=sys.stderr, flush=True)
    out["precision"] = prec

    # torch on the CPU
    try:
        import torch
    except ImportError:
        return out
    T = torch.sparse_csr_tensor(torch.as_tensor(K.indptr, dtype=torch.int64), torch.as_tensor(K.indices, dtype=torch.int64),
                                torch.as_tensor(K.data), size=K.shape)
    bt = torch.as_tensor(rng.standard_normal(K.shape[0]))
    bn = bt.numpy()
    kl.cg(T, bt, rtol=0.0, maxiter=2)
    out["torch"] = {"problem": name, "n": K.shape[0], "torch_threads": torch.get_num_threads(),
                    "torch_ms": 1e3 * _median_time(lambda: kl.cg(T, bt, rtol=0.0, maxiter=iters), repeats) / iters,
                    "numpy_ms": 1e3 * _median_time(lambda: kl.cg(K, bn, rtol=0.0, maxiter=iters), repeats) / iters}
    # MINRES in torch (kl.minres's torch path) against kl.minres and SciPy's minres on the same matrix
    kl.minres(T, bt, rtol=0.0, maxiter=2)
    out["torch"].update(
        minres_torch_ms=1e3 * _median_time(lambda: kl.minres(T, bt, rtol=0.0, maxiter=iters), repeats) / iters,
        minres_numpy_ms=1e3 * _median_time(lambda: kl.minres(K, bn, rtol=0.0, maxiter=iters), repeats) / iters,
        minres_scipy_ms=1e3 * _median_time(lambda: spla.minres(K, bn, rtol=0.0, maxiter=iters), repeats) / iters)
    return out


# -- parent ---------------------------------------------------------------------------------------
def run_worker(kind, quick, repeats):
    env = {k: v for k, v in os.environ.items() if k not in USER_VARIABLES}
    if kind == "pinned":
        env.update({k: "1" for k in PIN_VARIABLES})
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--repeats", str(repeats)] + (["--quick"] if quick else [])
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT, timeout=3600)
    if res.returncode != 0:
        raise RuntimeError(f"{kind} worker failed:\n{res.stderr[-4000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main():
    args = parse()
    repeats = 1 if args.quick else args.repeats
    if args.worker:
        print(json.dumps(worker(args.quick, repeats)))
        return
    t0 = time.time()
    d = run_worker("default", args.quick, repeats)
    p = run_worker("pinned", args.quick, repeats)
    elapsed = time.time() - t0
    lines = ["## Many right-hand sides, float32 and torch tensors", "",
             "Command: `.venv/bin/python benchmarks/many_rhs.py" + (" --quick" if args.quick else "") + "`. "
             f"Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
             f"{os.cpu_count()} cores; median of {repeats} repeats; {d['iters']} CG iterations per solve (rtol = 0); "
             f"*default*: no thread variable set ({d['threads']} threads for krylearn), *pinned*: every pool at one "
             f"thread, each in its own process; total {elapsed / 60:.1f} min. Method: `benchmarks/many_rhs.py` docstring.",
             "", "Milliseconds per CG iteration **per right-hand side** (lower is better).", "",
             "| problem | k | `kl.cg(A, B)` | its choice | batched CG | k × `kl.cg` | k × SciPy `cg` | "
             "`kl.cg(A, B)` ÷ SciPy | pinned: `kl.cg(A, B)` | pinned: k × SciPy | pinned ratio |",
             "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for rd, rp in zip(d["many"], p["many"]):
        choice = "batched" if rd["auto_batched"] else ("—" if rd["k"] == 1 else "loop")
        lines.append(f"| {rd['problem']} | {rd['k']} | {rd['auto']:.3f} | {choice} | {rd['batched']:.3f} | "
                     f"{rd['loop']:.3f} | {rd['scipy']:.3f} | {rd['auto'] / rd['scipy']:.2f} | {rp['auto']:.3f} | "
                     f"{rp['scipy']:.3f} | {rp['auto'] / rp['scipy']:.2f} |")
    lines += ["", "| problem | n | kl float64 [ms/it] | kl float32 | float32 ÷ float64 | SciPy float64 | SciPy float32 | "
              "kl float32 ÷ SciPy float32 | pinned: kl float32 ÷ float64 |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for rd, rp in zip(d["precision"], p["precision"]):
        lines.append(f"| {rd['problem']} | {rd['n']:,} | {rd['kl_float64']:.3f} | {rd['kl_float32']:.3f} | "
                     f"{rd['kl_float32'] / rd['kl_float64']:.2f} | {rd['scipy_float64']:.3f} | {rd['scipy_float32']:.3f} | "
                     f"{rd['kl_float32'] / rd['scipy_float32']:.2f} | {rp['kl_float32'] / rp['kl_float64']:.2f} |")
    if "torch" in d:
        td, tp = d["torch"], p["torch"]
        lines += ["", f"torch on the CPU ({td['problem']}, n = {td['n']:,}): `kl.cg` on a torch CSR tensor "
                  f"{td['torch_ms']:.3f} ms per iteration ({td['torch_threads']} torch threads) against "
                  f"{td['numpy_ms']:.3f} ms for `kl.cg` on the SciPy CSR matrix ({td['torch_ms'] / td['numpy_ms']:.2f}×); "
                  f"pinned {tp['torch_ms']:.3f} vs {tp['numpy_ms']:.3f} ms ({tp['torch_ms'] / tp['numpy_ms']:.2f}×). "
                  "CUDA: not measured (no GPU lent to this task).",
                  "", f"`kl.minres` on the torch CSR tensor (its torch path, `minres_torch`): {td['minres_torch_ms']:.3f} ms per "
                  f"iteration against {td['minres_numpy_ms']:.3f} ms for `kl.minres` and {td['minres_scipy_ms']:.3f} ms for "
                  f"SciPy's `minres` on the SciPy CSR matrix ({td['minres_torch_ms'] / td['minres_scipy_ms']:.2f}× SciPy); "
                  f"pinned {tp['minres_torch_ms']:.3f} vs {tp['minres_scipy_ms']:.3f} ms "
                  f"({tp['minres_torch_ms'] / tp['minres_scipy_ms']:.2f}×)."]
    write_result("\n".join(lines) + "\n", "many_rhs", args.quick, args.output)


if __name__ == "__main__":
    main()

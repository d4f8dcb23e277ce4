"""Mixed precision (issue 18): float32 solves inside float64 iterative refinement against pure float64.

Run:  .venv/bin/python benchmarks/mixed_precision.py [--quick] [--repeats R] [--threads N]

Each problem is solved to rtol 1e-10 (x0 = 0, random b, fixed seed) by ``kl.cg(..., precision="mixed")``
and by ``kl.cg`` in float64, with the same preconditioner, and by SciPy's ``cg`` (float64, same
preconditioner where SciPy can take it: none or the multigrid cycle as a LinearOperator). Times are
medians of ``--repeats`` and include everything a user pays per call (the float32 copy of a CSR
matrix is made inside the mixed solve). Default thread environment unless ``--threads`` pins it.
Problems: the scikit-fem 3D elasticity matrix of ``benchmarks/kernels.py`` (CSR, no preconditioner)
and the 1024² (quick: 512²) grid stencil with ``ellipses_lshapes`` obstacles, plain and with
``kl.precond.multigrid``.
"""

import datetime
import os
import platform
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _common import median_time, pin_threads, standard_parser, thread_note, write_result  # noqa: E402

ARGS = standard_parser(__doc__, "512² grid, elasticity on 12³ points, 1 repeat", "mixed_precision").parse_args()
pin_threads(ARGS.threads)

import numpy as np  # noqa: E402
import scipy.sparse.linalg as spla  # noqa: E402

import krylearn as kl  # noqa: E402
from kernels import fem_matrices  # noqa: E402

RTOL = 1e-10


def main():
    repeats = ARGS.repeats or (1 if ARGS.quick else 3)
    side = 512 if ARGS.quick else 1024
    name, K = [m for m in fem_matrices(ARGS.quick) if "elasticity P1" in m[0]][0]
    mask = kl.pde.obstacles.random_domain((side, side), "ellipses_lshapes", seed=11)
    S = kl.pde.poisson((side, side), mask=mask)
    MG = kl.precond.multigrid(S)
    problems = [(name, K, None), (f"grid stencil {side}², ellipses_lshapes", S, None),
                (f"grid stencil {side}², ellipses_lshapes, multigrid PCG", S, MG)]
    rng = np.random.default_rng(0)
    lines = ["## Mixed precision", "",
             f"Command: `.venv/bin/python benchmarks/mixed_precision.py{' --quick' if ARGS.quick else ''}`. "
             f"Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
             f"{os.cpu_count()} cores, {thread_note(ARGS.threads)}; rtol {RTOL:g}; median of {repeats}. "
             "Method: `benchmarks/mixed_precision.py` docstring.", "",
             "| problem | n | float64 `kl.cg` [s] (its) | mixed [s] (inner its, refinements) | mixed ÷ float64 | "
             "SciPy `cg` float64 [s] | mixed ÷ SciPy | true relative residual, mixed |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for pname, A, M in problems:
        n = A.shape[0]
        C = A if hasattr(A, "indptr") else A.tocsr()
        b = rng.standard_normal(n)
        kl.cg(A, b, rtol=1e-2, M=M)
        kl.cg(A, b, rtol=1e-2, M=M, precision="mixed")
        t64, r64 = median_time(lambda: kl.cg(A, b, rtol=RTOL, M=M), repeats)
        tmx, rmx = median_time(lambda: kl.cg(A, b, rtol=RTOL, M=M, precision="mixed"), repeats)
        Ms = None if M is None else spla.LinearOperator(A.shape, matvec=M.matvec)
        tsp, _ = median_time(lambda: spla.cg(C, b, rtol=RTOL, atol=0.0, M=Ms, maxiter=10 * n), repeats)
        true = np.linalg.norm(b - C @ rmx.x) / np.linalg.norm(b)
        lines.append(f"| {pname} | {n:,} | {t64:.3f} ({r64.iterations}) | {tmx:.3f} ({rmx.iterations}, "
                     f"{rmx.info['refinements']}) | {tmx / t64:.2f} | {tsp:.3f} | {tmx / tsp:.2f} | {true:.1e} |")
        print(lines[-1], flush=True)
    lines += ["", "Each refinement restarts the Krylov space: the inner solves together need more iterations "
              "than one float64 solve, which a float32 iteration (0.7–1.0× the time of a float64 one) does "
              "not pay back for CG here. Mixed precision is for memory (float32 vectors and matrix in the "
              "inner solves) and for solvers whose cost per iteration grows (GMRES), not for CG's speed."]
    write_result("\n".join(lines) + "\n", "mixed_precision", ARGS.quick, ARGS.output)


if __name__ == "__main__":
    main()

"""Sketching least squares with many right-hand sides (issue 18) against LAPACK on the same block.

Run:  .venv/bin/python benchmarks/lstsq_many_rhs.py [--quick] [--repeats R] [--threads N]

A dense Gaussian ``A`` (100000×400; quick: 20000×100) and ``k`` = 1, 8, 32 right-hand sides
(``b = A x + noise``), solved to LAPACK-level accuracy (``rtol=None``). Compared in the same run,
medians of ``--repeats``, set-up included: ``kl.lstsq(A, B)`` (one sketch and factorisation shared
by the columns), ``k`` separate ``kl.lstsq`` calls, and ``scipy.linalg.lstsq(A, B)`` with LAPACK's
``gelsd`` and ``gelsy`` (one factorisation for the block). Default thread environment unless
``--threads`` pins it.
"""

import datetime
import os
import platform
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _common import median_time, pin_threads, standard_parser, thread_note, write_result  # noqa: E402

ARGS = standard_parser(__doc__, "20000×100, 1 repeat", "lstsq_many_rhs").parse_args()
pin_threads(ARGS.threads)

import numpy as np  # noqa: E402
import scipy.linalg as sla  # noqa: E402

import krylearn as kl  # noqa: E402


def main():
    repeats = ARGS.repeats or (1 if ARGS.quick else 3)
    n, d = (20000, 100) if ARGS.quick else (100000, 400)
    rng = np.random.default_rng(0)
    A = rng.standard_normal((n, d))
    kl.lstsq(A[:2000], rng.standard_normal(2000))  # compile the kernels outside the timings
    lines = ["## Sketching least squares with many right-hand sides", "",
             f"Command: `.venv/bin/python benchmarks/lstsq_many_rhs.py{' --quick' if ARGS.quick else ''}`. "
             f"Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
             f"{os.cpu_count()} cores, {thread_note(ARGS.threads)}; dense Gaussian A {n}×{d}; median of {repeats}; "
             "set-up included. Method: `benchmarks/lstsq_many_rhs.py` docstring.", "",
             "| k | `kl.lstsq(A, B)` [s] | k × `kl.lstsq` [s] | shared ÷ loop | gelsd(A, B) [s] | gelsy(A, B) [s] | "
             "`kl.lstsq(A, B)` ÷ gelsy | max rel. error vs gelsd |", "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for k in (1, 8) if ARGS.quick else (1, 8, 32):
        B = A @ rng.standard_normal((d, k)) + 0.1 * rng.standard_normal((n, k))
        t_shared, res = median_time(lambda: kl.lstsq(A, B if k > 1 else B[:, 0], seed=1), repeats)
        t_loop, _ = median_time(lambda: [kl.lstsq(A, B[:, j], seed=1) for j in range(k)], repeats)
        t_gelsd, ref = median_time(lambda: sla.lstsq(A, B, lapack_driver="gelsd")[0], repeats)
        t_gelsy, _ = median_time(lambda: sla.lstsq(A, B, lapack_driver="gelsy")[0], repeats)
        X = np.asarray(res.x).reshape(d, k)
        err = float(np.max(np.linalg.norm(X - ref, axis=0) / np.linalg.norm(ref, axis=0)))
        lines.append(f"| {k} | {t_shared:.3f} | {t_loop:.3f} | {t_shared / t_loop:.2f} | {t_gelsd:.3f} | "
                     f"{t_gelsy:.3f} | {t_shared / t_gelsy:.2f} | {err:.1e} |")
        print(lines[-1], flush=True)
    write_result("\n".join(lines) + "\n", "lstsq_many_rhs", ARGS.quick, ARGS.output)


if __name__ == "__main__":
    main()

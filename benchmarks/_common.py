"""What the benchmark scripts share: the standard command line and thread pinning.

Thread counts must be fixed in the environment *before* numpy, scipy or numba are imported (their
thread pools read it once), so a script parses its arguments and calls :func:`pin_threads` first,
then imports the numerical stack. Every contestant in a comparison runs with the same count.
"""

import argparse
import os

THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def pin_threads(n):
    """Hold BLAS, OpenMP, MKL and numba to ``n`` threads (call before importing numpy); ``None``
    leaves the user's default environment (what users run; krylearn's own policy applies)."""
    if n is None:
        return
    for var in THREAD_VARIABLES:
        os.environ[var] = str(int(n))


def standard_parser(doc, quick_help, name):
    """The options common to the solver benchmarks: --quick, --repeats, --threads, --output."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help=quick_help)
    ap.add_argument("--repeats", type=int, default=None, help="repeats per method (default 5; 2 with --quick)")
    ap.add_argument("--threads", type=int, default=None,
                    help="pin BLAS/OpenMP/numba to this many threads (default: the user's default environment)")
    ap.add_argument("--output", default=None, help=f"markdown output (default benchmarks/results/{name}.md)")
    return ap


def thread_note(n):
    """How a result's header names its thread environment."""
    if n is None:
        return "default thread environment (no thread variable set)"
    return f"pinned to {n} thread(s) for BLAS/OpenMP/numba"


def write_result(text, name, quick=False, output=None):
    """Write a benchmark's markdown to ``output`` or ``benchmarks/results/<name>[_quick].md``, echo it."""
    here = os.path.dirname(os.path.abspath(__file__))
    path = output or os.path.join(here, "results", name + ("_quick" if quick else "") + ".md")
    with open(path, "w") as fh:
        fh.write(text)
    print(text)
    print(f"wrote {path}")
    return path


def median_time(fn, repeats):
    """Median wall time of ``repeats`` calls of ``fn()`` and the last call's return value."""
    import time

    import numpy as np

    ts, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts)), out

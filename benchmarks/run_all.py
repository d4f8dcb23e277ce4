"""Run every benchmark script in benchmarks/ (one after another), then assemble BENCHMARKS.md.

``.venv/bin/python benchmarks/run_all.py [--quick]``
"""

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = ["threads.py", "kernels.py", "cg.py", "precond.py", "multigrid.py", "krylov.py", "krylov_breadth.py", "petsc.py", "tuning.py", "workloads.py", "many_rhs.py", "mixed_precision.py", "lstsq_many_rhs.py", "dcdm.py", "gphm.py", "lstsq.py"]


def main():
    extra = sys.argv[1:]
    failed = []
    for s in SCRIPTS:
        path = os.path.join(HERE, s)
        if not os.path.exists(path):
            continue
        print(f"=== {s}", flush=True)
        if subprocess.call([sys.executable, path, *extra]) != 0:
            failed.append(s)
    subprocess.call([sys.executable, os.path.join(HERE, "assemble.py")])
    if failed:
        print("failed:", ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

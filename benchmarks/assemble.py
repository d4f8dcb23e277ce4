"""Assemble BENCHMARKS.md from the per-benchmark result files in benchmarks/results/.

Each benchmark script writes its own ``benchmarks/results/<name>.md`` (its table, the exact
command that produced it, the date and machine notes); this script puts them in one file
in a fixed order. Run: ``.venv/bin/python benchmarks/assemble.py``.
"""

import os
import sys

ORDER = ["threads", "kernels", "cg", "precond", "multigrid", "krylov", "krylov_breadth", "petsc", "tuning", "workloads", "many_rhs", "mixed_precision", "lstsq_many_rhs", "dcdm", "gphm", "lstsq"]
HERE = os.path.dirname(os.path.abspath(__file__))

HEADER = """# krylearn benchmarks

Latest results of the scripts in `benchmarks/`. Every table compares krylearn with its real peers
(SciPy, PETSc via petsc4py, PyAMG, LAPACK) **in the same run** on this project's machine kind
(2 CPU cores, 24 GiB, no GPU), reports medians over repeats and ratios, and names the command that
produced it. Re-run everything with `make bench` (or one script, as its section says).
Timings are wall-clock on a shared 2-core machine: ratios from the same run are what count.
"""


def _as_section(text):
    """Demote a result file's headings so that its title is a level-2 section of BENCHMARKS.md."""
    if not text.startswith("# "):
        return text
    lines = text.splitlines()
    in_code = False
    for i, line in enumerate(lines):
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and line.startswith("#"):
            lines[i] = "#" + line
    return "\n".join(lines)


def main():
    res_dir = os.path.join(HERE, "results")
    names = [f[:-3] for f in sorted(os.listdir(res_dir)) if f.endswith(".md")] if os.path.isdir(res_dir) else []
    names = [n for n in names if not n.endswith("_quick")]   # smoke runs are not results
    names = [n for n in ORDER if n in names] + [n for n in names if n not in ORDER]
    parts = [HEADER]
    for n in names:
        with open(os.path.join(res_dir, n + ".md")) as fh:
            parts.append(_as_section(fh.read().strip()) + "\n")
    out = os.path.join(os.path.dirname(HERE), "BENCHMARKS.md")
    with open(out, "w") as fh:
        fh.write("\n".join(parts))
    print(f"wrote {out} ({len(names)} sections)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

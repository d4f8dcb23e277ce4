"""The main job (`make demo`) on a small grid: every row solves, the table and PNG appear."""

import subprocess
import sys


def test_demo_small(tmp_path):
    png = tmp_path / "conv.png"
    out = subprocess.run([sys.executable, "-m", "krylearn", "demo", "--n", "12", "--out", str(png)],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    for row in ("CG (matrix-free)", "IC(0)-PCG", "SSOR-PCG", "AMG-PCG", "GMG-PCG", "MINRES"):
        line = next(ln for ln in text.splitlines() if ln.startswith(row))
        assert "converged" in line, line
    assert png.exists() and png.stat().st_size > 10_000

"""Every ```python snippet of README.md runs (issue 12: old names keep working, new ones are right).

The snippets are illustrations: they use names a reader supplies (``right_hand_sides``, ``A_rect``,
``systems``, ``ksp``...). Each block runs in its own namespace with those names defined at small
sizes, and with the grid sizes scaled down (the only edits: ``SMALLER``)."""

import re
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import krylearn as kl

ROOT = Path(__file__).resolve().parents[1]
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)

#: grid sizes of the README -> the sizes the test runs
SMALLER = {"(128, 128, 128)": "(12, 12, 12)", "(1024, 1024)": "(64, 64)", "(64, 64, 64)": "(16, 16, 16)",
           "(256, 256)": "(16, 16)", "grid=200": "grid=40"}


def _names(i):
    """What block ``i`` uses without defining it."""
    n = 12 ** 3
    rng = np.random.default_rng(0)
    ns = {"np": np, "kl": kl}
    if i == 0:
        torch = pytest.importorskip("torch")
        S = kl.pde.poisson((6, 6)).tocsr().toarray()
        ns.update(right_hand_sides=[rng.standard_normal(n) for _ in range(2)],
                  A_rect=sp.random(60, 12, density=0.3, random_state=1, format="csr"), b_rect=rng.standard_normal(60),
                  A_singular=kl.pde.poisson((12, 12, 12), bc="neumann"), B=rng.standard_normal((n, 3)),
                  A_torch_cuda=torch.tensor(S), b_torch_cuda=torch.ones(36, dtype=torch.float64),
                  scipy_csr=kl.pde.poisson((6, 6)).tocsr())
    elif i == 2:
        ns["systems"] = [(kl.pde.poisson((8, 8)).tocsr() * (1 + c), np.ones(64), c) for c in (0.1, 0.5, 0.9)]
    elif i == 3:
        shape = (16, 16)
        ns.update(steps=3, shape=shape, p_prev=None,
                  fluid=lambda step: kl.pde.obstacles.random_domain(shape, family="spheres_boxes", seed=step),
                  rhs=lambda step: np.random.default_rng(step).standard_normal(
                      int(kl.pde.obstacles.random_domain(shape, family="spheres_boxes", seed=step).sum())))
    elif i == 5:
        ns["points"] = np.linspace(0.0, 1.0, 7)[:, None]
    elif i == 6:
        A = rng.standard_normal((2000, 20))
        ns.update(A=A, b=A @ np.ones(20))
    elif i == 7:
        petsc4py = pytest.importorskip("petsc4py")
        from petsc4py import PETSc

        A_csr = kl.pde.poisson((8, 8)).tocsr()
        ksp = PETSc.KSP().create(comm=PETSc.COMM_SELF)
        ns.update(ksp=ksp, A_csr=A_csr, A=A_csr, b=np.ones(64), petsc4py=petsc4py)
    return ns


def test_the_readme_has_its_snippets():
    assert len(BLOCKS) >= 8


@pytest.mark.parametrize("i", range(len(BLOCKS)))
def test_readme_snippet_runs(i, tmp_path, monkeypatch):
    if i == 4:
        pytest.importorskip("torch")
    if i == 5:
        pytest.importorskip("torch")
    code = BLOCKS[i]
    for big, small in SMALLER.items():
        code = code.replace(big, small)
    monkeypatch.chdir(tmp_path)          # the snippets save tuner.json, choices.png, auto.json
    ns = _names(i)
    exec(compile(code, f"README.md block {i + 1}", "exec"), ns)

"""The peer solvers of the geometric-multigrid benchmark (benchmarks/multigrid_peers.py) on small
obstacle domains: each converges to the krylearn stopping rule, checked on the true residual."""

import importlib.util
import os

import numpy as np
import pytest

import krylearn as kl

_PATH = os.path.join(os.path.dirname(__file__), "..", "benchmarks", "multigrid_peers.py")


@pytest.fixture(scope="module")
def peers():
    spec = importlib.util.spec_from_file_location("multigrid_peers", _PATH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


NEEDS = {"petsc_cg_pcmg": "petsc4py", "petsc_cg_gamg": "petsc4py", "petsc_cg_icc": "petsc4py",
         "pyamg_sa_pcg": "pyamg", "krylearn_ic0_pcg": None}


@pytest.mark.parametrize("name", sorted(NEEDS))
@pytest.mark.parametrize("shape,family", [((40, 36), "ellipses_lshapes"), ((48, 48), "thin_walls"),
                                          ((17, 16, 20), "thin_walls")])
def test_peer_converges(peers, name, shape, family):
    if NEEDS[name]:
        pytest.importorskip(NEEDS[name])
    mask = kl.pde.obstacles.random_domain(shape, family, seed=1000)
    A = kl.pde.poisson(shape, mask=mask)
    b = np.random.default_rng(0).standard_normal(A.shape[0])
    rtol = 1e-6
    r = peers.PEERS[name](A, b, rtol)
    assert r["converged"], r
    assert r["relres"] <= rtol * 1.01, r
    assert 0 < r["iterations"] < 2000
    assert r["total_s"] == pytest.approx(r["setup_s"] + r["solve_s"])
    assert 0 <= r["convert_s"] <= r["setup_s"]


def test_dmda_levels(peers):
    assert peers.dmda_levels((512, 512)) == (9, (513, 513))
    assert peers.dmda_levels((96, 96, 96)) == (6, (97, 97, 97))
    assert peers.dmda_levels((33, 17)) == (4, (33, 17))       # already 2^k + 1: no padding
    L, M = peers.dmda_levels((100, 60), levels=3)
    assert all((m - 1) % 4 == 0 and m >= n for m, n in zip(M, (100, 60)))


def test_stream_triad_small(peers):
    s = peers.stream_triad_gbs(n=200_000, repeats=2)
    assert s["serial_gbs"] > 0 and s["parallel_gbs"] > 0 and s["threads"] >= 1

"""The threading policy (krylearn/threads.py): one budget, BLAS on one thread inside solvers,
parallel kernels only above a size, torch threads by work."""

import numpy as np
import pytest

import krylearn as kl
from krylearn import threads


@pytest.fixture(autouse=True)
def _restore_pools():
    """Put every pool back as the test process had it (make test pins BLAS to one thread per worker)."""
    import sys

    blas = [(setter, int(getter())) for setter, getter in threads._blas_pools()]
    numba_threads = threads.nb.get_num_threads()
    torch = sys.modules.get("torch")
    torch_threads = torch.get_num_threads() if torch is not None else None
    yield
    threads._budget = None
    for setter, n in blas:
        setter(n)
    threads.nb.set_num_threads(numba_threads)
    if torch is not None:
        torch.set_num_threads(torch_threads)


def _blas_sizes():
    return [int(getter()) for _setter, getter in threads._blas_pools()]


def test_budget_round_trip():
    default = kl.get_num_threads()
    assert 1 <= default <= threads.nb.config.NUMBA_NUM_THREADS
    assert kl.set_num_threads(1) == 1
    assert kl.get_num_threads() == 1
    assert threads.nb.get_num_threads() == 1
    assert all(s == 1 for s in _blas_sizes())
    # more than numba was started with is capped, not an error
    assert kl.set_num_threads(10_000) == threads.nb.config.NUMBA_NUM_THREADS
    assert kl.set_num_threads(None) == default


@pytest.mark.parametrize("bad", [0, -2])
def test_budget_rejects_non_positive(bad):
    with pytest.raises(ValueError, match="positive integer"):
        kl.set_num_threads(bad)


@pytest.mark.parametrize("bad", [1.5, True, "2"])
def test_budget_rejects_non_integers(bad):
    with pytest.raises(TypeError, match="positive integer"):
        kl.set_num_threads(bad)


def test_environment_variable(monkeypatch):
    monkeypatch.setenv(threads.ENV, "1")
    assert kl.get_num_threads() == 1
    monkeypatch.setenv(threads.ENV, "many")
    with pytest.raises(ValueError, match=threads.ENV):
        kl.get_num_threads()
    monkeypatch.setenv(threads.ENV, "0")
    with pytest.raises(ValueError, match=threads.ENV):
        kl.get_num_threads()


def test_blas_threads_restores_the_callers_sizes():
    if not threads._blas_pools():
        pytest.skip("no BLAS pool found in /proc/self/maps")
    before = _blas_sizes()
    with threads.blas_threads(1):
        assert all(s == 1 for s in _blas_sizes())
    assert _blas_sizes() == before


def test_solvers_run_blas_on_one_thread():
    if not threads._blas_pools():
        pytest.skip("no BLAS pool found in /proc/self/maps")
    kl.set_num_threads(2)
    before = _blas_sizes()
    seen = []
    A = kl.pde.poisson((16, 16))
    b = np.ones(A.shape[0])
    res = kl.cg(A, b, rtol=1e-8, callback=lambda state: seen.append(_blas_sizes()))
    assert res.converged and seen
    assert all(s == 1 for sizes in seen for s in sizes)
    assert _blas_sizes() == before


def test_pick_follows_the_budget_and_size(monkeypatch):
    from krylearn.solvers._kernels import _dot

    x = np.random.default_rng(0).standard_normal(5000)
    assert threads.pick(_dot, x.size) is _dot                      # below PARALLEL_MIN: serial
    monkeypatch.setattr(threads, "PARALLEL_MIN", 1000)
    kl.set_num_threads(1)
    assert threads.pick(_dot, x.size) is _dot                      # one thread: serial
    if threads.nb.config.NUMBA_NUM_THREADS >= 2:
        kl.set_num_threads(2)
        par = threads.pick(_dot, x.size)
        assert par is not _dot
        assert par(x, x) == pytest.approx(float(x @ x), rel=1e-12)


def test_torch_threads_by_work():
    torch = pytest.importorskip("torch")
    old = torch.get_num_threads()
    with threads.torch_threads(16):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == old
    with threads.torch_threads(1 << 30):
        assert torch.get_num_threads() == kl.get_num_threads()
    assert torch.get_num_threads() == old
    kl.set_num_threads(1)
    assert torch.get_num_threads() == 1


@pytest.mark.parametrize("user_value", [None, "ACTIVE"])
def test_import_makes_idle_openmp_workers_sleep_unless_the_user_chose(user_value):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if user_value is not None:
        env["OMP_WAIT_POLICY"] = user_value
    out = subprocess.run([sys.executable, "-c", "import os, krylearn; print(os.environ['OMP_WAIT_POLICY'])"],
                         env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == (user_value or "PASSIVE")

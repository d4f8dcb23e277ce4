"""One threading policy for krylearn: how many threads BLAS, numba and torch use, and when.

A process that calls krylearn usually holds three thread pools: the BLAS of NumPy and SciPy
(OpenBLAS, one thread per core by default), numba's parallel layer (OpenMP, one per core) and, with
the learned solvers, torch's intra-op pool (OpenMP again). Each is sized for the whole machine and
none knows the others. When they alternate — a numba kernel, a BLAS dot product, a network
application — the idle workers of one pool spin while the next pool works, and on a machine where
another process holds a core a parallel region waits for a descheduled worker. Measured on a
2-core machine (``benchmarks/threads.py``, BENCHMARKS.md "Threads"): with every pool at its default
``kl.lstsq`` took 2–8× and DCDM 4× the time of the same call pinned to one thread.

The rules, in this module and nowhere else:

1. **One budget.** ``get_num_threads()`` threads for krylearn's own work: ``set_num_threads(n)``,
   else the environment variable ``KRYLEARN_NUM_THREADS``, else the CPUs this process may run on
   (``os.sched_getaffinity``), capped by the threads numba was started with (``NUMBA_NUM_THREADS``).
   ``set_num_threads`` also sets BLAS's and torch's pools for the process: the one documented knob
   for all three.
2. **BLAS runs one thread inside krylearn's solvers** (:func:`solver_threads`, applied by the
   solvers' common entry decorator, the preconditioner factories and DCDM). Their BLAS calls are level-1/2 products on vectors and small
   dense factorisations: memory-bound or too short to pay for waking a second thread, and an
   OpenBLAS worker spins after each call (measured: a 600×200 QR 200× slower when another process
   held the core). The caller's pool size is restored on return. Code that wants another size
   says so with :func:`blas_threads` (GP-HM: its ``blas_threads`` option). A QR of a 4800×401
   least-squares sketch, the largest dense factorisation in a solve, gained nothing measurable
   from a second BLAS thread here.
3. **Parallel numba kernels only where they win** (:func:`pick`): a kernel takes its
   ``parallel=True`` twin only for at least ``PARALLEL_MIN`` entries (default 2²¹, environment
   ``KRYLEARN_PARALLEL_MIN``) and when the budget is above one thread; below that a parallel region
   costs more in wake-ups and waiting than it saves (0.19 ms serial vs 4–16 ms with 2 threads for
   the 512² stencil on a shared machine).
4. **torch gets threads by work** (:func:`torch_threads`): a network application on fewer than
   ``TORCH_PARALLEL_MIN`` grid points (default 2¹⁵, environment ``KRYLEARN_TORCH_PARALLEL_MIN``) runs
   on one thread, larger ones on the budget. Measured with the shipped DCDM models, ms per iteration
   on 1 / 2 threads: 2D 128² 43 / 56, 2D 256² 132 / 112; 3D 64³ (the demo) 6.9 s / 4.3 s per solve.
5. **Idle workers sleep.** ``import krylearn`` sets ``OMP_WAIT_POLICY=PASSIVE`` unless the user set
   it, before numba's (and, when imported after krylearn, torch's) OpenMP runtime starts: an idle
   worker then sleeps instead of spinning. With another process on one core, a spinning worker
   competes with that process and with our own main thread for the two cores; measured on a
   100000×400 fused least-squares pass (2 threads): 36–48 ms spinning vs 24–27 ms passive (one
   thread: 24–28 ms), and 14–16 ms either way on a quiet machine. Set ``OMP_WAIT_POLICY=ACTIVE``
   before importing krylearn to keep spinning workers.

Users set the count with ``kl.set_num_threads(n)`` (or ``KRYLEARN_NUM_THREADS=n`` before start-up);
``kl.get_num_threads()`` reads it. Pools are found through ``/proc/self/maps`` (Linux); elsewhere
the BLAS part of the policy is a no-op and the environment variables of the BLAS apply.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import sys
import threading
import types
from typing import TYPE_CHECKING, Any, cast

import numba as nb

if TYPE_CHECKING:  # annotations only
    from typing import Callable, Iterator, TypeVar

    F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["get_num_threads", "set_num_threads", "blas_threads", "solver_threads", "torch_threads", "pick",
           "PARALLEL_MIN", "TORCH_PARALLEL_MIN"]

ENV = "KRYLEARN_NUM_THREADS"
PARALLEL_MIN = int(os.environ.get("KRYLEARN_PARALLEL_MIN", 1 << 21))
TORCH_PARALLEL_MIN = int(os.environ.get("KRYLEARN_TORCH_PARALLEL_MIN", 1 << 15))

_budget = None            # set_num_threads(n); None: from the environment / the machine
_lock = threading.Lock()


def _check_count(n, name):
    if isinstance(n, bool) or not isinstance(n, int) and not (hasattr(n, "__index__")):
        raise TypeError(f"{name} must be a positive integer, got {n!r}")
    n = int(n)
    if n < 1:
        raise ValueError(f"{name} must be a positive integer, got {n}")
    return n


def _machine_threads():
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, nb.config.NUMBA_NUM_THREADS))


def _env_threads():
    raw = os.environ.get(ENV)
    if raw is None or not raw.strip():
        return None
    try:
        n = int(raw)
    except ValueError:
        raise ValueError(f"{ENV} must be a positive integer, got {raw!r}") from None
    if n < 1:
        raise ValueError(f"{ENV} must be a positive integer, got {raw!r}")
    return n


def get_num_threads() -> int:
    """The number of threads krylearn uses for its own parallel work (rule 1 of the module docstring)."""
    if _budget is not None:
        return _budget
    env = _env_threads()
    return max(1, min(env, nb.config.NUMBA_NUM_THREADS)) if env is not None else _machine_threads()


def set_num_threads(n: int | None = None) -> int:
    """Set krylearn's thread budget to ``n`` and size the process's BLAS, numba and torch pools to it.

    ``n = None`` returns to the default (``KRYLEARN_NUM_THREADS`` or the CPUs of the process). numba
    cannot start more threads than it was launched with (``NUMBA_NUM_THREADS``, default: the CPU
    count), so ``n`` above that is capped. numba's setting is per Python thread: call this from the
    thread that runs the solves. Returns the budget now in force."""
    global _budget
    with _lock:
        _budget = None if n is None else min(_check_count(n, "n"), nb.config.NUMBA_NUM_THREADS)
        k = get_num_threads()
        nb.set_num_threads(k)
        for setter, _getter in _blas_pools():
            try:
                setter(k)
            except Exception:  # noqa: BLE001 - a pool that refuses keeps its size
                pass
        torch = sys.modules.get("torch")
        if torch is not None:
            torch.set_num_threads(k)
    return k


# -- BLAS pools -----------------------------------------------------------------------------------
_BLAS_SETTERS = (("openblas_set_num_threads", "openblas_get_num_threads"),
                 ("scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads"),
                 ("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
                 ("openblas_set_num_threads64_", "openblas_get_num_threads64_"),
                 ("MKL_Set_Num_Threads", "MKL_Get_Max_Threads"),
                 ("bli_thread_set_num_threads", "bli_thread_get_num_threads"))
_pools = None
_pools_key = None


def _loaded_blas_paths():
    paths = set()
    try:
        with open("/proc/self/maps") as fh:
            for line in fh:
                part = line.split()
                if len(part) >= 6 and ".so" in part[5]:
                    name = os.path.basename(part[5]).lower()
                    if "openblas" in name or "mkl_rt" in name or "libblis" in name:
                        paths.add(part[5])
    except OSError:
        pass
    return sorted(paths)


def _blas_pools():
    """``(setter, getter)`` of every BLAS thread pool loaded in the process, found once and again
    whenever new extension modules were imported (a new BLAS arrives only with one)."""
    global _pools, _pools_key
    key = len(sys.modules)
    if _pools is not None and key == _pools_key:
        return _pools
    found = []
    for path in _loaded_blas_paths():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for set_name, get_name in _BLAS_SETTERS:
            setter, getter = getattr(lib, set_name, None), getattr(lib, get_name, None)
            if setter is not None and getter is not None:
                setter.argtypes = [ctypes.c_int]
                setter.restype = None
                getter.argtypes = []
                getter.restype = ctypes.c_int
                found.append((setter, getter))
                break
    _pools, _pools_key = found, key
    return found


@contextlib.contextmanager
def blas_threads(n: int | None) -> Iterator[None]:
    """Hold every loaded BLAS pool to ``n`` threads inside the ``with`` block; the sizes the caller
    had are restored on exit (``n = None``: leave the pools alone)."""
    if n is None:
        yield
        return
    n = _check_count(n, "n")
    saved = []
    for setter, getter in _blas_pools():
        try:
            old = int(getter())
            if old != n:
                setter(n)
                saved.append((setter, old))
        except Exception:  # noqa: BLE001 - a pool that refuses keeps its size
            pass
    try:
        yield
    finally:
        for setter, old in saved:
            try:
                setter(old)
            except Exception:  # noqa: BLE001
                pass


_depth = threading.local()


def solver_threads(fn: F) -> F:
    """Decorator for krylearn's solver entry points: BLAS held to one thread for the call (rule 2).
    Nested calls (a preconditioner's inner solve) do not touch the pools again."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if getattr(_depth, "n", 0):
            return fn(*args, **kwargs)
        _depth.n = 1
        try:
            with blas_threads(1):
                return fn(*args, **kwargs)
        finally:
            _depth.n = 0

    return cast("F", wrapper)  # functools.wraps: the wrapper takes and returns what fn does


# -- numba kernels --------------------------------------------------------------------------------
_PARALLEL_VERSIONS: dict[Any, Any] = {}  # numba dispatcher -> its parallel twin


def parallel_twin(kernel: Any) -> Any:
    """The ``parallel=True`` twin of a serial numba ``kernel`` written with ``nb.prange``: compiled
    (lazily) from the same Python source, a renamed copy so that numba's disk cache keeps the two
    apart. One twin per kernel; :func:`pick` chooses between the two at run time, and a jitted
    caller can call the twin directly."""
    par = _PARALLEL_VERSIONS.get(kernel)
    if par is None:
        fn = kernel.py_func
        twin = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + "_parallel", fn.__defaults__,
                                  fn.__closure__)
        twin.__qualname__ = fn.__qualname__ + "_parallel"
        twin.__module__ = fn.__module__
        twin.__doc__ = fn.__doc__
        options = {k_: v for k_, v in kernel.targetoptions.items() if k_ in ("fastmath", "boundscheck", "error_model")}
        par = _PARALLEL_VERSIONS[kernel] = nb.njit(parallel=True, nogil=True, cache=True, **options)(twin)
    return par


def pick(kernel: Any, n: int) -> Any:
    """The serial numba ``kernel`` or, for ``n ≥ PARALLEL_MIN`` with a budget above one thread, its
    ``parallel=True`` twin (rule 3), compiled from the same Python source and cached on disk like
    the serial one (the twin is a renamed copy of the function, so that numba's cache keeps the two
    apart; without the disk cache every new process paid ~10 s of compilation for a multigrid cycle
    on its first large grid). The twin runs on ``get_num_threads()`` threads."""
    if n < PARALLEL_MIN:
        return kernel
    k = get_num_threads()
    if k < 2:
        return kernel
    if nb.get_num_threads() != k:
        nb.set_num_threads(k)
    return parallel_twin(kernel)


# -- torch ----------------------------------------------------------------------------------------
@contextlib.contextmanager
def torch_threads(points: int, device: Any = None) -> Iterator[None]:
    """torch's intra-op pool for a network application on ``points`` grid points (rule 4): one
    thread below ``TORCH_PARALLEL_MIN``, the budget above; restored on exit. A no-op on CUDA."""
    torch = sys.modules.get("torch")
    if torch is None or (device is not None and str(device).startswith("cuda")):
        yield
        return
    want = 1 if points < TORCH_PARALLEL_MIN else get_num_threads()
    old = torch.get_num_threads()
    if old == want:
        yield
        return
    torch.set_num_threads(want)
    try:
        yield
    finally:
        torch.set_num_threads(old)

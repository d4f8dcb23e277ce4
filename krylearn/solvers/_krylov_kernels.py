"""Small numba kernels shared by the Krylov solvers (MINRES, GMRES, BiCGSTAB, FCG).

Reductions are compiled with ``fastmath={"reassoc"}``: reassociating the sum lets LLVM
vectorise it (a strict left-to-right sum is latency-bound, 3–10× slower than BLAS ``ddot``);
NaN/Inf semantics are kept. Real float64 C-contiguous vectors take the numba path; other
dtypes use NumPy (BLAS).
"""

import numba as nb
import numpy as np

__all__ = ["dot", "update_xr", "NB_REDUCE", "NB_PLAIN"]

NB_REDUCE = dict(cache=True, nogil=True, fastmath={"reassoc"})
NB_PLAIN = dict(cache=True, nogil=True)


@nb.njit(**NB_REDUCE)
def _dot(a, b):
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * b[i]
    return s


def dot(a, b):
    """``aᴴ b``: a vectorised numba reduction for real float64, ``numpy.vdot`` otherwise."""
    if a.dtype == np.float64 and b.dtype == np.float64 and a.flags.c_contiguous and b.flags.c_contiguous:
        return _dot(a, b)
    return np.vdot(a, b)


@nb.njit(**NB_REDUCE)
def _update_xr(x, r, p, q, alpha):
    s = 0.0
    for i in range(x.shape[0]):
        x[i] += alpha * p[i]
        ri = r[i] - alpha * q[i]
        r[i] = ri
        s += ri * ri
    return s


def update_xr(x, r, p, q, alpha):
    """In place ``x += α p``, ``r -= α q``; returns ``‖r‖²`` (one fused pass for real float64)."""
    if all(a.dtype == np.float64 and a.flags.c_contiguous for a in (x, r, p, q)) and np.isrealobj(alpha):
        return _update_xr(x, r, p, q, float(alpha))
    x += alpha * p
    r -= alpha * q
    return float(np.real(np.vdot(r, r)))

"""Fused vector kernels (numba) for the Krylov hot loops.

Each kernel does in one pass over memory what NumPy would do in two or three (axpy, then a
dot product), which is what makes a CG iteration bandwidth-bound rather than
allocation-bound. Real float64 vectors take the numba path; other dtypes fall back to NumPy.
"""

import numba as nb
import numpy as np

_PAR = dict(parallel=True, fastmath=False, cache=True, nogil=True)


@nb.njit(**_PAR)
def _cg_update_xr(x, r, p, q, alpha):
    """x += alpha p; r -= alpha q; return r.r"""
    s = 0.0
    for i in nb.prange(x.shape[0]):
        x[i] += alpha * p[i]
        ri = r[i] - alpha * q[i]
        r[i] = ri
        s += ri * ri
    return s


@nb.njit(**_PAR)
def _xpby(p, z, beta):
    """p = z + beta p"""
    for i in nb.prange(p.shape[0]):
        p[i] = z[i] + beta * p[i]


@nb.njit(**_PAR)
def _dot(a, b):
    s = 0.0
    for i in nb.prange(a.shape[0]):
        s += a[i] * b[i]
    return s


def _is_fast(*arrays):
    return all(a.dtype == np.float64 and a.flags.c_contiguous for a in arrays)


def cg_update_xr(x, r, p, q, alpha):
    """In place: ``x += α p``, ``r -= α q``; returns ``‖r‖²`` (real part of ``rᴴ r``)."""
    if _is_fast(x, r, p, q) and np.isrealobj(alpha):
        return _cg_update_xr(x, r, p, q, float(alpha))
    x += alpha * p
    r -= alpha * q
    return float(np.real(np.vdot(r, r)))


def xpby(p, z, beta):
    """In place: ``p = z + β p``."""
    if _is_fast(p, z) and np.isrealobj(beta):
        _xpby(p, z, float(beta))
    else:
        p *= beta
        p += z


def dot(a, b):
    """``aᴴ b`` (fused numba reduction for real float64)."""
    if _is_fast(a, b):
        return _dot(a, b)
    return np.vdot(a, b)

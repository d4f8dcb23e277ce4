"""Numba kernels on CSR matrices with sorted column indices: diagonal lookup, ILU(0)/IC(0)
factorization in place on the pattern of ``A``, and the forward/backward triangular sweeps
used by the SSOR, IC(0) and ILU(0) preconditioners.

Every kernel takes the CSR arrays ``(indptr, indices, data)`` plus ``dptr``, the position of
the diagonal entry in each row (from :func:`diag_positions`), so that the strictly lower part
of row ``i`` is ``indptr[i]:dptr[i]`` and the strictly upper part ``dptr[i]+1:indptr[i+1]``.
The kernels are serial: a triangular solve is a recurrence. They are generic in the dtype
(numba compiles a float64 and a complex128 version on demand).

Reference: Y. Saad, "Iterative Methods for Sparse Linear Systems", 2nd ed., SIAM 2003,
Algorithm 10.4 (ILU(0), IKJ variant) and Section 4.1 (SOR/SSOR).
"""

import numba as nb
import numpy as np

from .._sweeps import diag_positions  # noqa: F401  (re-exported: the precond modules take it from here)

_JIT = dict(cache=True, nogil=True)
# FMA contraction allowed (no other fast-math): the sweeps are latency-bound recurrences
_FAST = dict(cache=True, nogil=True, fastmath={"contract"})


@nb.njit(**_JIT)
def ilu0_factor(indptr, indices, data, dptr, lu, positive):
    """ILU(0) of ``A`` in place in ``lu`` (a copy of ``data``), Saad's Algorithm 10.4.

    On return the strictly lower part of ``lu`` holds the unit lower factor ``L`` and the
    upper part (diagonal included) holds ``U``, both on the sparsity pattern of ``A``.
    For a symmetric ``A`` this is IC(0) in the form ``L D Lᵀ`` with ``U = D Lᵀ``.

    Returns ``-1`` on success, or the row of the first bad pivot: a pivot ``u_ii`` that is
    not finite or, when ``positive`` is True, ``u_ii <= 1e-12·Σ_j |a_ij|`` (IC(0) breakdown),
    otherwise ``|u_ii| <= 1e-14·Σ_j |a_ij|``.
    """
    n = indptr.shape[0] - 1
    iw = np.full(n, -1, dtype=np.int64)
    for i in range(n):
        r0 = indptr[i]
        r1 = indptr[i + 1]
        for p in range(r0, r1):
            iw[indices[p]] = p
        for p in range(r0, dptr[i]):
            k = indices[p]
            lik = lu[p] / lu[dptr[k]]
            lu[p] = lik
            for q in range(dptr[k] + 1, indptr[k + 1]):
                w = iw[indices[q]]
                if w != -1:
                    lu[w] -= lik * lu[q]
        for p in range(r0, r1):
            iw[indices[p]] = -1
        rs = 0.0
        for p in range(r0, r1):
            rs += abs(data[p])
        piv = lu[dptr[i]]
        if not np.isfinite(abs(piv)):
            return i
        if positive:
            if not (piv.real > 1e-12 * rs):
                return i
        elif not (abs(piv) > 1e-14 * rs):
            return i
    return -1


@nb.njit(**_JIT)
def lu_solve_adjoint(indptr, indices, lu, dptr, invpiv, r, z):
    """``z = L⁻ᴴ U⁻ᴴ r`` (the adjoint of :func:`lu_solve`), column-oriented sweeps over the CSR rows."""
    n = indptr.shape[0] - 1
    w = r.copy()
    for i in range(n):
        zi = w[i] * np.conj(invpiv[i])
        z[i] = zi
        for p in range(dptr[i] + 1, indptr[i + 1]):
            w[indices[p]] -= np.conj(lu[p]) * zi
    for i in range(n - 1, -1, -1):
        zi = z[i]
        for p in range(indptr[i], dptr[i]):
            z[indices[p]] -= np.conj(lu[p]) * zi


@nb.njit(**_FAST)
def ssor_apply(indptr, indices, data, dptr, invdiag, omega, r, z):
    """``z = M⁻¹ r`` for ``M = (D + ωL) D⁻¹ (D + ωU) / (ω(2 − ω))``.

    Forward sweep ``(D + ωL) y = ω(2−ω) r``, then backward sweep ``(D + ωU) z = D y``; this is
    one symmetric SOR sweep from a zero initial guess (what PETSc's PCSOR applies). The
    neighbour ``i∓1`` is taken from a register (see :func:`split_solve`)."""
    n = indptr.shape[0] - 1
    c = omega * (2.0 - omega)
    zprev = 0.0 * r[0]
    for i in range(n):
        s = 0.0 * r[i]
        p0 = indptr[i]
        pd = dptr[i]
        prev = pd > p0 and indices[pd - 1] == i - 1
        for p in range(p0, pd - 1 if prev else pd):
            s += data[p] * z[indices[p]]
        if prev:
            s += data[pd - 1] * zprev
        zi = (c * r[i] - omega * s) * invdiag[i]
        z[i] = zi
        zprev = zi
    zprev = 0.0 * r[0]
    for i in range(n - 1, -1, -1):
        s = 0.0 * z[i]
        pd = dptr[i]
        p1 = indptr[i + 1]
        nxt = p1 > pd + 1 and indices[pd + 1] == i + 1
        for p in range(pd + 2 if nxt else pd + 1, p1):
            s += data[p] * z[indices[p]]
        if nxt:
            s += data[pd + 1] * zprev
        zi = z[i] - omega * invdiag[i] * s
        z[i] = zi
        zprev = zi


@nb.njit(**_JIT)
def ssor_apply_adjoint(indptr, indices, data, dptr, invdiag, omega, r, z):
    """Adjoint of :func:`ssor_apply` for a non-Hermitian ``A``: ``z = M⁻ᴴ r``."""
    n = indptr.shape[0] - 1
    c = omega * (2.0 - omega)
    # (D + ωU)^H w = D^H... : M^-H = c (D+ωL)^-H D^H (D+ωU)^-H
    w = c * r.copy()
    # solve (D + ωU)^H y = w : forward over rows of U (column-oriented)
    for i in range(n):
        yi = w[i] * np.conj(invdiag[i])
        z[i] = yi
        for p in range(dptr[i] + 1, indptr[i + 1]):
            w[indices[p]] -= omega * np.conj(data[p]) * yi
    # t = D^H y ; solve (D + ωL)^H z = t : backward over rows of L (column-oriented)
    for i in range(n):
        w[i] = z[i] / np.conj(invdiag[i])
    for i in range(n - 1, -1, -1):
        zi = w[i] * np.conj(invdiag[i])
        z[i] = zi
        for p in range(indptr[i], dptr[i]):
            w[indices[p]] -= omega * np.conj(data[p]) * zi


@nb.njit(**_JIT)
def split_lu(indptr, indices, lu, dptr):
    """Copy the factors into two contiguous CSR arrays, strictly lower ``L`` and strictly upper
    ``U``, plus the inverse pivots, so each triangular sweep streams only its own half."""
    n = indptr.shape[0] - 1
    nl = 0
    nu = 0
    for i in range(n):
        nl += dptr[i] - indptr[i]
        nu += indptr[i + 1] - dptr[i] - 1
    lp = np.empty(n + 1, dtype=indptr.dtype)
    up = np.empty(n + 1, dtype=indptr.dtype)
    li = np.empty(nl, dtype=indices.dtype)
    ui = np.empty(nu, dtype=indices.dtype)
    lv = np.empty(nl, dtype=lu.dtype)
    uv = np.empty(nu, dtype=lu.dtype)
    inv = np.empty(n, dtype=lu.dtype)
    a = 0
    c = 0
    lp[0] = 0
    up[0] = 0
    for i in range(n):
        for p in range(indptr[i], dptr[i]):
            li[a] = indices[p]
            lv[a] = lu[p]
            a += 1
        for p in range(dptr[i] + 1, indptr[i + 1]):
            ui[c] = indices[p]
            uv[c] = lu[p]
            c += 1
        lp[i + 1] = a
        up[i + 1] = c
        inv[i] = 1.0 / lu[dptr[i]]
    return lp, li, lv, up, ui, uv, inv


@nb.njit(**_FAST)
def split_solve(lp, li, lv, up, ui, uv, inv, r, z):
    """``z = U⁻¹ L⁻¹ r`` with the split factors of :func:`split_lu` (unit ``L``; ``U`` given by its
    strict part and the inverse pivots ``inv``).

    Each sweep streams only its own triangle. The recurrence through the neighbour ``i∓1``
    (present in every stencil matrix) is carried in a register instead of a store and a reload,
    which shortens the dependency chain of these latency-bound loops (≈1.6× faster than the
    plain loop on the 5-point Laplacian)."""
    n = lp.shape[0] - 1
    zprev = 0.0 * r[0]
    for i in range(n):
        s = r[i]
        p0 = lp[i]
        p1 = lp[i + 1]
        if p1 > p0 and li[p1 - 1] == i - 1:
            for p in range(p0, p1 - 1):
                s -= lv[p] * z[li[p]]
            s -= lv[p1 - 1] * zprev
        else:
            for p in range(p0, p1):
                s -= lv[p] * z[li[p]]
        z[i] = s
        zprev = s
    zprev = 0.0 * r[0]
    for i in range(n - 1, -1, -1):
        s = z[i]
        p0 = up[i]
        p1 = up[i + 1]
        if p1 > p0 and ui[p0] == i + 1:
            for p in range(p0 + 1, p1):
                s -= uv[p] * z[ui[p]]
            s -= uv[p0] * zprev
        else:
            for p in range(p0, p1):
                s -= uv[p] * z[ui[p]]
        s *= inv[i]
        z[i] = s
        zprev = s


@nb.njit(**_JIT)
def symmetry_defect(indptr, indices, data):
    """``(max_ij |a_ij − conj(a_ji)|, max_ij |a_ij|)`` over the stored entries (a missing mirror
    entry counts as zero); sorted indices, ``O(nnz log(row length))``."""
    n = indptr.shape[0] - 1
    worst = 0.0
    amax = 0.0
    for i in range(n):
        for p in range(indptr[i], indptr[i + 1]):
            j = indices[p]
            v = data[p]
            if abs(v) > amax:
                amax = abs(v)
            if j == i:
                dv = abs(v - np.conj(v))
            else:
                lo = indptr[j]
                hi = indptr[j + 1]
                while lo < hi:
                    mid = (lo + hi) // 2
                    if indices[mid] < i:
                        lo = mid + 1
                    else:
                        hi = mid
                if lo < indptr[j + 1] and indices[lo] == i:
                    dv = abs(v - np.conj(data[lo]))
                else:
                    dv = abs(v)
            if dv > worst:
                worst = dv
    return worst, amax

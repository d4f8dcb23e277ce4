"""numba kernels of :class:`~krylearn.operators.stencil.PoissonStencil`: ``y = A x`` in place for
uniform, variable-coefficient and masked (obstacle) 2D/3D grids, each returning ``x·y`` (fused for
CG's ``(p, Ap)``), and the many-vector products ``Y = A X``. Serial and cached; the parallel twins
come from :func:`krylearn.threads.pick`. The operator's definition is in :mod:`.stencil`."""

from __future__ import annotations

import numba as nb
import numpy as np

_KW = dict(parallel=False, cache=True, nogil=True, fastmath={"reassoc"})  # serial + cached; parallel twins via pick()
# (reassoc: the fused dot products vectorise; a strict left-to-right sum is latency-bound)


# --------------------------------------------------------------------------------------
# numba kernels: y = A x (in place), returning x·y (fused for CG's (p, Ap)).
# --------------------------------------------------------------------------------------
@nb.njit(**_KW)
def _uniform2d(x, y, a0, a1, n0lo, n0hi, n1lo, n1hi):
    """Unmasked, constant coefficient; a_k = c/h_k²; n??? = 1.0 for a Neumann box face."""
    N0, N1 = x.shape
    s = 0.0
    for i in nb.prange(N0):
        cu = a0 if i > 0 else 0.0
        cd = a0 if i < N0 - 1 else 0.0
        iu = i - 1 if i > 0 else 0
        idn = i + 1 if i < N0 - 1 else N0 - 1
        dr = 2.0 * a0 + 2.0 * a1
        if i == 0:
            dr -= a0 * n0lo
        if i == N0 - 1:
            dr -= a0 * n0hi
        acc = 0.0
        xc = x[i, 0]
        v = (dr - a1 * n1lo) * xc - cu * x[iu, 0] - cd * x[idn, 0] - a1 * x[i, 1]
        y[i, 0] = v
        acc += xc * v
        for j in range(1, N1 - 1):
            xc = x[i, j]
            v = dr * xc - cu * x[iu, j] - cd * x[idn, j] - a1 * (x[i, j - 1] + x[i, j + 1])
            y[i, j] = v
            acc += xc * v
        j = N1 - 1
        xc = x[i, j]
        v = (dr - a1 * n1hi) * xc - cu * x[iu, j] - cd * x[idn, j] - a1 * x[i, j - 1]
        y[i, j] = v
        acc += xc * v
        s += acc
    return s


@nb.njit(**_KW)
def _uniform3d(x, y, a0, a1, a2, n0lo, n0hi, n1lo, n1hi, n2lo, n2hi):
    N0, N1, N2 = x.shape
    s = 0.0
    for i in nb.prange(N0):
        c0u = a0 if i > 0 else 0.0
        c0d = a0 if i < N0 - 1 else 0.0
        iu = i - 1 if i > 0 else 0
        idn = i + 1 if i < N0 - 1 else N0 - 1
        di = 2.0 * (a0 + a1 + a2)
        if i == 0:
            di -= a0 * n0lo
        if i == N0 - 1:
            di -= a0 * n0hi
        acc = 0.0
        for j in range(N1):
            c1u = a1 if j > 0 else 0.0
            c1d = a1 if j < N1 - 1 else 0.0
            ju = j - 1 if j > 0 else 0
            jd = j + 1 if j < N1 - 1 else N1 - 1
            dr = di
            if j == 0:
                dr -= a1 * n1lo
            if j == N1 - 1:
                dr -= a1 * n1hi
            xc = x[i, j, 0]
            v = ((dr - a2 * n2lo) * xc - c0u * x[iu, j, 0] - c0d * x[idn, j, 0]
                 - c1u * x[i, ju, 0] - c1d * x[i, jd, 0] - a2 * x[i, j, 1])
            y[i, j, 0] = v
            acc += xc * v
            for k in range(1, N2 - 1):
                xc = x[i, j, k]
                v = (dr * xc - c0u * x[iu, j, k] - c0d * x[idn, j, k]
                     - c1u * x[i, ju, k] - c1d * x[i, jd, k] - a2 * (x[i, j, k - 1] + x[i, j, k + 1]))
                y[i, j, k] = v
                acc += xc * v
            k = N2 - 1
            xc = x[i, j, k]
            v = ((dr - a2 * n2hi) * xc - c0u * x[iu, j, k] - c0d * x[idn, j, k]
                 - c1u * x[i, ju, k] - c1d * x[i, jd, k] - a2 * x[i, j, k - 1])
            y[i, j, k] = v
            acc += xc * v
        s += acc
    return s


@nb.njit(**_KW)
def _variable2d(x, y, d, W0, W1):
    """Unmasked, per-face weights W0 (N0+1, N1), W1 (N0, N1+1), diagonal d (N0, N1)."""
    N0, N1 = x.shape
    s = 0.0
    for i in nb.prange(N0):
        fu = 1.0 if i > 0 else 0.0
        fd = 1.0 if i < N0 - 1 else 0.0
        iu = i - 1 if i > 0 else 0
        idn = i + 1 if i < N0 - 1 else N0 - 1
        acc = 0.0
        xc = x[i, 0]
        v = d[i, 0] * xc - fu * W0[i, 0] * x[iu, 0] - fd * W0[i + 1, 0] * x[idn, 0] - W1[i, 1] * x[i, 1]
        y[i, 0] = v
        acc += xc * v
        for j in range(1, N1 - 1):
            xc = x[i, j]
            v = (d[i, j] * xc - fu * W0[i, j] * x[iu, j] - fd * W0[i + 1, j] * x[idn, j]
                 - W1[i, j] * x[i, j - 1] - W1[i, j + 1] * x[i, j + 1])
            y[i, j] = v
            acc += xc * v
        j = N1 - 1
        xc = x[i, j]
        v = d[i, j] * xc - fu * W0[i, j] * x[iu, j] - fd * W0[i + 1, j] * x[idn, j] - W1[i, j] * x[i, j - 1]
        y[i, j] = v
        acc += xc * v
        s += acc
    return s


@nb.njit(**_KW)
def _variable3d(x, y, d, W0, W1, W2):
    N0, N1, N2 = x.shape
    s = 0.0
    for i in nb.prange(N0):
        fu = 1.0 if i > 0 else 0.0
        fd = 1.0 if i < N0 - 1 else 0.0
        iu = i - 1 if i > 0 else 0
        idn = i + 1 if i < N0 - 1 else N0 - 1
        acc = 0.0
        for j in range(N1):
            gu = 1.0 if j > 0 else 0.0
            gd = 1.0 if j < N1 - 1 else 0.0
            ju = j - 1 if j > 0 else 0
            jd = j + 1 if j < N1 - 1 else N1 - 1
            xc = x[i, j, 0]
            v = (d[i, j, 0] * xc - fu * W0[i, j, 0] * x[iu, j, 0] - fd * W0[i + 1, j, 0] * x[idn, j, 0]
                 - gu * W1[i, j, 0] * x[i, ju, 0] - gd * W1[i, j + 1, 0] * x[i, jd, 0]
                 - W2[i, j, 1] * x[i, j, 1])
            y[i, j, 0] = v
            acc += xc * v
            for k in range(1, N2 - 1):
                xc = x[i, j, k]
                v = (d[i, j, k] * xc - fu * W0[i, j, k] * x[iu, j, k] - fd * W0[i + 1, j, k] * x[idn, j, k]
                     - gu * W1[i, j, k] * x[i, ju, k] - gd * W1[i, j + 1, k] * x[i, jd, k]
                     - W2[i, j, k] * x[i, j, k - 1] - W2[i, j, k + 1] * x[i, j, k + 1])
                y[i, j, k] = v
                acc += xc * v
            k = N2 - 1
            xc = x[i, j, k]
            v = (d[i, j, k] * xc - fu * W0[i, j, k] * x[iu, j, k] - fd * W0[i + 1, j, k] * x[idn, j, k]
                 - gu * W1[i, j, k] * x[i, ju, k] - gd * W1[i, j + 1, k] * x[i, jd, k]
                 - W2[i, j, k] * x[i, j, k - 1])
            y[i, j, k] = v
            acc += xc * v
        s += acc
    return s


@nb.njit(**_KW)
def _masked2d(x, y, d, W0, W1, idx):
    """Compressed vectors: idx (N0, N1) maps a cell to its unknown (−1 for solid)."""
    N0, N1 = idx.shape
    s = 0.0
    for i in nb.prange(N0):
        acc = 0.0
        for j in range(N1):
            k = idx[i, j]
            if k < 0:
                continue
            xc = x[k]
            v = d[k] * xc
            if i > 0 and W0[i, j] != 0.0:
                v -= W0[i, j] * x[idx[i - 1, j]]
            if i < N0 - 1 and W0[i + 1, j] != 0.0:
                v -= W0[i + 1, j] * x[idx[i + 1, j]]
            if j > 0 and W1[i, j] != 0.0:
                v -= W1[i, j] * x[idx[i, j - 1]]
            if j < N1 - 1 and W1[i, j + 1] != 0.0:
                v -= W1[i, j + 1] * x[idx[i, j + 1]]
            y[k] = v
            acc += xc * v
        s += acc
    return s


@nb.njit(**_KW)
def _masked3d(x, y, d, W0, W1, W2, idx):
    N0, N1, N2 = idx.shape
    s = 0.0
    for i in nb.prange(N0):
        acc = 0.0
        for j in range(N1):
            for l in range(N2):
                k = idx[i, j, l]
                if k < 0:
                    continue
                xc = x[k]
                v = d[k] * xc
                if i > 0 and W0[i, j, l] != 0.0:
                    v -= W0[i, j, l] * x[idx[i - 1, j, l]]
                if i < N0 - 1 and W0[i + 1, j, l] != 0.0:
                    v -= W0[i + 1, j, l] * x[idx[i + 1, j, l]]
                if j > 0 and W1[i, j, l] != 0.0:
                    v -= W1[i, j, l] * x[idx[i, j - 1, l]]
                if j < N1 - 1 and W1[i, j + 1, l] != 0.0:
                    v -= W1[i, j + 1, l] * x[idx[i, j + 1, l]]
                if l > 0 and W2[i, j, l] != 0.0:
                    v -= W2[i, j, l] * x[idx[i, j, l - 1]]
                if l < N2 - 1 and W2[i, j, l + 1] != 0.0:
                    v -= W2[i, j, l + 1] * x[idx[i, j, l + 1]]
                y[k] = v
                acc += xc * v
        s += acc
    return s


# --------------------------------------------------------------------------------------
# many vectors at once: Y = A X for X of shape (n, k), C order (the k values of a cell are
# contiguous), one pass over the operator's arrays for all k columns. ``partial[i, c]`` receives
# the contribution of grid row (3D: plane) i to x_cᵀ(A x_c), so the column dots of a parallel run
# need no shared accumulator (summed over i by the caller).
# --------------------------------------------------------------------------------------
@nb.njit(**_KW)
def _block2d(X, Y, d, W0, W1, idx, partial):
    N0, N1 = idx.shape
    k = X.shape[1]
    for i in nb.prange(N0):
        acc = np.zeros(k)
        for j in range(N1):
            m = idx[i, j]
            if m < 0:
                continue
            # a neighbour that is absent (solid, box face) points at the cell itself with weight 0:
            # the column loop below is then branch-free
            wu = W0[i, j] if i > 0 else 0.0
            u = idx[i - 1, j] if wu != 0.0 else m
            wd = W0[i + 1, j] if i < N0 - 1 else 0.0
            dn = idx[i + 1, j] if wd != 0.0 else m
            wl = W1[i, j] if j > 0 else 0.0
            le = idx[i, j - 1] if wl != 0.0 else m
            wr = W1[i, j + 1] if j < N1 - 1 else 0.0
            ri = idx[i, j + 1] if wr != 0.0 else m
            dm = d[m]
            for c in range(k):
                xc = X[m, c]
                v = dm * xc - wu * X[u, c] - wd * X[dn, c] - wl * X[le, c] - wr * X[ri, c]
                Y[m, c] = v
                acc[c] += xc * v
        for c in range(k):
            partial[i, c] = acc[c]


@nb.njit(**_KW)
def _block3d(X, Y, d, W0, W1, W2, idx, partial):
    N0, N1, N2 = idx.shape
    k = X.shape[1]
    for i in nb.prange(N0):
        acc = np.zeros(k)
        for j in range(N1):
            for l in range(N2):
                m = idx[i, j, l]
                if m < 0:
                    continue
                w0 = W0[i, j, l] if i > 0 else 0.0
                n0 = idx[i - 1, j, l] if w0 != 0.0 else m
                w1 = W0[i + 1, j, l] if i < N0 - 1 else 0.0
                n1 = idx[i + 1, j, l] if w1 != 0.0 else m
                w2 = W1[i, j, l] if j > 0 else 0.0
                n2 = idx[i, j - 1, l] if w2 != 0.0 else m
                w3 = W1[i, j + 1, l] if j < N1 - 1 else 0.0
                n3 = idx[i, j + 1, l] if w3 != 0.0 else m
                w4 = W2[i, j, l] if l > 0 else 0.0
                n4 = idx[i, j, l - 1] if w4 != 0.0 else m
                w5 = W2[i, j, l + 1] if l < N2 - 1 else 0.0
                n5 = idx[i, j, l + 1] if w5 != 0.0 else m
                dm = d[m]
                for c in range(k):
                    xc = X[m, c]
                    v = (dm * xc - w0 * X[n0, c] - w1 * X[n1, c] - w2 * X[n2, c] - w3 * X[n3, c]
                         - w4 * X[n4, c] - w5 * X[n5, c])
                    Y[m, c] = v
                    acc[c] += xc * v
        for c in range(k):
            partial[i, c] = acc[c]

"""numba kernels of the geometric multigrid cycle on padded cell grids (2D and 3D).

Layout shared by every kernel (see :mod:`krylearn.solvers.precond.grid_hierarchy`): a level with
``N_a`` cells along axis ``a`` stores grid arrays of the *padded* shape ``P_a = 2·ceil(N_a/2) + 2``;
cell ``i`` (0-based) sits at padded index ``i + 1``, and every entry outside ``1..N_a`` is a ghost
that stays zero. ``E_a[p]`` is the weight of the face between padded cells ``p`` and ``p + e_a``
(zero across solid cells, Neumann faces, box faces and ghosts: a Dirichlet box face enters the
diagonal only). ``d`` is the diagonal: the face weights of the cell plus its Dirichlet sink; it is 1
in solid cells, where ``b`` and ``x`` stay zero, so the kernels need no mask test (a solid cell's
row reads ``x = b/d = 0``).

Transfer operators (cell-centred): prolongation is bilinear/trilinear interpolation (weights
3/4 and 1/4 per axis) except that it does not reach across a coarse face that carries no flux —
``flags`` bit ``a`` of a fine cell says whether its far coarse neighbour along axis ``a`` is
connected to its parent; when not, the parent takes the whole weight (constant extrapolation), so
a correction never leaks through a wall. Bit 7 marks fluid cells. Restriction is exactly
``Pᵀ / 2^dim`` (full weighting (1, 3, 3, 1)/8 per axis away from walls), so the V-cycle with
adjoint pre/post smoothing is a symmetric operator.
"""

from __future__ import annotations

import numba as nb
import numpy as np

_KW = dict(cache=True, nogil=True)
FLUID = np.uint8(128)


# ------------------------------------------------------------------------------------------
# residual r = b - A x
# ------------------------------------------------------------------------------------------
@nb.njit(**_KW)
def residual2d(x, b, r, d, E0, E1, N0, N1):
    for i in nb.prange(1, N0 + 1):
        for j in range(1, N1 + 1):
            r[i, j] = b[i, j] - (d[i, j] * x[i, j] - E0[i, j] * x[i + 1, j] - E0[i - 1, j] * x[i - 1, j]
                                 - E1[i, j] * x[i, j + 1] - E1[i, j - 1] * x[i, j - 1])


@nb.njit(**_KW)
def residual3d(x, b, r, d, E0, E1, E2, N0, N1, N2):
    for i in nb.prange(1, N0 + 1):
        for j in range(1, N1 + 1):
            for k in range(1, N2 + 1):
                r[i, j, k] = b[i, j, k] - (
                    d[i, j, k] * x[i, j, k]
                    - E0[i, j, k] * x[i + 1, j, k] - E0[i - 1, j, k] * x[i - 1, j, k]
                    - E1[i, j, k] * x[i, j + 1, k] - E1[i, j - 1, k] * x[i, j - 1, k]
                    - E2[i, j, k] * x[i, j, k + 1] - E2[i, j, k - 1] * x[i, j, k - 1])


# ------------------------------------------------------------------------------------------
# red-black Gauss-Seidel. ``dinv`` is 1/d. A row (3D: a line) is updated in two loops: new values
# for the whole row into a small buffer (contiguous, so it vectorises: a row's cells of one colour
# read only the other colour), then stored on the colour's cells. With the multiplication by 1/d
# this is ~2x faster than a stride-2 loop with a division, which does not vectorise.
# ``from_zero`` treats x as zero on entry (b/d on the colour, 0 on the other: no zeroing pass).
# ------------------------------------------------------------------------------------------
@nb.njit(**_KW)
def _rb_row2d(x, b, dinv, E0, E1, N1, i, color, from_zero, buf):
    j0 = 1 + (color + i + 1) % 2  # first j with (i + j) % 2 == color
    if from_zero:
        for j in range(1, N1 + 1):
            x[i, j] = 0.0
        for j in range(j0, N1 + 1, 2):
            x[i, j] = b[i, j] * dinv[i, j]
        return
    for j in range(1, N1 + 1):
        buf[j] = (b[i, j] + E0[i, j] * x[i + 1, j] + E0[i - 1, j] * x[i - 1, j]
                  + E1[i, j] * x[i, j + 1] + E1[i, j - 1] * x[i, j - 1]) * dinv[i, j]
    for j in range(j0, N1 + 1, 2):
        x[i, j] = buf[j]


@nb.njit(**_KW)
def _rb_plane3d(x, b, dinv, E0, E1, E2, N1, N2, i, color, from_zero, buf):
    for j in range(1, N1 + 1):
        k0 = 1 + (color + i + j + 1) % 2
        if from_zero:
            for k in range(1, N2 + 1):
                x[i, j, k] = 0.0
            for k in range(k0, N2 + 1, 2):
                x[i, j, k] = b[i, j, k] * dinv[i, j, k]
            continue
        for k in range(1, N2 + 1):
            buf[k] = (b[i, j, k]
                      + E0[i, j, k] * x[i + 1, j, k] + E0[i - 1, j, k] * x[i - 1, j, k]
                      + E1[i, j, k] * x[i, j + 1, k] + E1[i, j - 1, k] * x[i, j - 1, k]
                      + E2[i, j, k] * x[i, j, k + 1] + E2[i, j, k - 1] * x[i, j, k - 1]) * dinv[i, j, k]
        for k in range(k0, N2 + 1, 2):
            x[i, j, k] = buf[k]


@nb.njit(**_KW)
def rbgs2d(x, b, dinv, E0, E1, N0, N1, color, from_zero):
    """One colour of a red-black sweep, rows in parallel (the multi-threaded path)."""
    for i in nb.prange(1, N0 + 1):
        buf = np.empty(N1 + 2)
        _rb_row2d(x, b, dinv, E0, E1, N1, i, color, from_zero, buf)


@nb.njit(**_KW)
def rbgs3d(x, b, dinv, E0, E1, E2, N0, N1, N2, color, from_zero):
    for i in nb.prange(1, N0 + 1):
        buf = np.empty(N2 + 2)
        _rb_plane3d(x, b, dinv, E0, E1, E2, N1, N2, i, color, from_zero, buf)


@nb.njit(**_KW)
def rbgs_pair2d(x, b, dinv, E0, E1, N0, N1, first, from_zero):
    """One full red-black sweep (colour ``first``, then the other) in a single pass over memory:
    row i gets colour ``first`` while row i−1 gets the other colour, which sees exactly the values
    the two-pass order gives it. Serial (a wavefront)."""
    second = 1 - first
    buf = np.empty(N1 + 2)
    for i in range(1, N0 + 2):
        if i <= N0:
            _rb_row2d(x, b, dinv, E0, E1, N1, i, first, from_zero, buf)
        if i >= 2:
            _rb_row2d(x, b, dinv, E0, E1, N1, i - 1, second, False, buf)


@nb.njit(**_KW)
def rbgs_pair3d(x, b, dinv, E0, E1, E2, N0, N1, N2, first, from_zero):
    second = 1 - first
    buf = np.empty(N2 + 2)
    for i in range(1, N0 + 2):
        if i <= N0:
            _rb_plane3d(x, b, dinv, E0, E1, E2, N1, N2, i, first, from_zero, buf)
        if i >= 2:
            _rb_plane3d(x, b, dinv, E0, E1, E2, N1, N2, i - 1, second, False, buf)


# ------------------------------------------------------------------------------------------
# damped Jacobi: x += omega * (b - A x)/d, through the work array t (t = new x)
# ------------------------------------------------------------------------------------------
@nb.njit(**_KW)
def jacobi2d(x, b, t, d, dinv, E0, E1, N0, N1, omega, from_zero):
    for i in nb.prange(1, N0 + 1):
        for j in range(1, N1 + 1):
            if from_zero:
                t[i, j] = omega * b[i, j] * dinv[i, j]
            else:
                ax = (d[i, j] * x[i, j] - E0[i, j] * x[i + 1, j] - E0[i - 1, j] * x[i - 1, j]
                      - E1[i, j] * x[i, j + 1] - E1[i, j - 1] * x[i, j - 1])
                t[i, j] = x[i, j] + omega * (b[i, j] - ax) * dinv[i, j]


@nb.njit(**_KW)
def jacobi3d(x, b, t, d, dinv, E0, E1, E2, N0, N1, N2, omega, from_zero):
    for i in nb.prange(1, N0 + 1):
        for j in range(1, N1 + 1):
            for k in range(1, N2 + 1):
                if from_zero:
                    t[i, j, k] = omega * b[i, j, k] * dinv[i, j, k]
                else:
                    ax = (d[i, j, k] * x[i, j, k]
                          - E0[i, j, k] * x[i + 1, j, k] - E0[i - 1, j, k] * x[i - 1, j, k]
                          - E1[i, j, k] * x[i, j + 1, k] - E1[i, j - 1, k] * x[i, j - 1, k]
                          - E2[i, j, k] * x[i, j, k + 1] - E2[i, j, k - 1] * x[i, j, k - 1])
                    t[i, j, k] = x[i, j, k] + omega * (b[i, j, k] - ax) * dinv[i, j, k]


# ------------------------------------------------------------------------------------------
# Chebyshev smoothing: one step of the three-term recurrence on D⁻¹A (Saad, "Iterative Methods for
# Sparse Linear Systems", 2003, Alg. 12.1): z = D⁻¹(b − A x), w = c1·w + c2·z (in place), then
# x += w in a second pass (x must not change while the first pass reads its neighbours)
# ------------------------------------------------------------------------------------------
@nb.njit(**_KW)
def cheb_dir2d(x, b, w, d, dinv, E0, E1, N0, N1, c1, c2):
    for i in nb.prange(1, N0 + 1):
        for j in range(1, N1 + 1):
            ax = (d[i, j] * x[i, j] - E0[i, j] * x[i + 1, j] - E0[i - 1, j] * x[i - 1, j]
                  - E1[i, j] * x[i, j + 1] - E1[i, j - 1] * x[i, j - 1])
            w[i, j] = c1 * w[i, j] + c2 * (b[i, j] - ax) * dinv[i, j]


@nb.njit(**_KW)
def cheb_dir3d(x, b, w, d, dinv, E0, E1, E2, N0, N1, N2, c1, c2):
    for i in nb.prange(1, N0 + 1):
        for j in range(1, N1 + 1):
            for k in range(1, N2 + 1):
                ax = (d[i, j, k] * x[i, j, k]
                      - E0[i, j, k] * x[i + 1, j, k] - E0[i - 1, j, k] * x[i - 1, j, k]
                      - E1[i, j, k] * x[i, j + 1, k] - E1[i, j - 1, k] * x[i, j - 1, k]
                      - E2[i, j, k] * x[i, j, k + 1] - E2[i, j, k - 1] * x[i, j, k - 1])
                w[i, j, k] = c1 * w[i, j, k] + c2 * (b[i, j, k] - ax) * dinv[i, j, k]


@nb.njit(**_KW)
def axpy_grid(x, w, from_zero):
    """x += w (x = w when ``from_zero``), whole padded arrays (ghosts are zero in both)."""
    xf = x.reshape(-1)
    wf = w.reshape(-1)
    if from_zero:
        for p in nb.prange(xf.shape[0]):
            xf[p] = wf[p]
    else:
        for p in nb.prange(xf.shape[0]):
            xf[p] += wf[p]


# ------------------------------------------------------------------------------------------
# transfers
# ------------------------------------------------------------------------------------------
@nb.njit(inline="always")
def _w_child(f, bit):
    """Weight of a fine cell's parent along axis ``bit``: 3/4 if the far neighbour is open, 1/2 if it is
    a Dirichlet ghost (linear to zero at the box face), else 1 (constant: a wall or Neumann face).
    Branch-free so that the loops vectorise (bits a and a+3 are never both set)."""
    return 1.0 - 0.25 * ((f >> bit) & 1) - 0.5 * ((f >> (bit + 3)) & 1)


@nb.njit(inline="always")
def _w_far(f, bit):
    return 0.25 * ((f >> bit) & 1)


@nb.njit(**_KW)
def restrict2d(r, flags, bc, Nc0, Nc1):
    """bc = Pᵀ r / 4 on the coarse interior. Coarse row I sums the four fine rows that interpolate
    from it into two column arrays (weights toward the parent and toward the far coarse column),
    then gathers the four fine columns of each coarse column; rows are independent (parallel)."""
    N1 = 2 * Nc1
    for I in nb.prange(1, Nc0 + 1):
        uc = np.zeros(N1 + 2)
        uf = np.zeros(N1 + 2)
        for fi in range(2 * I - 2, 2 * I + 2):
            child_i = fi == 2 * I - 1 or fi == 2 * I
            for fj in range(1, N1 + 1):
                f = flags[fi, fj]
                wi = (_w_child(f, 0) if child_i else _w_far(f, 0)) * r[fi, fj]
                uc[fj] += wi * _w_child(f, 1)
                uf[fj] += wi * _w_far(f, 1)
        for J in range(1, Nc1 + 1):
            bc[I, J] = 0.25 * (uc[2 * J - 1] + uc[2 * J] + uf[2 * J - 2] + uf[2 * J + 1])


@nb.njit(**_KW)
def restrict3d(r, flags, bc, Nc0, Nc1, Nc2):
    """Per coarse line (I, J): the sixteen fine lines of its window, weighted along axes 0 and 1 and
    split by the weight toward the parent / far coarse cell along the last axis, then gathered."""
    N2 = 2 * Nc2
    uc = np.zeros(N2 + 2)
    uf = np.zeros(N2 + 2)
    for I in nb.prange(1, Nc0 + 1):
        uc = np.zeros(N2 + 2)
        uf = np.zeros(N2 + 2)
        for J in range(1, Nc1 + 1):
            uc[:] = 0.0
            uf[:] = 0.0
            for fi in range(2 * I - 2, 2 * I + 2):
                child_i = fi == 2 * I - 1 or fi == 2 * I
                for fj in range(2 * J - 2, 2 * J + 2):
                    child_j = fj == 2 * J - 1 or fj == 2 * J
                    for fk in range(1, N2 + 1):
                        f = flags[fi, fj, fk]
                        w = ((_w_child(f, 0) if child_i else _w_far(f, 0))
                             * (_w_child(f, 1) if child_j else _w_far(f, 1)) * r[fi, fj, fk])
                        uc[fk] += w * _w_child(f, 2)
                        uf[fk] += w * _w_far(f, 2)
            for Kc in range(1, Nc2 + 1):
                bc[I, J, Kc] = 0.125 * (uc[2 * Kc - 1] + uc[2 * Kc] + uf[2 * Kc - 2] + uf[2 * Kc + 1])


@nb.njit(**_KW)
def prolong_add2d(xc, flags, x, N0, N1):
    """x += P xc on the fluid cells of the fine interior. Fine columns are taken in pairs (the two
    children of coarse column J, whose far columns are J−1 and J+1): no integer division, no
    branch (solid and ghost cells have flags 0 and get weight 0), so the loop vectorises."""
    Nc1 = (N1 + 1) >> 1
    for i in nb.prange(1, N0 + 1):
        I = (i + 1) >> 1
        If = I - 1 if i & 1 else I + 1
        for J in range(1, Nc1 + 1):
            c, cm, cp = xc[I, J], xc[I, J - 1], xc[I, J + 1]
            g, gm, gp = xc[If, J], xc[If, J - 1], xc[If, J + 1]
            j = 2 * J - 1
            f = flags[i, j]
            m = (f >> 7) & 1
            bn, bf = _w_child(f, 1), _w_far(f, 1)
            x[i, j] += m * (_w_child(f, 0) * (bn * c + bf * cm) + _w_far(f, 0) * (bn * g + bf * gm))
            j += 1
            f = flags[i, j]
            m = (f >> 7) & 1
            bn, bf = _w_child(f, 1), _w_far(f, 1)
            x[i, j] += m * (_w_child(f, 0) * (bn * c + bf * cp) + _w_far(f, 0) * (bn * g + bf * gp))


@nb.njit(**_KW)
def prolong_add3d(xc, flags, x, N0, N1, N2):
    Nc2 = (N2 + 1) >> 1
    for i in nb.prange(1, N0 + 1):
        I = (i + 1) >> 1
        If = I - 1 if i & 1 else I + 1
        for j in range(1, N1 + 1):
            J = (j + 1) >> 1
            Jf = J - 1 if j & 1 else J + 1
            for Kc in range(1, Nc2 + 1):
                for side in range(2):
                    k = 2 * Kc - 1 + side
                    Kf = Kc - 1 if side == 0 else Kc + 1
                    f = flags[i, j, k]
                    m = (f >> 7) & 1
                    an, af = _w_child(f, 0), _w_far(f, 0)
                    bn, bf = _w_child(f, 1), _w_far(f, 1)
                    cn, cf = _w_child(f, 2), _w_far(f, 2)
                    x[i, j, k] += m * (an * (bn * (cn * xc[I, J, Kc] + cf * xc[I, J, Kf])
                                             + bf * (cn * xc[I, Jf, Kc] + cf * xc[I, Jf, Kf]))
                                       + af * (bn * (cn * xc[If, J, Kc] + cf * xc[If, J, Kf])
                                               + bf * (cn * xc[If, Jf, Kc] + cf * xc[If, Jf, Kf])))


# ------------------------------------------------------------------------------------------
# compressed <-> padded grid (masked operators number only the fluid cells)
# ------------------------------------------------------------------------------------------
@nb.njit(**_KW)
def scatter(v, flat, out):
    """out.flat[flat[k]] = v[k]"""
    o = out.reshape(-1)
    for k in range(v.shape[0]):
        o[flat[k]] = v[k]


@nb.njit(**_KW)
def gather(u, flat, out):
    """out[k] = u.flat[flat[k]]"""
    uu = u.reshape(-1)
    for k in range(out.shape[0]):
        out[k] = uu[flat[k]]


# ------------------------------------------------------------------------------------------
# boundary smoothing (MGPCG): Gauss-Seidel on the cells near walls, forward or backward
# ------------------------------------------------------------------------------------------
@nb.njit(**_KW)
def band_gs(x, b, dinv, E, strides, cells, sweeps, forward):
    """``sweeps`` lexicographic Gauss–Seidel passes over the flat padded indices ``cells`` (sorted);
    ``forward=False`` runs them in reverse order, the adjoint of the forward pass. ``E`` holds the
    per-axis face-weight arrays (flattened) and ``strides`` the flat offset of one step per axis."""
    xf = x.reshape(-1)
    bf = b.reshape(-1)
    df = dinv.reshape(-1)
    nd = strides.shape[0]
    m = cells.shape[0]
    for _ in range(sweeps):
        for q in range(m):
            p = cells[q] if forward else cells[m - 1 - q]
            acc = bf[p]
            for a in range(nd):
                s = strides[a]
                acc += E[a, p] * xf[p + s] + E[a, p - s] * xf[p - s]
            xf[p] = acc * df[p]


# ------------------------------------------------------------------------------------------
# aggregation levels (below the level where geometric coarsening stopped at walls): CSR operators,
# piecewise-constant transfers given by an aggregate index per unknown
# ------------------------------------------------------------------------------------------
@nb.njit(**_KW)
def csr_gs(indptr, indices, data, dinv, b, x, forward, from_zero):
    """One Gauss–Seidel sweep on a CSR matrix (forward, or backward: its adjoint); ``from_zero``
    starts from x = 0."""
    n = b.shape[0]
    if from_zero:
        for i in range(n):
            x[i] = 0.0
    for q in range(n):
        i = q if forward else n - 1 - q
        acc = b[i]
        for k in range(indptr[i], indptr[i + 1]):
            j = indices[k]
            if j != i:
                acc -= data[k] * x[j]
        x[i] = acc * dinv[i]


@nb.njit(**_KW)
def csr_residual(indptr, indices, data, b, x, r):
    for i in range(b.shape[0]):
        acc = b[i]
        for k in range(indptr[i], indptr[i + 1]):
            acc -= data[k] * x[indices[k]]
        r[i] = acc


@nb.njit(**_KW)
def aggregate_sum(r, agg, out):
    """out = Pᵀ r for the piecewise-constant P of the aggregates ``agg``."""
    for j in range(out.shape[0]):
        out[j] = 0.0
    for i in range(r.shape[0]):
        out[agg[i]] += r[i]


@nb.njit(**_KW)
def aggregate_add(xc, agg, x):
    """x += P xc."""
    for i in range(x.shape[0]):
        x[i] += xc[agg[i]]

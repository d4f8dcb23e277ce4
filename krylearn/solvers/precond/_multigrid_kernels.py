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
# set-up: coarsening by rediscretisation (sums of fine face fluxes) and the fine transfer flags
# ------------------------------------------------------------------------------------------
@nb.njit(inline="always")
def _axis_bits(w, i, N, dirichlet, a):
    """Flag bits of a fine cell for axis ``a``: bit a when its far coarse neighbour is interpolated
    from (``w > 0``), else bit a+3 when that neighbour is the ghost behind a Dirichlet box face."""
    if w > 0.0:
        return 1 << a
    if (i == 1 and dirichlet[a, 0]) or (i == N and i % 2 == 0 and dirichlet[a, 1]):
        return 8 << a
    return 0


@nb.njit(**_KW)
def coarsen2d(E0, E1, s, fluid, ffull, N0, N1, cE0, cE1, cs, cfluid, full, cd, flags, Nc0, Nc1, dirichlet, mode):
    """Coarse face weights = Σ fine faces on the coarse face / 2^(dim+1); sink likewise; coarse
    cell fluid if any child is, *full* if every child is full (no wall anywhere below it); then the
    fine flags (fluid bit, far-neighbour bits)."""
    q = 1.0 / 8.0
    for I in range(1, Nc0 + 1):
        for J in range(1, Nc1 + 1):
            i0, j0 = 2 * I - 1, 2 * J - 1
            cE0[I, J] = (E0[i0 + 1, j0] + E0[i0 + 1, j0 + 1]) * q
            cE1[I, J] = (E1[i0, j0 + 1] + E1[i0 + 1, j0 + 1]) * q
            cs[I, J] = (s[i0, j0] + s[i0, j0 + 1] + s[i0 + 1, j0] + s[i0 + 1, j0 + 1]) * q
            cfluid[I, J] = fluid[i0, j0] | fluid[i0, j0 + 1] | fluid[i0 + 1, j0] | fluid[i0 + 1, j0 + 1]
            full[I, J] = ffull[i0, j0] & ffull[i0, j0 + 1] & ffull[i0 + 1, j0] & ffull[i0 + 1, j0 + 1]
    for I in range(1, Nc0 + 1):
        for J in range(1, Nc1 + 1):
            if cfluid[I, J]:
                cd[I, J] = cs[I, J] + cE0[I, J] + cE0[I - 1, J] + cE1[I, J] + cE1[I, J - 1]
            else:
                cd[I, J] = 1.0
    for i in range(1, N0 + 1):
        I = (i + 1) // 2
        for j in range(1, N1 + 1):
            if not fluid[i, j]:
                flags[i, j] = 0
                continue
            J = (j + 1) // 2
            If = I - 1 if i % 2 == 1 else I + 1
            Jf = J - 1 if j % 2 == 1 else J + 1
            w0 = cE0[I - 1, J] if i % 2 == 1 else cE0[I, J]
            w1 = cE1[I, J - 1] if j % 2 == 1 else cE1[I, J]
            if mode == 0:
                w0 = w1 = 0.0
            elif mode == 2:
                # interpolate only among full coarse cells (corner included): a cell cut by a wall
                # has a coarse equation that over-corrects when spread to its neighbours' children
                if not (full[I, J] and full[If, J]):
                    w0 = 0.0
                if not (full[I, J] and full[I, Jf]):
                    w1 = 0.0
                if w0 > 0.0 and w1 > 0.0 and not full[If, Jf]:
                    w0 = w1 = 0.0
            flags[i, j] = 128 | _axis_bits(w0, i, N0, dirichlet, 0) | _axis_bits(w1, j, N1, dirichlet, 1)


@nb.njit(**_KW)
def coarsen3d(E0, E1, E2, s, fluid, ffull, N0, N1, N2, cE0, cE1, cE2, cs, cfluid, full, cd, flags,
              Nc0, Nc1, Nc2, dirichlet, mode):
    q = 1.0 / 16.0
    for I in range(1, Nc0 + 1):
        for J in range(1, Nc1 + 1):
            for K in range(1, Nc2 + 1):
                i0, j0, k0 = 2 * I - 1, 2 * J - 1, 2 * K - 1
                a0 = 0.0
                a1 = 0.0
                a2 = 0.0
                ss = 0.0
                fl = False
                fu = True
                for u in range(2):
                    for v in range(2):
                        a0 += E0[i0 + 1, j0 + u, k0 + v]
                        a1 += E1[i0 + u, j0 + 1, k0 + v]
                        a2 += E2[i0 + u, j0 + v, k0 + 1]
                        for w in range(2):
                            ss += s[i0 + u, j0 + v, k0 + w]
                            fl = fl | fluid[i0 + u, j0 + v, k0 + w]
                            fu = fu & ffull[i0 + u, j0 + v, k0 + w]
                cE0[I, J, K] = a0 * q
                cE1[I, J, K] = a1 * q
                cE2[I, J, K] = a2 * q
                cs[I, J, K] = ss * q
                cfluid[I, J, K] = fl
                full[I, J, K] = fu
    for I in range(1, Nc0 + 1):
        for J in range(1, Nc1 + 1):
            for K in range(1, Nc2 + 1):
                if cfluid[I, J, K]:
                    cd[I, J, K] = (cs[I, J, K] + cE0[I, J, K] + cE0[I - 1, J, K] + cE1[I, J, K]
                                   + cE1[I, J - 1, K] + cE2[I, J, K] + cE2[I, J, K - 1])
                else:
                    cd[I, J, K] = 1.0
    for i in range(1, N0 + 1):
        I = (i + 1) // 2
        for j in range(1, N1 + 1):
            J = (j + 1) // 2
            for k in range(1, N2 + 1):
                if not fluid[i, j, k]:
                    flags[i, j, k] = 0
                    continue
                K = (k + 1) // 2
                w0 = cE0[I - 1, J, K] if i % 2 == 1 else cE0[I, J, K]
                w1 = cE1[I, J - 1, K] if j % 2 == 1 else cE1[I, J, K]
                w2 = cE2[I, J, K - 1] if k % 2 == 1 else cE2[I, J, K]
                If = I - 1 if i % 2 == 1 else I + 1
                Jf = J - 1 if j % 2 == 1 else J + 1
                Kf = K - 1 if k % 2 == 1 else K + 1
                if mode == 0:
                    w0 = w1 = w2 = 0.0
                elif mode == 2:
                    c = full[I, J, K]
                    if not (c and full[If, J, K]):
                        w0 = 0.0
                    if not (c and full[I, Jf, K]):
                        w1 = 0.0
                    if not (c and full[I, J, Kf]):
                        w2 = 0.0
                    o0, o1, o2 = w0 > 0.0, w1 > 0.0, w2 > 0.0
                    if ((o0 and o1 and not full[If, Jf, K]) or (o0 and o2 and not full[If, J, Kf])
                            or (o1 and o2 and not full[I, Jf, Kf]) or (o0 and o1 and o2 and not full[If, Jf, Kf])):
                        w0 = w1 = w2 = 0.0
                flags[i, j, k] = (128 | _axis_bits(w0, i, N0, dirichlet, 0) | _axis_bits(w1, j, N1, dirichlet, 1)
                                  | _axis_bits(w2, k, N2, dirichlet, 2))


# ------------------------------------------------------------------------------------------
# set-up: does a coarsening step merge fluid regions that a wall keeps apart?
# ------------------------------------------------------------------------------------------
@nb.njit(**_KW)
def _window_connected2d(E0, E1, fluid, lo0, hi0, lo1, hi1, si, sj, ti, tj, seen_buf, stack):
    """Is fine cell (ti, tj) reachable from (si, sj) through open faces inside the window?
    (``seen_buf``, ``stack``: the caller's work arrays, at least the window's size.)"""
    n0, n1 = hi0 - lo0, hi1 - lo1
    seen = seen_buf[:n0 * n1].reshape((n0, n1))
    seen[:] = False
    stack[0, 0], stack[0, 1] = si, sj
    seen[si - lo0, sj - lo1] = True
    top = 1
    while top > 0:
        top -= 1
        i, j = stack[top, 0], stack[top, 1]
        if i == ti and j == tj:
            return True
        for di, dj, w in ((1, 0, E0[i, j]), (-1, 0, E0[i - 1, j]), (0, 1, E1[i, j]), (0, -1, E1[i, j - 1])):
            a, c = i + di, j + dj
            if w > 0.0 and lo0 <= a < hi0 and lo1 <= c < hi1 and not seen[a - lo0, c - lo1]:
                seen[a - lo0, c - lo1] = True
                stack[top, 0], stack[top, 1] = a, c
                top += 1
    return False


@nb.njit(**_KW)
def merged_cells2d(E0, E1, fluid, Nc0, Nc1, reach, limit):
    """Count coarse cells whose fluid children are not connected to each other within the fine window
    of the cell widened by ``reach`` coarse cells on every side: coarsening would merge two regions
    that a wall separates there (a thin wall or a narrow channel), and a geometric correction on that
    cell would be wrong on one side. Stops once the count exceeds ``limit`` (the caller only asks
    whether it does)."""
    count = 0
    P0, P1 = fluid.shape
    width = 2 + 4 * reach
    seen_buf = np.zeros(width * width, dtype=np.bool_)
    stack = np.empty((width * width, 2), dtype=np.int64)
    for I in range(1, Nc0 + 1):
        if count > limit:
            break
        for J in range(1, Nc1 + 1):
            i0, j0 = 2 * I - 1, 2 * J - 1
            first_i, first_j = -1, -1
            for u in range(2):
                for v in range(2):
                    if fluid[i0 + u, j0 + v] and first_i < 0:
                        first_i, first_j = i0 + u, j0 + v
            if first_i < 0:
                continue
            lo0, hi0 = max(1, i0 - 2 * reach), min(P0 - 1, i0 + 2 + 2 * reach)
            lo1, hi1 = max(1, j0 - 2 * reach), min(P1 - 1, j0 + 2 + 2 * reach)
            # children joined by open faces inside the block are connected: the usual case
            nfl = fluid[i0, j0] + fluid[i0, j0 + 1] + fluid[i0 + 1, j0] + fluid[i0 + 1, j0 + 1]
            links = ((E1[i0, j0] > 0) + (E1[i0 + 1, j0] > 0) + (E0[i0, j0] > 0) + (E0[i0, j0 + 1] > 0))
            if nfl <= 1 or links >= nfl - 1:  # (a 2x2 block with nfl − 1 open faces is connected)
                continue
            merged = False
            for u in range(2):
                for v in range(2):
                    a, c = i0 + u, j0 + v
                    if merged or (a == first_i and c == first_j) or not fluid[a, c]:
                        continue
                    if not _window_connected2d(E0, E1, fluid, lo0, hi0, lo1, hi1, first_i, first_j, a, c,
                                               seen_buf, stack):
                        merged = True
            count += merged
    return count


@nb.njit(**_KW)
def _window_connected3d(E0, E1, E2, lo, hi, s, t, seen_buf, stack):
    """Is fine cell ``t`` reachable from ``s`` through open faces inside the window [lo, hi)?
    ``seen_buf`` and ``stack`` are the caller's work arrays (at least the window's size): the
    search runs for many blocks of a level, and allocating per search dominated the set-up."""
    n0, n1, n2 = hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]
    seen = seen_buf[:n0 * n1 * n2].reshape((n0, n1, n2))
    seen[:] = False
    stack[0, 0], stack[0, 1], stack[0, 2] = s[0], s[1], s[2]
    seen[s[0] - lo[0], s[1] - lo[1], s[2] - lo[2]] = True
    top = 1
    while top > 0:
        top -= 1
        i, j, k = stack[top, 0], stack[top, 1], stack[top, 2]
        if i == t[0] and j == t[1] and k == t[2]:
            return True
        for q in range(6):
            a, c, e = i, j, k
            if q == 0:
                w = E0[i, j, k]
                a += 1
            elif q == 1:
                w = E0[i - 1, j, k]
                a -= 1
            elif q == 2:
                w = E1[i, j, k]
                c += 1
            elif q == 3:
                w = E1[i, j - 1, k]
                c -= 1
            elif q == 4:
                w = E2[i, j, k]
                e += 1
            else:
                w = E2[i, j, k - 1]
                e -= 1
            if (w > 0.0 and lo[0] <= a < hi[0] and lo[1] <= c < hi[1] and lo[2] <= e < hi[2]
                    and not seen[a - lo[0], c - lo[1], e - lo[2]]):
                seen[a - lo[0], c - lo[1], e - lo[2]] = True
                stack[top, 0], stack[top, 1], stack[top, 2] = a, c, e
                top += 1
    return False


@nb.njit(inline="always")
def _root(parent, a):
    """Union–find root of ``a`` (path halving on the way)."""
    while parent[a] != a:
        parent[a] = parent[parent[a]]
        a = parent[a]
    return a


@nb.njit(**_KW)
def _block_connected3d(E0, E1, E2, fluid, i0, j0, k0, parent):
    """Are the fluid children of a 2x2x2 block connected through the block's internal faces?
    (``parent``: the caller's 8-entry work array.)"""
    for u in range(8):
        parent[u] = u
    for u in range(8):
        a, b_, c = u >> 2, (u >> 1) & 1, u & 1
        i, j, k = i0 + a, j0 + b_, k0 + c
        if not fluid[i, j, k]:
            continue
        for q in range(3):
            if q == 0 and a == 0 and E0[i, j, k] > 0:
                v = u + 4
            elif q == 1 and b_ == 0 and E1[i, j, k] > 0:
                v = u + 2
            elif q == 2 and c == 0 and E2[i, j, k] > 0:
                v = u + 1
            else:
                continue
            parent[_root(parent, u)] = _root(parent, v)
    root = -1
    for u in range(8):
        if fluid[i0 + (u >> 2), j0 + ((u >> 1) & 1), k0 + (u & 1)]:
            r = _root(parent, u)
            if root < 0:
                root = r
            elif r != root:
                return False
    return True


@nb.njit(**_KW)
def merged_cells3d(E0, E1, E2, fluid, Nc0, Nc1, Nc2, reach, limit):
    """The 3D count of :func:`merged_cells2d`, stopping once it exceeds ``limit``."""
    count = 0
    P = fluid.shape
    lo = np.empty(3, np.int64)
    hi = np.empty(3, np.int64)
    s = np.empty(3, np.int64)
    t = np.empty(3, np.int64)
    parent = np.empty(8, np.int64)
    width = 2 + 4 * reach
    seen_buf = np.zeros(width ** 3, dtype=np.bool_)
    stack = np.empty((width ** 3, 3), dtype=np.int64)
    for I in range(1, Nc0 + 1):
        if count > limit:
            break
        for J in range(1, Nc1 + 1):
            for Kc in range(1, Nc2 + 1):
                base = (2 * I - 1, 2 * J - 1, 2 * Kc - 1)
                nfl = 0
                for u in range(8):
                    if fluid[base[0] + (u >> 2), base[1] + ((u >> 1) & 1), base[2] + (u & 1)]:
                        if nfl == 0:
                            s[0], s[1], s[2] = base[0] + (u >> 2), base[1] + ((u >> 1) & 1), base[2] + (u & 1)
                        nfl += 1
                if nfl < 2:  # (on coarse levels fluid neighbours need not share an open face)
                    continue
                if _block_connected3d(E0, E1, E2, fluid, base[0], base[1], base[2], parent):
                    continue
                for a in range(3):
                    lo[a] = max(1, base[a] - 2 * reach)
                    hi[a] = min(P[a] - 1, base[a] + 2 + 2 * reach)
                for u in range(8):
                    t[0], t[1], t[2] = base[0] + (u >> 2), base[1] + ((u >> 1) & 1), base[2] + (u & 1)
                    if not fluid[t[0], t[1], t[2]] or (t[0] == s[0] and t[1] == s[1] and t[2] == s[2]):
                        continue
                    if not _window_connected3d(E0, E1, E2, lo, hi, s, t, seen_buf, stack):
                        count += 1
                        break
    return count


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


# ------------------------------------------------------------------------------------------
# set-up of the aggregation levels (below an early stop at walls)
# ------------------------------------------------------------------------------------------
@nb.njit(**_KW)
def block_pieces(indptr, indices, block, agg):
    """The aggregates: the connected pieces of each block of nodes (nodes with the same ``block``
    id, joined by an off-diagonal nonzero of the CSR matrix). Union–find with the smaller index as
    the root, so the pieces are numbered in the order of their first node. Writes ``agg``, returns
    the number of pieces."""
    n = block.shape[0]
    parent = np.arange(n)
    for i in range(n):
        for k in range(indptr[i], indptr[i + 1]):
            j = indices[k]
            if j != i and block[j] == block[i]:
                a = _root(parent, i)
                c = _root(parent, j)
                if a < c:
                    parent[c] = a
                elif c < a:
                    parent[a] = c
    label = np.full(n, -1, np.int64)
    count = 0
    for i in range(n):
        a = _root(parent, i)
        if label[a] < 0:
            label[a] = count
            count += 1
        agg[i] = label[a]
    return count


@nb.njit(**_KW)
def aggregate_galerkin(indptr, indices, data, agg, n_agg, scale):
    """``scale · Pᵀ A P`` for the piecewise-constant ``P`` of ``agg``, as sorted CSR arrays
    ``(indptr, indices, data)``: the fine rows of each aggregate summed into one coarse row with a
    marker array (one pass over A's nonzeros; nnz(Ac) ≤ nnz(A))."""
    n = agg.shape[0]
    start = np.zeros(n_agg + 1, np.int64)
    for i in range(n):
        start[agg[i] + 1] += 1
    for c in range(n_agg):
        start[c + 1] += start[c]
    fill = start[:-1].copy()
    order = np.empty(n, np.int64)
    for i in range(n):
        order[fill[agg[i]]] = i
        fill[agg[i]] += 1
    marker = np.full(n_agg, -1, np.int64)
    cptr = np.zeros(n_agg + 1, np.int64)
    cidx = np.empty(indices.shape[0], np.int64)
    cval = np.empty(indices.shape[0])
    nnz = 0
    for c in range(n_agg):
        row = nnz
        for q in range(start[c], start[c + 1]):
            i = order[q]
            for k in range(indptr[i], indptr[i + 1]):
                J = agg[indices[k]]
                if marker[J] < row:
                    marker[J] = nnz
                    cidx[nnz] = J
                    cval[nnz] = data[k]
                    nnz += 1
                else:
                    cval[marker[J]] += data[k]
        for a in range(row + 1, nnz):   # sort the (short) row by column
            key = cidx[a]
            v = cval[a]
            b = a - 1
            while b >= row and cidx[b] > key:
                cidx[b + 1] = cidx[b]
                cval[b + 1] = cval[b]
                b -= 1
            cidx[b + 1] = key
            cval[b + 1] = v
        cptr[c + 1] = nnz
    out_idx = cidx[:nnz].copy()
    out_val = cval[:nnz].copy()
    for k in range(nnz):
        out_val[k] *= scale
    return cptr, out_idx, out_val


@nb.njit(**_KW)
def grid_csr(E, d, fluid, strides):
    """A level operator on its fluid cells as sorted CSR arrays, from the padded grid arrays
    (``E``: the face weights per axis, flattened, ``(dim, cells)``; ``d``: the diagonal; ``fluid``;
    ``strides``: the flat offset of one step along each axis, largest first). Row ``i`` is the
    ``i``-th fluid cell in C order; the columns come out sorted because the flat offsets
    ``−s₀ < −s₁ < … < 0 < … < s₁ < s₀`` keep their order under the monotone renumbering."""
    m = fluid.shape[0]
    nd = strides.shape[0]
    idx = np.full(m, -1, np.int64)
    n = 0
    for p in range(m):
        if fluid[p]:
            idx[p] = n
            n += 1
    cells = np.empty(n, np.int64)
    indptr = np.zeros(n + 1, np.int64)
    indices = np.empty(n * (2 * nd + 1), np.int64)
    data = np.empty(n * (2 * nd + 1))
    k = 0
    for p in range(m):
        i = idx[p]
        if i < 0:
            continue
        cells[i] = p
        for a in range(nd):              # lower neighbours, farthest first
            w = E[a, p - strides[a]]
            if w > 0.0:
                indices[k] = idx[p - strides[a]]
                data[k] = -w
                k += 1
        indices[k] = i
        data[k] = d[p]
        k += 1
        for a in range(nd - 1, -1, -1):  # upper neighbours, nearest first
            w = E[a, p]
            if w > 0.0:
                indices[k] = idx[p + strides[a]]
                data[k] = -w
                k += 1
        indptr[i + 1] = k
    return indptr, indices[:k].copy(), data[:k].copy(), cells

"""numba set-up kernels of the geometric multigrid (:mod:`.grid_hierarchy`): coarsening by
rediscretisation with the transfer flags, the test whether a coarsening step merges fluid regions
that a wall keeps apart, and the aggregation levels below an early stop at walls (pieces of each
block by union–find, the Galerkin product ``PᵀAP`` in one pass, the level's CSR). The grid layout
is described in :mod:`._multigrid_kernels`."""

from __future__ import annotations

import numba as nb
import numpy as np

from ._multigrid_kernels import _KW

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


@nb.njit(**_KW)
def envelope_cost(indptr, indices, rank):
    """``Σ_i w_i²`` for a symmetric CSR matrix in the order ``rank`` (``rank[i]``: the position of
    unknown ``i``), ``w_i`` the distance from row ``i``'s diagonal to its first nonzero: the work of
    an envelope (profile) Cholesky factorisation in that order, an upper bound on what a fill-reducing
    sparse factorisation does (see :class:`~._coarse_solvers._CoarseSolver`)."""
    n = indptr.shape[0] - 1
    first = np.empty(n, dtype=np.int64)
    for i in range(n):
        first[rank[i]] = rank[i]
    for i in range(n):
        ri = rank[i]
        for k in range(indptr[i], indptr[i + 1]):
            rj = rank[indices[k]]
            if rj < first[ri]:
                first[ri] = rj
    total = 0.0
    for r in range(n):
        w = float(r - first[r])
        total += w * w
    return total

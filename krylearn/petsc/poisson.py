"""Distributed 2D/3D Poisson matrices on a PETSc DMDA, identical to :func:`krylearn.pde.poisson`.

Each rank assembles the rows of the cells it owns (vectorised NumPy, no per-entry Python loop)
into an MPI AIJ matrix created by the DMDA; ``kl.petsc.poisson(shape)`` on one rank is the same
matrix as ``kl.pde.poisson(shape).tocsr()`` (same scaling, same C-order numbering, which is the
DMDA's *natural* ordering with the DMDA's x axis = krylearn's last axis).

Reference: S. Balay et al., "PETSc/TAO Users Manual", ANL-21/39 (revision 3.26), chapter DMDA;
the discretisation is that of :mod:`krylearn.operators.stencil` (finite-volume 5/7-point,
R. Bridson, "Fluid Simulation for Computer Graphics", 2nd ed., 2015, ch. 5).
"""

from __future__ import annotations

from typing import TYPE_CHECKING


import numpy as np
import scipy.sparse as sp
from petsc4py import PETSc

from ..operators.petsc_mat import set_spd
from ..operators.stencil import grid_spacing

if TYPE_CHECKING:  # annotations only
    from collections.abc import Sequence

    import numpy.typing as npt
    from mpi4py import MPI

__all__ = ["poisson", "to_natural", "from_natural"]

_BCS = ("dirichlet", "neumann")


def _normalise(shape, spacing, bc):
    try:
        shape = tuple(int(s) for s in shape)
    except TypeError as exc:
        raise ValueError(f"shape must be a tuple of 2 or 3 positive integers, got {shape!r}") from exc
    if len(shape) not in (2, 3) or min(shape) < 1:
        raise ValueError(f"shape must be a tuple of 2 or 3 positive integers, got {shape!r}")
    d = len(shape)
    h = list(grid_spacing(spacing, shape))   # the same spacings as kl.pde.poisson
    if isinstance(bc, str):
        bc = [(bc, bc)] * d
    else:
        bc = list(bc)
        if len(bc) != d:
            raise ValueError(f"bc has {len(bc)} entries for a {d}-D grid")
        bc = [(b, b) if isinstance(b, str) else tuple(b) for b in bc]
    for pair in bc:
        if len(pair) != 2 or any(b not in _BCS for b in pair):
            raise ValueError(f"bc entries must be 'dirichlet' or 'neumann' (or (low, high) pairs), got {pair!r}")
    return shape, h, bc


def poisson(shape: tuple[int, ...], spacing: float | Sequence[float] | None = None,
            bc: str | Sequence[str | tuple[str, str]] = "dirichlet", *,
            comm: PETSc.Comm | MPI.Comm | None = None) -> PETSc.Mat:
    """Assemble ``−Δ`` (5-point 2D / 7-point 3D) on a DMDA, distributed over ``comm``.

    Parameters
    ----------
    shape : tuple of int
        ``(N0, N1)`` or ``(N0, N1, N2)`` cells, as :func:`krylearn.pde.poisson`.
    spacing : float or sequence of float, optional
        Cell size per axis; default ``h_a = 1/(N_a + 1)`` (as :func:`krylearn.pde.poisson`).
    bc : {"dirichlet", "neumann"} or sequence
        One condition for all box faces, or one per axis (a string or a ``(low, high)`` pair).
    comm : communicator, optional
        Default ``PETSc.COMM_WORLD``.

    Returns
    -------
    petsc4py.PETSc.Mat
        An MPI (or sequential) AIJ matrix, tagged symmetric (and SPD when some face is Dirichlet),
        with the DMDA attached: ``A.getDM()`` creates compatible vectors, and
        :func:`to_natural`/:func:`from_natural` convert between its distributed (PETSc) ordering
        and krylearn's C-order numbering.

    Notes
    -----
    Row ``i`` is ``Σ_faces w_f (u_i − u_nb)`` with ``w_f = 1/h_a²``; a Dirichlet box face adds
    ``w_f`` to the diagonal only, a Neumann box face is dropped -- exactly the definition of
    :class:`krylearn.operators.PoissonStencil` without mask and with coefficient 1 (masks and
    variable coefficients are not supported here).

    Examples
    --------
    Run with ``mpiexec -n 2 python script.py``::

        A = krylearn.petsc.poisson((256, 256))
        b = A.createVecLeft(); b.set(1.0)
        res = krylearn.petsc.solve(A, b, pc="krylearn.petsc.SSOR", rtol=1e-8)
        u = krylearn.petsc.to_natural(res.info["x_vec"])   # the whole solution on every rank
    """
    shape, h, bc = _normalise(shape, spacing, bc)
    d = len(shape)
    comm = PETSc.COMM_WORLD if comm is None else comm
    da = PETSc.DMDA().create(dim=d, dof=1, sizes=shape[::-1], stencil_width=1,
                             stencil_type=PETSc.DMDA.StencilType.STAR,
                             boundary_type=(PETSc.DM.BoundaryType.NONE,) * d, comm=comm)
    da.setUp()
    A = da.createMat()
    A.setOption(PETSc.Mat.Option.NEW_NONZERO_ALLOCATION_ERR, True)
    rstart, rend = A.getOwnershipRange()
    # the box of cells this rank owns, in krylearn axis order (DMDA's x is krylearn's last axis)
    ranges = da.getRanges()[::-1]
    lo = np.array([r[0] for r in ranges])
    hi = np.array([r[1] for r in ranges])
    box = tuple(int(b - a) for a, b in zip(lo, hi))
    nloc = int(np.prod(box))
    if nloc != rend - rstart:
        raise RuntimeError(f"DMDA box {box} does not match the matrix ownership range {rstart}:{rend}")
    grids = np.meshgrid(*[np.arange(a, b) for a, b in zip(lo, hi)], indexing="ij")
    cells = [g.ravel() for g in grids]  # C order over the box == PETSc's local (x-fastest) order
    ao = da.getAO()

    diag = np.zeros(nloc)
    nb_rows, nb_nat, nb_vals = [], [], []
    local = np.arange(nloc)
    for a in range(d):
        w = 1.0 / h[a] ** 2
        for step, side in ((-1, 0), (1, 1)):
            j = cells[a] + step
            inside = (j >= 0) & (j < shape[a])
            # interior face: w on the diagonal, −w to the neighbour
            diag[inside] += w
            nb = [c[inside] for c in cells]
            nb[a] = j[inside]
            nb_rows.append(local[inside])
            nb_nat.append(np.ravel_multi_index(tuple(nb), shape))
            nb_vals.append(np.full(int(inside.sum()), -w))
            # box face: Dirichlet puts w on the diagonal, Neumann drops the face
            if bc[a][side] == "dirichlet":
                diag[~inside] += w
    nat = np.concatenate(nb_nat).astype(PETSc.IntType)
    petsc_cols = np.asarray(ao.app2petsc(nat), dtype=np.int64)
    r = np.concatenate([local] + nb_rows)
    c = np.concatenate([local + rstart, petsc_cols])
    v = np.concatenate([diag] + nb_vals)
    csr = sp.csr_matrix((v, (r, c)), shape=(nloc, A.getSize()[1]))
    csr.sort_indices()
    A.setValuesCSR(csr.indptr.astype(PETSc.IntType), csr.indices.astype(PETSc.IntType),
                   csr.data.astype(PETSc.ScalarType))
    A.assemble()
    A.setOption(PETSc.Mat.Option.SYMMETRIC, True)
    A.setOption(PETSc.Mat.Option.SYMMETRY_ETERNAL, True)
    if any("dirichlet" in pair for pair in bc):
        set_spd(A)
    return A


def _dm_of(obj):
    if isinstance(obj, PETSc.DM):
        return obj
    dm = obj.getDM()
    if not dm or not isinstance(dm, PETSc.DMDA):
        raise ValueError(f"this PETSc {type(obj).__name__} has no DMDA attached; pass dm= (the Mat made by "
                         "krylearn.petsc.poisson, or its A.getDM())")
    return dm


def to_natural(vec: PETSc.Vec, dm: PETSc.DM | PETSc.Mat | None = None, *,
               root: int | None = None) -> np.ndarray | None:
    """A DMDA global vector as a NumPy array in krylearn's C-order numbering (the whole vector).

    Collective. ``root=None`` returns it on every rank; ``root=r`` returns it on rank ``r`` and
    ``None`` elsewhere. ``dm`` defaults to ``vec.getDM()``.
    """
    dm = _dm_of(vec if dm is None else dm)
    nat = dm.createNaturalVec()
    dm.globalToNatural(vec, nat)
    if root is None:
        scatter, out = PETSc.Scatter.toAll(nat)
    else:
        if root != 0:
            raise ValueError("to_natural: root must be None or 0")
        scatter, out = PETSc.Scatter.toZero(nat)
    scatter.scatter(nat, out, addv=PETSc.InsertMode.INSERT_VALUES, mode=PETSc.ScatterMode.FORWARD)
    arr = out.array_r.copy()
    scatter.destroy()
    out.destroy()
    nat.destroy()
    if root is not None and vec.getComm().getRank() != root:
        return None
    return arr


def from_natural(dm: PETSc.DM | PETSc.Mat, array: npt.ArrayLike) -> PETSc.Vec:
    """The DMDA global vector whose entries, in krylearn's C-order numbering, are ``array``
    (the whole vector, given on every rank). ``dm`` may be the DMDA or a Mat made by
    :func:`poisson`."""
    dm = _dm_of(dm)
    array = np.asarray(array).ravel()
    nat = dm.createNaturalVec()
    if array.size != nat.getSize():
        raise ValueError(f"array has {array.size} entries, the grid has {nat.getSize()}")
    rs, re = nat.getOwnershipRange()
    nat.array_w[...] = array[rs:re]
    g = dm.createGlobalVec()
    dm.naturalToGlobal(nat, g)
    nat.destroy()
    return g

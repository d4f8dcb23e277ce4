"""Operators both ways between krylearn and PETSc: :func:`as_mat` and :class:`PetscMatOperator`.

This module lives in the operator layer (``kl.aslinearoperator(petsc_mat)`` needs it, and the
operator layer imports nothing above it); :mod:`krylearn.petsc` re-exports its names. Importing it
imports petsc4py.

A krylearn :class:`~krylearn.LinearOperator` becomes a PETSc ``Mat`` of type ``"python"``
(products call back into NumPy/numba; ``getDiagonal`` is provided when the operator knows its
diagonal, so ``-pc_type jacobi`` works on it), and a PETSc ``Mat`` becomes a krylearn operator
(products go through ``MatMult``; the diagonal and, for AIJ matrices, the CSR arrays are read
from PETSc).

Reference: S. Balay et al., "PETSc/TAO Users Manual", ANL-21/39 (revision 3.26), section on
matrix-free (shell/python) matrices; L. Dalcin et al., "Parallel distributed computing using
Python", Adv. Water Resources 34 (2011) for petsc4py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

if TYPE_CHECKING:  # pragma: no cover - names for static checkers only
    from mpi4py import MPI

    from ..typing import OperatorLike

from .._optional import require

require("petsc4py.PETSc", "PETSc matrices as krylearn operators")
from petsc4py import PETSc  # noqa: E402

from .base import LinearOperator  # noqa: E402
from .convert import SparseOperator, _Retagged, aslinearoperator  # noqa: E402

__all__ = ["as_mat", "as_aij", "PetscMatOperator", "MatContext", "local_block", "local_csr", "set_spd"]

_AIJ_TYPES = ("seqaij", "mpiaij", "aij", "seqaijperm", "mpiaijperm", "seqaijsell", "mpiaijsell",
              "seqaijmkl", "mpiaijmkl", "seqaijcrl", "mpiaijcrl")


def _scalar_is_complex() -> bool:
    return np.dtype(PETSc.ScalarType).kind == "c"


class MatContext:
    """The context of a PETSc python Mat made by :func:`as_mat`: applies a krylearn operator.

    PETSc calls ``mult(mat, x, y)`` (``y = A x``), ``multTranspose`` (``y = A^T x``),
    ``multHermitian`` (``y = A^H x``), ``getDiagonal(mat, d)`` and ``view``. The vectors are
    sequential (the operator acts on the whole vector).

    Attributes
    ----------
    op : LinearOperator
        The wrapped operator (``ctx.op``; PETSc's ``mat.getPythonContext().op``).
    n_mult : int
        Number of products applied (for tests and benchmarks).
    """

    def __init__(self, op: LinearOperator) -> None:
        self.op = op
        self.n_mult = 0

    def mult(self, mat: PETSc.Mat, x: PETSc.Vec, y: PETSc.Vec) -> None:
        self.n_mult += 1
        y.array_w[...] = self.op.matvec(x.array_r)

    def multTranspose(self, mat: PETSc.Mat, x: PETSc.Vec, y: PETSc.Vec) -> None:
        xr = x.array_r
        if np.iscomplexobj(xr):
            y.array_w[...] = np.conj(self.op.rmatvec(np.conj(xr)))
        else:
            y.array_w[...] = np.real_if_close(self.op.rmatvec(xr))

    def multHermitian(self, mat: PETSc.Mat, x: PETSc.Vec, y: PETSc.Vec) -> None:
        y.array_w[...] = self.op.rmatvec(x.array_r)

    def getDiagonal(self, mat: PETSc.Mat, d: PETSc.Vec) -> None:
        try:
            diag = self.op.diagonal()
        except NotImplementedError as exc:
            raise NotImplementedError(
                f"the diagonal of the wrapped krylearn operator {self.op!r} is not known, so "
                "MatGetDiagonal (needed e.g. by -pc_type jacobi) is not available") from exc
        d.array_w[...] = diag

    def view(self, mat: PETSc.Mat, viewer: PETSc.Viewer) -> None:
        if viewer.getType() == PETSc.Viewer.Type.ASCII:
            viewer.printfASCII(f"  krylearn operator: {self.op!r}\n")


def as_mat(op: OperatorLike, *, comm: PETSc.Comm | MPI.Comm | None = None) -> PETSc.Mat:
    """A PETSc ``Mat`` of type ``"python"`` whose products apply a krylearn operator.

    Parameters
    ----------
    op : operator-like
        Anything :func:`krylearn.aslinearoperator` accepts (a stencil operator, a sparse matrix,
        a composed operator, ...). Real operators only when PETSc's scalar type is real.
    comm : mpi4py or petsc4py communicator, optional
        Must have a single rank (default ``PETSc.COMM_SELF``): the operator acts on whole
        vectors. For distributed matrices assemble a PETSc AIJ matrix (e.g.
        :func:`krylearn.petsc.poisson`).

    Returns
    -------
    petsc4py.PETSc.Mat
        Type ``"python"``, with ``mult``, ``multTranspose``, ``multHermitian`` (when the operator
        has an adjoint) and ``getDiagonal`` (when the operator knows its diagonal, so
        ``-pc_type jacobi`` works). The structure tags of ``op`` become the Mat options
        ``SYMMETRIC``/``HERMITIAN``/``SPD``. ``mat.getPythonContext().op`` is ``op``.

    Notes
    -----
    Each product costs one Python call on top of the operator's own work (a few microseconds);
    preconditioners needing matrix entries (PCSOR, PCICC, PCGAMG) do not work on a python Mat
    -- use the krylearn contexts (:class:`krylearn.petsc.SSOR`, ...), which read the operator's
    ``tocsr()`` or diagonal, or assemble with :func:`as_aij`.

    Examples
    --------
    >>> import numpy as np, krylearn as kl, krylearn.petsc as klp
    >>> A = klp.as_mat(kl.pde.poisson((32, 32)))
    >>> res = klp.solve(A, np.ones(1024), pc="jacobi", rtol=1e-8)
    >>> res.converged
    True
    """
    A = aslinearoperator(op)
    comm = PETSc.COMM_SELF if comm is None else comm
    size = comm.getSize() if hasattr(comm, "getSize") else comm.Get_size()
    if size != 1:
        raise ValueError(f"as_mat builds a sequential python Mat, but the communicator has {size} ranks; "
                         "assemble a distributed AIJ matrix instead (e.g. krylearn.petsc.poisson)")
    if np.iscomplexobj(np.empty(0, A.dtype)) and not _scalar_is_complex():
        raise ValueError(f"the operator has complex dtype {A.dtype} but this PETSc build uses real "
                         f"scalars ({np.dtype(PETSc.ScalarType)})")
    m, n = A.shape
    mat = PETSc.Mat().createPython(((m, m), (n, n)), MatContext(A), comm=comm)
    if A.symmetric:
        mat.setOption(PETSc.Mat.Option.SYMMETRIC, True)
    if A.hermitian:
        mat.setOption(PETSc.Mat.Option.HERMITIAN, True)
    if A.positive_definite and m == n:
        set_spd(mat)
    return mat


def as_aij(A: sp.spmatrix | sp.sparray | np.ndarray | LinearOperator, *,
           comm: PETSc.Comm | MPI.Comm | None = None) -> PETSc.Mat:
    """Assemble a sequential PETSc AIJ matrix from a SciPy sparse matrix, a dense array, or a
    krylearn operator that has ``tocsr()`` (e.g. ``kl.pde.poisson(shape)``).

    The CSR arrays are copied into PETSc; tags (symmetric, positive definite) become Mat options.
    """
    tags: dict[str, bool] = {}
    if isinstance(A, LinearOperator):
        tags = dict(symmetric=A.symmetric, hermitian=A.hermitian, positive_definite=A.positive_definite)
        if not hasattr(A, "tocsr"):
            raise ValueError(f"{A!r} cannot be assembled: it has no tocsr(); use as_mat for a python Mat")
        try:
            A = A.tocsr()
        except NotImplementedError as exc:
            raise ValueError(f"{A!r} cannot be assembled (tocsr is not implemented); use as_mat") from exc
    A = sp.csr_matrix(A)
    A.sum_duplicates()
    A.sort_indices()
    comm = PETSc.COMM_SELF if comm is None else comm
    mat = PETSc.Mat().createAIJ(A.shape, csr=(A.indptr.astype(PETSc.IntType), A.indices.astype(PETSc.IntType),
                                              A.data.astype(PETSc.ScalarType)), comm=comm)
    mat.assemble()
    if tags.get("symmetric"):
        mat.setOption(PETSc.Mat.Option.SYMMETRIC, True)
    if tags.get("hermitian"):
        mat.setOption(PETSc.Mat.Option.HERMITIAN, True)
    if tags.get("positive_definite"):
        set_spd(mat)
    return mat


class PetscMatOperator(LinearOperator):
    """A PETSc ``Mat`` as a krylearn :class:`~krylearn.LinearOperator`.

    ``kl.aslinearoperator(mat)`` returns one. Products call ``MatMult``/``MatMultHermitian`` on
    work vectors created once; ``diagonal()`` calls ``MatGetDiagonal``; ``tocsr()`` reads the
    CSR arrays of a sequential AIJ matrix. A python Mat made by :func:`as_mat` is unwrapped
    back to its krylearn operator for ``tocsr``/``diagonal``.

    Parameters
    ----------
    mat : petsc4py.PETSc.Mat
    symmetric, positive_definite, hermitian : bool, optional
        Structure tags; a tag is also set when the Mat's own option (``SYMMETRIC``,
        ``HERMITIAN``) is known to be set, or ``SPD`` was set by krylearn (:func:`set_spd`;
        petsc4py cannot query ``MatIsSPDKnown``).

    Notes
    -----
    On a communicator of several ranks the operator maps **this rank's** entries to this rank's
    entries (``shape`` is the local size, every product is collective). krylearn's own solvers are
    serial: use :func:`krylearn.petsc.solve` for distributed solves.
    """

    def __init__(self, mat: PETSc.Mat, *, symmetric: bool | None = None, positive_definite: bool | None = None,
                 hermitian: bool | None = None) -> None:
        if not isinstance(mat, PETSc.Mat):
            raise TypeError(f"PetscMatOperator needs a petsc4py PETSc.Mat, got {type(mat).__name__}")
        known = _known_flags(mat)
        sym = bool(symmetric) or known["symmetric"]
        spd = bool(positive_definite) or known["spd"]
        herm = bool(hermitian) or known["hermitian"] or (sym and not _scalar_is_complex())
        (mloc, _), (nloc, _) = mat.getSizes()
        self.parallel: bool = mat.getComm().getSize() > 1
        super().__init__((mloc, nloc), dtype=np.dtype(PETSc.ScalarType), symmetric=sym, hermitian=herm,
                         positive_definite=spd)
        self.mat = mat
        self._x, self._y = mat.createVecs()  # x: length of columns, y: length of rows

    def _matvec(self, x):
        if np.iscomplexobj(x) and not _scalar_is_complex():
            # a complex vector on a real PETSc build: the real and imaginary parts (writing it into
            # the real work vector dropped the imaginary part; found by OperatorTestCase)
            return self._matvec(x.real) + 1j * self._matvec(x.imag)
        self._x.array_w[...] = x
        self.mat.mult(self._x, self._y)
        return self._y.array_r.copy()

    def _rmatvec(self, x):
        if np.iscomplexobj(x) and not _scalar_is_complex():   # as in _matvec
            return self._rmatvec(x.real) + 1j * self._rmatvec(x.imag)
        self._y.array_w[...] = x
        self.mat.multHermitian(self._y, self._x)
        return self._x.array_r.copy()

    def _diagonal(self):
        d = self.mat.createVecLeft()
        self.mat.getDiagonal(d)
        return d.array_r.copy()

    def tocsr(self) -> sp.csr_matrix:
        """The matrix as ``scipy.sparse.csr_matrix`` (sequential AIJ, or a python Mat over a
        krylearn operator that has ``tocsr``)."""
        if self.parallel:
            raise ValueError("tocsr() of a distributed PETSc Mat: use krylearn.petsc.local_csr(mat) for "
                             "this rank's diagonal block")
        return local_csr(self.mat)

    def todense(self) -> np.ndarray:
        if not self.parallel and self.mat.getType() in _AIJ_TYPES + ("seqdense", "dense"):
            return self.tocsr().toarray()
        return super().todense()

    def __repr__(self):
        return f"<{self.shape[0]}x{self.shape[1]} PetscMatOperator type={self.mat.getType()}>"


def _known_flags(mat: PETSc.Mat) -> dict[str, bool]:
    out: dict[str, bool] = {}
    for key, getter in (("symmetric", "isSymmetricKnown"), ("hermitian", "isHermitianKnown")):
        try:
            known, flag = getattr(mat, getter)()
        except (AttributeError, PETSc.Error):
            known, flag = False, False
        out[key] = bool(known and flag)
    # petsc4py has no MatIsSPDKnown: krylearn records the SPD option it sets (set_spd) as an attribute
    out["spd"] = bool(mat.getAttr("krylearn_spd"))
    return out


def set_spd(mat: PETSc.Mat, flag: bool = True) -> None:
    """Set PETSc's ``MAT_SPD`` option and remember it (read back by :class:`PetscMatOperator`)."""
    mat.setOption(PETSc.Mat.Option.SPD, bool(flag))
    mat.setAttr("krylearn_spd", bool(flag))


def local_block(mat: PETSc.Mat) -> LinearOperator:
    """This rank's diagonal block of ``mat`` as a krylearn operator (what the krylearn PC contexts
    precondition, like PETSc's block Jacobi).

    * python Mat made by :func:`as_mat`: the wrapped krylearn operator (single rank);
    * AIJ (sequential or MPI): the local diagonal block ``MatGetDiagonalBlock`` as a
      :class:`~krylearn.operators.SparseOperator` (CSR copied), tagged from the Mat's options;
    * other assembled types are converted to AIJ first.
    """
    if mat.getType() == "python":
        ctx = mat.getPythonContext()
        if isinstance(ctx, MatContext):
            if mat.getComm().getSize() > 1:
                raise ValueError("a krylearn python Mat on several ranks has no local block")
            return ctx.op
        raise ValueError(f"cannot read the entries of a python Mat whose context is {type(ctx).__name__}; "
                         "wrap a krylearn operator with krylearn.petsc.as_mat or assemble an AIJ matrix")
    csr = local_csr(mat)
    flags = _known_flags(mat)
    return SparseOperator(csr, symmetric=flags["symmetric"] or flags["spd"],
                          positive_definite=flags["spd"])


def local_csr(mat: PETSc.Mat) -> sp.csr_matrix:
    """This rank's diagonal block of an assembled PETSc matrix as ``scipy.sparse.csr_matrix``."""
    if mat.getType() == "python":
        op = local_block(mat)
        while isinstance(op, _Retagged):
            op = op.args[0]
        msg = (f"the krylearn operator {op!r} behind this python Mat has no tocsr(); "
               "this preconditioner needs matrix entries")
        if not hasattr(op, "tocsr"):  # a duck-typed method (sparse and stencil operators have it)
            raise ValueError(msg)
        try:
            return sp.csr_matrix(op.tocsr())
        except (AttributeError, NotImplementedError) as exc:
            raise ValueError(msg) from exc
    block = mat.getDiagonalBlock() if mat.getComm().getSize() > 1 else mat
    if block.getType() not in _AIJ_TYPES:
        block = block.convert("aij")
    indptr, indices, data = block.getValuesCSR()
    shape = block.getSize()
    return sp.csr_matrix((data.copy(), indices.astype(np.int64), indptr.astype(np.int64)), shape=shape)

"""Wrapping matrices of every kind as krylearn operators: :func:`aslinearoperator`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .._lazy import load
from .base import LinearOperator, register_conversion

if TYPE_CHECKING:  # annotations only (krylearn.typing)
    from typing import Any

    import numpy.typing as npt

    from ..typing import OperatorLike

__all__ = ["aslinearoperator", "MatrixOperator", "SparseOperator", "ScipyOperator", "check_finite_matrix",
           "register_backend"]

#: Operator back-ends for array types of optional libraries: the top-level module of the array's
#: type → ``"module:OperatorClass"``, loaded when first met (no import of torch or petsc4py, nor
#: of the wrapper modules that build on this one, until then). See :func:`register_backend`.
_BACKENDS = {"torch": "krylearn.operators.torch_operator:TorchOperator",
             "petsc4py": "krylearn.operators.petsc_mat:PetscMatOperator"}


def register_backend(module_prefix: str, spec: str) -> None:
    """Teach :func:`aslinearoperator` a new array type: objects whose type lives in the top-level
    module ``module_prefix`` become ``load(spec)(A, symmetric=..., positive_definite=...,
    hermitian=...)``, with ``spec = "package.module:OperatorClass"`` (a LinearOperator subclass)."""
    if not isinstance(spec, str) or ":" not in spec:
        raise ValueError(f"spec must be 'package.module:OperatorClass', got {spec!r}")
    _BACKENDS[str(module_prefix)] = spec


def _tags(symmetric, positive_definite, hermitian=None):
    return dict(symmetric=symmetric, positive_definite=positive_definite, hermitian=hermitian)


class MatrixOperator(LinearOperator):
    """A dense ``numpy.ndarray`` as an operator (BLAS products)."""

    def __init__(self, A: npt.ArrayLike, *, symmetric: bool = False, positive_definite: bool = False,
                 hermitian: bool | None = None) -> None:
        A = np.asarray(A)
        if A.ndim != 2:
            raise ValueError(f"a matrix must be 2-D, got an array of shape {A.shape}")
        if not (np.issubdtype(A.dtype, np.floating) or np.issubdtype(A.dtype, np.complexfloating)):
            A = A.astype(np.float64)
        super().__init__(A.shape, dtype=A.dtype, **_tags(symmetric, positive_definite, hermitian))
        self.A = A

    def _matvec(self, x):
        return self.A @ x

    def _rmatvec(self, x):
        return self.A.conj().T @ x

    def _matmat(self, X):
        return self.A @ X

    def _rmatmat(self, X):
        return self.A.conj().T @ X

    def _diagonal(self):
        return np.diagonal(self.A).copy()

    def todense(self) -> np.ndarray:
        return self.A.copy()

    def tocsr(self) -> sp.csr_matrix:
        return sp.csr_matrix(self.A)


class SparseOperator(LinearOperator):
    """A ``scipy.sparse`` matrix (stored as CSR) as an operator."""

    def __init__(self, A: sp.spmatrix | sp.sparray | npt.ArrayLike, *, symmetric: bool = False,
                 positive_definite: bool = False, hermitian: bool | None = None) -> None:
        A = sp.csr_matrix(A)
        if not (np.issubdtype(A.dtype, np.floating) or np.issubdtype(A.dtype, np.complexfloating)):
            A = A.astype(np.float64)
        A.sum_duplicates()
        super().__init__(A.shape, dtype=A.dtype, **_tags(symmetric, positive_definite, hermitian))
        self.A = A
        self._AH = None

    def _matvec(self, x):
        return self.A @ x

    def _rmatvec(self, x):
        if self._AH is None:
            self._AH = self.A.conj().T.tocsr()
        return self._AH @ x

    def _matmat(self, X):
        return self.A @ X

    def _rmatmat(self, X):
        if self._AH is None:
            self._AH = self.A.conj().T.tocsr()
        return self._AH @ X

    def _diagonal(self):
        return self.A.diagonal()

    def todense(self) -> np.ndarray:
        return self.A.toarray()

    def tocsr(self) -> sp.csr_matrix:
        return self.A


class ScipyOperator(LinearOperator):
    """A ``scipy.sparse.linalg.LinearOperator`` as a krylearn operator."""

    def __init__(self, A: spla.LinearOperator, **tags: Any) -> None:
        super().__init__(A.shape, dtype=A.dtype if A.dtype is not None else np.float64, **tags)
        self.A = A

    def _matvec(self, x):
        return self.A.matvec(x)

    def _rmatvec(self, x):
        try:
            return self.A.rmatvec(x)
        except NotImplementedError:
            return super()._rmatvec(x)

    def _matmat(self, X):
        return self.A.matmat(X)

    def to_scipy(self) -> spla.LinearOperator:
        return self.A


def aslinearoperator(A: OperatorLike, *, symmetric: bool | None = None, positive_definite: bool | None = None,
                     hermitian: bool | None = None) -> LinearOperator:
    """Wrap ``A`` as a krylearn :class:`LinearOperator`.

    Parameters
    ----------
    A : array_like, scipy.sparse matrix/array, scipy LinearOperator, torch.Tensor,
        petsc4py ``PETSc.Mat`` or krylearn LinearOperator
        The matrix or operator. krylearn operators are returned unchanged (unless tags are
        given, in which case a re-tagged view is returned).
    symmetric, positive_definite, hermitian : bool, optional
        Structure tags to declare. ``None`` keeps what the input says (nothing for raw
        matrices: krylearn does not run an O(n^2) symmetry check behind your back).

    Returns
    -------
    LinearOperator
    """
    given = {k: v for k, v in dict(symmetric=symmetric, positive_definite=positive_definite,
                                   hermitian=hermitian).items() if v is not None}
    if isinstance(A, LinearOperator):
        if not given:
            return A
        return _retag(A, **given)
    tags: dict[str, Any] = dict(symmetric=given.get("symmetric", False),
                positive_definite=given.get("positive_definite", False),
                hermitian=given.get("hermitian"))
    if sp.issparse(A):
        return SparseOperator(A, **tags)
    if isinstance(A, spla.LinearOperator):
        return ScipyOperator(A, **tags)
    mod = type(A).__module__ or ""
    for prefix, spec in _BACKENDS.items():
        if mod.split(".")[0] == prefix:
            # the back-end's operator class, imported on first use (a missing torch or petsc4py
            # raises an ImportError that says how to install it)
            return load(spec)(A, **tags)
    if isinstance(A, (np.ndarray, list, tuple)) or np.isscalar(A) is False and hasattr(A, "__array__"):
        arr = np.asarray(A)
        if arr.dtype == object:
            raise TypeError(f"cannot make a linear operator from an object array ({type(A).__name__})")
        return MatrixOperator(arr, **tags)
    raise TypeError(f"cannot make a linear operator from {type(A).__name__}; pass an array, a sparse "
                    "matrix, a SciPy/krylearn LinearOperator, a torch tensor or a PETSc Mat")


class _Retagged(LinearOperator):
    def __init__(self, A, **tags):
        base = dict(symmetric=A.symmetric, positive_definite=A.positive_definite, hermitian=A.hermitian)
        base.update(tags)
        super().__init__(A.shape, dtype=A.dtype, **base)
        self.args = (A,)

    def _matvec(self, x):
        return self.args[0].matvec(x)

    def _rmatvec(self, x):
        return self.args[0].rmatvec(x)

    def _matmat(self, X):
        return self.args[0].matmat(X)

    def _diagonal(self):
        return self.args[0].diagonal()

    def tocsr(self):
        return self.args[0].tocsr()


def _retag(A, **tags):
    return _Retagged(A, **tags)


def check_finite_matrix(A):
    """Raise ``ValueError`` if the stored entries of ``A`` (dense or sparse) are not finite.

    Operators without stored entries are not inspected here (solvers check their first
    product instead)."""
    data = None
    inner = A
    while isinstance(inner, _Retagged):
        inner = inner.args[0]
    if isinstance(inner, MatrixOperator):
        data = inner.A
    elif isinstance(inner, SparseOperator):
        data = inner.A.data
    if data is not None and not np.all(np.isfinite(data)):
        raise ValueError("the matrix A contains NaN or Inf entries")


register_conversion(aslinearoperator)

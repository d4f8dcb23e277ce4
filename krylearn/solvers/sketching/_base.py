"""The sketch base class (a :class:`~krylearn.LinearOperator` with :meth:`Sketch.apply`), the
identity sketch and the input helpers shared by every sketch (:mod:`.sketches` lists them all)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numbers

import numpy as np
import scipy.sparse as sp

from ...operators.base import LinearOperator
from ...operators.convert import MatrixOperator, SparseOperator, aslinearoperator

if TYPE_CHECKING:  # annotations only
    from typing import Any, Callable
    from ...typing import OperatorLike


_COLUMN_BLOCK = 64        # columns of A per block for matrix-free A
_GAUSS_CHUNK = 4096       # columns of S generated per RNG stream (fixed: results do not depend on A's type)


def _check_size(value, name, lo=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    if value < lo:
        raise ValueError(f"{name} must be at least {lo}, got {value}")
    return int(value)


def _unwrap(A):
    """Return ``("dense", ndarray) | ("sparse", csr) | ("operator", LinearOperator)``."""
    if isinstance(A, np.ndarray):
        if A.ndim != 2:
            raise ValueError(f"A must be 2-D, got shape {A.shape}")
        return "dense", A
    if sp.issparse(A):
        return "sparse", sp.csr_matrix(A)
    op = aslinearoperator(A)
    inner = op
    while type(inner).__name__ == "_Retagged":
        inner = inner.args[0]
    if isinstance(inner, MatrixOperator):
        return "dense", inner.A
    if isinstance(inner, SparseOperator):
        return "sparse", inner.A
    return "operator", op


def _column_blocks(A, width=_COLUMN_BLOCK):
    """Yield ``(c0, c1, dense block A[:, c0:c1])`` for a matrix-free operator via ``matmat``."""
    n, d = A.shape
    for c0 in range(0, d, width):
        c1 = min(d, c0 + width)
        E = np.zeros((d, c1 - c0), dtype=A.dtype)
        E[np.arange(c0, c1), np.arange(c1 - c0)] = 1.0
        yield c0, c1, np.asarray(A.matmat(E))


def _real_and_imaginary(method):
    """Wrap a product of a real sketch that computes in float64: a complex input is applied as its
    real and imaginary parts (casting it to float64 dropped the imaginary part, with only a
    ComplexWarning; found by the OperatorTestCase check of complex vectors)."""
    def wrapped(self, X):
        if np.iscomplexobj(X):
            return method(self, np.real(X)) + 1j * method(self, np.imag(X))
        return method(self, X)

    wrapped.__name__, wrapped.__doc__ = method.__name__, method.__doc__
    return wrapped


class Sketch(LinearOperator):
    """Base class: a seeded random ``m x n`` sketch with ``E[SᵀS] = I``.

    Subclasses implement ``_matvec`` (``S x``), ``_rmatvec`` (``Sᵀ y``) and the three
    ``_apply_dense`` / ``_apply_sparse`` / ``_apply_operator`` paths of :meth:`apply`.
    """

    kind = "sketch"

    #: the dense path of :meth:`apply`, ``A -> S A`` (each sketch defines it)
    _apply_dense: Callable[[np.ndarray], np.ndarray]

    def __init__(self, m: Any, n: Any, seed: Any = None) -> None:
        m = _check_size(m, "sketch size m")
        n = _check_size(n, "number of rows n")
        super().__init__((m, n), dtype=np.float64)
        self.seed = seed
        self._ss = np.random.SeedSequence(seed if not isinstance(seed, np.random.SeedSequence) else seed.entropy)

    def _rng(self, *key):
        return np.random.default_rng(np.random.SeedSequence(self._ss.entropy, spawn_key=key))

    def apply(self, A: OperatorLike) -> Any:
        """Return the dense ``m x d`` array ``S A``.

        ``A`` may be a NumPy array, a ``scipy.sparse`` matrix (kept sparse) or anything
        :func:`krylearn.aslinearoperator` accepts (applied in column blocks via ``matmat``).
        """
        kind, M = _unwrap(A)
        if M.shape[0] != self.shape[1]:
            raise ValueError(f"the sketch has {self.shape[1]} columns but A has {M.shape[0]} rows")
        if kind == "dense":
            return self._apply_dense(np.asarray(M, dtype=np.float64))
        if kind == "sparse":
            return self._apply_sparse(M.astype(np.float64))
        return self._apply_operator(M)

    # default: column blocks through the dense path
    def _apply_operator(self, A):
        out = np.empty((self.shape[0], A.shape[1]))
        for c0, c1, B in _column_blocks(A):
            out[:, c0:c1] = self._apply_dense(np.asarray(B, dtype=np.float64))
        return out

    def _apply_sparse(self, A):
        out = np.empty((self.shape[0], A.shape[1]))
        Acsc = A.tocsc()
        for c0 in range(0, A.shape[1], _COLUMN_BLOCK):
            c1 = min(A.shape[1], c0 + _COLUMN_BLOCK)
            out[:, c0:c1] = self._apply_dense(Acsc[:, c0:c1].toarray())
        return out

    @_real_and_imaginary
    def _matmat(self, X):
        # the whole block in one pass of the dense path (the default applies _matvec column by
        # column, which for the Gaussian sketch regenerates S for every column: (SᴴS).todense()
        # of a 5 x 4500 sketch took 30 s)
        return self._apply_dense(np.asarray(X, dtype=np.float64))

    def todense(self) -> np.ndarray:
        return self._apply_dense(np.eye(self.shape[1]))

    def __repr__(self):
        return f"<{self.shape[0]}x{self.shape[1]} {type(self).__name__} seed={self.seed!r}>"


class IdentitySketch(Sketch):
    """``S = I`` (``n × n``): no sketching. What :func:`krylearn.lstsq` uses for a matrix that is not tall
    enough to sketch (the default sketch would need as many rows as ``A`` has, and a square random
    sketch may lose rank): the "preconditioner" is then ``A``'s own QR, exact."""

    kind = "identity"

    def __init__(self, n: Any) -> None:
        super().__init__(n, n, seed=None)

    def _apply_dense(self, A):
        return np.array(A, dtype=np.float64, copy=True)

    def _apply_sparse(self, A):
        return A.toarray().astype(np.float64, copy=False)

    def _matvec(self, x):
        return np.array(x, dtype=np.result_type(x.dtype, np.float64), copy=True)   # complex stays complex

    def _rmatvec(self, y):
        return np.array(y, dtype=np.result_type(y.dtype, np.float64), copy=True)


# ---------------------------------------------------------------------------------------
# Gaussian
# ---------------------------------------------------------------------------------------

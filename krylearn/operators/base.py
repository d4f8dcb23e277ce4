"""The one linear-operator abstraction of krylearn.

A :class:`LinearOperator` is anything with a ``shape``, a ``dtype``, a forward product
(``matvec``) and, where it is known, an adjoint product (``rmatvec``, i.e. ``A^H x``).
Everything else — ``matmat``, ``.T``, ``.H``, lazy ``+``/``-``/``@``/scalar ``*``,
``todense`` and conversion to SciPy — is derived from those.

Subclasses implement ``_matvec`` and (optionally) ``_rmatvec``; they may override
``_matmat``, ``_diagonal`` and ``todense`` with faster versions. Structure tags
(``symmetric``, ``hermitian``, ``positive_definite``) are declared by whoever builds the
operator; solvers read them and check them where that is cheap.

The design follows PyLops' ``LinearOperator`` (two methods asked of a subclass) and
lineax's lazy algebra (``@`` composes, ``*`` only scales by scalars).
"""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

if TYPE_CHECKING:  # pragma: no cover - names for static checkers only
    from collections.abc import Sequence

    import scipy.sparse.linalg
    from numpy.typing import DTypeLike
    from typing_extensions import Self


    from ..typing import ArrayLike

#: ``aslinearoperator``, registered by :mod:`krylearn.operators.convert` when it is imported (the
#: package imports it with this module): the algebra below wraps array operands with it, and this
#: module does not import the conversion layer, which builds on it.
_AS_OPERATOR: list[Callable[..., LinearOperator]] = []


def register_conversion(fn: Callable[..., LinearOperator]) -> None:
    """Called once by :mod:`krylearn.operators.convert` with ``aslinearoperator``."""
    _AS_OPERATOR[:] = [fn]


def _as_operator(other: Any) -> LinearOperator:
    return _AS_OPERATOR[0](other)

__all__ = [
    "LinearOperator",
    "IdentityOperator",
    "DiagonalOperator",
    "SumOperator",
    "ProductOperator",
    "ScaledOperator",
    "AdjointOperator",
    "TransposeOperator",
]


def _check_shape(shape: Any) -> tuple[int, int]:
    try:
        shape = tuple(int(s) for s in shape)
    except TypeError as exc:
        raise ValueError(f"shape must be a pair of integers, got {shape!r}") from exc
    if len(shape) != 2 or shape[0] < 0 or shape[1] < 0:
        raise ValueError(f"shape must be a pair of non-negative integers, got {shape!r}")
    return (shape[0], shape[1])


class LinearOperator:
    """A linear map ``x -> A x`` of a given shape and dtype.

    Parameters
    ----------
    shape : tuple of int
        ``(m, n)``: the operator maps vectors of length ``n`` to length ``m``.
    matvec : callable, optional
        ``matvec(x) -> A x`` for a 1-D array ``x`` of length ``n``. Required unless a
        subclass implements ``_matvec``.
    rmatvec : callable, optional
        ``rmatvec(y) -> A^H y``. Without it ``.H``/``.T``/``rmatvec`` raise
        ``NotImplementedError`` (unless the operator is tagged Hermitian/symmetric).
    matmat : callable, optional
        ``matmat(X) -> A X`` for a 2-D array; defaults to applying ``matvec`` per column.
    dtype : numpy dtype, optional
        Defaults to float64.
    symmetric, hermitian, positive_definite : bool
        Structure tags. ``positive_definite`` implies Hermitian for solvers' purposes.
    diagonal : array_like, optional
        The diagonal, if known (used by Jacobi/SSOR preconditioners).

    Attributes
    ----------
    variable : bool
        Class attribute, False: the map is fixed and linear. A preconditioner that is not (one
        with inner iterations, such as :func:`krylearn.precond.multigrid` with its K-cycle
        coarse solve, or a nonlinear learned map) sets it True; :func:`krylearn.cg` then uses
        the flexible update (Notay 2000) on its own and methods that need a fixed ``M``
        (minres, gmres, bicgstab, chebyshev) refuse it with a ``ValueError``.

    Examples
    --------
    >>> import numpy as np, krylearn as kl
    >>> A = kl.LinearOperator((3, 3), matvec=lambda x: 2.0 * x, rmatvec=lambda x: 2.0 * x)
    >>> (A + A) @ np.ones(3)
    array([4., 4., 4.])
    """

    # numpy must defer to our __rmatmul__/__radd__ instead of broadcasting over an object array
    __array_priority__ = 100
    __array_ufunc__ = None
    variable = False

    def __init__(self, shape: tuple[int, int] | Sequence[int],
                 matvec: Callable[[np.ndarray], ArrayLike] | None = None,
                 rmatvec: Callable[[np.ndarray], ArrayLike] | None = None,
                 matmat: Callable[[np.ndarray], ArrayLike] | None = None,
                 dtype: DTypeLike | None = None, *,
 symmetric: bool = False, hermitian: bool | None = None,
                 positive_definite: bool = False, diagonal: ArrayLike | None = None) -> None:
        self.shape: tuple[int, int] = _check_shape(shape)
        self.dtype = np.dtype(dtype if dtype is not None else np.float64)
        if matvec is not None:
            if not callable(matvec):
                raise TypeError("matvec must be callable")
            self._matvec_fn = matvec
        elif type(self)._matvec is LinearOperator._matvec:
            raise TypeError("LinearOperator needs a matvec callable (or a subclass defining _matvec)")
        self._rmatvec_fn = rmatvec
        self._matmat_fn = matmat
        self.symmetric = bool(symmetric)
        # For real operators symmetric == Hermitian; complex ones must say so explicitly.
        if hermitian is None:
            hermitian = self.symmetric and not np.iscomplexobj(np.empty(0, self.dtype))
        self.hermitian = bool(hermitian) or bool(positive_definite)
        self.positive_definite = bool(positive_definite)
        self._diag = None if diagonal is None else np.asarray(diagonal)

    # ---- the two methods a subclass provides ------------------------------------------
    def _matvec(self, x):
        return self._matvec_fn(x)

    def _rmatvec(self, x):
        if getattr(self, "_rmatvec_fn", None) is not None:
            return self._rmatvec_fn(x)
        if self.hermitian:
            return self._matvec(x)
        raise NotImplementedError(
            f"{type(self).__name__} has no adjoint (rmatvec); pass rmatvec= or tag it hermitian")

    def _matmat(self, X):
        if getattr(self, "_matmat_fn", None) is not None:
            return self._matmat_fn(X)
        if X.shape[1] == 0:
            return np.zeros((self.shape[0], 0), dtype=np.result_type(self.dtype, X.dtype))
        return np.column_stack([self._matvec(X[:, j]) for j in range(X.shape[1])])

    def _rmatmat(self, X):
        if X.shape[1] == 0:
            return np.zeros((self.shape[1], 0), dtype=np.result_type(self.dtype, X.dtype))
        return np.column_stack([self._rmatvec(X[:, j]) for j in range(X.shape[1])])

    def _diagonal(self):
        if self._diag is not None:
            return self._diag
        raise NotImplementedError(f"the diagonal of {type(self).__name__} is not known")

    # ---- public application -----------------------------------------------------------
    @property
    def ndim(self) -> int:
        return 2

    @property
    def is_square(self) -> bool:
        return self.shape[0] == self.shape[1]

    def _prep_vec(self, x: ArrayLike, n: int, what: str) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim == 2 and x.shape[1] == 1:
            x = x[:, 0]
        if x.ndim != 1 or x.shape[0] != n:
            raise ValueError(f"{what}: expected a vector of length {n} for an operator of shape "
                             f"{self.shape}, got an array of shape {x.shape}")
        return x

    def matvec(self, x: ArrayLike) -> np.ndarray:
        """Return ``A @ x`` for a vector ``x`` of length ``shape[1]``."""
        x = self._prep_vec(x, self.shape[1], "matvec")
        y = np.asarray(self._matvec(x))
        return y.reshape(self.shape[0])

    def rmatvec(self, x: ArrayLike) -> np.ndarray:
        """Return ``A^H @ x`` (the adjoint) for a vector of length ``shape[0]``."""
        x = self._prep_vec(x, self.shape[0], "rmatvec")
        y = np.asarray(self._rmatvec(x))
        return y.reshape(self.shape[1])

    def matmat(self, X: ArrayLike) -> np.ndarray:
        """Return ``A @ X`` for a 2-D array with ``shape[1]`` rows."""
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[0] != self.shape[1]:
            raise ValueError(f"matmat: expected a 2-D array with {self.shape[1]} rows, got shape {X.shape}")
        return np.asarray(self._matmat(X))

    def rmatmat(self, X: ArrayLike) -> np.ndarray:
        """Return ``A^H @ X`` for a 2-D array with ``shape[0]`` rows."""
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[0] != self.shape[0]:
            raise ValueError(f"rmatmat: expected a 2-D array with {self.shape[0]} rows, got shape {X.shape}")
        return np.asarray(self._rmatmat(X))

    def diagonal(self) -> np.ndarray:
        """The diagonal as a 1-D array (``NotImplementedError`` where it is not known)."""
        if not self.is_square:
            raise ValueError(f"diagonal() needs a square operator, shape is {self.shape}")
        return np.asarray(self._diagonal())

    def todense(self) -> np.ndarray:
        """Materialise as a dense ``numpy.ndarray`` (for tests and small problems)."""
        return self.matmat(np.eye(self.shape[1], dtype=self.dtype))

    toarray = todense

    def to_scipy(self) -> scipy.sparse.linalg.LinearOperator:
        """A ``scipy.sparse.linalg.LinearOperator`` view, so SciPy and PyAMG accept ours."""
        from scipy.sparse.linalg import LinearOperator as _SciPyLO

        op = self

        class _View(_SciPyLO):
            def __init__(self):
                super().__init__(dtype=op.dtype, shape=op.shape)

            def _matvec(self, x):
                return op.matvec(np.ravel(x))

            def _rmatvec(self, x):
                return op.rmatvec(np.ravel(x))

            def _matmat(self, X):
                return op.matmat(X)

            def _adjoint(self):
                return op.H.to_scipy()

        return _View()

    # ---- algebra (lazy) ---------------------------------------------------------------
    def __matmul__(self, other):
        if isinstance(other, LinearOperator):
            return ProductOperator(self, other)
        if _is_scalar(other):
            raise ValueError("scalar operand for @; use * to scale an operator")
        x = np.asarray(other) if not _is_operator_like(other) else None
        if x is None:
            return ProductOperator(self, _as_operator(other))
        if x.ndim == 1:
            return self.matvec(x)
        if x.ndim == 2:
            return self.matmat(x)
        raise ValueError(f"cannot apply an operator to an array of shape {x.shape}")

    def __rmatmul__(self, other):
        if _is_operator_like(other):
            return ProductOperator(_as_operator(other), self)
        x = np.asarray(other)
        if x.ndim == 1:  # x @ A == (A^T x)^T
            return self.T.matvec(x)
        if x.ndim == 2:
            return self.T.matmat(x.T).T
        raise ValueError(f"cannot apply an operator to an array of shape {x.shape}")

    def __call__(self, x):
        return self @ x

    def __mul__(self, other):
        if _is_scalar(other):
            return ScaledOperator(self, other)
        raise TypeError("'*' only scales an operator by a scalar; use '@' to apply or compose")

    def __rmul__(self, other):
        return self.__mul__(other)

    def __truediv__(self, other):
        if _is_scalar(other):
            return ScaledOperator(self, 1.0 / other)
        raise TypeError("an operator can only be divided by a scalar")

    def __neg__(self):
        return ScaledOperator(self, -1.0)

    def __pos__(self) -> Self:
        return self

    def __add__(self, other):
        if _is_operator_like(other) or isinstance(other, np.ndarray):
            return SumOperator(self, _as_operator(other))
        return NotImplemented

    def __radd__(self, other):
        if _is_operator_like(other) or isinstance(other, np.ndarray):
            return SumOperator(_as_operator(other), self)
        return NotImplemented

    def __sub__(self, other):
        if _is_operator_like(other) or isinstance(other, np.ndarray):
            return SumOperator(self, -_as_operator(other))
        return NotImplemented

    def __rsub__(self, other):
        if _is_operator_like(other) or isinstance(other, np.ndarray):
            return SumOperator(_as_operator(other), -self)
        return NotImplemented

    def __pow__(self, k):
        if not isinstance(k, numbers.Integral) or k < 0:
            raise ValueError("operator powers must be non-negative integers")
        if not self.is_square:
            raise ValueError("only square operators have powers")
        out = IdentityOperator(self.shape[0], dtype=self.dtype)
        for _ in range(int(k)):
            out = ProductOperator(self, out) if not isinstance(out, IdentityOperator) else self
        return out

    @property
    def H(self) -> LinearOperator:
        """The adjoint (conjugate transpose) operator, lazily."""
        if self.hermitian:
            return self
        return AdjointOperator(self)

    @property
    def T(self) -> LinearOperator:
        """The transpose operator, lazily (``x -> conj(A^H conj(x))``)."""
        if self.symmetric:
            return self
        return TransposeOperator(self)

    def adjoint(self) -> LinearOperator:
        """The adjoint ``A^H`` (same as :attr:`H`)."""
        return self.H

    def transpose(self) -> LinearOperator:
        """The transpose ``A^T`` (same as :attr:`T`)."""
        return self.T

    def __repr__(self):
        tags = [t for t in ("symmetric", "hermitian", "positive_definite") if getattr(self, t, False)]
        tag = f", {'/'.join(tags)}" if tags else ""
        return f"<{self.shape[0]}x{self.shape[1]} {type(self).__name__} dtype={self.dtype}{tag}>"


def _is_scalar(v):
    return isinstance(v, numbers.Number) or (isinstance(v, np.ndarray) and v.ndim == 0) or \
        isinstance(v, np.generic)


def _is_operator_like(v):
    if isinstance(v, LinearOperator):
        return True
    mod = type(v).__module__ or ""
    if mod.startswith(("scipy.sparse", "torch", "petsc4py")):
        return True
    return False


def _result_dtype(*ops):
    return np.result_type(*[op.dtype for op in ops])


class IdentityOperator(LinearOperator):
    """The ``n x n`` identity."""

    def __init__(self, n: int, dtype: DTypeLike = np.float64) -> None:
        super().__init__((n, n), dtype=dtype, symmetric=True, hermitian=True, positive_definite=True)

    def _matvec(self, x):
        return x.copy()

    _rmatvec = _matvec

    def _matmat(self, X):
        return X.copy()

    def _diagonal(self):
        return np.ones(self.shape[0], dtype=self.dtype)


class DiagonalOperator(LinearOperator):
    """``diag(d)``; tagged symmetric, and positive definite when ``d > 0`` (real)."""

    def __init__(self, d: ArrayLike) -> None:
        d = np.asarray(d)
        if d.ndim != 1:
            raise ValueError("DiagonalOperator needs a 1-D array")
        real = not np.iscomplexobj(d)
        super().__init__((d.size, d.size), dtype=d.dtype, symmetric=True,
                         hermitian=real or bool(np.all(d.imag == 0)),
                         positive_definite=real and bool(np.all(d > 0)))
        self.d = d

    def _matvec(self, x):
        return self.d * x

    def _rmatvec(self, x):
        return np.conj(self.d) * x

    def _matmat(self, X):
        return self.d[:, None] * X

    def _diagonal(self):
        return self.d


class SumOperator(LinearOperator):
    """``A + B``, lazily."""

    def __init__(self, A: LinearOperator, B: LinearOperator) -> None:
        if A.shape != B.shape:
            raise ValueError(f"cannot add operators of shapes {A.shape} and {B.shape}")
        super().__init__(A.shape, dtype=_result_dtype(A, B),
                         symmetric=A.symmetric and B.symmetric,
                         hermitian=A.hermitian and B.hermitian,
                         positive_definite=A.positive_definite and B.positive_definite)
        self.args = (A, B)

    def _matvec(self, x):
        return self.args[0].matvec(x) + self.args[1].matvec(x)

    def _rmatvec(self, x):
        return self.args[0].rmatvec(x) + self.args[1].rmatvec(x)

    def _matmat(self, X):
        return self.args[0].matmat(X) + self.args[1].matmat(X)

    def _diagonal(self):
        return self.args[0].diagonal() + self.args[1].diagonal()


class ProductOperator(LinearOperator):
    """``A @ B`` (apply ``B`` first), lazily."""

    def __init__(self, A: LinearOperator, B: LinearOperator) -> None:
        if A.shape[1] != B.shape[0]:
            raise ValueError(f"cannot compose operators of shapes {A.shape} @ {B.shape}")
        super().__init__((A.shape[0], B.shape[1]), dtype=_result_dtype(A, B))
        self.args = (A, B)

    def _matvec(self, x):
        return self.args[0].matvec(self.args[1].matvec(x))

    def _rmatvec(self, x):
        return self.args[1].rmatvec(self.args[0].rmatvec(x))

    def _matmat(self, X):
        return self.args[0].matmat(self.args[1].matmat(X))

    def _rmatmat(self, X):
        return self.args[1].rmatmat(self.args[0].rmatmat(X))


class ScaledOperator(LinearOperator):
    """``c * A`` for a scalar ``c``, lazily."""

    def __init__(self, A: LinearOperator, c: complex | np.number[Any] | np.ndarray) -> None:
        scalar: complex = c.item() if isinstance(c, (np.ndarray, np.generic)) else c
        dtype = np.result_type(A.dtype, np.asarray(scalar).dtype)
        real_c = bool(np.isreal(scalar))
        super().__init__(A.shape, dtype=dtype, symmetric=A.symmetric,
                         hermitian=A.hermitian and real_c,
                         positive_definite=A.positive_definite and real_c and bool(np.real(scalar) > 0))
        self.args = (A,)
        self.c = scalar

    def _matvec(self, x):
        return self.c * self.args[0].matvec(x)

    def _rmatvec(self, x):
        return np.conj(self.c) * self.args[0].rmatvec(x)

    def _matmat(self, X):
        return self.c * self.args[0].matmat(X)

    def _rmatmat(self, X):
        return np.conj(self.c) * self.args[0].rmatmat(X)

    def _diagonal(self):
        return self.c * self.args[0].diagonal()


class AdjointOperator(LinearOperator):
    """``A^H``, lazily."""

    def __init__(self, A: LinearOperator) -> None:
        super().__init__((A.shape[1], A.shape[0]), dtype=A.dtype, symmetric=A.symmetric,
                         hermitian=A.hermitian, positive_definite=A.positive_definite)
        self.args = (A,)

    def _matvec(self, x):
        return self.args[0].rmatvec(x)

    def _rmatvec(self, x):
        return self.args[0].matvec(x)

    def _matmat(self, X):
        return self.args[0].rmatmat(X)

    def _rmatmat(self, X):
        return self.args[0].matmat(X)

    def _diagonal(self):
        return np.conj(self.args[0].diagonal())

    @property
    def H(self) -> LinearOperator:
        return self.args[0]


class TransposeOperator(LinearOperator):
    """``A^T``, lazily: ``A^T x = conj(A^H conj(x))``."""

    def __init__(self, A: LinearOperator) -> None:
        super().__init__((A.shape[1], A.shape[0]), dtype=A.dtype, symmetric=A.symmetric,
                         hermitian=A.hermitian, positive_definite=A.positive_definite)
        self.args = (A,)

    def _matvec(self, x):
        return np.conj(self.args[0].rmatvec(np.conj(x)))

    def _rmatvec(self, x):
        return np.conj(self.args[0].matvec(np.conj(x)))

    def _matmat(self, X):
        return np.conj(self.args[0].rmatmat(np.conj(X)))

    def _rmatmat(self, X):
        return np.conj(self.args[0].matmat(np.conj(X)))

    def _diagonal(self):
        return self.args[0].diagonal()

    @property
    def T(self) -> LinearOperator:
        return self.args[0]

"""Kronecker-structured operators: ``A1 ⊗ A2 ⊗ … ⊗ Ad`` and the Kronecker sum.

Products go through a reshape of the vector into a ``d``-way tensor and one small product per
axis (never forming the big matrix); solves, log-determinants, eigendecompositions and
diagonals are taken factor by factor.

References: C. F. Van Loan, "The ubiquitous Kronecker product", J. Comput. Appl. Math. 123
(2000) 85–100; R. E. Lynch, J. R. Rice, D. H. Thomas, "Direct solution of partial difference
equations by tensor product methods", Numer. Math. 6 (1964) 185–199 (fast diagonalization);
Y. Saatçi, "Scalable inference for structured Gaussian process models", PhD thesis, Cambridge
2011 (Kronecker GP algebra); PyLops' ``Kronecker`` and GPyTorch's
``KroneckerProductLinearOperator``.
"""

from __future__ import annotations

from functools import partial, reduce
from typing import TYPE_CHECKING, Callable

import numpy as np

from .base import LinearOperator
from .convert import MatrixOperator, aslinearoperator

if TYPE_CHECKING:  # pragma: no cover - names for static checkers only
    from collections.abc import Sequence

    from ..typing import ArrayLike, OperatorLike

__all__ = ["Kronecker", "KroneckerSum", "apply_along_axis"]


def _as_factor(A: OperatorLike, i: int) -> LinearOperator:
    if isinstance(A, LinearOperator):
        return A
    arr = np.asarray(A) if not hasattr(A, "shape") or isinstance(A, np.ndarray) else None
    if arr is not None:
        if arr.ndim != 2:
            raise ValueError(f"Kronecker factor {i} must be 2-D, got shape {arr.shape}")
        if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.complexfloating)):
            arr = arr.astype(np.float64)
        herm = arr.shape[0] == arr.shape[1] and np.array_equal(arr, arr.conj().T)
        pd = False
        if herm and arr.shape[0] > 0:
            try:  # tag positive definite when a Cholesky factorization exists (cheap for factor sizes)
                np.linalg.cholesky(arr)
                pd = True
            except np.linalg.LinAlgError:
                pd = False
        return MatrixOperator(arr, symmetric=bool(herm and not np.iscomplexobj(arr)), hermitian=bool(herm),
                              positive_definite=pd)
    return aslinearoperator(A)


def _dense(op: LinearOperator) -> np.ndarray:
    return op.A if isinstance(op, MatrixOperator) else np.asarray(op.todense())


def apply_along_axis(A: np.ndarray | LinearOperator, T: np.ndarray, axis: int, adjoint: bool = False) -> np.ndarray:
    """``A`` (a dense matrix or an operator), or its adjoint, applied along ``axis`` of the tensor ``T``
    (the other axes are a batch): one factor of a Kronecker product. Public for code that keeps its
    unknowns on a grid (GP-HM's whitened coordinates); :class:`Kronecker` applies its factors with it."""
    Tm = np.moveaxis(T, axis, 0)
    lead = Tm.shape[0]
    rest = Tm.shape[1:]
    M = Tm.reshape(lead, -1)
    if isinstance(A, (np.ndarray, MatrixOperator)):
        D = A.A if isinstance(A, MatrixOperator) else A
        Y = (D.conj().T if adjoint else D) @ M
    else:
        Y = A.rmatmat(M) if adjoint else A.matmat(M)
    Y = np.asarray(Y).reshape((Y.shape[0],) + rest)
    return np.moveaxis(Y, 0, axis)



class _KronBase(LinearOperator):
    """Shared by Kronecker and KroneckerSum: every product goes through the subclass's
    ``_apply(X, adjoint=False)`` on a block of columns."""

    factors: tuple[LinearOperator, ...]
    _eig: list[tuple[np.ndarray, np.ndarray]] | None

    def _apply(self, X: np.ndarray, adjoint: bool = False) -> np.ndarray:
        raise NotImplementedError

    def _matvec(self, x):
        return self._apply(x.reshape(-1, 1))[:, 0]

    def _rmatvec(self, x):
        return self._apply(x.reshape(-1, 1), adjoint=True)[:, 0]

    def _matmat(self, X):
        return self._apply(X)

    def _rmatmat(self, X):
        return self._apply(X, adjoint=True)

    def _factor_eigh(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """``[(w_k, V_k)]`` of the Hermitian factors (cached)."""
        if self._eig is None:
            out: list[tuple[np.ndarray, np.ndarray]] = []
            for k, f in enumerate(self.factors):
                D = _dense(f)
                if D.shape[0] != D.shape[1]:
                    raise ValueError(f"factor {k} is not square: no eigendecomposition")
                if not np.allclose(D, D.conj().T, rtol=1e-12, atol=1e-14 * max(1.0, np.abs(D).max())):
                    raise ValueError(f"factor {k} is not Hermitian: eigh-based methods need Hermitian factors")
                out.append(np.linalg.eigh(D))
            self._eig = out
        return self._eig

    def _prep_rhs(self, b: ArrayLike) -> np.ndarray:
        b = np.asarray(b)
        if b.ndim not in (1, 2) or b.shape[0] != self.shape[0]:
            raise ValueError(f"expected a right-hand side with {self.shape[0]} rows, got shape {b.shape}")
        return b


class Kronecker(_KronBase):
    """``A1 ⊗ A2 ⊗ … ⊗ Ad`` applied by reshape and per-axis products (never materialised).

    Parameters
    ----------
    *factors : array_like or LinearOperator
        The factors (NumPy arrays — tagged Hermitian if exactly equal to their conjugate transpose
        and positive definite if a Cholesky factorization succeeds —, sparse matrices, any operator ``aslinearoperator`` accepts);
        ``factors[0]`` acts on the slowest-varying (first) axis of the C-order reshape, as in
        ``numpy.kron``. Rectangular factors are allowed for products. Solves, ``logdet`` and
        ``eigh`` need square factors and use their dense forms (fine for the per-dimension sizes of
        GP grids, up to a few thousand).

    Notes
    -----
    ``(A1 ⊗ … ⊗ Ad) vec(X) = vec(X ×_1 A1 … ×_d Ad)`` with ``X`` the C-order reshape of the vector:
    a product costs ``Σ_k n_k · N`` flops for dense factors instead of ``N²``. Tags: symmetric /
    Hermitian / positive definite when every factor is.

    Examples
    --------
    >>> import numpy as np, krylearn as kl
    >>> A, B = np.array([[2., 1.], [1., 3.]]), np.diag([1., 2., 3.])
    >>> K = kl.operators.Kronecker(A, B)
    >>> x = np.arange(6.)
    >>> np.allclose(K @ x, np.kron(A, B) @ x), np.allclose(K.solve(x), np.linalg.solve(np.kron(A, B), x))
    (True, True)
    """

    def __init__(self, *factors: OperatorLike | Sequence[OperatorLike]) -> None:
        if len(factors) == 1 and isinstance(factors[0], (list, tuple)):
            factors = tuple(factors[0])
        if len(factors) < 1:
            raise ValueError("Kronecker needs at least one factor")
        self.factors = tuple(_as_factor(A, i) for i, A in enumerate(factors))
        m = int(np.prod([f.shape[0] for f in self.factors]))
        n = int(np.prod([f.shape[1] for f in self.factors]))
        fs = self.factors
        super().__init__((m, n), dtype=np.result_type(*[f.dtype for f in fs]),
                         symmetric=all(f.symmetric for f in fs), hermitian=all(f.hermitian for f in fs),
                         positive_definite=all(f.positive_definite for f in fs))
        self.in_shape: tuple[int, ...] = tuple(f.shape[1] for f in fs)
        self.out_shape: tuple[int, ...] = tuple(f.shape[0] for f in fs)
        self._eig = None
        self._eig_op: tuple[np.ndarray, Kronecker] | None = None
        self._solvers: list[Callable[[np.ndarray], np.ndarray]] | None = None

    def _apply(self, X: np.ndarray, adjoint: bool = False) -> np.ndarray:
        shp_in = self.out_shape if adjoint else self.in_shape
        shp_out = self.in_shape if adjoint else self.out_shape
        k = X.shape[1]
        T = X.reshape(shp_in + (k,))
        for a, f in enumerate(self.factors):
            T = apply_along_axis(f, T, a, adjoint)
        return T.reshape(int(np.prod(shp_out)), k)

    def _diagonal(self):
        return reduce(np.kron, [np.asarray(f.diagonal()) for f in self.factors])

    def todense(self) -> np.ndarray:
        """The full matrix ``numpy.kron(A1, A2, …)`` (for tests and small problems)."""
        return reduce(np.kron, [_dense(f) for f in self.factors])

    def _check_square(self, what: str) -> None:
        for k, f in enumerate(self.factors):
            if f.shape[0] != f.shape[1]:
                raise ValueError(f"{what} needs square factors; factor {k} has shape {f.shape}")

    def solve(self, b: ArrayLike, shift: float = 0.0) -> np.ndarray:
        """Solve ``(A1 ⊗ … ⊗ Ad + shift·I) x = b`` (``b`` a vector or an ``(N, k)`` block).

        ``shift = 0``: one dense LU solve per factor along its axis (cost ``Σ_k n_k³ + N Σ_k n_k``).
        ``shift ≠ 0`` (e.g. a GP noise variance): through the factors' eigendecompositions,
        ``x = Q (Λ + shift)⁻¹ Qᴴ b`` with ``Q = ⊗ V_k``, ``Λ = ⊗ w_k`` (Hermitian factors only).
        """
        self._check_square("solve")
        b = self._prep_rhs(b)
        vec = b.ndim == 1
        B = b.reshape(self.shape[0], -1)
        if shift == 0:
            k = B.shape[1]
            T = B.reshape(self.in_shape + (k,))
            for a, solve_k in enumerate(self._factor_solvers()):
                Tm = np.moveaxis(T, a, 0)
                Y = solve_k(Tm.reshape(Tm.shape[0], -1)).reshape(Tm.shape)
                T = np.moveaxis(Y, 0, a)
            X = T.reshape(self.shape[0], k)
        else:
            w, Q = self.eigh()
            X = Q @ ((Q.H @ B) / (w + shift)[:, None])
        return X[:, 0] if vec else X

    def _factor_solvers(self) -> list[Callable[[np.ndarray], np.ndarray]]:
        """Per-factor solve callables from cached factorizations (Cholesky for positive definite
        factors, LU otherwise)."""
        if self._solvers is None:
            import scipy.linalg as sla

            out: list[Callable[[np.ndarray], np.ndarray]] = []
            for k, f in enumerate(self.factors):
                D = _dense(f)
                if f.positive_definite:
                    c = sla.cho_factor(D)
                    out.append(partial(sla.cho_solve, c))
                else:
                    lu = sla.lu_factor(D)
                    if np.any(np.diag(lu[0]) == 0):
                        raise ValueError(f"factor {k} is singular")
                    out.append(partial(sla.lu_solve, lu))
            self._solvers = out
        return self._solvers

    def eigh(self) -> tuple[np.ndarray, Kronecker]:
        """``(w, Q)``: eigenvalues (length ``N``, in Kronecker order, *not* sorted) and the
        eigenvector matrix as a :class:`Kronecker` of the factors' eigenvector matrices, so that
        ``A = Q diag(w) Qᴴ``. Hermitian square factors only."""
        self._check_square("eigh")
        if self._eig_op is None:
            eig = self._factor_eigh()
            self._eig_op = (reduce(np.kron, [e[0] for e in eig]),
                            Kronecker(*[MatrixOperator(e[1]) for e in eig]))
        return self._eig_op

    def slogdet(self, shift: float = 0.0) -> tuple[float | complex, float]:
        """``(sign, log|det|)`` of ``A + shift·I``, factor by factor:
        ``log|det(⊗A_k)| = Σ_k (N/n_k) log|det A_k|`` (shift ≠ 0 via the eigenvalues)."""
        self._check_square("slogdet")
        if shift != 0:
            w, _ = self.eigh()
            w = w + shift
            return float(np.prod(np.sign(w))), float(np.sum(np.log(np.abs(w))))
        N = self.shape[0]
        sign: float | complex = 1.0
        logdet = 0.0
        for f in self.factors:
            s, ld = np.linalg.slogdet(_dense(f))
            reps = N // f.shape[0]
            sign *= s ** reps
            logdet += reps * ld
        return sign, float(np.real(logdet))

    def logdet(self, shift: float = 0.0) -> float:
        """``log det(A + shift·I)``; ``ValueError`` if the determinant is not positive."""
        sign, ld = self.slogdet(shift)
        if not np.real(sign) > 0:
            raise ValueError("the determinant is not positive: use slogdet()")
        return ld

    @property
    def T(self) -> Kronecker:
        return self if self.symmetric else Kronecker(*[f.T for f in self.factors])

    @property
    def H(self) -> Kronecker:
        return self if self.hermitian else Kronecker(*[f.H for f in self.factors])


class KroneckerSum(_KronBase):
    """``A1 ⊕ … ⊕ Ad = A1⊗I⊗…⊗I + I⊗A2⊗…⊗I + … + I⊗…⊗Ad`` (separable operators).

    Parameters
    ----------
    *factors : array_like or LinearOperator
        Square factors (``factors[0]`` on the first, slowest axis). The discrete Laplacian on a
        tensor grid is the Kronecker sum of 1-D second-difference matrices.

    Notes
    -----
    :meth:`solve` uses fast diagonalization (Lynch, Rice & Thomas 1964): with ``A_k = V_k Λ_k V_kᴴ``,
    ``(⊕A_k + s I)⁻¹ = (⊗V_k) (⊕Λ_k + s)⁻¹ (⊗V_kᴴ)``, exact up to rounding, ``O(N Σ n_k)`` per
    solve after ``Σ n_k³`` setup. Tags: symmetric/Hermitian/positive definite when every factor is.

    Examples
    --------
    >>> import numpy as np, krylearn as kl
    >>> T = lambda n: (2 * np.eye(n) - np.eye(n, k=1) - np.eye(n, k=-1)) * (n + 1) ** 2
    >>> L = kl.operators.KroneckerSum(T(8), T(6))          # equals kl.pde.poisson((8, 6)).todense()
    >>> np.allclose(L.todense(), kl.pde.poisson((8, 6)).todense())
    True
    """

    def __init__(self, *factors: OperatorLike | Sequence[OperatorLike]) -> None:
        if len(factors) == 1 and isinstance(factors[0], (list, tuple)):
            factors = tuple(factors[0])
        if len(factors) < 1:
            raise ValueError("KroneckerSum needs at least one factor")
        self.factors = tuple(_as_factor(A, i) for i, A in enumerate(factors))
        for k, f in enumerate(self.factors):
            if f.shape[0] != f.shape[1]:
                raise ValueError(f"KroneckerSum needs square factors; factor {k} has shape {f.shape}")
        fs = self.factors
        self.grid_shape: tuple[int, ...] = tuple(f.shape[0] for f in fs)
        n = int(np.prod(self.grid_shape))
        super().__init__((n, n), dtype=np.result_type(*[f.dtype for f in fs]),
                         symmetric=all(f.symmetric for f in fs), hermitian=all(f.hermitian for f in fs),
                         positive_definite=all(f.positive_definite for f in fs))
        self._eig = None
        self._eig_op: tuple[np.ndarray, Kronecker] | None = None

    def _apply(self, X: np.ndarray, adjoint: bool = False) -> np.ndarray:
        k = X.shape[1]
        T = X.reshape(self.grid_shape + (k,))
        out: np.ndarray | None = None
        for a, f in enumerate(self.factors):
            Y = apply_along_axis(f, T, a, adjoint)
            out = Y if out is None else out + Y
        assert out is not None  # __init__ requires at least one factor
        return out.reshape(self.shape[0], k)

    def _outer_sum(self, vectors: Sequence[ArrayLike]) -> np.ndarray:
        d = len(vectors)
        out: np.ndarray | int = 0
        for a, v in enumerate(vectors):
            shp = [1] * d
            shp[a] = -1
            out = out + np.asarray(v).reshape(shp)
        return np.asarray(out).reshape(-1)

    def _diagonal(self):
        return self._outer_sum([f.diagonal() for f in self.factors])

    def todense(self) -> np.ndarray:
        """The full matrix ``Σ_k I ⊗ … ⊗ A_k ⊗ … ⊗ I`` (for tests and small problems)."""
        eyes: list[np.ndarray] = [np.eye(n) for n in self.grid_shape]
        total: np.ndarray | int = 0
        for a, f in enumerate(self.factors):
            mats = list(eyes)
            mats[a] = _dense(f)
            total = total + reduce(np.kron, mats)
        return np.asarray(total)

    def eigh(self) -> tuple[np.ndarray, Kronecker]:
        """``(w, Q)`` with ``w = ⊕ w_k`` (length ``N``, Kronecker order, unsorted) and
        ``Q = Kronecker(V_1, …, V_d)``: ``A = Q diag(w) Qᴴ``. Hermitian factors only."""
        if self._eig_op is None:
            eig = self._factor_eigh()
            self._eig_op = (self._outer_sum([e[0] for e in eig]),
                            Kronecker(*[MatrixOperator(e[1]) for e in eig]))
        return self._eig_op

    def solve(self, b: ArrayLike, shift: float = 0.0) -> np.ndarray:
        """Exact solve of ``(A + shift·I) x = b`` by fast diagonalization (``b``: vector or block).

        Raises ``ValueError`` if ``A + shift·I`` is singular (a zero eigenvalue)."""
        b = self._prep_rhs(b)
        vec = b.ndim == 1
        B = b.reshape(self.shape[0], -1)
        w, Q = self.eigh()
        w = w + shift
        if np.any(w == 0):
            raise ValueError("A + shift*I is singular (an eigenvalue is zero)")
        X = Q @ ((Q.H @ B) / w[:, None])
        return X[:, 0] if vec else X

    def slogdet(self, shift: float = 0.0) -> tuple[float, float]:
        """``(sign, log|det(A + shift·I)|)`` from the factor eigenvalues."""
        w, _ = self.eigh()
        w = w + shift
        return float(np.prod(np.sign(w))), float(np.sum(np.log(np.abs(w))))

    def logdet(self, shift: float = 0.0) -> float:
        """``log det(A + shift·I)``; ``ValueError`` if the determinant is not positive."""
        sign, ld = self.slogdet(shift)
        if not sign > 0:
            raise ValueError("the determinant is not positive: use slogdet()")
        return ld

    @property
    def T(self) -> KroneckerSum:
        return self if self.symmetric else KroneckerSum(*[f.T for f in self.factors])

    @property
    def H(self) -> KroneckerSum:
        return self if self.hermitian else KroneckerSum(*[f.H for f in self.factors])

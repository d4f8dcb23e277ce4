"""Test helpers for operators: the adjoint dot test and a shared operator test case.

The dot test follows PyLops (``pylops/utils/dottest.py``; J. Claerbout, "Earth Soundings
Analysis: Processing versus Inversion", 1992): for random ``u, v``, ``(A u, v) = (u, Aᴴ v)``.
:class:`OperatorTestCase` follows GPyTorch's ``LinearOperatorTestCase``: a test class supplies
``create()`` (the operator) and ``dense()`` (the same matrix as a NumPy array) and inherits the
checks (products vs dense, adjoint, ``.T``/``.H``, composition, ``todense``, diagonal, tags,
SciPy view, CSR).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .base import LinearOperator
from .convert import aslinearoperator

if TYPE_CHECKING:  # annotations only
    from typing import Any

__all__ = ["dottest", "OperatorTestCase", "random_vector"]


def random_vector(rng, n, dtype=np.float64, k=None):
    """A standard normal vector (or ``(n, k)`` block) of the given dtype (complex when needed)."""
    shape = (n,) if k is None else (n, k)
    x = rng.standard_normal(shape)
    if np.issubdtype(np.dtype(dtype), np.complexfloating):
        x = x + 1j * rng.standard_normal(shape)
    return x


def dottest(op: Any, rng: Any = None, rtol: float = 1e-10, complex_vectors: bool | None = None, raise_error: bool = True) -> float:
    """Adjoint dot test: ``|(A u, v) − (u, Aᴴ v)| ≤ rtol · |A u|·|v|`` for random ``u, v``.

    Parameters
    ----------
    op : operator-like
        Anything :func:`krylearn.aslinearoperator` accepts; needs ``rmatvec``.
    rng : numpy.random.Generator or int, optional
        Source of the random vectors.
    rtol : float
        Tolerance relative to ``‖A u‖·‖v‖`` (a scale-free bound).
    complex_vectors : bool, optional
        Use complex ``u, v`` (default: when the operator is complex).
    raise_error : bool
        Raise ``AssertionError`` when the test fails (default); otherwise just return the error.

    Returns
    -------
    float
        The relative mismatch ``|(Au, v) − (u, Aᴴv)| / (‖Au‖‖v‖ + ‖u‖‖Aᴴv‖)``.
    """
    A = aslinearoperator(op)
    rng = np.random.default_rng(rng)
    m, n = A.shape
    cplx = np.iscomplexobj(np.empty(0, A.dtype)) if complex_vectors is None else complex_vectors
    dt = np.complex128 if cplx else np.float64
    u = random_vector(rng, n, dt)
    v = random_vector(rng, m, dt)
    Au = A.matvec(u)
    AHv = A.rmatvec(v)
    lhs = np.vdot(v, Au)       # (A u, v) = vᴴ A u
    rhs = np.vdot(AHv, u)      # (u, Aᴴ v) = (Aᴴ v)ᴴ u
    scale = np.linalg.norm(Au) * np.linalg.norm(v) + np.linalg.norm(u) * np.linalg.norm(AHv)
    err = float(abs(lhs - rhs) / scale) if scale > 0 else float(abs(lhs - rhs))
    if raise_error and not err <= rtol:
        raise AssertionError(f"dot test failed for {A!r}: (Au, v) = {lhs}, (u, A^H v) = {rhs}, "
                             f"relative error {err:.3e} > {rtol:g}")
    return err


class OperatorTestCase:
    """Mixin for pytest classes: subclass with ``create()`` and ``dense()``.

    Class attributes: ``rtol``/``atol`` (comparison tolerances), ``seed``. Every check compares
    the operator against the dense matrix with ``numpy.testing.assert_allclose``.

    Examples
    --------
    >>> class TestMyDiagonal(OperatorTestCase):          # doctest: +SKIP
    ...     def create(self):
    ...         return kl.operators.DiagonalOperator(np.arange(1.0, 5.0))
    ...     def dense(self):
    ...         return np.diag(np.arange(1.0, 5.0))
    """

    rtol = 1e-10
    atol = 1e-12
    seed = 0
    check_tags = True

    def create(self) -> LinearOperator:  # pragma: no cover - provided by subclasses
        raise NotImplementedError

    def dense(self) -> np.ndarray:  # pragma: no cover - provided by subclasses
        raise NotImplementedError

    # ---- helpers
    def _rng(self):
        return np.random.default_rng(self.seed)

    def _close(self, got, want, scale=None):
        want = np.asarray(want)
        scale = np.abs(self.dense()).max() if scale is None else scale
        np.testing.assert_allclose(np.asarray(got), want, rtol=self.rtol,
                                   atol=self.atol * max(1.0, scale) * max(1, want.shape[0] if want.ndim else 1))

    def _vec_dtype(self, A):
        return np.complex128 if np.iscomplexobj(np.empty(0, A.dtype)) else np.float64

    # ---- checks
    def test_shape_dtype(self):
        A, D = self.create(), self.dense()
        assert A.shape == D.shape
        assert np.result_type(A.dtype, D.dtype) == np.result_type(A.dtype)

    def test_matvec(self):
        A, D = self.create(), self.dense()
        x = random_vector(self._rng(), A.shape[1], self._vec_dtype(A))
        self._close(A.matvec(x), D @ x)
        self._close(A @ x, D @ x)

    def test_rmatvec(self):
        A, D = self.create(), self.dense()
        y = random_vector(self._rng(), A.shape[0], self._vec_dtype(A))
        self._close(A.rmatvec(y), D.conj().T @ y)

    def test_matmat(self):
        A, D = self.create(), self.dense()
        X = random_vector(self._rng(), A.shape[1], self._vec_dtype(A), k=3)
        self._close(A.matmat(X), D @ X)
        self._close(A @ X, D @ X)
        Y = random_vector(self._rng(), A.shape[0], self._vec_dtype(A), k=2)
        self._close(A.rmatmat(Y), D.conj().T @ Y)

    def test_dottest(self):
        dottest(self.create(), rng=self.seed, rtol=1e-10)

    def test_todense(self):
        self._close(self.create().todense(), self.dense())

    def test_transpose_adjoint(self):
        A, D = self.create(), self.dense()
        self._close(A.T.todense(), D.T)
        self._close(A.H.todense(), D.conj().T)
        x = random_vector(self._rng(), A.shape[0], self._vec_dtype(A))
        self._close(A.T @ x, D.T @ x)
        self._close(A.H @ x, D.conj().T @ x)

    def test_composition(self):
        A, D = self.create(), self.dense()
        s = max(1.0, np.abs(D).max())
        self._close((A @ A.H).todense(), D @ D.conj().T, scale=s * s)
        self._close((A.H @ A).todense(), D.conj().T @ D, scale=s * s)
        self._close((2.0 * A - A / 2).todense(), 1.5 * D)
        self._close((A + A).todense(), 2 * D)
        self._close((-A).todense(), -D)
        x = random_vector(self._rng(), A.shape[0], self._vec_dtype(A))
        self._close(x @ A, x @ D)

    def test_diagonal(self):
        A, D = self.create(), self.dense()
        if not A.is_square:
            return
        try:
            d = A.diagonal()
        except NotImplementedError:
            return
        self._close(d, np.diagonal(D))

    def test_tags(self):
        A, D = self.create(), self.dense()
        if not self.check_tags:
            return
        if A.symmetric:
            self._close(D, D.T)
        if A.hermitian:
            self._close(D, D.conj().T)
        if A.positive_definite:
            assert np.linalg.eigvalsh((D + D.conj().T) / 2).min() > 0

    def test_to_scipy(self):
        A, D = self.create(), self.dense()
        S = A.to_scipy()
        assert S.shape == A.shape
        x = random_vector(self._rng(), A.shape[1], self._vec_dtype(A))
        self._close(S @ x, D @ x)
        y = random_vector(self._rng(), A.shape[0], self._vec_dtype(A))
        self._close(S.H @ y, D.conj().T @ y)

    def test_tocsr(self):
        A, D = self.create(), self.dense()
        if not hasattr(A, "tocsr"):
            return
        self._close(A.tocsr().toarray(), D)

"""Test helpers for operators: the adjoint dot test and a shared operator test case.

The dot test follows PyLops (``pylops/utils/dottest.py``; J. Claerbout, "Earth Soundings
Analysis: Processing versus Inversion", 1992): for random ``u, v``, ``(A u, v) = (u, Aᴴ v)``.
:class:`OperatorTestCase` follows GPyTorch's ``LinearOperatorTestCase``: a test class supplies
``create()`` (the operator) and ``dense()`` (the same matrix as a NumPy array) and inherits the
checks (products vs dense, adjoint, ``.T``/``.H``, composition, ``todense``, diagonal, tags,
SciPy view, CSR, finite and deterministic output). Nonlinear or variable operators (learned
preconditioners) set ``linear = False`` and get the checks that hold for any map.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np

from .base import LinearOperator
from .convert import aslinearoperator

if TYPE_CHECKING:  # annotations only
    from ..typing import OperatorLike

__all__ = ["dottest", "OperatorTestCase", "random_vector"]


def random_vector(rng, n, dtype=np.float64, k=None):
    """A standard normal vector (or ``(n, k)`` block) of the given dtype (complex when needed)."""
    shape = (n,) if k is None else (n, k)
    x = rng.standard_normal(shape)
    if np.issubdtype(np.dtype(dtype), np.complexfloating):
        x = x + 1j * rng.standard_normal(shape)
    return x


def dottest(op: OperatorLike, rng: np.random.Generator | int | None = None, rtol: float = 1e-10,
            complex_vectors: bool | None = None, raise_error: bool = True) -> float:
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


def _skip(reason):
    """Skip the current test (pytest is imported only when a check is skipped: this module is
    importable without it)."""
    import pytest

    pytest.skip(reason)


def _qualname(cls):
    return f"{cls.__module__}.{cls.__qualname__}"


class OperatorTestCase:
    """Mixin for pytest classes: subclass with ``create()`` and ``dense()``.

    Every check compares the operator against the dense matrix with
    ``numpy.testing.assert_allclose``.

    Class attributes
    ----------------
    rtol, atol : float
        Comparison tolerances (``atol`` is scaled by ``max|dense|`` and the number of rows).
    dottest_rtol : float
        Tolerance of the adjoint dot test (raise it for single-precision operators).
    seed : int
        Seed of the random test vectors.
    check_tags : bool
        Check the structure tags the operator claims against ``dense()``.
    expected_tags : dict, optional
        Tags the operator must claim, e.g. ``{"symmetric": True, "positive_definite": True}`` for
        a preconditioner of an SPD matrix (a missing tag silently costs a solver its fast path).
    linear : bool
        True (default) for a fixed linear map. A nonlinear or variable operator (a learned
        preconditioner, a multigrid cycle with inner Krylov steps: one whose ``variable``
        attribute is True) sets ``linear = False``; then ``dense()`` is not used, and the checks
        that only hold for a matrix (products against ``dense()``, adjoint, dot test, ``todense``,
        diagonal, ``.T``/``.H``, CSR, ``matmat`` equal to the columns) are skipped. What is still
        checked: ``variable`` is True, shapes and dtypes of the products, finite and
        deterministic output, the lazy sums and scalings applied to a vector, the SciPy view, and
        ``reference(x)`` when the subclass defines it (an independent computation of ``A(x)``).
    covers : tuple
        The LinearOperator classes this test case covers (classes or ``"module.QualName"``
        strings, so that a class of an optional back-end needs no import at collection time):
        ``create()`` must return an instance of one of them, and
        ``tests/operators/test_every_operator_is_tested.py`` collects them to check that every
        operator class of krylearn has a test case.

    Examples
    --------
    A template for a test module (skipped as a doctest: it defines a pytest class, it runs nothing):

    >>> class TestMyDiagonal(OperatorTestCase):          # doctest: +SKIP
    ...     covers = (kl.operators.DiagonalOperator,)
    ...     def create(self):
    ...         return kl.operators.DiagonalOperator(np.arange(1.0, 5.0))
    ...     def dense(self):
    ...         return np.diag(np.arange(1.0, 5.0))
    """

    rtol = 1e-10
    atol = 1e-12
    dottest_rtol = 1e-10
    seed = 0
    check_tags = True
    expected_tags = None
    linear = True
    covers = ()

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

    def _close_to(self, got, want):
        """``got ≈ want`` with the tolerances scaled by ``max|want|`` (no dense matrix needed)."""
        want = np.asarray(want)
        scale = float(np.abs(want).max()) if want.size else 1.0
        np.testing.assert_allclose(np.asarray(got), want, rtol=self.rtol, atol=self.atol * max(1.0, scale))

    def _vec_dtype(self, A):
        return np.complex128 if np.iscomplexobj(np.empty(0, A.dtype)) else np.float64

    def _needs_linear(self, what):
        if not self.linear:
            _skip(f"{what}: only for linear operators (this test case sets linear = False)")

    # ---- checks
    def test_covers(self):
        A = self.create()
        if not self.covers:
            return
        names = {c if isinstance(c, str) else _qualname(c) for c in self.covers}
        assert _qualname(type(A)) in names, (f"create() returned a {_qualname(type(A))}, but the test case "
                                             f"says it covers {sorted(names)}")

    def test_variable_flag(self):
        # a nonlinear/variable map must say so, or cg/minres/gmres would use it as a fixed matrix;
        # a linear test case must not build a variable operator (its checks would not hold)
        A = self.create()
        assert bool(getattr(A, "variable", False)) == (not self.linear), (
            f"{A!r}.variable is {getattr(A, 'variable', False)} but the test case says linear = {self.linear}")

    def test_shape_dtype(self):
        A = self.create()
        x = random_vector(self._rng(), A.shape[1], self._vec_dtype(A))
        y = np.asarray(A.matvec(x))
        assert y.shape == (A.shape[0],)
        # products come back in the operator's dtype (promoted with the vector's)
        assert np.can_cast(y.dtype, np.result_type(A.dtype, x.dtype), casting="same_kind")
        if not self.linear:
            return
        D = self.dense()
        assert A.shape == D.shape
        assert np.result_type(A.dtype, D.dtype) == np.result_type(A.dtype)

    def test_finite_and_deterministic(self):
        A = self.create()
        x = random_vector(self._rng(), A.shape[1], self._vec_dtype(A))
        y1, y2 = A.matvec(x.copy()), A.matvec(x.copy())
        assert np.all(np.isfinite(y1))
        np.testing.assert_array_equal(y1, y2)   # the same input gives the same output, bit for bit
        if self.linear:
            np.testing.assert_array_equal(A.matvec(np.zeros_like(x)), 0.0)

    def test_complex_vector_on_real_operator(self):
        # a real operator applied to a complex vector either refuses it or applies itself to the
        # real and imaginary parts; silently dropping the imaginary part is wrong
        A = self.create()
        if not self.linear or np.iscomplexobj(np.empty(0, A.dtype)):
            return
        rng = self._rng()
        u, v = random_vector(rng, A.shape[1]), random_vector(rng, A.shape[1])
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", np.exceptions.ComplexWarning)
                got = A.matvec(u + 1j * v)
        except (TypeError, ValueError, np.exceptions.ComplexWarning) as exc:
            if isinstance(exc, np.exceptions.ComplexWarning):
                raise AssertionError(f"{A!r} drops the imaginary part of a complex vector") from exc
            return
        self._close(got, A.matvec(u) + 1j * A.matvec(v), scale=np.abs(self.dense()).max())

    def test_matvec(self):
        A = self.create()
        x = random_vector(self._rng(), A.shape[1], self._vec_dtype(A))
        if not self.linear:
            y = A.matvec(x)
            self._close_to(A @ x, y)
            if hasattr(self, "reference"):
                self._close_to(y, self.reference(x))
            return
        D = self.dense()
        self._close(A.matvec(x), D @ x)
        self._close(A @ x, D @ x)
        if hasattr(self, "reference"):
            self._close(A.matvec(x), self.reference(x))

    def test_rmatvec(self):
        self._needs_linear("the adjoint")
        A, D = self.create(), self.dense()
        y = random_vector(self._rng(), A.shape[0], self._vec_dtype(A))
        self._close(A.rmatvec(y), D.conj().T @ y)

    def test_matmat(self):
        A = self.create()
        X = random_vector(self._rng(), A.shape[1], self._vec_dtype(A), k=3)
        if not self.linear:
            Y = np.asarray(A.matmat(X))
            assert Y.shape == (A.shape[0], 3) and np.all(np.isfinite(Y))
            return
        D = self.dense()
        self._close(A.matmat(X), D @ X)
        self._close(A @ X, D @ X)
        Y = random_vector(self._rng(), A.shape[0], self._vec_dtype(A), k=2)
        self._close(A.rmatmat(Y), D.conj().T @ Y)

    def test_dottest(self):
        self._needs_linear("the dot test")
        dottest(self.create(), rng=self.seed, rtol=self.dottest_rtol)

    def test_todense(self):
        self._needs_linear("todense")
        self._close(self.create().todense(), self.dense())

    def test_transpose_adjoint(self):
        self._needs_linear("the transpose and adjoint")
        A, D = self.create(), self.dense()
        self._close(A.T.todense(), D.T)
        self._close(A.H.todense(), D.conj().T)
        x = random_vector(self._rng(), A.shape[0], self._vec_dtype(A))
        self._close(A.T @ x, D.T @ x)
        self._close(A.H @ x, D.conj().T @ x)

    def test_composition(self):
        A = self.create()
        if not self.linear:
            # sums and scalings of the outputs hold for any map
            x = random_vector(self._rng(), A.shape[1], self._vec_dtype(A))
            y = A.matvec(x)
            self._close_to((2.0 * A - A / 2) @ x, 1.5 * y)
            self._close_to((A + A) @ x, 2 * y)
            self._close_to((-A) @ x, -y)
            return
        D = self.dense()
        s = max(1.0, np.abs(D).max())
        self._close((A @ A.H).todense(), D @ D.conj().T, scale=s * s)
        self._close((A.H @ A).todense(), D.conj().T @ D, scale=s * s)
        self._close((2.0 * A - A / 2).todense(), 1.5 * D)
        self._close((A + A).todense(), 2 * D)
        self._close((-A).todense(), -D)
        x = random_vector(self._rng(), A.shape[0], self._vec_dtype(A))
        self._close(x @ A, x @ D)

    def test_diagonal(self):
        self._needs_linear("the diagonal")
        A, D = self.create(), self.dense()
        if not A.is_square:
            return
        try:
            d = A.diagonal()
        except NotImplementedError:
            return
        self._close(d, np.diagonal(D))

    def test_tags(self):
        A = self.create()
        if self.expected_tags:
            got = {tag: bool(getattr(A, tag)) for tag in self.expected_tags}
            assert got == {tag: bool(v) for tag, v in self.expected_tags.items()}, f"{A!r}: tags {got}"
        if not self.check_tags:
            return
        if not self.linear:
            # no matrix to check the tags against: a variable map may still say it approximates
            # an SPD one (the multigrid K-cycle does); ``variable`` tells solvers not to rely on it
            return
        D = self.dense()
        if A.symmetric:
            self._close(D, D.T)
        if A.hermitian:
            self._close(D, D.conj().T)
        if A.positive_definite:
            assert np.linalg.eigvalsh((D + D.conj().T) / 2).min() > 0

    def test_to_scipy(self):
        A = self.create()
        S = A.to_scipy()
        assert S.shape == A.shape
        x = random_vector(self._rng(), A.shape[1], self._vec_dtype(A))
        if not self.linear:
            self._close_to(S @ x, A.matvec(x))
            return
        D = self.dense()
        self._close(S @ x, D @ x)
        y = random_vector(self._rng(), A.shape[0], self._vec_dtype(A))
        self._close(S.H @ y, D.conj().T @ y)

    def test_tocsr(self):
        A = self.create()
        if not hasattr(A, "tocsr"):
            return
        self._needs_linear("tocsr")
        self._close(A.tocsr().toarray(), self.dense())

"""A fixed number of Chebyshev steps as a preconditioner (or smoother): ``z = p(M A) M r``.

References: Y. Saad, *Iterative Methods for Sparse Linear Systems*, 2nd ed., SIAM 2003, §12.3
(polynomial preconditioning); M. Adams, M. Brezina, J. Hu, R. Tuminaro, "Parallel multigrid smoothing:
polynomial versus Gauss–Seidel", J. Comput. Phys. 188 (2003) 593–610 (Chebyshev smoothers on the upper
part of the spectrum; PETSc's default smoothing interval ``[0.1, 1.1]·λ_max``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numbers

import numpy as np

from ...operators.base import LinearOperator
from ...operators.convert import aslinearoperator
from ...threads import solver_threads
from ...typing import _is_a

if TYPE_CHECKING:  # annotations only
    from typing import Any
    from ...typing import OperatorLike, PreconditionerLike

__all__ = ["ChebyshevPreconditioner", "chebyshev"]


class ChebyshevPreconditioner(LinearOperator):
    """``degree`` Chebyshev steps on ``A e = r`` from ``e = 0`` (see :func:`chebyshev`); a fixed linear map,
    symmetric positive definite when the interval's polynomial is positive on the spectrum of ``M A``
    (it is, for an interval that contains the spectrum, or for the smoothing interval)."""

    def __init__(self, A: OperatorLike, degree: Any, bounds: Any, M: PreconditionerLike) -> None:
        n = A.shape[0]
        super().__init__((n, n), dtype=np.float64, symmetric=True, positive_definite=True)
        self.A, self.M, self.degree = A, M, int(degree)
        lo, hi = bounds
        self.bounds = (float(lo), float(hi))
        self._theta, self._delta = 0.5 * (hi + lo), 0.5 * (hi - lo)

    def _matvec(self, r):
        if np.iscomplexobj(r):
            # a real map applied to a complex vector: to the real and imaginary parts (the cast to
            # float64 below dropped the imaginary part with only a ComplexWarning; found by OperatorTestCase)
            return self._matvec(r.real) + 1j * self._matvec(r.imag)
        r = np.asarray(r, dtype=np.float64)
        theta, delta = self._theta, max(self._delta, 1e-300)
        sigma = theta / delta
        rho = 1.0 / sigma
        z = r if self.M is None else np.asarray(self.M.matvec(r), dtype=np.float64)
        d = z / theta
        x = d.copy()
        if self.degree == 1:
            return x
        res = r - self.A.matvec(d)
        for k in range(1, self.degree):
            rho_new = 1.0 / (2.0 * sigma - rho)
            z = res if self.M is None else np.asarray(self.M.matvec(res), dtype=np.float64)
            d *= rho_new * rho
            d += (2.0 * rho_new / delta) * z
            x += d
            if k < self.degree - 1:
                res -= self.A.matvec(d)
            rho = rho_new
        return x


@solver_threads  # the set-up runs under the threading policy (BLAS on one thread)
def chebyshev(A: OperatorLike, degree: int = 3, *, M: PreconditionerLike = None, bounds: Any = None, smoother: bool = False, estimate_steps: int = 10, safety: float = 1.1) -> ChebyshevPreconditioner:
    """Chebyshev polynomial preconditioner (``smoother=False``) or smoother (``smoother=True``).

    ``M r`` runs ``degree`` steps of the Chebyshev iteration (:func:`krylearn.chebyshev`) on ``A e = r``
    from ``e = 0``: ``z = p(M A) M r`` with ``p`` the Chebyshev approximation of ``1/λ`` on the
    interval — ``degree`` products with ``A`` (and ``M``) and no inner products, a fixed SPD map for
    :func:`krylearn.cg`.

    Parameters
    ----------
    A : operator-like, SPD
    degree : int
        Number of steps (polynomial degree + 1), default 3.
    M : operator-like, optional
        Inner SPD preconditioner (e.g. Jacobi) — the polynomial is in ``M A``.
    bounds : (float, float), optional
        Interval ``(λ_min, λ_max)`` of ``M A``. Default: estimated from ``estimate_steps`` CG steps
        (:func:`krylearn.solvers.krylov.chebyshev.spectrum_bounds`), ``λ_max`` times ``safety``; with
        ``smoother=True`` the interval is ``[0.1, safety]·λ_max`` (damps the upper part of the spectrum:
        a multigrid smoother).

    Examples
    --------
    >>> import numpy as np, krylearn as kl
    >>> A = kl.pde.poisson((64, 64))
    >>> res = kl.cg(A, np.ones(A.shape[0]), M=kl.precond.chebyshev(A, 4, M=kl.precond.jacobi(A)), rtol=1e-8)
    >>> res.converged
    True
    """
    A = aslinearoperator(A)
    if A.shape[0] != A.shape[1]:
        raise ValueError(f"chebyshev needs a square operator, got shape {A.shape}")
    if isinstance(degree, bool) or not _is_a(degree, numbers.Integral) or degree < 1:
        raise ValueError(f"degree must be a positive integer, got {degree!r}")
    if not _is_a(safety, numbers.Real) or not safety >= 1.0:
        raise ValueError(f"safety must be a number >= 1, got {safety!r}")
    M = None if M is None else aslinearoperator(M)
    if bounds is None:
        from ..krylov.chebyshev import spectrum_bounds
        lo, hi = spectrum_bounds(A, M, steps=estimate_steps)
        hi *= safety
        if smoother:
            lo = 0.1 * hi / safety
    else:
        try:
            lo, hi = (float(v) for v in bounds)
        except (TypeError, ValueError):
            raise ValueError(f"bounds must be a pair (lo, hi), got {bounds!r}") from None
        if not (np.isfinite(lo) and np.isfinite(hi) and 0 < lo <= hi):
            raise ValueError(f"bounds must satisfy 0 < lo <= hi, got {bounds!r}")
    return ChebyshevPreconditioner(A, degree, (lo, hi), M)

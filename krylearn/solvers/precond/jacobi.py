"""Jacobi (diagonal) preconditioner ``M⁻¹ = D⁻¹``.

Reference: Y. Saad, "Iterative Methods for Sparse Linear Systems", 2nd ed., SIAM 2003, §10.2.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from ...operators.base import LinearOperator
from ...threads import solver_threads

if TYPE_CHECKING:  # annotations only (krylearn.typing)
    from ...typing import OperatorLike

__all__ = ["jacobi", "JacobiPreconditioner"]


class JacobiPreconditioner(LinearOperator):
    """``z = D⁻¹ r``: see :func:`jacobi`."""

    def __init__(self, A: OperatorLike) -> None:
        if sp.issparse(A):
            n, m = A.shape
            d = np.asarray(A.diagonal())
        else:
            from ...operators.convert import aslinearoperator

            op = aslinearoperator(A)
            n, m = op.shape
            if n != m:
                raise ValueError(f"the Jacobi preconditioner needs a square operator, got shape {op.shape}")
            try:
                d = np.asarray(op.diagonal())
            except NotImplementedError as exc:
                raise ValueError("the Jacobi preconditioner needs the diagonal of A, which this operator "
                                 "does not provide (pass diagonal= to kl.LinearOperator)") from exc
        if n != m:
            raise ValueError(f"the Jacobi preconditioner needs a square matrix, got shape {(n, m)}")
        if not np.all(np.isfinite(d)):
            raise ValueError("the diagonal of A contains NaN or Inf")
        zero = np.flatnonzero(d == 0)
        if zero.size:
            raise ValueError(f"the Jacobi preconditioner needs a nonzero diagonal, but A[{zero[0]}, {zero[0]}] = 0")
        dtype = np.result_type(d.dtype, np.float64)
        spd = bool(np.isrealobj(d) and np.all(d > 0))
        super().__init__((n, n), dtype=dtype, symmetric=np.isrealobj(d), positive_definite=spd)
        self.inv_diag = (1.0 / d).astype(dtype)
        self.info = {"type": "jacobi"}

    def _matvec(self, x):
        return self.inv_diag * x

    def _rmatvec(self, x):
        return np.conj(self.inv_diag) * x

    def _matmat(self, X):
        return self.inv_diag[:, None] * X

    def _diagonal(self):
        return self.inv_diag

    def todense(self) -> np.ndarray:
        return np.diag(self.inv_diag)


@solver_threads  # the set-up runs under the threading policy (BLAS on one thread)
def jacobi(A: OperatorLike) -> LinearOperator:
    """Jacobi preconditioner: ``M⁻¹ r = D⁻¹ r`` with ``D = diag(A)``.

    Parameters
    ----------
    A : matrix or operator, shape (n, n)
        Anything whose diagonal is known: scipy.sparse, dense, or an operator with
        ``diagonal()`` (stencil operators, ``kl.LinearOperator(..., diagonal=d)``).

    Returns
    -------
    JacobiPreconditioner
        A LinearOperator, tagged SPD when the diagonal is real and positive.

    Raises
    ------
    ValueError
        Zero or non-finite diagonal entries, a non-square operator, an unknown diagonal.

    References
    ----------
    Y. Saad, Iterative Methods for Sparse Linear Systems, 2nd ed., SIAM 2003, §10.2.

    Examples
    --------
    A coefficient that varies by three orders of magnitude across the grid: the diagonal scaling
    removes most of the ill-conditioning it causes.

    >>> import krylearn as kl, numpy as np
    >>> c = np.logspace(0, 3, 16)[:, None] * np.ones((16, 16))
    >>> A, b = kl.pde.poisson((16, 16), coefficient=c), np.ones(256)
    >>> kl.cg(A, b, M=kl.precond.jacobi(A)).iterations < kl.cg(A, b).iterations / 4
    True
    """
    return JacobiPreconditioner(A)

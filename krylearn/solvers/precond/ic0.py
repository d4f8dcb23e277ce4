"""Zero-fill incomplete Cholesky IC(0) with a diagonal shift on breakdown.

References: J. A. Meijerink and H. A. van der Vorst, "An iterative solution method for linear
systems of which the coefficient matrix is a symmetric M-matrix", Math. Comp. 31 (1977)
148–162; T. A. Manteuffel, "An incomplete factorization technique for positive definite
linear systems", Math. Comp. 34 (1980) 473–497 (the shift).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from ...operators.base import LinearOperator
from ...threads import solver_threads
from .._sweeps import CSRSystem
from ._factor import factor_with_shift, lu_matrices, symmetry_error
from ._triangular import split_lu, split_solve

if TYPE_CHECKING:  # annotations only (krylearn.typing)
    from ...typing import OperatorLike
    from typing import Any

__all__ = ["ic0", "IC0Preconditioner"]


class IC0Preconditioner(LinearOperator):
    """``z = (L Lᵀ)⁻¹ r`` with the IC(0) factor: see :func:`ic0`."""

    def __init__(self, A: OperatorLike, shift: float = 0.0, *, max_shift_tries: int = 40) -> None:
        system = CSRSystem(A, "ic0")
        if np.iscomplexobj(system.data):
            raise ValueError("ic0 supports real symmetric matrices; use kl.precond.ilu for complex ones")
        err = symmetry_error(system.csr)
        if err > 1e-12:
            raise ValueError(f"ic0 needs a symmetric matrix, but max|A - A^T| / max|A| = {err:.2e}; "
                             "use kl.precond.ilu for nonsymmetric matrices")
        neg = np.flatnonzero(system.diag <= 0)
        if neg.size:
            raise ValueError(f"ic0 needs a positive diagonal (A must be positive definite), but "
                             f"A[{neg[0]}, {neg[0]}] = {system.diag[neg[0]]:.3g}")
        lu, invpiv, alpha, tries, rows = factor_with_shift(system, positive=True, shift=shift,
                                                           max_tries=max_shift_tries, what="ic0")
        super().__init__((system.n, system.n), dtype=np.float64, symmetric=True, positive_definite=True)
        self.system = system
        self._lu = lu
        self._split = split_lu(system.indptr, system.indices, lu, system.dptr)
        #: the diagonal shift used: the factor is IC(0) of ``A + shift·diag(A)``
        self.shift = alpha
        self.info = {"type": "ic0", "shift": alpha, "shift_type": "A + shift*diag(A)",
                     "factorizations": tries, "breakdown_rows": rows}

    def _matvec(self, x):
        dt = np.result_type(np.float64, x.dtype)
        r = np.ascontiguousarray(x, dtype=dt)
        z = np.empty(r.shape[0], dtype=dt)
        if r.shape[0]:
            split_solve(*self._split, r, z)
        return z

    @property
    def L(self) -> Any:
        """The incomplete Cholesky factor as a SciPy CSR matrix (lower, ``L Lᵀ ≈ A + shift·diag(A)``)."""
        Lunit, U = lu_matrices(self.system, self._lu)
        d = np.asarray(U.diagonal())
        return (Lunit @ sp.diags(np.sqrt(d))).tocsr()

    def todense(self) -> np.ndarray:
        return self.matmat(np.eye(self.shape[0]))


@solver_threads  # the set-up runs under the threading policy (BLAS on one thread)
def ic0(A: OperatorLike, shift: float = 0.0, *, max_shift_tries: int = 40) -> IC0Preconditioner:
    """Zero-fill incomplete Cholesky preconditioner ``M = L Lᵀ ≈ A``.

    ``L`` has the sparsity pattern of the lower triangle of ``A``; ``(L Lᵀ)_ij = a_ij`` on that
    pattern. The factorization (numba, the IKJ variant of ILU(0), stored as ``L D Lᵀ``) and
    the two triangular solves per application are serial numba kernels.

    **Breakdown.** For SPD matrices that are not M-matrices (elasticity, random SPD) a pivot can
    become non-positive. Then the factorization is retried on ``A + α·diag(A)`` with
    ``α = max(2α, 10⁻³)`` until it succeeds (Manteuffel's shift; PETSc's ICC does the same
    with ``MAT_SHIFT_POSITIVE_DEFINITE``). The shift used is reported as ``M.shift`` and in
    ``M.info`` (with the number of factorizations and the rows that broke down).

    Parameters
    ----------
    A : sparse matrix, dense array or operator with ``tocsr()``, shape (n, n)
        Real symmetric with a positive diagonal (``O(nnz)`` symmetry check).
    shift : float
        Initial relative shift ``α ≥ 0`` (default 0: plain IC(0) unless it breaks down).
    max_shift_tries : int
        Factorizations to try before giving up with ``ValueError``.

    Returns
    -------
    IC0Preconditioner
        A LinearOperator tagged SPD; ``M @ r`` returns ``(L Lᵀ)⁻¹ r``; ``M.L`` is the factor.

    Raises
    ------
    ValueError
        Nonsymmetric or complex ``A``, a non-positive diagonal, a matrix-free operator.

    References
    ----------
    J. A. Meijerink, H. A. van der Vorst, Math. Comp. 31 (1977); T. A. Manteuffel, Math. Comp.
    34 (1980).

    Examples
    --------
    >>> import krylearn as kl, numpy as np
    >>> A = kl.pde.poisson((32, 32))
    >>> M = kl.precond.ic0(A)
    >>> M.shift
    0.0
    >>> kl.cg(A, np.ones(A.shape[0]), rtol=1e-8, M=M).converged
    True
    """
    return IC0Preconditioner(A, shift, max_shift_tries=max_shift_tries)

"""Incomplete LU: ILU(0) in numba on the pattern of ``A``, or threshold ILU via SciPy's ``spilu``.

References: J. A. Meijerink and H. A. van der Vorst, Math. Comp. 31 (1977); Y. Saad,
"Iterative Methods for Sparse Linear Systems", 2nd ed., SIAM 2003, §10.3 (ILU(0)) and §10.4
(ILUT, as in SuperLU's ``spilu``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse.linalg as spla

from ...operators.base import LinearOperator
from ...threads import solver_threads
from .._sweeps import CSRSystem, assembled_csr
from ._factor import factor_with_shift, lu_matrices, symmetry_error
from ._triangular import lu_solve_adjoint, split_lu, split_solve

if TYPE_CHECKING:  # annotations only (krylearn.typing)
    from typing import Any

    from ...typing import OperatorLike

__all__ = ["ilu", "ILUPreconditioner"]


class ILUPreconditioner(LinearOperator):
    """``z = (L U)⁻¹ r``: see :func:`ilu`."""

    def __init__(self, A: OperatorLike, *, drop_tol: Any = None, fill_factor: Any = None, shift: float = 0.0, max_shift_tries: int = 40, **spilu_options: Any) -> None:
        self._spilu = None
        if drop_tol is None and fill_factor is None and not spilu_options:
            system = CSRSystem(A, "ilu")
            lu, invpiv, alpha, tries, rows = factor_with_shift(system, positive=False, shift=shift,
                                                               max_tries=max_shift_tries, what="ilu")
            sym = symmetry_error(system.csr) == 0.0
            super().__init__((system.n, system.n), dtype=system.dtype, symmetric=sym, hermitian=sym)
            self.system, self._lu, self._invpiv = system, lu, invpiv
            self._split = split_lu(system.indptr, system.indices, lu, system.dptr)
            self.shift = alpha
            self.info = {"type": "ilu0", "shift": alpha, "shift_type": "A + shift*diag(A)",
                         "factorizations": tries, "breakdown_rows": rows}
        else:
            csr = assembled_csr(A, "ilu")
            opts = dict(spilu_options)
            if drop_tol is not None:
                opts["drop_tol"] = drop_tol
            if fill_factor is not None:
                opts["fill_factor"] = fill_factor
            try:
                self._spilu = spla.spilu(csr.tocsc(), **opts)
            except RuntimeError as exc:
                raise ValueError(f"ilu: SciPy's spilu failed ({exc}); is A singular?") from exc
            super().__init__(csr.shape, dtype=csr.dtype)
            self.shift = 0.0
            self.info = {"type": "spilu", **opts, "nnz_L": self._spilu.L.nnz, "nnz_U": self._spilu.U.nnz}

    def _vec(self, x):
        dt = np.result_type(self.dtype, x.dtype)
        return np.ascontiguousarray(x, dtype=dt), np.empty(x.shape[0], dtype=dt)

    def _matvec(self, x):
        if self._spilu is not None:
            return self._spilu.solve(np.asarray(x, dtype=np.result_type(self.dtype, x.dtype)))
        r, z = self._vec(x)
        if r.shape[0]:
            split_solve(*self._split, r, z)
        return z

    def _rmatvec(self, x):
        if self._spilu is not None:
            return self._spilu.solve(np.asarray(x, dtype=np.result_type(self.dtype, x.dtype)), "H")
        r, z = self._vec(x)
        s = self.system
        lu_solve_adjoint(s.indptr, s.indices, self._lu, s.dptr, self._invpiv, r, z)
        return z

    @property
    def factors(self) -> Any:
        """``(L, U)`` as SciPy sparse matrices (``L`` unit lower; for ``spilu`` with its permutations
        applied as SciPy documents: ``Pr A Pc ≈ L U``)."""
        if self._spilu is not None:
            return self._spilu.L, self._spilu.U
        return lu_matrices(self.system, self._lu)

    def todense(self) -> np.ndarray:
        return self.matmat(np.eye(self.shape[0], dtype=self.dtype))


@solver_threads  # the set-up runs under the threading policy (BLAS on one thread)
def ilu(A: OperatorLike, *, drop_tol: float | None = None, fill_factor: float | None = None, shift: float = 0.0,
        max_shift_tries: int = 40, **spilu_options: Any) -> LinearOperator:
    """Incomplete LU preconditioner ``M = L U ≈ A``.

    Without fill options: **ILU(0)** in numba — ``L`` (unit lower) and ``U`` on the pattern of
    ``A`` with ``(L U)_ij = a_ij`` on that pattern (Saad's Algorithm 10.4); a zero or tiny pivot
    triggers a retry on ``A + α·diag(A)`` with ``α`` doubling from 10⁻³ (reported in
    ``M.shift``). With ``drop_tol`` / ``fill_factor`` (or any other ``scipy.sparse.linalg.spilu``
    option): SuperLU's threshold ILU.

    Parameters
    ----------
    A : sparse matrix, dense array or operator with ``tocsr()``, shape (n, n)
        Real or complex, square. ILU(0) needs a nonzero diagonal.
    drop_tol, fill_factor : float, optional
        Passed to ``spilu`` (selects the SciPy path).
    shift : float
        ILU(0) only: initial relative diagonal shift.
    max_shift_tries : int
        ILU(0) only: factorizations to try.
    **spilu_options
        Other ``spilu`` options (``drop_rule``, ``permc_spec``, ...).

    Returns
    -------
    ILUPreconditioner
        A LinearOperator with ``rmatvec`` (the adjoint solve), ``.factors``, ``.info``.

    References
    ----------
    Y. Saad, Iterative Methods for Sparse Linear Systems, 2nd ed., SIAM 2003, §10.3–10.4.

    Examples
    --------
    >>> import krylearn as kl, numpy as np, scipy.sparse as sp
    >>> A = sp.diags([-1.0, 4.0, -2.0], [-1, 0, 1], shape=(100, 100), format="csr")
    >>> M = kl.precond.ilu(A)
    >>> bool(np.allclose(M @ (A @ np.ones(100)), np.ones(100)))   # exact on a tridiagonal matrix
    True
    """
    return ILUPreconditioner(A, drop_tol=drop_tol, fill_factor=fill_factor, shift=shift,
                             max_shift_tries=max_shift_tries, **spilu_options)

"""SSOR preconditioner ``M = (D + ωL) D⁻¹ (D + ωU) / (ω(2 − ω))``, applied by numba sweeps.

Reference: O. Axelsson, "A generalized SSOR method", BIT 12 (1972) 443–467; Y. Saad,
"Iterative Methods for Sparse Linear Systems", 2nd ed., SIAM 2003, §10.2.
"""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING

import numpy as np

from ...operators.base import LinearOperator
from ...threads import solver_threads
from .._sweeps import CSRSystem
from ._factor import symmetry_error
from ._triangular import ssor_apply, ssor_apply_adjoint

if TYPE_CHECKING:  # annotations only (krylearn.typing)
    from ...typing import OperatorLike
    from typing import Any

__all__ = ["ssor", "SSORPreconditioner"]


def _check_omega(omega):
    if not isinstance(omega, numbers.Real) or not 0.0 < float(omega) < 2.0:
        raise ValueError(f"omega must lie in the open interval (0, 2) for SSOR, got {omega!r}")
    return float(omega)


class SSORPreconditioner(LinearOperator):
    """``z = M⁻¹ r`` by a forward and a backward triangular sweep: see :func:`ssor`."""

    def __init__(self, A: OperatorLike, omega: float = 1.0, *, _system: Any = None, symmetric: Any = None) -> None:
        omega = _check_omega(omega)
        system = _system if _system is not None else CSRSystem(A, "the SSOR preconditioner")
        if symmetric is None:
            # O(nnz) check of the pattern and values; the SPD tag is only claimed when A = Aᴴ
            symmetric = symmetry_error(system.csr) <= 1e-14
        spd = bool(symmetric and np.all(np.real(system.diag) > 0))
        super().__init__((system.n, system.n), dtype=system.dtype, symmetric=symmetric,
                         hermitian=symmetric, positive_definite=spd)
        self.system = system
        self.omega = omega
        self.info = {"type": "ssor", "omega": omega}

    def with_omega(self, omega: float) -> SSORPreconditioner:
        """The same preconditioner with another ω (no new setup: shares the CSR arrays)."""
        return SSORPreconditioner(None, omega, _system=self.system, symmetric=self.symmetric)

    def _vec(self, x):
        dt = np.result_type(self.dtype, x.dtype)
        return np.ascontiguousarray(x, dtype=dt), np.empty(x.shape[0], dtype=dt)

    def _matvec(self, x):
        r, z = self._vec(x)
        if r.shape[0] == 0:
            return z
        s = self.system
        ssor_apply(s.indptr, s.indices, s.data, s.dptr, s.invdiag, self.omega, r, z)
        return z

    def _rmatvec(self, x):
        if self.hermitian:
            return self._matvec(x)
        r, z = self._vec(x)
        s = self.system
        ssor_apply_adjoint(s.indptr, s.indices, s.data, s.dptr, s.invdiag, self.omega, r, z)
        return z

    def todense(self) -> np.ndarray:
        return self.matmat(np.eye(self.shape[0], dtype=self.dtype))


@solver_threads  # the set-up runs under the threading policy (BLAS on one thread)
def ssor(A: OperatorLike, omega: float = 1.0) -> LinearOperator:
    """SSOR preconditioner ``M = (D + ωL) D⁻¹ (D + ωU) / (ω(2 − ω))`` with ``A = L + D + U``.

    ``M⁻¹ r`` is one symmetric SOR sweep from a zero initial guess: the forward sweep solves
    ``(D + ωL) y = ω(2−ω) r`` and the backward sweep ``(D + ωU) z = D y`` (numba kernels on
    the CSR rows, one pass each over the lower and upper parts). This is what PETSc's PCSOR
    applies with its default symmetric sweep. For symmetric ``A`` with a positive diagonal
    ``M`` is SPD (tagged so) for every ``ω ∈ (0, 2)``.

    Parameters
    ----------
    A : sparse matrix, dense array or operator with ``tocsr()``, shape (n, n)
        Assembled matrix with a nonzero diagonal.
    omega : float
        Relaxation parameter in (0, 2). A variant with another ω costs nothing:
        ``M.with_omega(1.5)``.

    Returns
    -------
    SSORPreconditioner
        A LinearOperator (``M @ r`` applies ``M⁻¹``); ``.omega``, ``.info``.

    Raises
    ------
    ValueError
        ``omega`` outside (0, 2), zero diagonal, matrix-free ``A``.

    References
    ----------
    O. Axelsson, BIT 12 (1972); Y. Saad, Iterative Methods for Sparse Linear Systems, 2nd
    ed., SIAM 2003, §10.2.

    Examples
    --------
    >>> import krylearn as kl, numpy as np
    >>> A = kl.pde.poisson((32, 32))
    >>> M = kl.precond.ssor(A, omega=1.5)
    >>> kl.cg(A, np.ones(A.shape[0]), rtol=1e-8, M=M).converged
    True
    """
    return SSORPreconditioner(A, omega)

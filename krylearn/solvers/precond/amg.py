"""Algebraic multigrid preconditioner: one PyAMG smoothed-aggregation cycle per application.

Reference: P. Vaněk, J. Mandel and M. Brezina, "Algebraic multigrid by smoothed aggregation
for second and fourth order elliptic problems", Computing 56 (1996) 179–196; PyAMG:
N. Bell, L. N. Olson, J. Schroder, "PyAMG: Algebraic Multigrid Solvers in Python", JOSS 2022.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..._optional import require
from ...operators.base import LinearOperator
from ...threads import solver_threads
from .._sweeps import assembled_csr
from ._factor import symmetry_error

if TYPE_CHECKING:  # annotations only (krylearn.typing)
    from typing import Any

    from ...typing import OperatorLike

__all__ = ["amg", "AMGPreconditioner"]


class AMGPreconditioner(LinearOperator):
    """One multigrid cycle from a zero initial guess: see :func:`amg`."""

    def __init__(self, A: OperatorLike, *, cycle: str = "V", **options: Any) -> None:
        pyamg = require("pyamg", "kl.precond.amg")
        csr = assembled_csr(A, "amg")
        if cycle not in ("V", "W", "F", "AMLI"):
            raise ValueError(f"cycle must be 'V', 'W', 'F' or 'AMLI', got {cycle!r}")
        self.ml = pyamg.smoothed_aggregation_solver(csr, **options)
        sym = symmetry_error(csr) <= 1e-14
        spd = bool(sym and np.all(np.real(csr.diagonal()) > 0))
        super().__init__(csr.shape, dtype=csr.dtype, symmetric=sym, hermitian=sym, positive_definite=spd)
        self.cycle = cycle
        self._M = self.ml.aspreconditioner(cycle=cycle)
        self.info = {"type": "amg", "method": "smoothed aggregation (pyamg)", "cycle": cycle,
                     "levels": len(self.ml.levels), "operator_complexity": self.ml.operator_complexity(),
                     "grid_complexity": self.ml.grid_complexity()}

    def _matvec(self, x):
        return np.asarray(self._M.matvec(np.asarray(x, dtype=np.result_type(self.dtype, x.dtype)))).ravel()


@solver_threads  # the set-up runs under the threading policy (BLAS on one thread)
def amg(A: OperatorLike, *, cycle: str = "V", **options: Any) -> LinearOperator:
    """Smoothed-aggregation AMG preconditioner (PyAMG): ``M⁻¹ r`` is one ``cycle`` from zero.

    Builds the hierarchy once with ``pyamg.smoothed_aggregation_solver(A, **options)`` and applies
    ``ml.aspreconditioner(cycle)``. With PyAMG's default symmetric Gauss–Seidel smoothing the
    cycle is a symmetric positive definite operator for SPD ``A`` (tagged so), suitable for CG.
    PyAMG is imported only here (``pip install 'krylearn[amg]'``).

    Parameters
    ----------
    A : sparse matrix, dense array or operator with ``tocsr()``, shape (n, n)
    cycle : {"V", "W", "F", "AMLI"}
    **options
        Passed to ``pyamg.smoothed_aggregation_solver`` (``strength``, ``smooth``,
        ``presmoother``, ``max_coarse``, ...).

    Returns
    -------
    AMGPreconditioner
        A LinearOperator; ``.ml`` is the PyAMG hierarchy, ``.info`` its levels and complexities.

    References
    ----------
    P. Vaněk, J. Mandel, M. Brezina, Computing 56 (1996); N. Bell, L. Olson, J. Schroder, JOSS 2022.

    Examples
    --------
    >>> import krylearn as kl, numpy as np
    >>> A = kl.pde.poisson((64, 64))
    >>> res = kl.cg(A, np.ones(A.shape[0]), rtol=1e-8, M=kl.precond.amg(A))
    >>> res.converged and res.iterations < 30
    True
    """
    return AMGPreconditioner(A, cycle=cycle, **options)

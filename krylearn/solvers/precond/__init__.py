"""Preconditioners as :class:`krylearn.LinearOperator` objects approximating ``A⁻¹``.

Each is built once (setup in the constructor: factorization, diagonal inversion, AMG
hierarchy) and applied with ``M @ r`` / ``M.matvec(r)`` for any number of right-hand sides:

- :func:`jacobi` — ``D⁻¹``;
- :func:`ssor` — symmetric SOR, ``M = (D+ωL) D⁻¹ (D+ωU) / (ω(2−ω))``;
- :func:`ic0` — zero-fill incomplete Cholesky, with a diagonal shift on breakdown;
- :func:`ilu` — ILU(0) (numba) or threshold ILU (SciPy's ``spilu``);
- :func:`amg` — one V-cycle of PyAMG smoothed aggregation;
- :func:`multigrid` — one geometric multigrid cycle, matrix-free, for :func:`krylearn.pde.poisson` operators;
- :func:`chebyshev` — a few Chebyshev steps (polynomial preconditioner, or smoother on the upper spectrum).

Example: ``kl.cg(A, b, M=kl.precond.ic0(A))``.
"""

from .amg import AMGPreconditioner, amg
from .chebyshev import ChebyshevPreconditioner, chebyshev
from .ic0 import IC0Preconditioner, ic0
from .ilu import ILUPreconditioner, ilu
from .grid_hierarchy import GridHierarchy
from .jacobi import JacobiPreconditioner, jacobi
from .multigrid import MultigridPreconditioner, multigrid
from .ssor import SSORPreconditioner, ssor

__all__ = ["jacobi", "ssor", "ic0", "ilu", "amg", "JacobiPreconditioner", "SSORPreconditioner",
           "IC0Preconditioner", "ILUPreconditioner", "AMGPreconditioner",
           "multigrid", "MultigridPreconditioner", "GridHierarchy", "chebyshev", "ChebyshevPreconditioner"]

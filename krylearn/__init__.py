"""krylearn: classical and learned solvers for linear systems and PDEs behind one LinearOperator.

Quick start::

    import numpy as np, krylearn as kl
    A = kl.pde.poisson((64, 64, 64))            # matrix-free 7-point stencil
    res = kl.cg(A, np.ones(A.shape[0]), rtol=1e-8, M=kl.precond.ic0(A.tocsr()))
    print(res)                                   # SolverResult(method='pcg', status=converged, ...)

Everything is imported lazily: ``import krylearn`` loads NumPy/SciPy and the operator core;
numba kernels compile on first use; torch (``krylearn.learned``, GP-HM) and petsc4py
(``krylearn.petsc``) are imported only by the parts that need them.
"""

import os as _os

# Idle OpenMP workers (numba's, and torch's when imported after us) sleep instead of spinning:
# rule 5 of krylearn/threads.py. Set before any OpenMP runtime starts; a user's setting wins.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
del _os

from ._lazy import exports, install  # noqa: E402
from .operators.base import LinearOperator  # noqa: E402
from .operators.convert import aslinearoperator  # noqa: E402
from .solvers.result import SolverError, SolverResult, SolverState, Status  # noqa: E402
from .solvers.solve import METHODS  # noqa: E402

__version__ = "0.1.0"

_LAZY = {
    **METHODS,  # every iterative solver by name (one table, in krylearn/solvers/solve.py)
    # dispatch, least squares, the threading policy (BLAS, numba and torch pools: krylearn/threads.py)
    **exports("krylearn", {"solvers.solve": "solve", "solvers.sketching.lstsq": "lstsq",
                           "threads": "set_num_threads get_num_threads"}),
    # subpackages
    **{name: (f"krylearn.{name}", None) for name in ("threads", "operators", "solvers", "pde", "learned", "petsc")},
    "precond": ("krylearn.solvers.precond", None),
}

install(__name__, _LAZY)

__all__ = ["LinearOperator", "aslinearoperator", "SolverResult", "SolverState", "SolverError", "Status",
           *_LAZY]


def __dir__():
    return sorted(set(globals()) | set(_LAZY))

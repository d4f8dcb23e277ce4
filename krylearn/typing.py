"""Type aliases of krylearn's public API (for annotations and static checkers).

The solvers take what :func:`krylearn.aslinearoperator` takes and return one
:class:`~krylearn.solvers.result.SolverResult`::

    def cg(A: OperatorLike, b: ArrayLike, x0: ArrayLike | None = None, *, rtol: float = 1e-5,
           atol: float = 0.0, maxiter: int | None = None, M: PreconditionerLike = None,
           callback: Callback | None = None, ...) -> SolverResult

Importing this module costs nothing beyond NumPy (the annotations in krylearn are strings, and
SciPy, torch and petsc4py appear here only for static checkers).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Optional, Union

import numpy as np

if TYPE_CHECKING:  # pragma: no cover - names for static checkers only
    import scipy.sparse
    import scipy.sparse.linalg

    from .operators.base import LinearOperator
    from .solvers.result import SolverState

__all__ = ["ArrayLike", "OperatorLike", "PreconditionerLike", "Callback"]

#: A vector or a block of vectors: NumPy arrays and anything ``np.asarray`` takes, or a torch
#: tensor (the solvers then return tensors on its device).
ArrayLike = Union[np.ndarray, Any]

#: An operator: a :class:`krylearn.LinearOperator`, a NumPy array, a SciPy sparse matrix or
#: ``LinearOperator``, a torch tensor, a petsc4py ``Mat``, or a callable ``x -> A x`` (with the shape
#: given to :func:`krylearn.aslinearoperator`).
OperatorLike = Union["LinearOperator", np.ndarray, "scipy.sparse.spmatrix", "scipy.sparse.linalg.LinearOperator", Any]

#: A preconditioner approximating ``A⁻¹``: an :data:`OperatorLike`, a callable ``r -> z``, or None.
PreconditionerLike = Optional[Union[OperatorLike, Callable[[np.ndarray], np.ndarray]]]

#: ``callback(state) -> bool``: called after every iteration; True stops the solve (USER_STOP).
Callback = Callable[["SolverState"], Optional[bool]]


def _is_a(value: object, abc: type) -> bool:
    """``isinstance(value, abc)`` for the :mod:`numbers` ABCs, out of mypy's sight.

    typeshed does not register ``int``/``float`` with ``numbers.Integral``/``numbers.Real``, so an
    inline ``if not isinstance(n, numbers.Integral): raise ...`` on a parameter annotated ``int`` makes
    mypy treat everything after it as unreachable (and silently skip checking it)."""
    return isinstance(value, abc)

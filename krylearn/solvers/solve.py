"""``kl.solve``: one entry point dispatching to every iterative solver by name.

The solvers themselves are imported lazily, so ``kl.solve`` costs nothing until it is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .._lazy import same_named
from ..operators.convert import aslinearoperator

if TYPE_CHECKING:  # annotations only (krylearn.typing)
    from typing import Any

    from ..typing import ArrayLike, OperatorLike
    from .result import SolverResult

__all__ = ["solve", "METHODS"]

#: name -> (module, function) of every solver ``solve`` dispatches to
METHODS = {**same_named("krylearn.solvers.krylov", "cg minres minres_qlp gmres fgmres chebyshev lsqr lsmr bicgstab fcg"),
           **same_named("krylearn.solvers.stationary", "jacobi gauss_seidel sor ssor multigrid")}

_ALIASES = {"gs": "gauss_seidel", "gauss-seidel": "gauss_seidel", "bicg-stab": "bicgstab",
            "pcg": "cg", "flexible_cg": "fcg"}


def choose_method(A):
    """The method ``method="auto"`` picks from ``A``'s structure tags.

    A grid Poisson operator (:func:`krylearn.pde.poisson`) → ``"cg"`` with the geometric multigrid
    preconditioner (see :func:`solve`); positive definite → ``"cg"``; Hermitian (or real symmetric) → ``"minres"``; otherwise
    ``"gmres"``. Untagged operators (e.g. a plain SciPy matrix) get ``"gmres"``: krylearn does
    not run an O(n²) structure test behind your back; tag the operator
    (``kl.aslinearoperator(A, positive_definite=True)``) to get CG.
    """
    A = aslinearoperator(A)
    if A.positive_definite:
        return "cg"
    if A.hermitian:
        return "minres"
    return "gmres"


def solve(A: OperatorLike, b: ArrayLike, method: str = "cg", **options: Any) -> SolverResult:
    """Solve ``A x = b`` with the iterative method named ``method``.

    Parameters
    ----------
    A : operator-like, shape (n, n)
        Anything :func:`krylearn.aslinearoperator` accepts.
    b : array_like, shape (n,)
    method : str
        One of ``"cg"``, ``"minres"``, ``"minres_qlp"``, ``"gmres"``, ``"fgmres"``, ``"bicgstab"``, ``"fcg"``,
        ``"chebyshev"``, ``"jacobi"``, ``"gauss_seidel"``, ``"sor"``, ``"ssor"``, ``"multigrid"``,
        ``"lsqr"``, ``"lsmr"`` (least squares, any ``m × n`` ``A``) (case-insensitive), or
        ``"auto"``: a grid Poisson operator gets CG preconditioned by one geometric multigrid
        V-cycle (:func:`krylearn.precond.multigrid`, unless ``M`` is given); otherwise the choice
        follows the structure tags (positive definite → CG, Hermitian → MINRES, otherwise GMRES;
        see :func:`choose_method`).
    **options
        Passed to the solver unchanged (``x0``, ``rtol``, ``atol``, ``maxiter``, ``M``,
        ``callback``, ``restart``, ``omega``, ...). An option the solver does not take raises
        ``TypeError``.

    Returns
    -------
    SolverResult
        As returned by the chosen solver (``result.method`` names it); for ``"auto"``,
        ``result.info["auto_method"]`` records the choice (and ``info["auto_preconditioner"]``
        the multigrid preconditioner it built, if any).

    Notes
    -----
    Every solver stops on ``‖b − A x‖₂ ≤ max(atol, rtol·‖b‖₂)``; see each one's docstring for
    which residual it tests with a preconditioner.

    Examples
    --------
    >>> import numpy as np, krylearn as kl
    >>> A = kl.aslinearoperator(np.diag([1.0, 2.0, 3.0]), positive_definite=True)
    >>> kl.solve(A, np.ones(3), method="auto", rtol=1e-12).info["auto_method"]
    'cg'
    """
    if not isinstance(method, str):
        raise TypeError(f"method must be a string naming a solver, got {type(method).__name__}")
    name = method.strip().lower()
    name = _ALIASES.get(name, name)
    auto = name == "auto"
    auto_M = None
    if auto:
        from ..operators.stencil import PoissonStencil

        if isinstance(A, PoissonStencil) and options.get("M") is None:
            from .precond.multigrid import multigrid

            # CG needs a consistent right-hand side on a singular (all-Neumann) grid operator;
            # the multigrid cycle projects out the null space, so it applies there too
            options["M"] = auto_M = multigrid(A)
            name = "cg"
        else:
            A = aslinearoperator(A)
            name = choose_method(A)
    if name not in METHODS:
        valid = ", ".join(repr(k) for k in [*METHODS, "auto"])
        raise ValueError(f"unknown method {method!r}; valid methods are {valid}")
    module, attr = METHODS[name]
    try:
        fn = getattr(importlib.import_module(module), attr)
    except ModuleNotFoundError as exc:  # a solver module that has not landed yet
        if exc.name != module:
            raise
        raise NotImplementedError(f"method {name!r} is not available in this installation") from exc
    res = fn(A, b, **options)
    if auto:
        res.info["auto_method"] = name
        if auto_M is not None:
            res.info["auto_preconditioner"] = "multigrid"
            res.info["setup_time"] = auto_M.info["setup_time"]
    return res

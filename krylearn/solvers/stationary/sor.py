"""Successive over-relaxation (SOR): forward sweeps ``x_i ← (1−ω) x_i + ω (b_i − Σ_{j≠i} a_ij x_j)/a_ii``.

Reference: D. M. Young, "Iterative methods for solving partial difference equations of
elliptic type", Trans. Amer. Math. Soc. 76 (1954) 92–111; Y. Saad, "Iterative Methods for
Sparse Linear Systems", 2nd ed., SIAM 2003, §4.1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._common import rescaled
from .._sweeps import CSRSystem, run_stationary

if TYPE_CHECKING:  # annotations only
    from ...solvers.result import SolverResult
    from ...typing import ArrayLike, Callback, OperatorLike

__all__ = ["sor", "SOR"]


class SOR:
    """SOR prepared once for a matrix, solved for many right-hand sides and ω.

    Setup (``O(nnz)``, no copy of a canonical CSR matrix): locate the diagonal, invert it,
    check it is nonzero. :meth:`solve` then validates only ``b``/``x0`` (``O(n)``) and runs the
    whole iteration in one numba call; use this in loops that solve many systems
    (e.g. the ω tuners of :mod:`krylearn.solvers.tuning.bandits`).

    Parameters
    ----------
    A : sparse matrix, dense array or operator with ``tocsr()``, shape (n, n)
        Nonzero diagonal. Matrix-free operators raise ``ValueError``.

    Examples
    --------
    >>> import krylearn as kl, numpy as np, scipy.sparse as sp
    >>> A = sp.diags([-1, 2.5, -1], [-1, 0, 1], shape=(50, 50), format="csr")
    >>> from krylearn.solvers.stationary.sor import SOR
    >>> S = SOR(A)
    >>> S.solve(np.ones(50), omega=1.2, rtol=1e-8).converged
    True
    """

    method = "sor"
    _kind = "sor"

    def __init__(self, A):
        self.system = CSRSystem(A, self.method)
        self.shape = (self.system.n, self.system.n)

    def solve(self, b, x0=None, *, omega=1.0, rtol=1e-5, atol=0.0, maxiter=None, callback=None,
              relative_to="b"):
        """Run SOR sweeps from ``x0`` (default zeros); see :func:`sor` for the parameters."""
        return run_stationary(self.system, self._kind, b, x0, omega=omega, rtol=rtol, atol=atol,
                              maxiter=maxiter, callback=callback, relative_to=relative_to,
                              method=self.method)


@rescaled
def sor(A: OperatorLike, b: ArrayLike, x0: ArrayLike | None = None, *, omega: float = 1.0, rtol: float = 1e-5, atol: float = 0.0, maxiter: int | None = None, callback: Callback | None = None, relative_to: str = "b") -> SolverResult:
    """Solve ``A x = b`` by successive over-relaxation (forward sweeps).

    Algorithm: sweep ``i = 0..n−1``: ``x_i ← x_i + ω (b_i − Σ_j a_ij x_j) / a_ii`` using the
    already updated ``x_j`` for ``j < i``. One iteration is one sweep (a numba kernel over the
    CSR rows). Converges for SPD ``A`` and ``0 < ω < 2``; ``ω = 1`` is Gauss–Seidel.

    Stopping rule: ``‖b − A x_k‖₂ ≤ max(atol, rtol·‖b‖₂)`` (or ``max(atol, rtol·‖r_0‖₂)`` with
    ``relative_to="r0"``). The residual tested is that of the iterate ``x_k`` entering sweep
    ``k+1``; it is computed inside that sweep at no extra pass over ``A``, and when the test
    passes the sweep is undone, so ``res.x`` is exactly ``x_k``, ``res.iterations = k`` sweeps,
    and ``res.residuals[k] = ‖b − A x_k‖₂`` (2-norm, unpreconditioned). A run therefore does
    ``iterations + 1`` sweeps in all.

    Parameters
    ----------
    A : sparse matrix, dense array or operator with ``tocsr()``, shape (n, n)
        Assembled matrix with a nonzero diagonal (``kl.pde.poisson(...)`` works through its
        ``tocsr()``). Matrix-free operators raise ``ValueError``.
    b : array_like, shape (n,)
    x0 : array_like, optional
        Starting guess (default zeros); not modified.
    omega : float
        Relaxation parameter in the open interval (0, 2); otherwise ``ValueError``.
    rtol, atol : float
        Tolerances of the stopping rule above.
    maxiter : int, optional
        Sweep limit (default ``10 n``).
    callback : callable, optional
        ``callback(state) -> bool`` once per iterate ``x_k`` (``state.x``, ``state.residual_norm``);
        True stops with status USER_STOP. Without a callback the whole loop runs in numba.
    relative_to : {"b", "r0"}
        Reference of ``rtol``: ``‖b‖`` (krylearn's rule, default) or ``‖r_0‖ = ‖b − A x0‖``
        (the rule ``‖r_k‖ ≤ ε‖r_0‖`` of Khodak et al. 2024; ``‖r_0‖`` comes from the first
        sweep for free).

    Returns
    -------
    SolverResult
        ``status``: CONVERGED, MAX_ITERATIONS, NOT_FINITE (overflow), STAGNATION (no new
        residual minimum in 1000 sweeps: a diverging or stalled iteration; ``info["reason"]``
        says which), USER_STOP. ``info["omega"]`` records ω.

    Raises
    ------
    ValueError
        ``omega`` outside (0, 2), a zero or missing diagonal entry, shape mismatch, NaN/Inf,
        a matrix-free operator.

    Notes
    -----
    To solve many systems with the same matrix, prepare once: ``S = kl.solvers.sor.SOR(A)``,
    then ``S.solve(b, omega=...)`` (no per-call setup).

    References
    ----------
    D. M. Young, Trans. Amer. Math. Soc. 76 (1954); Y. Saad, Iterative Methods for Sparse
    Linear Systems, 2nd ed., SIAM 2003, §4.1.

    Examples
    --------
    >>> import krylearn as kl, numpy as np
    >>> A = kl.pde.poisson((16, 16))
    >>> res = kl.sor(A, np.ones(A.shape[0]), omega=1.7, rtol=1e-8)
    >>> res.converged
    True
    """
    return SOR(A).solve(b, x0, omega=omega, rtol=rtol, atol=atol, maxiter=maxiter, callback=callback,
                        relative_to=relative_to)

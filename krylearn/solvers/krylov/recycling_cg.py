"""RecyclingCG: deflated CG that carries approximate eigenvectors from one system of a sequence to the next.

References: Y. Saad, M. Yeung, J. Erhel, F. Guyomarc'h, "A deflated version of the conjugate gradient
algorithm", SIAM J. Sci. Comput. 21(5):1909–1926 (2000) (the deflated iteration); M. L. Parks,
E. de Sturler, G. Mackey, D. D. Johnson, S. Maiti, "Recycling Krylov subspaces for sequences of linear
systems", SIAM J. Sci. Comput. 28(5):1651–1674 (2006) (recycling Ritz vectors across a sequence);
A. Stathopoulos, K. Orginos, "Computing and deflating eigenvalues while solving multiple right hand
side linear systems ...", SIAM J. Sci. Comput. 32(1) (2010) (harvesting from the CG directions).
"""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING

import numba as nb
import numpy as np

from .._kernels import cg_update_xr, dot, fused_matvec_dot, xpby
from .._skeleton import KrylovRun
from ..result import Status
from ...typing import _is_a

if TYPE_CHECKING:  # annotations only
    from ...operators.base import LinearOperator
    from ...typing import ArrayLike, Callback, OperatorLike, PreconditionerLike
    from ..result import SolverResult

__all__ = ["RecyclingCG"]


def _deflate(p, z, W, AW):
    """In place: ``p −= W (AWᵀ z)``, the deflation of a new search direction (Saad et al. 2000)."""
    if p.dtype == np.float64 and z.dtype == np.float64:
        _deflate_kernel(p, z, W, AW)
    else:
        p -= W @ (AW.T @ z)


@nb.njit(cache=True, nogil=True, fastmath={"reassoc"})
def _deflate_kernel(p, z, W, AW):
    """``p −= W (AWᵀ z)`` in two passes over the ``n × k`` blocks (row-major), no temporaries."""
    n, k = W.shape
    c = np.zeros(k)
    for i in range(n):
        zi = z[i]
        for j in range(k):
            c[j] += AW[i, j] * zi
    for i in range(n):
        acc = 0.0
        for j in range(k):
            acc += W[i, j] * c[j]
        p[i] -= acc


class RecyclingCG:
    """Deflated, preconditioned CG for a sequence of slowly changing SPD systems ``A_t x_t = b_t``.

    Each :meth:`solve` runs CG in the ``A``-orthogonal complement of a *recycled* space ``W``
    (``n × k``): the start is corrected so that ``Wᵀ r₀ = 0`` and every search direction is
    ``A``-orthogonalised against ``W`` (Saad et al. 2000), so the eigenvalues of ``A`` whose
    eigenvectors ``W`` approximates no longer slow the iteration down. After the solve, ``W`` is
    renewed by Rayleigh–Ritz on ``[W, p₀ … p_{s−1}]`` (the old space and the first ``s`` search
    directions, whose products ``A p_j`` CG computed anyway): the ``k`` Ritz vectors of ``A`` with the
    smallest Ritz values are kept for the next system. Per solve this costs ``k`` products ``A W``
    (skipped when the operator is the same object as in the previous solve), ``2k`` extra vector
    operations per iteration and an ``n × (k+s)`` Gram matrix; it pays when the systems change slowly
    and the slow modes are a few smooth ones (diffusion with a time-varying coefficient, shifted
    Laplacians, ...).

    Parameters
    ----------
    k : int
        Number of recycled vectors (default 6).
    harvest : int, optional
        Search directions of each solve kept for the Rayleigh–Ritz step (default ``2k``).

    ``A W`` is re-used when the next operator is the same object as the last one; an operator
    modified in place between solves needs :meth:`reset` (or a new object).

    Attributes
    ----------
    W : ndarray (n, k) or None
        The recycled space (A-orthonormal for the last operator), ``ritz_values`` its Ritz values.

    Examples
    --------
    A sequence of systems with slowly changing coefficients:

    >>> import numpy as np, krylearn as kl
    >>> rcg = kl.solvers.RecyclingCG(k=6)
    >>> x = None
    >>> for c in (1.0, 1.1, 1.2):
    ...     A = kl.pde.poisson((24, 24), coefficient=c * np.linspace(1, 2, 576).reshape(24, 24))
    ...     res = rcg.solve(A, np.ones(576), x0=x, rtol=1e-8, M=kl.precond.ic0(A))
    ...     x = res.x
    >>> bool(res.converged)
    True
    """

    k: int
    harvest: int
    W: np.ndarray | None
    ritz_values: np.ndarray | None
    _AW: np.ndarray | None
    _A: LinearOperator | None

    def __init__(self, k: int = 6, harvest: int | None = None) -> None:
        if isinstance(k, bool) or not _is_a(k, numbers.Integral) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        harvest = 2 * int(k) if harvest is None else harvest
        if isinstance(harvest, bool) or not _is_a(harvest, numbers.Integral) or harvest < 1:
            raise ValueError(f"harvest must be a positive integer, got {harvest!r}")
        self.k, self.harvest = int(k), int(harvest)
        self.W = None
        self.ritz_values = None
        self._AW = None
        self._A = None

    def reset(self) -> None:
        """Forget the recycled space (e.g. when the next system is unrelated)."""
        self.W, self._AW, self._A, self.ritz_values = None, None, None, None

    def solve(self, A: OperatorLike, b: ArrayLike, x0: ArrayLike | None = None, *, rtol: float = 1e-5,
              atol: float = 0.0, maxiter: int | None = None, M: PreconditionerLike = None,
              callback: Callback | None = None) -> SolverResult:
        """Solve ``A x = b`` (SPD ``A``; SPD preconditioner ``M``) by deflated PCG, then renew ``W``.

        The stopping rule is CG's: ``‖b − A x‖₂ ≤ max(atol, rtol·‖b‖₂)``, confirmed with a true
        residual. ``res.info`` holds ``deflation_size`` (columns of ``W`` used) and ``ritz_values``."""
        run = KrylovRun("recycling_cg", A, b, x0, M=M, maxiter=maxiter, rtol=rtol, atol=atol)
        if run.zero_rhs is not None:
            return run.zero_rhs
        A, b, x, M, maxiter, tol = run.A, run.b, run.x, run.M, run.maxiter, run.tol
        n = b.shape[0]
        run.start(callback, record_initial=False)   # r₀ after the deflated start, below
        mon = run.mon
        W, AW = self._space(A, n, b.dtype)
        r = b - A.matvec(x) if np.any(x) else b.copy()
        if W is not None:  # start in the complement: Wᵀ r = 0
            c = W.T @ r
            x += W @ c
            r -= AW @ c
        mon.info["deflation_size"] = 0 if W is None else W.shape[1]
        rnorm = float(np.linalg.norm(r))
        if mon.record(0, rnorm, x=x):
            return mon.result(x, Status.USER_STOP, 0)
        if rnorm <= tol:
            if W is not None:
                self._renew(A, W, AW)
            return mon.result(x, Status.CONVERGED, 0)
        z = r if M is None else np.asarray(M.matvec(r), dtype=b.dtype)
        p = np.array(z, copy=True)
        if W is not None:
            _deflate(p, z, W, AW)
        rz = float(np.real(dot(r, z)))
        if not rz > 0:
            mon.info["reason"] = "the preconditioner M is not positive definite"
            return mon.result(x, Status.INDEFINITE, 0)
        # the Rayleigh–Ritz basis [W, p₀ … p_{s−1}] and its image, filled in place (Fortran order:
        # a column per vector, contiguous)
        kW = 0 if W is None else W.shape[1]
        Z = np.empty((n, kW + self.harvest), dtype=b.dtype, order="F")
        AZ = np.empty_like(Z)
        if W is not None:
            Z[:, :kW] = W
            AZ[:, :kW] = AW
        used = kW
        # the plain PCG step runs on the fused kernels of kl.cg (q = A p with (p, q) in one pass,
        # x/r update with ‖r‖² in one pass, p = z + β p in place); deflation adds two passes over
        # the n × k blocks W and AW per iteration
        matvec_dot = fused_matvec_dot(A, p)
        q = np.empty_like(p) if matvec_dot is not None else None
        it = 0
        status = Status.MAX_ITERATIONS
        while it < maxiter:
            if matvec_dot is not None:
                pq = float(matvec_dot(p, q))
            else:
                q = np.asarray(A.matvec(p), dtype=b.dtype)
                pq = float(np.real(dot(p, q)))
            verdict = run.curvature(x, it, pq)
            if verdict is not None:
                status = verdict
                break
            if used < Z.shape[1]:
                Z[:, used] = p
                AZ[:, used] = q
                used += 1
            alpha = rz / pq
            rnorm = float(np.sqrt(cg_update_xr(x, r, p, q, alpha)))
            it += 1
            # NaN/Inf, or a recursive residual below tol that the true residual must confirm
            r, rnorm, verdict = run.check(x, it, r, rnorm, record=True)
            if verdict is not None:
                status = verdict
                break
            z = r if M is None else np.asarray(M.matvec(r), dtype=b.dtype)
            rz_new = float(np.real(dot(r, z)))
            if not rz_new > 0:
                mon.info["reason"] = "the preconditioner M is not positive definite"
                status = Status.INDEFINITE
                break
            beta = rz_new / rz
            rz = rz_new
            xpby(p, z, beta)
            if W is not None:
                _deflate(p, z, W, AW)
        self._renew(A, Z[:, :used], AZ[:, :used])
        mon.info["ritz_values"] = None if self.ritz_values is None else self.ritz_values.copy()
        return run.finish(x, status, it, rnorm)

    # -- the recycled space ----------------------------------------------------------------------
    def _space(self, A, n, dtype):
        """``(W, AW)`` A-orthonormal for this ``A`` (or ``(None, None)``)."""
        if self.W is None or self.W.shape[0] != n:
            self.reset()
            return None, None
        W = self.W
        AW = self._AW if self._A is A else np.asarray(A.matmat(W))
        E = W.T @ AW
        E = 0.5 * (E + E.T)
        lam, V = np.linalg.eigh(E)
        keep = lam > 1e-12 * max(lam.max(), 0.0)
        if not np.any(keep):
            self.reset()
            return None, None
        S = V[:, keep] / np.sqrt(lam[keep])
        return np.ascontiguousarray(W @ S, dtype=dtype), np.ascontiguousarray(AW @ S, dtype=dtype)

    def _renew(self, A, Z, AZ):
        """Rayleigh–Ritz on ``Z = [W, p₀ …]`` (``AZ = A Z``): keep the ``k`` Ritz vectors with the
        smallest Ritz values."""
        if Z.shape[1] == 0:
            return
        F = Z.T @ Z
        G = Z.T @ AZ
        G = 0.5 * (G + G.T)
        # orthonormalise through F's eigen-decomposition, dropping dependent directions
        mu, U = np.linalg.eigh(F)
        keep = mu > 1e-10 * mu.max()
        T = U[:, keep] / np.sqrt(mu[keep])
        theta, Y = np.linalg.eigh(T.T @ G @ T)
        C = T @ Y[:, : self.k]
        self.W = np.ascontiguousarray(Z @ C)
        self._AW = np.ascontiguousarray(AZ @ C)
        self._A = A
        self.ritz_values = theta[: self.k]

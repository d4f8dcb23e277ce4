"""DCDM: the deep conjugate direction method, and the network as a flexible-CG preconditioner.

Reference: A. Kaneda, O. Akar, J. Chen, V. A. T. Kala, D. Hyde, J. Teran, "A Deep Conjugate
Direction Method for Iteratively Solving Linear Systems", ICML 2023 (arXiv 2205.10763), Alg. 1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import collections

import numpy as np

from .._optional import require
from ..operators.base import LinearOperator
from ..solvers._skeleton import KrylovRun, residual_verdict
from ..solvers.result import Status
from ..threads import solver_threads, torch_threads
from .stencil_torch import grid_mask

if TYPE_CHECKING:  # annotations only
    import torch

    from ..solvers.result import SolverResult
    from ..typing import ArrayLike, Callback, OperatorLike
else:
    torch = require("torch", "the DCDM learned solver (krylearn.learned)")

__all__ = ["dcdm", "DCDMPreconditioner", "NetworkApply"]


def _resolve_mask(A, mask):
    if mask is not None:
        return np.asarray(mask, dtype=bool)
    return grid_mask(A)


class NetworkApply:
    """``r ↦ f_net(r)`` on a grid: scatter the unknowns to the grid, run the model, gather back.

    Parameters
    ----------
    model : DCDMNet
    mask : bool ndarray
        Fluid cells of the grid (the unknowns, C order).
    device : torch device, optional
        Default: the model's device.
    """

    def __init__(self, model: torch.nn.Module, mask: np.ndarray, device: str | torch.device | None = None) -> None:
        mask = np.asarray(mask, dtype=bool)
        if getattr(model, "dim", mask.ndim) != mask.ndim:
            raise ValueError(f"the model is {model.dim}D but the grid {mask.shape} is {mask.ndim}D")
        self.model = model
        self.mask = mask
        self.n = int(mask.sum())
        tensors = [t for t in list(getattr(model, "parameters", list)()) + list(getattr(model, "buffers", list)())
                   if t.is_floating_point()]
        if tensors:    # run in the model's precision (float32 for the shipped models)
            self.device = torch.device(device) if device is not None else tensors[0].device
            self.dtype = tensors[0].dtype
        else:
            self.device = torch.device(device or "cpu")
            self.dtype = torch.float32
        self._mask_t = torch.as_tensor(mask, device=self.device)
        self._grid = torch.zeros((1, 1) + mask.shape, dtype=self.dtype, device=self.device)

    def __call__(self, r):
        r = np.asarray(r)
        scale = float(np.max(np.abs(r))) if r.size else 0.0
        if scale == 0.0:
            return np.zeros(self.n)
        g = self._grid
        g.zero_()
        g[0, 0][self._mask_t] = torch.as_tensor(r / scale, dtype=self.dtype, device=self.device)
        with torch.no_grad(), torch_threads(self.mask.size, self.device):
            if hasattr(self.model, "eval"):
                self.model.eval()
            q = self.model(g, self._mask_t)
        return scale * q[0, 0][self._mask_t].to(torch.float64).cpu().numpy()


def _grid_rhs(b, mask, name):
    """Accept ``b`` as a vector of the unknowns or as a full-grid array."""
    arr = np.asarray(b)
    n = int(mask.sum())
    if arr.shape == mask.shape:
        return arr[mask]
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.shape != (n,):
        raise ValueError(f"{name} has shape {arr.shape}; expected shape ({n},) (the unknowns: fluid cells of "
                         f"the grid) or the grid shape {mask.shape}")
    return arr


@solver_threads
def dcdm(A: OperatorLike, b: ArrayLike, model: torch.nn.Module, x0: ArrayLike | None = None, *, rtol: float = 1e-5, atol: float = 0.0, maxiter: int | None = None, k: int = 2, callback: Callback | None = None, mask: np.ndarray | None = None,
         device: str | torch.device | None = None, stagnation_window: int = 10) -> SolverResult:
    """Solve ``A x = b`` (SPD grid Poisson) by the deep conjugate direction method.

    Algorithm (Kaneda et al. 2023, Alg. 1): ``r = b − A x``; each iteration

    1. ``q = f_net(r/‖r‖)`` (the network approximates ``A⁻¹`` up to a scale);
    2. A-orthogonalise against the last ``k`` directions:
       ``q ← q − Σ_j p_j (qᵀA p_j)/(p_jᵀA p_j)``;
    3. exact line search ``α = qᵀr / qᵀA q``, ``x ← x + α q``;
    4. recompute the **true** residual ``r = b − A x``.

    Stopping rule: the 2-norm of the true residual, ``‖b − A x‖₂ ≤ max(atol, rtol·‖b‖₂)``
    (the paper stops at ``‖r‖ ≤ tol·‖r₀‖``; with ``x0 = 0`` the two agree).

    Parameters
    ----------
    A : operator-like, shape (n, n)
        SPD grid operator, normally ``kl.pde.poisson(shape, mask=...)``; its grid (shape and mask)
        tells how to lay the residual out for the network. Another operator (e.g. its CSR) works
        with ``mask=`` given.
    b : array_like, shape (n,) or the grid shape
        Right-hand side over the fluid cells (or a full-grid array, read at the fluid cells).
    model : DCDMNet (or any callable module ``(1, 1, *grid), mask -> (1, 1, *grid)``)
        E.g. ``kl.learned.load_pretrained("poisson2d")``.
    x0 : array_like, optional
        Starting guess (default zeros).
    rtol, atol : float
        Tolerances of the stopping rule.
    maxiter : int, optional
        Iteration limit (default ``n``).
    k : int
        Number of previous directions to A-orthogonalise against (paper: 2).
    callback : callable, optional
        ``callback(state) -> bool`` after each iteration; True stops (USER_STOP).
    mask : bool ndarray, optional
        The grid's fluid cells, if ``A`` does not carry them.
    device : str or torch.device, optional
        Where the network runs (default: where the model is).
    stagnation_window : int
        Status STAGNATION when the residual has not reached a new minimum for this many
        iterations and the steps are at machine precision, or the network gives ``qᵀr = 0``.

    Returns
    -------
    SolverResult
        ``method="dcdm"``; ``residuals`` holds ``‖b − A x_k‖₂``. ``info["network_time"]`` is the
        time spent in the network.

    Raises
    ------
    ValueError
        Wrong-shaped ``b``/``x0`` (the message names the expected shape), a model of the wrong
        dimension, non-finite data, ``k < 1``.

    Notes
    -----
    Each iteration costs one network pass and two products with ``A``. Because the network is
    nonlinear, the method is not a Krylov method: only the last ``k`` directions are kept
    A-orthogonal, and convergence depends on how well the network approximates ``A⁻¹``; with the
    exact inverse it converges in one step.

    **Choosing k.** When the network is weak on part of the spectrum (typically the smoothest
    modes on grids larger than its receptive field), its output for successive, similar
    residuals lies almost in the span of the last two directions, and with ``k = 2`` the
    iteration stagnates. Keeping more directions (``k = 16..32``, ``2k`` stored vectors, cost
    ``O(k n)`` per iteration, small next to a network pass) restores convergence. Measured
    (benchmarks/results/dcdm.md): a 2D U-Net trained with the paper's residual loss needed
    ``k = 32`` (with ``k = 2`` it did not reach 1e-6 in 400 iterations on 64²), and so did the
    multilevel network trained with that loss (``k = 2`` stalls near 2e-2); the shipped models
    (:class:`~krylearn.learned.multilevel_net.MultilevelNet`, energy loss) converge with the
    paper's ``k = 2`` in 10 (2D, 128²–512²) and 7–8 (3D, 32³–64³) iterations to 1e-4, and
    ``k = 32`` gains at most one iteration.

    References
    ----------
    Kaneda et al., ICML 2023, arXiv:2205.10763.

    Examples
    --------
    >>> import numpy as np, krylearn as kl
    >>> model = kl.learned.load_pretrained("poisson2d")
    >>> mask = kl.pde.obstacles.random_domain((64, 64), seed=1)
    >>> A = kl.pde.poisson((64, 64), mask=mask)
    >>> res = kl.learned.dcdm(A, np.ones(A.shape[0]), model, rtol=1e-6)
    >>> res.converged
    True
    """
    import time

    mask = _resolve_mask(A, mask)
    n_grid = int(mask.sum())
    if getattr(A, "shape", (n_grid, n_grid))[0] != n_grid:
        raise ValueError(f"the operator has shape {A.shape} but the grid mask has {n_grid} fluid cells")
    b = _grid_rhs(b, mask, "b")
    if x0 is not None:
        x0 = _grid_rhs(x0, mask, "x0")
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k (directions kept A-orthogonal) must be a positive integer, got {k!r}")
    run = KrylovRun("dcdm", A, b, x0, maxiter=maxiter, rtol=rtol, atol=atol, default_maxiter=n_grid)
    if run.zero_rhs is not None:  # b = 0: x = 0, whatever x0 (as every solver of the package)
        return run.zero_rhs
    A, b, x, maxiter, tol = run.A, run.b, run.x, run.maxiter, run.tol
    net = NetworkApply(model, mask, device)
    if (done := run.start(callback)) is not None:
        return done
    mon, r, rnorm = run.mon, run.r, run.rnorm

    dirs: collections.deque[tuple[np.ndarray, np.ndarray, float]] = collections.deque(maxlen=int(k))   # (p, Ap, pAp)
    t_net = 0.0
    best = rnorm
    since_best = 0
    status = Status.MAX_ITERATIONS
    it = 0
    while it < maxiter:
        t0 = time.perf_counter()
        q = net(r / rnorm)
        t_net += time.perf_counter() - t0
        if not np.all(np.isfinite(q)):
            status = Status.NOT_FINITE
            break
        for p, Ap, pAp in dirs:
            q -= p * (np.dot(q, Ap) / pAp)
        Aq = A.matvec(q)
        qAq = float(np.dot(q, Aq))
        qr = float(np.dot(q, r))
        if not np.isfinite(qAq):
            status = Status.NOT_FINITE
            break
        if qAq <= 0.0:
            status = Status.INDEFINITE if np.any(q) else Status.BREAKDOWN
            break
        alpha = qr / qAq
        if alpha == 0.0:
            status = Status.STAGNATION
            break
        x += alpha * q
        r = b - A.matvec(x)
        it += 1
        rnorm = float(np.linalg.norm(r))
        dirs.append((q, Aq, qAq))
        if mon.record(it, rnorm, x=x):
            status = Status.USER_STOP
            break
        verdict = residual_verdict(rnorm, tol)
        if verdict is not None:
            status = verdict
            break
        if rnorm < best * (1 - 1e-12):
            best, since_best = rnorm, 0
        else:
            since_best += 1
            if since_best >= stagnation_window and abs(alpha) * np.linalg.norm(q) <= 1e-14 * np.linalg.norm(x):
                status = Status.STAGNATION
                break
    mon.info["network_time"] = t_net
    mon.info["k"] = int(k)
    return mon.result(x, status, it)


class DCDMPreconditioner(LinearOperator):
    """The DCDM network as a (nonlinear) preconditioner ``z = ‖r‖ f_net(r/‖r‖)`` for :func:`krylearn.fcg`.

    Parameters
    ----------
    model : DCDMNet
        The network (e.g. ``kl.learned.load_pretrained("poisson3d")``).
    A : grid operator, optional
        The operator being solved (``kl.pde.poisson(...)``); supplies the grid and mask. Give
        ``mask=`` instead if ``A`` carries no grid.
    mask : bool ndarray, optional
    device : torch device, optional

    Notes
    -----
    The map is positively homogeneous (``z(c r) = c z(r)`` for ``c > 0``) but not linear, so it
    says so (``variable = True``): :func:`krylearn.cg` takes its flexible form on its own
    (``res.info["flexible"]``), ``kl.fcg``/``kl.fgmres`` are flexible anyway, and the methods that
    need a fixed preconditioner (minres, gmres, bicgstab) refuse it. ``matvec`` is also available as
    :meth:`apply`, for a PETSc ``PCPYTHON`` context (use ``-ksp_type fcg`` there).

    Examples
    --------
    >>> import numpy as np, krylearn as kl
    >>> model = kl.learned.load_pretrained("poisson2d")
    >>> A = kl.pde.poisson((32, 32), mask=kl.pde.obstacles.random_domain((32, 32), seed=1))
    >>> M = kl.learned.DCDMPreconditioner(model, A)
    >>> res = kl.fcg(A, np.ones(A.shape[0]), M=M, rtol=1e-6)
    >>> res.converged
    True
    """

    #: a nonlinear map (see Notes)
    variable = True

    def __init__(self, model: torch.nn.Module, A: OperatorLike | None = None, *, mask: np.ndarray | None = None,
                 device: str | torch.device | None = None) -> None:
        if A is None and mask is None:
            raise ValueError("DCDMPreconditioner needs the grid: pass the operator A (kl.pde.poisson) or mask=")
        mask = _resolve_mask(A, mask)
        n = int(mask.sum())
        if A is not None and getattr(A, "shape", (n, n)) != (n, n):
            raise ValueError(f"the operator has shape {A.shape} but the grid mask has {n} fluid cells")
        super().__init__((n, n), dtype=np.float64, symmetric=False)
        self.model = model
        self.mask = mask
        self._net = NetworkApply(model, mask, device)

    def _matvec(self, r):
        r = np.asarray(r, dtype=np.float64).ravel()
        nr = float(np.linalg.norm(r))
        if nr == 0.0:
            return np.zeros_like(r)
        return nr * self._net(r / nr)

    def apply(self, r: ArrayLike) -> np.ndarray:
        return self._matvec(r)

"""GP-HM: a Gaussian-process solver for high-frequency and multi-scale PDEs on a Kronecker grid.

Reference: S. Fang, M. Cooley, D. Long, S. Li, R. M. Kirby, S. Zhe, "Solving High Frequency and
Multi-Scale PDEs with Gaussian Processes", ICLR 2024 (arXiv 2311.04465).

Model (as in the paper). The solution values ``U`` on a full grid ``x⁽¹⁾ × … × x⁽ᵈ⁾`` have the
prior ``vec U ~ N(0, K₁ ⊗ … ⊗ K_d)`` with one (spectral-mixture) kernel per axis; derivatives on
the grid are GP conditional means, ``∂ᵒU/∂x_iᵒ = K_i⁽ᵒ⁾ K_i⁻¹ U`` applied along axis ``i``. The
negative log joint that is minimised (divided by the number ``n`` of grid points) is::

    Φ(U, θ, τ) = ½ vec(U)ᵀ K⁻¹ vec(U) + ½ log|K|
                 + λ_b [ τ_b/2 ‖U_B − g‖² − n_B/2 log τ_b ]       (boundary likelihood)
                 +       τ_r/2 ‖r(U)‖²    − n/2  log τ_r           (PDE-residual likelihood)

with ``r(U) = operator(fields) − f`` on all grid points, ``log|K| = Σ_i (n/N_i) log|K_i|``.

Optimiser (beyond the paper). ``mode="newton"`` (default): for fixed ``θ`` and ``τ`` the
objective is quadratic in ``U`` for a linear PDE. In whitened coordinates ``U = (S₁ ⊗ … ⊗ S_d) v``
with ``K_i + εI = Q_i Λ_i Q_iᵀ``, ``S_i = Q_i Λ_i^{1/2}``, every derivative field is itself a
Kronecker product applied to ``v`` (``∂ᵒ/∂x_iᵒ → T_i⁽ᵒ⁾ = K_i⁽ᵒ⁾ Q_i Λ_i^{-1/2}`` on axis ``i``,
``S_j`` on the others), and the minimiser solves the SPD system
``(I + λ_b τ_b SᵀP_B S + τ_r JᵀJ) v = λ_b τ_b SᵀP_B g + τ_r Jᵀ b`` (``J`` = linearised residual).
Small problems solve it densely (a QR least-squares solve of the stacked system); large ones by
:func:`krylearn.cg` with matrix-free Kronecker products and the exact diagonal of the system
in the eigenbasis as preconditioner (fast-diagonalisation: exact for the prior part).
Nonlinear PDEs (Allen–Cahn) use Gauss–Newton on ``v`` with the same inner solves. The kernel
parameters and noise precisions are then optimised on the *reduced* objective
``Φ*(θ, τ) = min_U Φ(U, θ, τ)`` by L-BFGS; its gradient is ``∂Φ/∂(θ, τ)`` at the inner minimiser
(envelope theorem), obtained by torch autograd through per-factor Cholesky factorizations.
``mode="adam"`` keeps the paper's optimiser (Adam on ``(U, θ, τ)`` jointly) as a reference.

Large grids: :meth:`GPHMSolver.warm_start` copies the kernel learned on a coarser grid (frequencies and
envelopes are in physical units), a multigrid-style continuation that needs only a few fine-grid outer
steps. Zero-source PDEs (advection): ``U ≡ 0`` solves the PDE exactly, so the objective is unbounded
below as ``τ_r → ∞``; the noise precisions are then kept at their initial values, with the residual's
scale taken from the operator's terms rather than from the (zero) source.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal, cast, overload

import numpy as np

from .._optional import require
from .equations import Equation, _check_domain, _parse_field
from .gp_kernels import Kernel1D, SpectralMixture, make_kernel
from ..operators.kronecker import apply_along_axis
from ._gphm_inner import _InnerSolve
from ._gphm_optim import _Optimisers

if TYPE_CHECKING:  # pragma: no cover - names for static checkers only
    from collections.abc import Sequence

    import numpy.typing as npt
    import torch
    from numpy.typing import NDArray

__all__ = ["GPHMSolver"]


def _apply_axis_t(A, U, axis):
    torch = require("torch", "GP-HM")
    return torch.movedim(torch.tensordot(A, U, dims=([1], [axis])), 0, axis)


class GPHMSolver(_InnerSolve, _Optimisers):
    """Gaussian-process PDE solver with spectral-mixture kernels on a Kronecker grid (GP-HM).

    Parameters
    ----------
    equation : Equation
        The PDE (see :mod:`krylearn.pde.equations`), e.g. ``equations.benchmark_problem("poisson1d-sin100")``.
    domain : sequence of (lower, upper), optional
        Defaults to ``equation.domain``.
    grid : int or sequence of int
        Collocation points per axis (≥ 2 each), equispaced including the end points.
    kernel : str or Kernel1D or list
        ``"sm"`` (Gaussian-mixture spectrum, default), ``"student"`` (Matérn-5/2 × cos), ``"se"``,
        ``"matern52"``, a :class:`~krylearn.pde.gp_kernels.Kernel1D` or one per axis.
    num_components : int
        Q for spectral-mixture kernels (default 30).
    freq_scale : float or sequence, optional
        Initial frequencies evenly on ``[0, freq_scale]`` (cycles per unit length). Default: a
        quarter of the grid's sampling rate per axis, ``(N_i − 1) / (4 L_i)`` (half the Nyquist
        frequency); it uses no knowledge of the solution.
    init_rho : float or "auto"
        Initial envelope parameter ρ. ``"auto"`` (default): wide enough that neighbouring spectral
        peaks overlap at the start (``ρ = 2π Δμ / √2`` with the initial spacing ``Δμ``); the paper uses 1.
    jitter : float
        Relative jitter: ``jitter · mean(diag K_i)`` is added to each factor's diagonal (paper: 1e-6,
        absolute; relative jitter keeps the factors' condition number bounded when weights grow).
    lambda_b : float
        Boundary weight (paper: 200; 500 for advection).
    tau_b, tau_r : float, optional
        Initial noise precisions of boundary and residual likelihoods (default: scaled to the data so
        that the initial relative misfit is 1e-3; for a zero source, relative to the size of the operator's
        terms on the boundary data at the grid's half-Nyquist frequency).
    learn_noise : bool or "auto"
        Learn the noise precisions in the outer loop. ``"auto"`` (default): learn them unless the source is
        identically zero (e.g. advection): then ``U ≡ 0`` satisfies the PDE exactly, the objective is
        unbounded below as ``τ_r → ∞`` and the outer loop drifts to ``U ≈ 0`` (measured: rel L2 ≈ 1), so
        the initial precisions are kept.
    mode : {"newton", "adam"}
        ``"newton"``: inner exact/Gauss–Newton solve for U, L-BFGS on the kernel parameters
        (default). ``"adam"``: the paper's joint Adam on the full objective (reference).
    max_outer : int
        Outer iterations (L-BFGS iterations in "newton" mode, Adam steps in "adam" mode).
    lr : float
        Adam learning rate (paper: 0.01) for ``mode="adam"``.
    inner : {"auto", "dense", "cg"}
        Inner linear solver: dense least squares (``n ≤ dense_limit``) or matrix-free PCG.
    inner_rtol : float
        PCG tolerance of the inner solve (‖b − Hv‖₂ ≤ inner_rtol·‖b‖₂).
    gn_max_iter, gn_tol : int, float
        Gauss–Newton iterations per inner solve (nonlinear PDEs) and the relative-step stop.
    max_restarts : int
        L-BFGS-B restarts (fresh curvature memory, from the best point) after a failed line search.
    boundary : {"auto", "likelihood", "exact"}
        ``"likelihood"`` (the paper's, default for "auto"): Gaussian boundary likelihood with weight
        ``lambda_b`` and the PDE residual at all grid points. ``"exact"``: ``U_B = g`` imposed exactly and
        the residual on the interior points; its PCG preconditioner is the Kronecker-sum operator
        ``(τ_r L̄ᴴL̄)⁻¹`` by per-axis eigendecompositions (experimental: effective only when the PDE
        term dominates the prior; use ``inner="dense"`` for small grids).
    blas_threads : int or None
        BLAS/torch threads used during :meth:`fit` (default 1: the many small dense products run
        fastest single-threaded, and multi-threaded BLAS thrashes on a loaded machine); the previous
        settings are restored afterwards. None leaves them alone.
    min_misfit : float
        Upper bounds of the learned noise precisions: relative misfit ``≥ min_misfit`` times the scale
        of the source / boundary data (keeps the reduced objective well conditioned).
    progress : bool
        Show a tqdm progress bar in :meth:`fit`.

    Attributes
    ----------
    U_ : ndarray
        After :meth:`fit`: the solution on the grid (grid shape).
    history_ : list
        After :meth:`fit`: the objective per outer step.
    fit_time_ : float
        After :meth:`fit`: seconds.
    inner_iterations_ : list of int
        After :meth:`fit`: PCG iterations of the inner solves.

    Examples
    --------
    >>> from krylearn.pde import equations
    >>> eq = equations.poisson(lambda x: __import__("torch").sin(3 * x), dim=1, domain=[(0, 1)])
    >>> gp = GPHMSolver(eq, grid=40, num_components=4, max_outer=20, progress=False).fit()
    >>> out = gp.predict(np.linspace(0, 1, 5)[:, None])
    """

    def __init__(self, equation: Equation, domain: Sequence[tuple[float, float]] | npt.ArrayLike | None = None,
                 grid: int | Sequence[int] = 100, *, kernel: str | Kernel1D | Sequence[str | Kernel1D] = "sm",
                 num_components: int = 30, freq_scale: float | Sequence[float] | None = None,
                 init_rho: float | Literal["auto"] = "auto", jitter: float = 1e-6, lambda_b: float = 200.0,
                 tau_b: float | None = None, tau_r: float | None = None, learn_noise: bool | Literal["auto"] = "auto",
                 learn_kernel: bool = True, mode: Literal["newton", "adam"] = "newton", max_outer: int = 100,
                 lr: float = 0.01, inner: Literal["auto", "dense", "cg"] = "auto", inner_rtol: float = 1e-10,
                 inner_maxiter: int = 2000, dense_limit: int = 2500, gn_max_iter: int = 20, gn_tol: float = 1e-12,
                 max_restarts: int = 10, boundary: Literal["auto", "likelihood", "exact"] = "auto",
                 min_misfit: float = 1e-6, blas_threads: int | None = 1, progress: bool = True) -> None:
        self.torch = require("torch", "GP-HM (krylearn.pde.GPHMSolver)")
        if not isinstance(equation, Equation):
            raise ValueError("equation must be a krylearn.pde.equations.Equation")
        self.equation = equation
        dim = equation.dim
        if domain is None:
            if equation.domain is None:
                raise ValueError("give a domain: the equation has no default domain")
            domain = equation.domain
        self.domain = _check_domain(domain, dim)
        # np.isscalar's TypeGuard names numpy's scalar union, not this parameter's int | Sequence[int]: the casts
        # state the branch of the annotation each side is in
        grid = ((int(cast(int, grid)),) * dim if np.isscalar(grid)
                else tuple(int(g) for g in cast("Sequence[int]", grid)))
        if len(grid) != dim:
            raise ValueError(f"grid has {len(grid)} entries, the problem has {dim} dimensions")
        if any(g < 2 for g in grid):
            raise ValueError(f"grid needs at least 2 points per dimension, got {grid}")
        self.grid = grid
        if mode not in ("newton", "adam"):
            raise ValueError(f"mode must be 'newton' or 'adam', got {mode!r}")
        if inner not in ("auto", "dense", "cg"):
            raise ValueError(f"inner must be 'auto', 'dense' or 'cg', got {inner!r}")
        for name, v in (("jitter", jitter), ("lambda_b", lambda_b), ("lr", lr), ("inner_rtol", inner_rtol)):
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a positive number, got {v!r}")
        self.mode, self.inner, self.inner_rtol = mode, inner, float(inner_rtol)
        self.inner_maxiter, self.dense_limit = int(inner_maxiter), int(dense_limit)
        self.jitter, self.lambda_b, self.lr = float(jitter), float(lambda_b), float(lr)
        self.max_outer = int(max_outer)
        if boundary not in ("auto", "likelihood", "exact"):
            raise ValueError(f"boundary must be 'auto', 'likelihood' or 'exact', got {boundary!r}")
        self.max_restarts = int(max_restarts)
        self.min_misfit = float(min_misfit)
        self.blas_threads = None if blas_threads is None else int(blas_threads)
        self.gn_max_iter, self.gn_tol = int(gn_max_iter), float(gn_tol)
        self._learn_noise_opt = learn_noise
        self.learn_kernel, self.progress = bool(learn_kernel), bool(progress)

        torch = self.torch
        self.axes = [np.linspace(lo, hi, n) for (lo, hi), n in zip(self.domain, grid)]
        self.axes_t = [torch.as_tensor(a) for a in self.axes]
        # kernels, one per axis
        if isinstance(kernel, (list, tuple)):
            if len(kernel) != dim:
                raise ValueError(f"got {len(kernel)} kernels for a {dim}-D problem")
            self.kernels = [make_kernel(k) for k in kernel]
        else:
            self.kernels = []
            for i in range(dim):
                L = self.domain[i, 1] - self.domain[i, 0]
                # (casts: np.ndim does not narrow; a sequence per axis when it has a dimension, else a number)
                fs = (grid[i] - 1) / (4.0 * L) if freq_scale is None else (
                    cast("Sequence[float]", freq_scale)[i] if np.ndim(freq_scale) else float(cast(float, freq_scale)))
                if isinstance(kernel, Kernel1D):
                    if dim > 1:
                        raise ValueError("pass one Kernel1D per axis (a list) for a multi-dimensional problem")
                    self.kernels.append(kernel)
                    continue
                name = str(kernel).lower()
                if name in ("sm", "gm", "spectral", "student", "sm-t", "student-t", "sm-gm", "sm-student"):
                    q = int(num_components)
                    spacing = fs / max(q - 1, 1)
                    rho = (2 * math.pi * spacing / math.sqrt(2.0)) if init_rho == "auto" else float(init_rho)
                    spec = "student" if name in ("student", "sm-t", "student-t", "sm-student") else "gaussian"
                    if spec == "student" and init_rho == "auto":
                        rho = 2 * math.pi * spacing / math.sqrt(5.0)
                    self.kernels.append(SpectralMixture(q, fs, spec, init_rho=rho))
                elif name in ("se", "rbf", "squared-exponential", "matern52", "matern", "matern-5/2"):
                    # start the lengthscale at ~ 4 grid spacings (learned afterwards)
                    h = L / (grid[i] - 1)
                    self.kernels.append(make_kernel(name, lengthscale=4 * h))
                else:
                    self.kernels.append(make_kernel(kernel))
        # fields, boundary, source
        self.fields = equation.fields
        self.field_axes = {f: _parse_field(f, dim) for f in self.fields}
        mesh = np.meshgrid(*self.axes, indexing="ij")
        self.mesh = mesh
        self.n = int(np.prod(grid))
        bmask = np.zeros(grid, dtype=bool)
        for i in range(dim):
            sl: list[int | slice] = [slice(None)] * dim
            sl[i] = 0
            bmask[tuple(sl)] = True
            sl[i] = -1
            bmask[tuple(sl)] = True
        self.bmask = bmask
        if boundary == "auto":
            boundary = "likelihood"
        if boundary == "exact" and any(g_ < 3 for g_ in grid):
            raise ValueError(f"boundary='exact' needs at least 3 points per dimension, got {grid}")
        self.boundary = boundary
        self.interior_t = torch.as_tensor(~bmask)
        self.inner_shape = tuple(g_ - 2 for g_ in grid)
        self.n_b = int(bmask.sum())
        bpts = [m[bmask] for m in mesh]
        g = np.asarray(equation.boundary(*bpts), dtype=float)
        if g.shape != (self.n_b,):
            if g.size not in (1, self.n_b):
                raise ValueError(f"boundary(...) must return {self.n_b} values for the {self.n_b} boundary points")
            g = np.broadcast_to(g, (self.n_b,)).astype(float)
        self.g = np.array(g, dtype=float)
        f = equation.source_values(mesh)
        if f.shape != tuple(grid):
            raise ValueError(f"source(...) returned shape {f.shape}, expected the grid shape {tuple(grid)}")
        self.f = f
        # check the operator's output shape on the grid now (clear error before any work)
        probe = {name: np.zeros(grid) for name in self.fields}
        try:
            out = np.asarray(equation.operator(probe))
        except Exception as exc:  # noqa: BLE001 - re-raised with context
            raise ValueError(f"the equation's operator failed on the grid fields: {exc}") from exc
        if out.shape != tuple(grid):
            raise ValueError(f"the equation's operator returned shape {out.shape}, expected the grid shape "
                             f"{tuple(grid)} (one residual per grid point)")
        if not np.all(np.isfinite(self.f)) or not np.all(np.isfinite(self.g)):
            raise ValueError("source or boundary data contain NaN or Inf")
        # noise precisions: initial relative misfit 1e-3
        fscale = float(np.sqrt(np.mean(self.f ** 2))) + 1e-300
        gscale = float(np.sqrt(np.mean(self.g ** 2))) + 1e-300
        scale = max(fscale, gscale, 1.0)
        # a (near-)zero source (e.g. advection) says nothing about the residual's natural size: judge the
        # residual against the size of the operator's terms instead, estimated from the boundary data and
        # the grid's resolvable frequencies (no knowledge of the solution). Without this floor the
        # initial misfit (1e-3 × 1e-3) makes U ≈ 0 (residual 0, boundary violated) the optimum.
        rscale = max(fscale, 1e-3 * scale, 1e-3 * gscale * self._operator_scale(probe))
        tau_r = 1.0 / (1e-3 * rscale) ** 2 if tau_r is None else float(tau_r)
        tau_b = 1.0 / (1e-3 * max(gscale, 1e-3 * scale)) ** 2 if tau_b is None else float(tau_b)
        self.log_tau = torch.tensor([math.log(tau_b), math.log(tau_r)], dtype=torch.float64)
        self._noise_scales = (max(gscale, 1e-3 * scale), rscale)
        if isinstance(self._learn_noise_opt, str):
            if self._learn_noise_opt != "auto":
                raise ValueError(f"learn_noise must be True, False or 'auto', got {self._learn_noise_opt!r}")
            self.learn_noise = bool(np.any(self.f != 0))
        else:
            self.learn_noise = bool(self._learn_noise_opt)
        self.f_t = torch.as_tensor(self.f)
        self.g_t = torch.as_tensor(self.g)
        self.bmask_t = torch.as_tensor(bmask)
        self.U_ = np.zeros(grid)
        if self.boundary == "exact":
            self.U_[bmask] = self.g
        self.history_: list[float] = []
        self.inner_iterations_: list[int] = []
        self.fit_time_: float | None = None
        self._alpha: NDArray[np.float64] | None = None

    def _operator_scale(self, probe):
        """Σ_m rms(a_m) (2π f_i)^o: the size of the operator's terms on a unit-amplitude wave at the grid's
        half-Nyquist frequency f_i = (N_i − 1)/(4 L_i) (a_m from probing the operator with unit fields)."""
        try:
            base = np.asarray(self.equation.operator(probe), dtype=float)
            total = 0.0
            for name, (axis, order) in self.field_axes.items():
                one = dict(probe)
                one[name] = np.ones(self.grid)
                a = np.asarray(self.equation.operator(one), dtype=float) - base
                w = 1.0
                if order > 0:
                    L = self.domain[axis, 1] - self.domain[axis, 0]
                    w = 2 * math.pi * (self.grid[axis] - 1) / (4.0 * L)
                total += float(np.sqrt(np.mean(a ** 2))) * w ** order
            return total if np.isfinite(total) else 0.0
        except Exception:  # noqa: BLE001 - a heuristic only; fall back to the source scale
            return 0.0

    # ------------------------------------------------------------------------------------------
    # objective (torch)
    # ------------------------------------------------------------------------------------------
    def _factors_t(self):
        """Per axis: (Cholesky of K_i + εI, {order: K_i^(order)}), torch, differentiable."""
        torch = self.torch
        out = []
        for i, (k, x) in enumerate(zip(self.kernels, self.axes_t)):
            K0, K1, K2 = k.all_cross(x)
            Kj = K0 + (self.jitter * K0.diagonal().mean()) * torch.eye(len(x), dtype=torch.float64)
            L = torch.linalg.cholesky(Kj)
            out.append((L, {0: K0, 1: K1, 2: K2}))
        return out

    def objective(self, U: torch.Tensor | None = None,
                  fac: list[tuple[torch.Tensor, dict[int, torch.Tensor]]] | None = None) -> torch.Tensor:
        """The paper's negative log joint Φ(U, θ, τ)/n (torch scalar, differentiable in θ, τ and U)."""
        torch = self.torch
        U = torch.as_tensor(self.U_) if U is None else U
        fac = self._factors_t() if fac is None else fac
        alpha = U
        logdet = 0.0
        half = {}
        for i, (L, _) in enumerate(fac):
            # K_i^{-1} along axis i
            Ui = torch.movedim(U, i, 0).reshape(self.grid[i], -1)
            half[i] = torch.movedim(torch.cholesky_solve(Ui, L).reshape(torch.movedim(U, i, 0).shape), 0, i)
            a = torch.movedim(alpha, i, 0)
            alpha = torch.movedim(torch.cholesky_solve(a.reshape(self.grid[i], -1), L).reshape(a.shape), 0, i)
            logdet = logdet + (self.n / self.grid[i]) * 2.0 * torch.log(torch.diagonal(L)).sum()
        quad = (U * alpha).sum()
        fields = self._fields_t(U, half, fac)
        r = self.equation.residual(fields, self.f_t)
        tau_b, tau_r = self.log_tau.exp()
        if self.boundary == "exact":
            # U_B = g exactly (τ_b → ∞, its constant dropped); residual at the interior points
            r = r[self.interior_t]
            bterm = 0.0
            rterm = 0.5 * tau_r * (r ** 2).sum() - 0.5 * r.numel() * self.log_tau[1]
        else:
            ub = U[self.bmask_t]
            bterm = self.lambda_b * (0.5 * tau_b * ((ub - self.g_t) ** 2).sum() - 0.5 * self.n_b * self.log_tau[0])
            rterm = 0.5 * tau_r * (r ** 2).sum() - 0.5 * self.n * self.log_tau[1]
        return (0.5 * quad + 0.5 * logdet + bterm + rterm) / self.n

    def _fields_t(self, U, half, fac):
        out = {}
        for name, (axis, order) in self.field_axes.items():
            if order == 0:
                out[name] = U
            else:
                out[name] = _apply_axis_t(fac[axis][1][order], half[axis], axis)
        return out

    # ------------------------------------------------------------------------------------------
    # prediction
    # ------------------------------------------------------------------------------------------
    def _weights(self):
        """α = (K₁ ⊗ … ⊗ K_d)⁻¹ vec U via per-factor eigendecompositions (cached)."""
        if self._alpha is None:
            from ..operators.kronecker import Kronecker

            facs = self._factors_np()
            Ks = []
            for fa in facs:
                Kj = (fa["Q"] * fa["lam"]) @ fa["Q"].T
                Ks.append(0.5 * (Kj + Kj.T))
            # K₁ ⊗ … ⊗ K_d never formed: per-factor Cholesky solves along each axis
            self._alpha = Kronecker(*Ks).solve(self.U_.reshape(-1)).reshape(self.grid)
        return self._alpha

    def _cross_np(self, axis, pts, order):
        torch = self.torch
        with torch.no_grad():
            return self.kernels[axis].cross(torch.as_tensor(pts), self.axes_t[axis], order).numpy()

    # (overload-overlap: a str is also a Sequence[str]; the str overload comes first, so a str always picks it,
    # which is what the implementation does -- mypy's documented idiom for this pair)
    @overload
    def predict(self, points: npt.ArrayLike,  # type: ignore[overload-overlap]
                derivatives: str) -> NDArray[np.float64]: ...

    @overload
    def predict(self, points: npt.ArrayLike,
                derivatives: Sequence[str] = ("u",)) -> dict[str, NDArray[np.float64]]: ...

    def predict(self, points: npt.ArrayLike, derivatives: str | Sequence[str] = ("u",)
                ) -> NDArray[np.float64] | dict[str, NDArray[np.float64]]:
        """GP conditional mean of u and its derivatives at arbitrary points.

        Parameters
        ----------
        points : array_like, shape (m, d) (or (m,) in 1D)
        derivatives : sequence of str
            Field names: "u", "u_x", "u_xx", "u_y", ...

        Returns
        -------
        dict name -> ndarray (m,), or the array itself when one name is asked as a string.
        """
        single = isinstance(derivatives, str)
        names: list[str] = [derivatives] if isinstance(derivatives, str) else list(derivatives)
        P = np.asarray(points, dtype=float)
        d = len(self.grid)
        if P.ndim == 1 and d == 1:
            P = P[:, None]
        if P.ndim != 2 or P.shape[1] != d:
            raise ValueError(f"points must have shape (m, {d}), got {np.shape(points)}")
        alpha = self._weights()
        out = {}
        for name in names:
            axis, order = _parse_field(name, d)
            mats = [self._cross_np(j, P[:, j], order if j == axis else 0) for j in range(d)]
            T = (mats[0] @ alpha.reshape(self.grid[0], -1)).reshape((len(P),) + tuple(self.grid[1:]))
            for j in range(1, d):
                T = np.einsum("pj,pj...->p...", mats[j], T)
            out[name] = T
        return out[names[0]] if single else out

    @overload  # (overload-overlap: as for predict)
    def predict_grid(self, axes: Sequence[npt.ArrayLike],  # type: ignore[overload-overlap]
                     derivatives: str) -> NDArray[np.float64]: ...

    @overload
    def predict_grid(self, axes: Sequence[npt.ArrayLike],
                     derivatives: Sequence[str] = ("u",)) -> dict[str, NDArray[np.float64]]: ...

    def predict_grid(self, axes: Sequence[npt.ArrayLike], derivatives: str | Sequence[str] = ("u",)
                     ) -> NDArray[np.float64] | dict[str, NDArray[np.float64]]:
        """Predictions on the tensor grid ``axes[0] × axes[1] × …`` (per-axis Kronecker products)."""
        single = isinstance(derivatives, str)
        names: list[str] = [derivatives] if isinstance(derivatives, str) else list(derivatives)
        d = len(self.grid)
        if len(axes) != d:
            raise ValueError(f"need {d} axes, got {len(axes)}")
        alpha = self._weights()
        out = {}
        for name in names:
            axis, order = _parse_field(name, d)
            T = alpha
            for j in range(d):
                T = apply_along_axis(self._cross_np(j, np.asarray(axes[j], float), order if j == axis else 0), T, j)
            out[name] = T
        return out[names[0]] if single else out

    def spectrum(self) -> list[dict[str, Any]]:
        """Learned spectra per axis: list of dicts with ``freq`` (cycles/unit), ``weight``, ``rho``.

        Non-spectral kernels give their parameters instead."""
        out = []
        for k in self.kernels:
            if isinstance(k, SpectralMixture):
                mu, w, rho = k.spectrum()
                out.append({"freq": mu, "weight": w, "rho": rho})
            else:
                out.append({n: np.exp(v) if n.startswith("log_") else v for n, v in k.state().items()})
        return out

    def error(self, n_test: int = 300) -> float:
        """Relative L2 error of the final model on an ``n_test``-per-axis grid (needs the exact solution)."""
        axes = [np.linspace(lo, hi, n_test) for lo, hi in self.domain]
        pred = self.predict_grid(axes, "u")
        mesh = np.meshgrid(*axes, indexing="ij")
        ex = self.equation.exact_numpy(*mesh)
        return float(np.linalg.norm(pred - ex) / np.linalg.norm(ex))

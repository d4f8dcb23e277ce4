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
import time

import numpy as np

from .._optional import require
from ..threads import blas_threads
from .equations import Equation, _check_domain, _parse_field
from .gp_kernels import Kernel1D, SpectralMixture, make_kernel

__all__ = ["GPHMSolver"]


def _apply_axis_np(A, U, axis):
    """``A`` applied along ``axis`` of the array ``U`` (the Kronecker factor product)."""
    return np.moveaxis(np.tensordot(A, U, axes=([1], [axis])), 0, axis)


def _apply_axis_t(A, U, axis):
    torch = require("torch", "GP-HM")
    return torch.movedim(torch.tensordot(A, U, dims=([1], [axis])), 0, axis)


class GPHMSolver:
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

    def __init__(self, equation, domain=None, grid=100, *, kernel="sm", num_components=30, freq_scale=None,
                 init_rho="auto", jitter=1e-6, lambda_b=200.0, tau_b=None, tau_r=None, learn_noise="auto",
                 learn_kernel=True, mode="newton", max_outer=100, lr=0.01, inner="auto", inner_rtol=1e-10,
                 inner_maxiter=2000, dense_limit=2500, gn_max_iter=20, gn_tol=1e-12, max_restarts=10, boundary="auto", min_misfit=1e-6, blas_threads=1, progress=True):
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
        grid = (int(grid),) * dim if np.isscalar(grid) else tuple(int(g) for g in grid)
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
                fs = (grid[i] - 1) / (4.0 * L) if freq_scale is None else (
                    freq_scale[i] if np.ndim(freq_scale) else float(freq_scale))
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
            sl = [slice(None)] * dim
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
            g = np.broadcast_to(g, (self.n_b,)).astype(float) if g.size in (1, self.n_b) else None
            if g is None:
                raise ValueError(f"boundary(...) must return {self.n_b} values for the {self.n_b} boundary points")
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
        self.history_ = []
        self.inner_iterations_ = []
        self.fit_time_ = None
        self._alpha = None

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

    def objective(self, U=None, fac=None):
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
    # inner solve (numpy): whitened coordinates U = S v
    # ------------------------------------------------------------------------------------------
    def _factors_np(self):
        """Per axis: eigenbasis of K_i + εI and the whitened derivative factors T_i^(o)."""
        torch = self.torch
        facs = []
        with torch.no_grad():
            for k, x in zip(self.kernels, self.axes_t):
                K0, K1, K2 = (m.numpy() for m in k.all_cross(x))
                jit = self.jitter * float(np.mean(np.diag(K0)))
                Kj = K0 + jit * np.eye(len(x))
                lam, Q = np.linalg.eigh(Kj)
                lam = np.maximum(lam, jit * 1e-3)
                sq = np.sqrt(lam)
                T = {0: Q * sq, 1: (K1 @ Q) / sq, 2: (K2 @ Q) / sq}
                fa = {"Q": Q, "lam": lam, "T": T}
                if self.boundary == "exact":
                    Qs = Q / sq
                    fa["Kinv"] = Qs @ Qs.T
                    fa["D"] = {1: T[1] @ Qs.T, 2: T[2] @ Qs.T}
                facs.append(fa)
        return facs

    def _field_factors(self, facs, name):
        axis, order = self.field_axes[name]
        return [facs[j]["T"][order if j == axis else 0] for j in range(len(self.grid))]

    def _kron_apply(self, mats, V, transpose=False):
        for j, M in enumerate(mats):
            V = _apply_axis_np(M.T if transpose else M, V, j)
        return V

    def _linearize(self, U, facs):
        """Residual r0 at U and pointwise coefficients a_m = ∂operator/∂field_m (torch autograd)."""
        torch = self.torch
        v = self._to_v(U, facs)
        vals = {name: self._kron_apply(self._field_factors(facs, name), v) for name in self.fields}
        vals["u"] = U
        tv = {k: torch.tensor(a, requires_grad=True) for k, a in vals.items()}
        r = self.equation.residual(tv, self.f_t)
        if tuple(r.shape) != tuple(self.grid):
            raise ValueError(f"the equation's residual has shape {tuple(r.shape)}, expected {self.grid}")
        grads = torch.autograd.grad(r.sum(), [tv[k] for k in self.fields], allow_unused=True)
        coef = {}
        for k, gk in zip(self.fields, grads):
            if gk is not None and torch.any(gk != 0):
                coef[k] = gk.detach().numpy()
        return v, vals, r.detach().numpy(), coef

    def _to_v(self, U, facs):
        V = U
        for j, fa in enumerate(facs):
            V = _apply_axis_np((fa["Q"] / np.sqrt(fa["lam"])).T, V, j)
        return V

    def _inner_linear(self, facs, v0, r0, coef, vals):
        """Minimise the quadratic model in v; returns the new v (grid-shaped) and PCG iterations."""
        tau_b, tau_r = (float(t) for t in self.log_tau.detach().exp())
        A = self.lambda_b * tau_b
        c = tau_r
        names = list(coef)
        # linearised residual: r(v) = Σ a_m T_m v − b, b = Σ a_m T_m v0 − r0
        b = -r0.copy()
        for m in names:
            b += coef[m] * vals[m]
        grid = self.grid
        use_dense = self.inner == "dense" or (self.inner == "auto" and self.n <= self.dense_limit)
        if use_dense:
            S = self._dense_kron([fa["T"][0] for fa in facs])
            J = np.zeros((self.n, self.n))
            for m in names:
                J += coef[m].reshape(-1, 1) * self._dense_kron(self._field_factors(facs, m))
            Bm = S[self.bmask.reshape(-1)]
            Amat = np.vstack([np.eye(self.n), math.sqrt(A) * Bm, math.sqrt(c) * J])
            rhs = np.concatenate([np.zeros(self.n), math.sqrt(A) * self.g, math.sqrt(c) * b.reshape(-1)])
            Qm, Rm = np.linalg.qr(Amat)
            v = np.linalg.solve(Rm, Qm.T @ rhs)
            return v.reshape(grid), 0
        from ..operators.base import LinearOperator
        from ..solvers.krylov.cg import cg

        Sf = [fa["T"][0] for fa in facs]
        fmats = {m: self._field_factors(facs, m) for m in names}
        bmask = self.bmask

        def Jv(V):
            out = 0.0
            for m in names:
                out = out + coef[m] * self._kron_apply(fmats[m], V)
            return out

        def JTw(W):
            out = 0.0
            for m in names:
                out = out + self._kron_apply(fmats[m], coef[m] * W, transpose=True)
            return out

        def matvec(x):
            V = x.reshape(grid)
            SV = self._kron_apply(Sf, V)
            y = V + A * self._kron_apply(Sf, SV * bmask, transpose=True) + c * JTw(Jv(V))
            return y.reshape(-1)

        G = np.zeros(grid)
        G[bmask] = self.g
        rhs = (A * self._kron_apply(Sf, G, transpose=True) + c * JTw(b)).reshape(-1)
        diag = 1.0 + A * self._diag_boundary(Sf) + c * self._diag_jtj(facs, coef, names)
        H = LinearOperator((self.n, self.n), matvec=matvec, rmatvec=matvec, symmetric=True,
                              positive_definite=True)
        M = LinearOperator((self.n, self.n), matvec=lambda x: x / diag.reshape(-1), symmetric=True,
                              positive_definite=True)
        res = cg(H, rhs, x0=v0.reshape(-1), rtol=self.inner_rtol, maxiter=self.inner_maxiter, M=M)
        self._last_cg = res
        return res.x.reshape(grid), res.iterations

    def _dense_kron(self, mats):
        out = np.ones((1, 1))
        for M in mats:
            out = np.kron(out, M)
        return out

    def _diag_boundary(self, Sf):
        """diag(Sᵀ P_B S) = Π_j colsum(S_j²) − Π_j colsum(S_j² · interior_j), as a grid array."""
        full = np.ones(())
        inner = np.ones(())
        for S in Sf:
            s2 = S ** 2
            full = np.multiply.outer(full, s2.sum(0))
            inner = np.multiply.outer(inner, s2[1:-1].sum(0))
        return full - inner

    def _diag_jtj(self, facs, coef, names):
        """Diagonal of JᵀJ in the whitened eigenbasis, with each coefficient field replaced by the
        mean product of the coefficients (exact for constant-coefficient PDEs)."""
        out = 0.0
        for m in names:
            fm = self._field_factors(facs, m)
            for m2 in names:
                f2 = self._field_factors(facs, m2)
                w = float(np.mean(coef[m] * coef[m2]))
                t = np.ones(())
                for A1, A2 in zip(fm, f2):
                    t = np.multiply.outer(t, (A1 * A2).sum(0))
                out = out + w * t
        return np.maximum(out, 0.0)

    def _direction(self, U, facs):
        """Newton / Gauss–Newton step dU of the quadratic model of Φ in U (and inner PCG iterations)."""
        if self.boundary == "exact":
            return self._direction_exact(U, facs)
        v0, vals, r0, coef = self._linearize(U, facs)
        v, it = self._inner_linear(facs, v0, r0, coef, vals)
        return self._kron_apply([fa["T"][0] for fa in facs], v) - U, it

    def _solve_U(self, facs=None):
        """Inner minimisation over U at the current kernel/noise parameters.

        Linear PDE: one exact quadratic solve. Nonlinear PDE: Gauss–Newton with a backtracking
        line search on Φ (each accepted step decreases the objective), warm-started from the
        current ``U_``."""
        torch = self.torch
        facs = self._factors_np() if facs is None else facs
        U = self.U_
        iters = 0
        if self.equation.linear:
            dU, iters = self._direction(U, facs)
            U = U + dU
        else:
            with torch.no_grad():
                fac_t = self._factors_t()

                def phi(W):
                    return float(self.objective(torch.as_tensor(W), fac_t))

                f0 = phi(U)
            for k in range(self.gn_max_iter):
                dU, it = self._direction(U, facs)
                iters += it
                t = 1.0
                with torch.no_grad():
                    while True:
                        f1 = phi(U + t * dU)
                        if np.isfinite(f1) and f1 <= f0 + 1e-14 * abs(f0):
                            break
                        t *= 0.5
                        if t < 1e-6:
                            break
                if t < 1e-6:
                    break
                U = U + t * dU
                step = t * np.linalg.norm(dU) / max(np.linalg.norm(U), 1e-300)
                decrease = f0 - f1
                f0 = f1
                if step <= self.gn_tol or decrease <= 1e-15 * max(1.0, abs(f0)):
                    break
        self.U_ = U
        self._alpha = None
        self.inner_iterations_.append(iters)
        return U

    # -- exact boundary values: unknowns are the interior grid values -------------------------
    def _direction_exact(self, U, facs):
        """Newton step on the interior values with U_B = g fixed and the residual on the interior.

        ``H = (K⁻¹)_II + τ_r LᵀL`` with ``L`` the linearised residual on the interior, a Kronecker sum
        ``⊕_i Σ_o a_{i,o} D_i^{(o)}[I, I]`` plus a diagonal for constant coefficients. PCG with the
        preconditioner ``(τ_r L̄ᴴ L̄)⁻¹``, ``L̄`` the Kronecker sum with mean coefficients, applied
        exactly by per-factor eigendecompositions (fast diagonalisation)."""
        torch = self.torch
        d = len(self.grid)
        c = float(self.log_tau.detach()[1].exp())
        inner = tuple(slice(1, -1) for _ in range(d))
        # fields on the full grid and the linearisation at U
        vals = {}
        for name, (axis, order) in self.field_axes.items():
            vals[name] = U if order == 0 else _apply_axis_np(facs[axis]["D"][order], U, axis)
        tv = {k: torch.tensor(a, requires_grad=True) for k, a in vals.items()}
        r = self.equation.residual(tv, self.f_t)
        if tuple(r.shape) != tuple(self.grid):
            raise ValueError(f"the equation's residual has shape {tuple(r.shape)}, expected {self.grid}")
        grads = torch.autograd.grad(r.sum(), [tv[k] for k in self.fields], allow_unused=True)
        coef = {}
        for k, gk in zip(self.fields, grads):
            if gk is not None and torch.any(gk != 0):
                coef[k] = gk.detach().numpy()[inner]
        r0 = r.detach().numpy()[inner]
        Dii = {name: (self.field_axes[name][0], facs[self.field_axes[name][0]]["D"][self.field_axes[name][1]][1:-1, 1:-1])
               for name in coef if self.field_axes[name][1] > 0}
        Kinv = [fa["Kinv"] for fa in facs]
        shape = self.inner_shape

        def Lx(X):
            out = coef["u"] * X if "u" in coef else 0.0
            for name, (axis, Dm) in Dii.items():
                out = out + coef[name] * _apply_axis_np(Dm, X, axis)
            return out

        def LTy(Y):
            out = coef["u"] * Y if "u" in coef else 0.0
            for name, (axis, Dm) in Dii.items():
                out = out + _apply_axis_np(Dm.T, coef[name] * Y, axis)
            return out

        def prior(Uf):
            for j, Ki in enumerate(Kinv):
                Uf = _apply_axis_np(Ki, Uf, j)
            return Uf

        def matvec(x):
            X = x.reshape(shape)
            full = np.zeros(self.grid)
            full[inner] = X
            return (prior(full)[inner] + c * LTy(Lx(X))).reshape(-1)

        grad = (prior(U)[inner] + c * LTy(r0)).reshape(-1)
        n_i = int(np.prod(shape))
        use_dense = self.inner == "dense" or (self.inner == "auto" and n_i <= self.dense_limit)
        if use_dense:
            H = np.column_stack([matvec(e) for e in np.eye(n_i)])
            H = 0.5 * (H + H.T)
            delta = -np.linalg.solve(H, grad)
            its = 0
        else:
            from ..operators.base import LinearOperator
            from ..solvers.krylov.cg import cg

            # preconditioner: Kronecker sum with mean coefficients, per-axis eigendecomposition
            Ws, Winv, gam = [], [], []
            au = float(np.mean(coef["u"])) if "u" in coef else 0.0
            for j in range(d):
                Aj = (au / d) * np.eye(shape[j])
                for name, (axis, Dm) in Dii.items():
                    if axis == j:
                        Aj = Aj + float(np.mean(coef[name])) * Dm
                gj, Wj = np.linalg.eig(Aj)
                Ws.append(Wj)
                Winv.append(np.linalg.inv(Wj))
                gam.append(gj)
            sig = gam[0]
            for gj in gam[1:]:
                sig = np.add.outer(sig, gj)
            # Tikhonov floor standing in for the prior term: |σ|² ≥ κ/τ_r with κ a typical eigenvalue of
            # (K⁻¹)_II (geometric mean of the per-factor inverse eigenvalues), and ≥ 1e-8·max|σ|²
            kappa = float(np.exp(sum(np.mean(-np.log(fa["lam"])) for fa in facs)))
            floor2 = max(kappa / c, 1e-8 * float(np.abs(sig).max()) ** 2)
            inv_sig = np.conj(sig) / (np.abs(sig) ** 2 + floor2)
            def kron(ms, X):
                for j, m in enumerate(ms):
                    X = _apply_axis_np(m, X, j)
                return X

            WH = [w.conj().T for w in Ws]
            WinvH = [w.conj().T for w in Winv]

            def precond(x):
                X = x.reshape(shape).astype(complex)
                Y = kron(WH, X)                 # Wᴴ x
                Y = np.conj(inv_sig) * Y        # Σ̄⁻¹
                Y = kron(WinvH, Y)              # W⁻ᴴ
                Y = kron(Winv, Y)               # W⁻¹
                Y = inv_sig * Y                 # Σ⁻¹
                Y = kron(Ws, Y)                 # W
                return (Y.real / c).reshape(-1)

            H = LinearOperator((n_i, n_i), matvec=matvec, rmatvec=matvec, symmetric=True,
                                  positive_definite=True)
            M = LinearOperator((n_i, n_i), matvec=precond, symmetric=True, positive_definite=True)
            res = cg(H, -grad, rtol=self.inner_rtol, maxiter=self.inner_maxiter, M=M)
            self._last_cg = res
            delta, its = res.x, res.iterations
        dU = np.zeros(self.grid)
        dU[inner] = delta.reshape(shape)
        return dU, its

    # ------------------------------------------------------------------------------------------
    # fitting
    # ------------------------------------------------------------------------------------------
    def _outer_params(self):
        ps = []
        if self.learn_kernel:
            for k in self.kernels:
                ps += k.parameters()
        if self.learn_noise:
            ps.append(self.log_tau)
        return ps

    def warm_start(self, other, noise=False):
        """Start from the kernel parameters learned by another solver (e.g. on a coarser grid).

        A multigrid-style continuation: fit cheaply on a coarse grid, then reuse its kernels (frequencies,
        weights, envelopes are in physical units, so they carry over to any grid of the same domain)
        on the fine grid, where the inner solve (and optionally a few outer steps) finishes the job.

        Parameters
        ----------
        other : GPHMSolver
            A solver of the same dimension with the same kernel types per axis (typically fitted).
        noise : bool
            Also copy the learned noise precisions. Default False: they are per grid point, so the fine
            grid keeps its own initial values (measured: copying them costs accuracy on the fine grid).

        Returns
        -------
        self
        """
        if not isinstance(other, GPHMSolver):
            raise ValueError("warm_start needs another GPHMSolver")
        if len(other.kernels) != len(self.kernels):
            raise ValueError(f"warm_start: {len(other.kernels)} kernels given, this solver has {len(self.kernels)}")
        for i, (mine, theirs) in enumerate(zip(self.kernels, other.kernels)):
            st = theirs.state()
            if type(mine) is not type(theirs) or any(
                    k not in st or np.shape(st[k]) != tuple(v.shape) for k, v in mine.params.items()):
                raise ValueError(f"warm_start: kernel of axis {i} does not match ({type(theirs).__name__} with "
                                 f"{ {k: np.shape(v) for k, v in st.items()} } vs {type(mine).__name__})")
        for mine, theirs in zip(self.kernels, other.kernels):
            mine.load_state(theirs.state())
        if noise:
            self.log_tau = other.log_tau.detach().clone()
        self._alpha = None
        return self

    def fit(self, max_outer=None, callback=None):
        """Fit the GP (kernel parameters, noise precisions and grid values).

        Parameters
        ----------
        max_outer : int, optional
            Overrides the constructor's ``max_outer``.
        callback : callable, optional
            ``callback(solver, step) -> bool`` after each outer step; True stops.

        Returns
        -------
        self
        """
        torch = self.torch
        n_steps = self.max_outer if max_outer is None else int(max_outer)
        t0 = time.perf_counter()
        params = self._outer_params()
        for p in params:
            p.requires_grad_(True)
        bar = None
        if self.progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=n_steps, desc=f"GP-HM {self.equation.name} ({self.mode})", leave=False)
        threads = torch.get_num_threads()
        try:
            if self.blas_threads is not None:
                torch.set_num_threads(self.blas_threads)
            with blas_threads(self.blas_threads):
                if self.mode == "newton":
                    self._fit_newton(params, n_steps, bar, callback)
                else:
                    self._fit_adam(params, n_steps, bar, callback)
        finally:
            torch.set_num_threads(threads)
            if bar is not None:
                bar.close()
            for p in params:
                p.requires_grad_(False)
        self._alpha = None
        self.fit_time_ = time.perf_counter() - t0
        return self

    def _fit_newton(self, params, n_steps, bar, callback):
        """Outer L-BFGS-B (SciPy) on the reduced objective Φ*(θ, τ) = min_U Φ; inner solve per evaluation."""
        torch = self.torch
        from scipy.optimize import minimize

        self._solve_U()
        if not params or n_steps == 0:
            with torch.no_grad():
                self.history_.append(float(self.objective()))
            return
        sizes = [p.numel() for p in params]
        x0 = torch.cat([p.detach().reshape(-1) for p in params]).numpy().copy()
        # bounds: noise precisions between misfit 1e2 and 1e-10 relative to the data scale
        lo = np.full(x0.size, -np.inf)
        hi = np.full(x0.size, np.inf)
        if self.learn_kernel:
            k0 = 0
            for kern in self.kernels:
                a, b = kern.bounds()
                lo[k0:k0 + a.size], hi[k0:k0 + a.size] = a, b
                k0 += a.size
            x0 = np.clip(x0, lo, hi)
        if self.learn_noise:
            for j, sc in enumerate(self._noise_scales):
                lo[x0.size - 2 + j] = -2.0 * math.log(1e2 * sc)
                hi[x0.size - 2 + j] = -2.0 * math.log(self.min_misfit * sc)
                x0[x0.size - 2 + j] = min(max(x0[x0.size - 2 + j], lo[x0.size - 2 + j]), hi[x0.size - 2 + j])
        bounds = list(zip(lo, hi))
        last = {"f": None, "g": np.zeros(x0.size), "U": self.U_.copy(), "x": x0.copy()}

        def assign(x):
            with torch.no_grad():
                k = 0
                for p, m in zip(params, sizes):
                    p.copy_(torch.as_tensor(x[k:k + m]).reshape(p.shape))
                    k += m

        def fun(x):
            assign(x)
            for p in params:
                p.grad = None
            try:
                self._solve_U()
                loss = self.objective(torch.as_tensor(self.U_))
                if not torch.isfinite(loss):
                    raise FloatingPointError("objective not finite")
                loss.backward()
            except Exception:  # noqa: BLE001 - Cholesky/eigh failure or overflow in a line-search probe
                self.U_ = last["U"].copy()
                f = (last["f"] if last["f"] is not None else 0.0) + 1e6
                return f, np.asarray(last["g"])
            grad = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1)
                              for p in params]).numpy().copy()
            f = float(loss.detach())
            if last["f"] is None or f < last["f"]:
                last.update(f=f, g=grad, U=self.U_.copy(), x=x.copy())
            return f, grad

        step = {"k": 0}

        class _Stop(Exception):
            pass

        def cb(xk):
            step["k"] += 1
            fval = last["f"]
            self.history_.append(fval)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(obj=f"{fval:.6g}")
            if callback is not None and callback(self, step["k"] - 1):
                raise _Stop

        # L-BFGS-B stops when a line search cannot decrease the (slightly noisy) reduced objective;
        # restart it from the best point with fresh curvature pairs while it still makes progress.
        restarts = fails = 0
        while step["k"] < n_steps:
            f_before = last["f"]
            try:
                res = minimize(fun, last["x"].copy(), jac=True, method="L-BFGS-B", bounds=bounds, callback=cb,
                               options={"maxiter": n_steps - step["k"], "maxfun": 3 * (n_steps - step["k"]) + 20,
                                        "ftol": 1e-15, "gtol": 1e-12, "maxcor": 30})
                self.stop_reason_ = str(res.message)
            except _Stop:
                self.stop_reason_ = "callback asked to stop"
                break
            improved = f_before is None or last["f"] < f_before - 1e-9 * max(1.0, abs(f_before))
            restarts += 1
            fails = 0 if improved else fails + 1
            if fails >= 3 or restarts >= self.max_restarts:
                break
        # keep the best evaluated state (objective only, never the true solution)
        assign(last["x"])
        self._solve_U()
        with torch.no_grad():
            self.history_.append(float(self.objective()))

    def _fit_adam(self, params, n_steps, bar, callback):
        torch = self.torch
        U = torch.tensor(self.U_, requires_grad=True)
        opt = torch.optim.Adam([U, *params], lr=self.lr)
        for step in range(n_steps):
            opt.zero_grad()
            loss = self.objective(U)
            loss.backward()
            opt.step()
            lv = float(loss.detach()) if torch.is_tensor(loss) else float(loss)
            self.history_.append(lv)
            if bar is not None:
                bar.update(1)
                if step % 50 == 0:
                    bar.set_postfix(obj=f"{lv:.6g}")
            if callback is not None and callback(self, step):
                break
        self.U_ = U.detach().numpy().copy()

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

    def predict(self, points, derivatives=("u",)):
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
        names = [derivatives] if single else list(derivatives)
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

    def predict_grid(self, axes, derivatives=("u",)):
        """Predictions on the tensor grid ``axes[0] × axes[1] × …`` (per-axis Kronecker products)."""
        single = isinstance(derivatives, str)
        names = [derivatives] if single else list(derivatives)
        d = len(self.grid)
        if len(axes) != d:
            raise ValueError(f"need {d} axes, got {len(axes)}")
        alpha = self._weights()
        out = {}
        for name in names:
            axis, order = _parse_field(name, d)
            T = alpha
            for j in range(d):
                T = _apply_axis_np(self._cross_np(j, np.asarray(axes[j], float), order if j == axis else 0), T, j)
            out[name] = T
        return out[names[0]] if single else out

    def spectrum(self):
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

    def error(self, n_test=300):
        """Relative L2 error of the final model on an ``n_test``-per-axis grid (needs the exact solution)."""
        axes = [np.linspace(lo, hi, n_test) for lo, hi in self.domain]
        pred = self.predict_grid(axes, "u")
        mesh = np.meshgrid(*axes, indexing="ij")
        ex = self.equation.exact_numpy(*mesh)
        return float(np.linalg.norm(pred - ex) / np.linalg.norm(ex))

"""The outer optimisers of :class:`~krylearn.pde.gphm.GPHMSolver`: L-BFGS on the reduced objective
``Φ*(θ, τ) = min_U Φ(U, θ, τ)`` (``mode="newton"``; gradients by the envelope theorem through torch
autograd) or the paper's Adam on ``(U, θ, τ)`` jointly (``mode="adam"``), and the warm start from a
coarser grid. (Mixin: the methods use the state that :class:`GPHMSolver` sets up.)"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from ..threads import blas_threads

if TYPE_CHECKING:  # pragma: no cover - names for static checkers only
    import torch
    from typing_extensions import Self

    from .equations import Equation
    from .gp_kernels import Kernel1D
    from .gphm import GPHMSolver


class _Optimisers:
    # the state GPHMSolver sets up and the methods below use (declared for static checkers)
    torch: Any  # the torch module (an optional dependency, imported at construction)
    equation: Equation
    kernels: list[Kernel1D]
    log_tau: torch.Tensor
    learn_kernel: bool
    learn_noise: bool
    max_outer: int
    mode: str
    progress: bool
    blas_threads: int | None
    fit_time_: float | None
    _alpha: np.ndarray | None
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

    def warm_start(self, other: GPHMSolver, noise: bool = False) -> Self:
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
        if not isinstance(other, _Optimisers) or not hasattr(other, "kernels"):
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

    def fit(self, max_outer: int | None = None,
            callback: Callable[[GPHMSolver, int], bool | None] | None = None) -> Self:
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


"""One-dimensional stationary covariance kernels for GP-HM, with analytic derivatives (torch, float64).

Reference: S. Fang, M. Xu, S. Zhe et al., "Solving High Frequency and Multi-Scale PDEs with
Gaussian Processes", ICLR 2024 (arXiv 2311.04465) -- spectral-mixture kernels with a
Gaussian-mixture or Student-t (Matérn) spectrum; A. G. Wilson and R. P. Adams, "Gaussian Process
Kernels for Pattern Discovery and Extrapolation", ICML 2013 (the spectral mixture kernel).

Every kernel here is a function of ``r = x − x'`` and gives ``k(r)`` and its first and second
derivatives in closed form. The cross-covariances of a GP ``u`` with this covariance are
``cov(∂ᵃu(x), ∂ᵇu(x')) = (−1)ᵇ k⁽ᵃ⁺ᵇ⁾(x − x')``; GP-HM needs ``cov(∂ᵃu(x), u(x')) = k⁽ᵃ⁾(r)``
for ``a = 0, 1, 2`` (:meth:`Kernel1D.cross`). All parameters live in an unconstrained (log)
domain so that any optimiser can move them freely; weights in log domain act like a Jeffreys prior.

Kernels: :class:`SpectralMixture` (``spectrum="gaussian"``: Σ w_q exp(−ρ_q² r²) cos(2π μ_q r);
``spectrum="student"``: Σ w_q Matérn52(r; ℓ_q) cos(2π μ_q r)), :class:`SquaredExponential`,
:class:`Matern52`.
"""

from __future__ import annotations

import math

import numpy as np

from .._optional import require

__all__ = ["Kernel1D", "SpectralMixture", "SquaredExponential", "Matern52", "make_kernel"]

_SQRT5 = math.sqrt(5.0)


def _torch():
    return require("torch", "GP-HM kernels")


def _gauss_env(r, rho):
    """exp(−ρ² r²) and its first two derivatives in r (r, rho broadcast)."""
    rho2 = rho * rho
    e = (-(rho2) * r * r).exp()
    e1 = -2.0 * rho2 * r * e
    e2 = (4.0 * rho2 * rho2 * r * r - 2.0 * rho2) * e
    return e, e1, e2


def _matern52_env(r, ell):
    """Matérn-5/2 correlation (1 + a|r| + a²r²/3) e^{−a|r|}, a = √5/ℓ, and two derivatives in r."""
    a = _SQRT5 / ell
    s = r.abs()
    ex = (-a * s).exp()
    m0 = (1.0 + a * s + a * a * r * r / 3.0) * ex
    m1 = -(a * a / 3.0) * r * (1.0 + a * s) * ex
    m2 = -(a * a / 3.0) * (1.0 + a * s - a * a * r * r) * ex
    return m0, m1, m2


def _cos_factor(r, mu):
    """cos(2π μ r) and two derivatives in r."""
    w = 2.0 * math.pi * mu
    c = (w * r).cos()
    s = (w * r).sin()
    return c, -w * s, -w * w * c


class Kernel1D:
    """Base class: a stationary 1D kernel ``k(r)`` with parameters in ``self.params`` (dict of tensors).

    Subclasses implement :meth:`derivatives` returning ``(k, k', k'')`` evaluated at ``r``.
    """

    #: names of the parameters (keys of ``params``)
    names: tuple[str, ...] = ()

    def __init__(self):
        self.params = {}

    # -- parameters --------------------------------------------------------------------------
    def parameters(self):
        """List of the parameter tensors (leaf tensors that an optimiser may update)."""
        return [self.params[k] for k in self.names]

    #: box bounds per parameter (unconstrained values), keeps line-search probes from overflowing
    bounds_table = {"log_w": (-60.0, 30.0), "log_rho": (-10.0, 10.0), "mu": (0.0, 1e5),
                    "log_var": (-40.0, 40.0), "log_ell": (-15.0, 10.0)}

    def bounds(self):
        """``(lower, upper)`` arrays matching the flattened :meth:`parameters`."""
        lo, hi = [], []
        for k in self.names:
            a, b = self.bounds_table.get(k, (-np.inf, np.inf))
            m = self.params[k].numel()
            lo += [a] * m
            hi += [b] * m
        return np.array(lo), np.array(hi)

    def requires_grad_(self, flag=True):
        for p in self.parameters():
            p.requires_grad_(flag)
        return self

    def state(self):
        """Parameters as a dict of numpy arrays (detached copies)."""
        return {k: v.detach().cpu().numpy().copy() for k, v in self.params.items()}

    def load_state(self, state):
        torch = _torch()
        for k, v in state.items():
            self.params[k] = torch.as_tensor(np.array(v, dtype=np.float64))

    # -- evaluation --------------------------------------------------------------------------
    def derivatives(self, r):  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, x, y=None):
        """Covariance matrix ``k(x_i − y_j)`` (torch tensor)."""
        return self.cross(x, y, order=0)

    def cross(self, x, y=None, order=0):
        """``cov(∂ᵒu(x_i), u(y_j)) = k⁽ᵒ⁾(x_i − y_j)`` for order 0, 1, 2 (torch tensor, (len x, len y))."""
        torch = _torch()
        x = torch.as_tensor(x, dtype=torch.float64).reshape(-1)
        y = x if y is None else torch.as_tensor(y, dtype=torch.float64).reshape(-1)
        if order not in (0, 1, 2):
            raise ValueError(f"derivative order must be 0, 1 or 2, got {order!r}")
        r = x[:, None] - y[None, :]
        return self.derivatives(r)[order]

    def all_cross(self, x, y=None):
        """``(K, K', K'')`` for the pairs ``(x_i, y_j)`` in one pass.

        For ``y=None`` and equispaced ``x`` the matrices are Toeplitz: the kernel is evaluated at the
        ``2N − 1`` distinct lags only and gathered (``O(N Q)`` kernel evaluations instead of ``O(N² Q)``).
        """
        torch = _torch()
        x = torch.as_tensor(x, dtype=torch.float64).reshape(-1)
        if y is None and x.numel() > 2:
            n = x.numel()
            h = (x[-1] - x[0]) / (n - 1)
            if torch.allclose(x[1:] - x[:-1], h.expand(n - 1), rtol=1e-10, atol=0.0):
                lags = torch.arange(-(n - 1), n, dtype=torch.float64) * h
                idx = (torch.arange(n)[:, None] - torch.arange(n)[None, :]) + (n - 1)
                return tuple(v[idx] for v in self.derivatives(lags))
        y = x if y is None else torch.as_tensor(y, dtype=torch.float64).reshape(-1)
        return self.derivatives(x[:, None] - y[None, :])


class SpectralMixture(Kernel1D):
    """Spectral mixture kernel ``k(r) = Σ_q w_q φ_q(r) cos(2π μ_q r)``.

    Parameters
    ----------
    num_components : int
        Q, the number of mixture components (default 30, as in the paper).
    freq_scale : float
        The frequencies ``μ_q`` (cycles per unit length) start evenly spaced on ``[0, freq_scale]``.
    spectrum : {"gaussian", "student"}
        ``"gaussian"``: ``φ_q(r) = exp(−ρ_q² r²)`` (Gaussian-mixture spectrum);
        ``"student"``: ``φ_q`` a Matérn-5/2 correlation with length ``ℓ_q = 1/ρ_q`` (Student-t spectrum).
    init_rho : float
        Initial ``ρ_q`` (inverse length of the envelope; paper: 1).
    init_weight : float
        Initial total weight Σ w_q (split evenly).

    Notes
    -----
    Unconstrained parameters: ``log_w`` (Q), ``log_rho`` (Q), ``mu`` (Q; the sign of μ does not
    matter). The learned spectrum is reported by :meth:`spectrum`.
    """

    names = ("log_w", "log_rho", "mu")

    def __init__(self, num_components=30, freq_scale=20.0, spectrum="gaussian", init_rho=1.0,
                 init_weight=1.0):
        super().__init__()
        torch = _torch()
        if spectrum not in ("gaussian", "student"):
            raise ValueError(f"spectrum must be 'gaussian' or 'student', got {spectrum!r}")
        if int(num_components) < 1:
            raise ValueError(f"num_components must be >= 1, got {num_components!r}")
        if not (np.isfinite(freq_scale) and freq_scale > 0):
            raise ValueError(f"freq_scale must be a positive number, got {freq_scale!r}")
        q = int(num_components)
        self.spectrum_type = spectrum
        self.num_components = q
        self.freq_scale = float(freq_scale)
        self.params = {
            "log_w": torch.full((q,), math.log(init_weight / q), dtype=torch.float64),
            "log_rho": torch.full((q,), math.log(init_rho), dtype=torch.float64),
            "mu": torch.linspace(0.0, float(freq_scale), q, dtype=torch.float64),
        }

    def derivatives(self, r):
        p = self.params
        w = p["log_w"].exp()
        rho = p["log_rho"].exp()
        rr = r[..., None]
        if self.spectrum_type == "gaussian":
            e0, e1, e2 = _gauss_env(rr, rho)
        else:
            e0, e1, e2 = _matern52_env(rr, 1.0 / rho)
        c0, c1, c2 = _cos_factor(rr, p["mu"])
        k0 = (e0 * c0) @ w
        k1 = (e1 * c0 + e0 * c1) @ w
        k2 = (e2 * c0 + 2.0 * e1 * c1 + e0 * c2) @ w
        return k0, k1, k2

    def spectrum(self):
        """``(frequencies μ_q ≥ 0, weights w_q, envelope ρ_q)`` as numpy arrays sorted by frequency."""
        mu = np.abs(self.params["mu"].detach().numpy())
        w = self.params["log_w"].detach().exp().numpy()
        rho = self.params["log_rho"].detach().exp().numpy()
        o = np.argsort(mu)
        return mu[o], w[o], rho[o]


class _StationaryBaseline(Kernel1D):
    """A baseline kernel with a variance and a lengthscale (parameters ``log_var``, ``log_ell``)."""

    names = ("log_var", "log_ell")

    def __init__(self, lengthscale=0.1, variance=1.0):
        super().__init__()
        torch = _torch()
        if not lengthscale > 0 or not variance > 0:
            raise ValueError("lengthscale and variance must be positive")
        self.params = {"log_var": torch.tensor(math.log(variance), dtype=torch.float64),
                       "log_ell": torch.tensor(math.log(lengthscale), dtype=torch.float64)}


class SquaredExponential(_StationaryBaseline):
    """``k(r) = σ² exp(−r²/(2ℓ²))`` (baseline). Parameters ``log_var``, ``log_ell``."""

    def derivatives(self, r):
        var = self.params["log_var"].exp()
        rho = (-self.params["log_ell"]).exp() / math.sqrt(2.0)
        e0, e1, e2 = _gauss_env(r, rho)
        return var * e0, var * e1, var * e2


class Matern52(_StationaryBaseline):
    """Matérn-5/2 kernel ``σ² (1 + a|r| + a²r²/3) e^{−a|r|}``, ``a = √5/ℓ`` (baseline)."""

    def derivatives(self, r):
        var = self.params["log_var"].exp()
        m0, m1, m2 = _matern52_env(r, self.params["log_ell"].exp())
        return var * m0, var * m1, var * m2


def make_kernel(spec, **options):
    """Build a kernel from a name: ``"sm"``/``"gm"`` (Gaussian-mixture spectrum), ``"student"``/``"sm-t"``
    (Student-t spectrum), ``"se"``, ``"matern52"``; a :class:`Kernel1D` instance is returned as is."""
    if isinstance(spec, Kernel1D):
        return spec
    name = str(spec).lower()
    if name in ("sm", "gm", "spectral", "spectral-mixture", "sm-gm"):
        return SpectralMixture(spectrum="gaussian", **options)
    if name in ("student", "sm-t", "sm-student", "student-t"):
        return SpectralMixture(spectrum="student", **options)
    if name in ("se", "rbf", "squared-exponential"):
        return SquaredExponential(**options)
    if name in ("matern52", "matern", "matern-5/2"):
        return Matern52(**options)
    raise ValueError(f"unknown kernel {spec!r}; use 'sm', 'student', 'se', 'matern52' or a Kernel1D")

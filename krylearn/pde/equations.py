"""PDEs for the GP-HM solver as pointwise residual functions of ``u`` and its derivatives.

Reference: S. Fang et al., "Solving High Frequency and Multi-Scale PDEs with Gaussian Processes",
ICLR 2024 (arXiv 2311.04465), Section 5 -- the benchmark set (Poisson, Allen–Cahn, advection)
with manufactured sources from exact solutions.

An :class:`Equation` is ``operator(fields) − source(x) = 0`` in the domain and ``u = boundary(x)``
on its boundary. ``fields`` is a dict of arrays on the collocation grid: ``"u"`` and the pure
derivatives ``"u_x"``, ``"u_xx"``, ``"u_y"``, ``"u_yy"``, ``"u_z"``, ``"u_zz"`` (axis names
x, y, z for axes 0, 1, 2). ``operator`` must be pointwise (entry i of the result depends only on
entry i of the fields) and use only arithmetic (``+ − * / **``), so that it works on numpy
arrays and torch tensors alike; GP-HM differentiates it with torch to linearise nonlinear PDEs
(Gauss–Newton). Sources of the built-in problems are computed from the exact solutions by
automatic differentiation (exact to rounding), see :meth:`Equation.manufactured`.
"""

from __future__ import annotations

import math

import numpy as np

from .._optional import require

__all__ = ["Equation", "field_name", "poisson", "allen_cahn", "advection", "BENCHMARKS", "benchmark_problem"]

_AXES = "xyz"


def field_name(axis, order):
    """Name of the field ``∂ᵒu/∂x_axisᵒ``: ``(0, 2) -> "u_xx"``; order 0 gives ``"u"``."""
    if order == 0:
        return "u"
    if axis >= len(_AXES) or order not in (1, 2):
        raise ValueError(f"unsupported derivative: axis {axis}, order {order}")
    return "u_" + _AXES[axis] * order


def _parse_field(name, dim):
    if name == "u":
        return None, 0
    if not (name.startswith("u_") and len(set(name[2:])) == 1 and 1 <= len(name) - 2 <= 2):
        raise ValueError(f"unknown field {name!r}; use 'u', 'u_x', 'u_xx', 'u_y', 'u_yy', ...")
    axis = _AXES.index(name[2]) if name[2] in _AXES else -1
    if axis < 0 or axis >= dim:
        raise ValueError(f"field {name!r} needs an axis the {dim}-D problem does not have")
    return axis, len(name) - 2


def _check_domain(domain, dim=None):
    dom = np.asarray(domain, dtype=float)
    if dom.ndim == 1 and dom.shape == (2,):
        dom = dom[None, :]
    if dom.ndim != 2 or dom.shape[1] != 2:
        raise ValueError(f"domain must be a sequence of (lower, upper) pairs, got {domain!r}")
    if dim is not None and dom.shape[0] != dim:
        raise ValueError(f"domain has {dom.shape[0]} dimensions, the problem has {dim}")
    if not np.all(np.isfinite(dom)):
        raise ValueError(f"domain bounds must be finite, got {domain!r}")
    bad = np.nonzero(dom[:, 0] >= dom[:, 1])[0]
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"domain axis {i}: lower bound {dom[i, 0]} must be smaller than upper bound {dom[i, 1]}")
    return dom


class Equation:
    """A PDE ``operator(fields) = source(x)`` with Dirichlet data ``u = boundary(x)``.

    Parameters
    ----------
    operator : callable
        ``operator(fields) -> array``: pointwise, arithmetic only (works for numpy and torch).
    fields : sequence of str
        Field names the operator reads, e.g. ``("u", "u_xx")``.
    dim : int
        Number of space dimensions.
    source : callable or None
        ``source(*coords) -> array`` (numpy), coordinates as broadcastable arrays; None means 0.
    boundary : callable
        ``boundary(*coords) -> array`` giving ``u`` on the boundary (numpy).
    exact : callable, optional
        Exact solution as a *torch* function ``exact(*coords)`` (for errors and plots).
    domain : sequence of (lower, upper), optional
        Default domain of the problem.
    linear : bool
        True if the operator is linear in the fields (GP-HM then needs one inner solve per outer
        step); nonlinear operators are handled by Gauss–Newton.
    name : str
    frequencies : sequence of float, optional
        True frequencies (cycles per unit length) per axis, only for plots.
    """

    def __init__(self, operator, fields, dim, *, source=None, boundary=None, exact=None, domain=None,
                 linear=False, name="custom", frequencies=None):
        if not callable(operator):
            raise ValueError("operator must be callable: operator(fields) -> array")
        self.dim = int(dim)
        if self.dim < 1 or self.dim > 3:
            raise ValueError(f"dim must be 1, 2 or 3, got {dim!r}")
        self.fields = tuple(dict.fromkeys(["u", *fields]))
        self.field_index = {f: _parse_field(f, self.dim) for f in self.fields}
        self.operator = operator
        self.source = source
        if boundary is None and exact is None:
            raise ValueError("give boundary data (boundary=...) or an exact solution (exact=...)")
        self.exact = exact
        self.boundary = boundary if boundary is not None else self._exact_numpy
        self.domain = None if domain is None else _check_domain(domain, self.dim)
        self.linear = bool(linear)
        self.name = name
        self.frequencies = frequencies

    def _exact_numpy(self, *coords):
        torch = require("torch", "GP-HM equations")
        t = [torch.as_tensor(np.asarray(c, dtype=float)) for c in coords]
        return self.exact(*t).detach().numpy()

    def exact_numpy(self, *coords):
        """The exact solution on numpy coordinates (ValueError if none was given)."""
        if self.exact is None:
            raise ValueError(f"equation {self.name!r} has no exact solution")
        return self._exact_numpy(*coords)

    def source_values(self, coords):
        """Source on the broadcastable coordinate arrays ``coords`` (zeros if there is none)."""
        shape = np.broadcast_shapes(*[np.shape(c) for c in coords])
        if self.source is None:
            return np.zeros(shape)
        return np.broadcast_to(np.asarray(self.source(*coords), dtype=float), shape).copy()

    def residual(self, fields, source):
        """``operator(fields) − source`` (numpy or torch, following the inputs)."""
        return self.operator(fields) - source

    @classmethod
    def manufactured(cls, operator, fields, dim, exact, **kwargs):
        """Equation whose source is ``operator`` applied to the derivatives of ``exact`` (torch autograd).

        ``exact(*coords)`` must be a torch function of the coordinates (use ``torch.sin`` etc.).
        """
        eq = cls(operator, fields, dim, exact=exact, **kwargs)

        def source(*coords):
            return operator(exact_fields(exact, coords, eq.fields))

        eq.source = source
        return eq


def exact_fields(exact, coords, names):
    """Values of ``u`` and the named derivatives of a torch function ``exact`` at numpy coordinates."""
    torch = require("torch", "GP-HM equations")
    arrays = np.broadcast_arrays(*[np.asarray(c, dtype=float) for c in coords])
    xs = [torch.tensor(a.reshape(-1), dtype=torch.float64, requires_grad=True) for a in arrays]
    u = exact(*xs)
    out = {"u": u.detach().numpy().reshape(arrays[0].shape)}
    dim = len(coords)
    for name in names:
        if name == "u":
            continue
        axis, order = _parse_field(name, dim)
        g = torch.autograd.grad(u.sum(), xs[axis], create_graph=True)[0]
        if order == 2:
            g = torch.autograd.grad(g.sum(), xs[axis], create_graph=True)[0]
        out[name] = g.detach().numpy().reshape(arrays[0].shape)
    return out


# --------------------------------------------------------------------------------------------------
# built-in problems
# --------------------------------------------------------------------------------------------------
def poisson(exact, dim=1, domain=None, name="poisson", frequencies=None):
    """Poisson ``Δu = f`` (``u_xx`` in 1D, ``u_xx + u_yy`` in 2D) with the source of ``exact``."""
    names = [field_name(i, 2) for i in range(dim)]

    def op(f):
        s = f[names[0]]
        for n in names[1:]:
            s = s + f[n]
        return s

    return Equation.manufactured(op, names, dim, exact, domain=domain, linear=True, name=name,
                                 frequencies=frequencies)


def allen_cahn(exact, dim=1, domain=None, name="allen_cahn", frequencies=None):
    """Allen–Cahn ``Δu + u(u² − 1) = f`` with the source of ``exact`` (nonlinear: Gauss–Newton)."""
    names = [field_name(i, 2) for i in range(dim)]

    def op(f):
        u = f["u"]
        s = u * (u * u - 1.0)
        for n in names:
            s = s + f[n]
        return s

    return Equation.manufactured(op, names, dim, exact, domain=domain, linear=False, name=name,
                                 frequencies=frequencies)


def advection(beta=200.0, domain=((0.0, 2 * math.pi), (0.0, 1.0)), name="advection"):
    """Advection ``β u_x + u_y = 0`` with exact solution ``sin(x − β y)`` (2D; y plays the role of time)."""
    torch = require("torch", "GP-HM equations")

    def exact(x, y):
        return torch.sin(x - beta * y)

    def op(f):
        return beta * f["u_x"] + f["u_y"]

    eq = Equation(op, ("u_x", "u_y"), 2, exact=exact, domain=domain, linear=True, name=name,
                  frequencies=([1 / (2 * math.pi)], [beta / (2 * math.pi)]))
    return eq


def _benchmarks():
    torch = require("torch", "GP-HM equations")
    s, c = torch.sin, torch.cos
    tp = 1.0 / (2 * math.pi)
    unit = ((0.0, 1.0),)
    unit2 = ((0.0, 1.0), (0.0, 1.0))
    return {
        "poisson1d-sin100": lambda: poisson(lambda x: s(100 * x), 1, unit, "poisson1d-sin100", [[100 * tp]]),
        "poisson1d-xsin200": lambda: poisson(lambda x: x * s(200 * x), 1, unit, "poisson1d-xsin200", [[200 * tp]]),
        "poisson1d-sin6cos100": lambda: poisson(lambda x: s(6 * x) * c(100 * x), 1, unit,
                                                "poisson1d-sin6cos100", [[94 * tp, 106 * tp]]),
        "poisson1d-multiscale": lambda: poisson(lambda x: s(x) + 0.1 * s(20 * x) + 0.05 * c(100 * x), 1, unit,
                                                "poisson1d-multiscale", [[tp, 20 * tp, 100 * tp]]),
        "poisson1d-sin500": lambda: poisson(lambda x: s(500 * x) - 2 * (x - 0.5) ** 2, 1, unit,
                                            "poisson1d-sin500", [[500 * tp]]),
        "allencahn1d-sin100": lambda: allen_cahn(lambda x: s(100 * x), 1, unit, "allencahn1d-sin100", [[100 * tp]]),
        "allencahn1d-sin6cos100": lambda: allen_cahn(lambda x: s(6 * x) * c(100 * x), 1, unit,
                                                     "allencahn1d-sin6cos100", [[94 * tp, 106 * tp]]),
        "poisson2d-sin100": lambda: poisson(lambda x, y: s(100 * x) * s(100 * y), 2, unit2, "poisson2d-sin100",
                                            [[100 * tp], [100 * tp]]),
        "poisson2d-sin6cos20": lambda: poisson(lambda x, y: s(6 * x) * c(20 * x) + s(6 * y) * c(20 * y), 2, unit2,
                                               "poisson2d-sin6cos20", [[14 * tp, 26 * tp], [14 * tp, 26 * tp]]),
        "allencahn2d-multiscale": lambda: allen_cahn(
            lambda x, y: (s(x) + 0.1 * s(20 * x) + c(100 * x)) * (s(y) + 0.1 * s(20 * y) + c(100 * y)), 2, unit2,
            "allencahn2d-multiscale", [[tp, 20 * tp, 100 * tp]] * 2),
        "advection": lambda: advection(),
    }


#: names of the paper's benchmark problems (see :func:`benchmark_problem`)
BENCHMARKS = ("poisson1d-sin100", "poisson1d-xsin200", "poisson1d-sin6cos100", "poisson1d-multiscale",
              "poisson1d-sin500", "allencahn1d-sin100", "allencahn1d-sin6cos100", "poisson2d-sin100",
              "poisson2d-sin6cos20", "allencahn2d-multiscale", "advection")


def benchmark_problem(name):
    """One of the paper's benchmark PDEs by name (see :data:`BENCHMARKS`)."""
    table = _benchmarks()
    if name not in table:
        raise ValueError(f"unknown benchmark problem {name!r}; choose from {', '.join(BENCHMARKS)}")
    return table[name]()

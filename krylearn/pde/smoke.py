"""An incompressible smoke simulation on a grid with a moving solid obstacle (2D and 3D).

The workload of grid fluid solvers and of DCDM (Kaneda et al., ICML 2023): every time step ends with
a pressure projection, one Poisson solve ``A p = −(∇·u*)/Δt`` on the fluid cells whose operator
changes whenever the obstacle moves into new cells. The simulation does not choose the solver: each
step calls ``solve(A, b, x0) -> SolverResult`` (for instance :meth:`krylearn.solvers.AutoSolver.solve`),
so the same run compares every solver on the same sequence of systems.

Discretisation (R. Bridson, *Fluid Simulation for Computer Graphics*, 2nd ed., 2015, ch. 2–5;
J. Stam, "Stable fluids", SIGGRAPH 1999): a MAC grid of ``shape`` cells of size ``h = 1/shape[1]``
(axis 0 points up), velocities on the faces, smoke density in the cells; per step

1. semi-Lagrangian advection of density and velocity (second-order midpoint back-trace, bi/trilinear
   interpolation; numba kernels);
2. buoyancy ``u_up += Δt·buoyancy·density`` and a smoke source near the floor blowing upwards;
3. the obstacle (a disc / ball moving sideways on a sine) sets the velocity of the faces it touches
   to its own velocity — a Neumann condition for the pressure that moves the fluid around it;
4. projection: ``−∇·∇p = −(∇·u)/Δt`` with walls (Neumann) on the floor and the sides and an open
   top (Dirichlet ``p = 0``), assembled as :func:`krylearn.pde.poisson` on the fluid mask (the same
   operator object while the obstacle stays in the same cells), then ``u −= Δt ∇p`` on the fluid faces.

After a step the discrete divergence of every fluid cell is what the solve left in its residual
(``‖∇·u‖ ≤ Δt·rtol·‖b‖``), which the tests check.
"""

from __future__ import annotations

import math
import time

import numba as nb
import numpy as np

from .poisson import poisson

__all__ = ["SmokeSimulation"]


@nb.njit(cache=True, inline="always")
def _lerp2(f, x, y):
    n0, n1 = f.shape
    x = min(max(x, 0.0), n0 - 1.0)
    y = min(max(y, 0.0), n1 - 1.0)
    i = min(int(x), n0 - 2)
    j = min(int(y), n1 - 2)
    tx = x - i
    ty = y - j
    return ((1.0 - tx) * ((1.0 - ty) * f[i, j] + ty * f[i, j + 1])
            + tx * ((1.0 - ty) * f[i + 1, j] + ty * f[i + 1, j + 1]))


@nb.njit(cache=True, inline="always")
def _lerp3(f, x, y, z):
    n0, n1, n2 = f.shape
    x = min(max(x, 0.0), n0 - 1.0)
    y = min(max(y, 0.0), n1 - 1.0)
    z = min(max(z, 0.0), n2 - 1.0)
    i = min(int(x), n0 - 2)
    j = min(int(y), n1 - 2)
    k = min(int(z), n2 - 2)
    tx = x - i
    ty = y - j
    tz = z - k
    a = (1.0 - ty) * ((1.0 - tz) * f[i, j, k] + tz * f[i, j, k + 1]) + ty * ((1.0 - tz) * f[i, j + 1, k]
                                                                           + tz * f[i, j + 1, k + 1])
    b = (1.0 - ty) * ((1.0 - tz) * f[i + 1, j, k] + tz * f[i + 1, j, k + 1]) + ty * (
        (1.0 - tz) * f[i + 1, j + 1, k] + tz * f[i + 1, j + 1, k + 1])
    return (1.0 - tx) * a + tx * b


@nb.njit(cache=True, parallel=True)
def _advect2(f, out, u0, u1, o0, o1, dt_h):
    """``out`` = ``f`` carried along (u0, u1) for one step; samples of ``f``/``out`` sit at index
    positions ``(i + o0, j + o1)`` in cell units (cells: 0.5, 0.5; faces of axis 0: 0, 0.5; ...)."""
    for i in nb.prange(out.shape[0]):
        for j in range(out.shape[1]):
            x0 = i + o0
            x1 = j + o1
            v0 = _lerp2(u0, x0, x1 - 0.5)
            v1 = _lerp2(u1, x0 - 0.5, x1)
            m0 = x0 - 0.5 * dt_h * v0
            m1 = x1 - 0.5 * dt_h * v1
            v0 = _lerp2(u0, m0, m1 - 0.5)
            v1 = _lerp2(u1, m0 - 0.5, m1)
            out[i, j] = _lerp2(f, x0 - dt_h * v0 - o0, x1 - dt_h * v1 - o1)


@nb.njit(cache=True, parallel=True)
def _advect3(f, out, u0, u1, u2, o0, o1, o2, dt_h):
    for i in nb.prange(out.shape[0]):
        for j in range(out.shape[1]):
            for k in range(out.shape[2]):
                x0 = i + o0
                x1 = j + o1
                x2 = k + o2
                v0 = _lerp3(u0, x0, x1 - 0.5, x2 - 0.5)
                v1 = _lerp3(u1, x0 - 0.5, x1, x2 - 0.5)
                v2 = _lerp3(u2, x0 - 0.5, x1 - 0.5, x2)
                m0 = x0 - 0.5 * dt_h * v0
                m1 = x1 - 0.5 * dt_h * v1
                m2 = x2 - 0.5 * dt_h * v2
                v0 = _lerp3(u0, m0, m1 - 0.5, m2 - 0.5)
                v1 = _lerp3(u1, m0 - 0.5, m1, m2 - 0.5)
                v2 = _lerp3(u2, m0 - 0.5, m1 - 0.5, m2)
                out[i, j, k] = _lerp3(f, x0 - dt_h * v0 - o0, x1 - dt_h * v1 - o1, x2 - dt_h * v2 - o2)


def _face_slices(axis, ndim, lo, hi):
    s = [slice(None)] * ndim
    s[axis] = slice(lo, hi)
    return tuple(s)


class SmokeSimulation:
    """Smoke rising past a solid obstacle that moves sideways (module docstring).

    Parameters
    ----------
    shape : tuple of int
        Cells ``(N0, N1)`` or ``(N0, N1, N2)``; axis 0 points up. Each side ≥ 8.
    dt : float, optional
        Time step (default ``h``: a CFL number of about one at the flow's unit speed).
    buoyancy : float
        Upward acceleration per unit smoke density (default 4).
    inflow : float
        Upward speed of the source (default 1).
    obstacle_radius : float
        Radius of the obstacle as a fraction of the width (default 0.12).
    period : int
        Steps of one back-and-forth sweep of the obstacle (default 200).
    amplitude : float
        Sideways amplitude of the sweep as a fraction of the width (default 0.22).

    Attributes
    ----------
    density : ndarray (grid)
    velocity : list of ndarray (one per axis, face grids)
    operator : PoissonStencil
        The pressure operator of the current obstacle position.
    pressure : ndarray (grid)
    log : list of dict
        Per step: ``step``, ``solver``, ``iterations``, ``setup_time``, ``solve_time``, ``total_time``
        (the pressure solve), ``step_time`` (the whole step), ``operator_changed``, ``converged``.
    """

    def __init__(self, shape, *, dt=None, buoyancy=4.0, inflow=1.0, obstacle_radius=0.12, period=200,
                 amplitude=0.22):
        shape = tuple(int(n) for n in shape)
        if len(shape) not in (2, 3) or min(shape) < 8:
            raise ValueError(f"shape must be 2 or 3 sides of at least 8 cells, got {shape}")
        if not period > 0:
            raise ValueError(f"period must be positive, got {period!r}")
        self.shape, self.ndim = shape, len(shape)
        self.h = 1.0 / shape[1]
        self.dt = self.h if dt is None else float(dt)
        if not (math.isfinite(self.dt) and self.dt > 0):
            raise ValueError(f"dt must be positive, got {dt!r}")
        self.buoyancy, self.inflow = float(buoyancy), float(inflow)
        self.radius, self.period, self.amplitude = float(obstacle_radius), float(period), float(amplitude)
        self.step_count = 0
        self.density = np.zeros(shape)
        self.velocity = [np.zeros(tuple(n + (a == b) for b, n in enumerate(shape))) for a in range(self.ndim)]
        self.pressure = np.zeros(shape)
        centres = [(np.arange(n) + 0.5) * self.h for n in shape]
        self._X = np.meshgrid(*centres, indexing="ij")
        width = shape[1] * self.h
        r = np.sqrt(sum((self._X[a] - (0.06 * shape[0] * self.h if a == 0 else 0.5 * shape[a] * self.h)) ** 2
                        for a in range(self.ndim)))
        self._source = r < 0.08 * width
        self.mask = None
        self.operator = None
        self.log = []
        self._set_obstacle()

    # -- the obstacle ---------------------------------------------------------------------------
    def obstacle(self, step=None):
        """Centre and velocity of the obstacle at ``step`` (default: the current step)."""
        s = self.step_count if step is None else step
        width = self.shape[1] * self.h
        phase = 2.0 * math.pi * s / self.period
        centre = [0.45 * self.shape[0] * self.h] + [0.5 * n * self.h for n in self.shape[1:]]
        centre[1] += self.amplitude * width * math.sin(phase)
        vel = [0.0] * self.ndim
        vel[1] = self.amplitude * width * math.cos(phase) * 2.0 * math.pi / (self.period * self.dt)
        return np.array(centre), np.array(vel)

    def _set_obstacle(self):
        centre, self._solid_velocity = self.obstacle()
        r2 = sum((self._X[a] - centre[a]) ** 2 for a in range(self.ndim))
        fluid = r2 >= (self.radius * self.shape[1] * self.h) ** 2
        changed = self.mask is None or not np.array_equal(fluid, self.mask)
        if changed:
            self.mask = fluid
            bc = [("neumann", "dirichlet")] + [("neumann", "neumann")] * (self.ndim - 1)
            self.operator = poisson(self.shape, spacing=self.h, bc=bc, mask=fluid)
        return changed

    def _impose_solid(self):
        """Faces touching a solid cell move with the obstacle; walls (all box faces but the top) are shut."""
        solid = ~self.mask
        for a, u in enumerate(self.velocity):
            n = self.shape[a]
            touch = np.zeros(u.shape, dtype=bool)
            touch[_face_slices(a, self.ndim, 0, n)] |= solid
            touch[_face_slices(a, self.ndim, 1, n + 1)] |= solid
            u[touch] = self._solid_velocity[a]
            u[_face_slices(a, self.ndim, 0, 1)] = 0.0
            if a != 0:
                u[_face_slices(a, self.ndim, n, n + 1)] = 0.0

    # -- one step -------------------------------------------------------------------------------
    def divergence(self):
        """``∇·u`` per cell (grid array)."""
        return sum(np.diff(u, axis=a) for a, u in enumerate(self.velocity)) / self.h

    def step(self, solve, *, rtol=1e-6):
        """Advance one time step; ``solve(A, b, x0, rtol) -> SolverResult`` does the projection.

        Returns the step's log entry."""
        t_step = time.perf_counter()
        dt_h = self.dt / self.h
        u = self.velocity
        adv = [np.empty_like(v) for v in u]
        dens = np.empty_like(self.density)
        if self.ndim == 2:
            _advect2(self.density, dens, u[0], u[1], 0.5, 0.5, dt_h)
            _advect2(u[0], adv[0], u[0], u[1], 0.0, 0.5, dt_h)
            _advect2(u[1], adv[1], u[0], u[1], 0.5, 0.0, dt_h)
        else:
            _advect3(self.density, dens, u[0], u[1], u[2], 0.5, 0.5, 0.5, dt_h)
            _advect3(u[0], adv[0], u[0], u[1], u[2], 0.0, 0.5, 0.5, dt_h)
            _advect3(u[1], adv[1], u[0], u[1], u[2], 0.5, 0.0, 0.5, dt_h)
            _advect3(u[2], adv[2], u[0], u[1], u[2], 0.5, 0.5, 0.0, dt_h)
        self.velocity = u = adv
        self.step_count += 1
        changed = self._set_obstacle()
        dens[self._source] = 1.0
        dens[~self.mask] = 0.0
        self.density = dens
        # buoyancy on the interior up-faces (the average density of the two cells), then the source
        u[0][1:-1] += self.dt * self.buoyancy * 0.5 * (dens[1:] + dens[:-1])
        src = np.zeros(u[0].shape, dtype=bool)
        src[:-1] |= self._source
        src[1:] |= self._source
        u[0][src] = self.inflow
        self._impose_solid()
        A = self.operator
        b = -A.from_grid(self.divergence()) / self.dt
        x0 = A.from_grid(self.pressure)
        res = solve(A, b, x0, rtol)
        self.pressure = A.to_grid(res.x)
        self._project(self.pressure)
        info = res.info
        entry = {"step": self.step_count, "solver": info.get("candidate", res.method), "iterations": int(res.iterations),
                 "setup_time": float(info.get("setup_time", 0.0)), "solve_time": float(info.get("solve_time", res.time)),
                 "total_time": float(info.get("total_time", res.time)), "operator_changed": changed,
                 "converged": bool(res.converged), "unknowns": int(A.shape[0])}
        entry["step_time"] = time.perf_counter() - t_step
        self.log.append(entry)
        return entry

    def _project(self, P):
        """``u −= Δt ∇p`` on faces between two fluid cells and on the open top face."""
        c = self.dt / self.h
        fluid = self.mask
        for a, u in enumerate(self.velocity):
            n = self.shape[a]
            hi = _face_slices(a, self.ndim, 1, n)
            both = fluid[_face_slices(a, self.ndim, 1, n)] & fluid[_face_slices(a, self.ndim, 0, n - 1)]
            grad = np.diff(P, axis=a)
            u[hi] -= np.where(both, c * grad, 0.0)
            if a == 0:  # Dirichlet p = 0 in the ghost cell above the top row
                top = _face_slices(0, self.ndim, n, n + 1)
                last = _face_slices(0, self.ndim, n - 1, n)
                u[top] -= np.where(fluid[last], c * (0.0 - P[last]), 0.0)

    def run(self, steps, solve, *, rtol=1e-6, callback=None):
        """Run ``steps`` steps; ``callback(sim, entry)`` after each (e.g. to write a frame)."""
        for _ in range(int(steps)):
            entry = self.step(solve, rtol=rtol)
            if callback is not None:
                callback(self, entry)
        return self.log

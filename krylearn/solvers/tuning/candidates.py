"""The solver configurations :class:`~krylearn.solvers.AutoSolver` chooses among.

A :class:`Candidate` separates what a user pays once per operator (``setup(A)``: a multigrid
hierarchy, an incomplete factorisation, an AMG hierarchy, a network on the grid) from what they pay
per right-hand side (``solve(A, b, x0, rtol, atol, state, callback)``), so that AutoSolver can cache
the set-up while the operator is unchanged and charge its time to the candidate that needed it.

Built-in candidates (names for ``AutoSolver(candidates=[...])``):

========================  ===================================================================
``"mg-cg"``               CG + one geometric multigrid V-cycle (:func:`krylearn.precond.multigrid`);
                          grid operators of :func:`krylearn.pde.poisson` only
``"learned-fcg"``         flexible CG + the shipped learned preconditioner of the grid's dimension
                          (:class:`krylearn.learned.DCDMPreconditioner`); grid operators; needs torch
``"ic0-cg"``              CG + zero-fill incomplete Cholesky (:func:`krylearn.precond.ic0`)
``"amg-cg"``              CG + a smoothed-aggregation V-cycle (:func:`krylearn.precond.amg`); needs PyAMG
``"ssor-cg"``             CG + SSOR whose ω is tuned online by Tsallis-INF on the iteration counts
                          (Learning to Relax, Khodak et al., ICLR 2024)
``"jacobi-cg"``, ``"cg"`` CG with the diagonal / without a preconditioner
``"minres"``,             MINRES without / with the SPD diagonal preconditioner ``|D|⁻¹``
``"minres-jacobi"``       (symmetric indefinite operators)
``"gmres-ilu"``,          GMRES(30) / BiCGSTAB with ILU(0), and plain GMRES(30) (nonsymmetric)
``"bicgstab-ilu"``,
``"gmres"``
========================  ===================================================================

:func:`default_candidates` picks the list that fits an operator (grid Poisson → multigrid, learned,
IC(0), AMG, SSOR; SPD → IC(0), AMG, SSOR, Jacobi; symmetric indefinite → MINRES; otherwise GMRES and
BiCGSTAB with ILU), fastest-expected first (the order in which untried candidates are explored).
The learned candidate is a default only when torch is already imported (its import takes seconds,
which a short run would never earn back); name it to include it anyway.
"""

from __future__ import annotations

import importlib.util
import sys

import numpy as np

from ..._lazy import load
from ...operators.base import LinearOperator
from ...operators.stencil import PoissonStencil

__all__ = ["Candidate", "BUILTIN", "builtin", "default_candidates", "is_grid_operator"]


class Candidate:
    """One solver configuration: an optional set-up per operator and a solve per right-hand side.

    Parameters
    ----------
    name : str
    solve : callable
        ``solve(A, b, x0, rtol, atol, state, callback) -> SolverResult`` with ``state`` what
        ``setup(A)`` returned (None without a set-up) and ``callback`` a Krylov callback (AutoSolver
        uses it to stop an exploratory solve that runs far over the best candidate's time; a solve
        that ignores it is simply not stopped early).
    setup : callable, optional
        ``setup(A) -> state``; cached by AutoSolver while the operator is unchanged.
    requires : str, optional
        What the candidate needs: ``"grid"`` (a :func:`krylearn.pde.poisson` operator), or None.
    package : str, optional
        An optional dependency the candidate needs (``"torch"``, ``"pyamg"``).
    description : str
    """

    def __init__(self, name, solve, setup=None, *, requires=None, package=None, description=""):
        if not isinstance(name, str) or not name:
            raise ValueError(f"a candidate's name must be a non-empty string, got {name!r}")
        if not callable(solve) or (setup is not None and not callable(setup)):
            raise TypeError(f"candidate {name!r}: solve (and setup, if given) must be callable")
        self.name, self._solve, self._setup = name, solve, setup
        self.requires, self.package, self.description = requires, package, description

    @classmethod
    def from_function(cls, name, f):
        """Wrap a user function ``f(A, b, x0, rtol) -> SolverResult`` (its set-up is inside its time)."""
        if not callable(f):
            raise TypeError(f"candidate {name!r} must be callable f(A, b, x0, rtol) -> SolverResult, got {f!r}")

        def solve(A, b, x0, rtol, atol, state, callback):
            return f(A, b, x0, rtol)

        return cls(name, solve, description=getattr(f, "__doc__", None) or "user function")

    @property
    def has_setup(self):
        return self._setup is not None

    def setup(self, A):
        return None if self._setup is None else self._setup(A)

    def solve(self, A, b, x0, rtol, atol, state, callback=None):
        return self._solve(A, b, x0, rtol, atol, state, callback)

    def unavailable(self, A):
        """Why this candidate cannot solve with ``A`` (None if it can)."""
        if self.package is not None and importlib.util.find_spec(self.package) is None:
            return f"candidate {self.name!r} needs {self.package} (pip install {self.package})"
        if self.requires == "grid" and not is_grid_operator(A):
            return (f"candidate {self.name!r} needs a grid operator from kl.pde.poisson, got "
                    f"{type(A).__name__}")
        return None

    def __repr__(self):
        return f"Candidate({self.name!r})"


def is_grid_operator(A):
    return isinstance(A, PoissonStencil)


# -- the built-in candidates -------------------------------------------------------------------
def _cg(A, b, x0, rtol, atol, M, callback):
    from ..krylov.cg import cg
    return cg(A, b, x0, rtol=rtol, atol=atol, M=M, callback=callback)


def _with(method):
    def solve(A, b, x0, rtol, atol, M, callback):
        mod = importlib.import_module(f"krylearn.solvers.krylov.{method}")
        return getattr(mod, method)(A, b, x0, rtol=rtol, atol=atol, M=M, callback=callback)
    return solve


def _setup_mg(A):
    from ..precond.multigrid import multigrid
    return multigrid(A)


def _setup_ic0(A):
    from ..precond.ic0 import ic0
    return ic0(A)


def _setup_amg(A):
    from ..precond.amg import amg
    return amg(A)


def _setup_jacobi(A):
    from ..precond.jacobi import jacobi
    return jacobi(A)


def _setup_ilu(A):
    from ..precond.ilu import ilu
    return ilu(A)


def _setup_abs_jacobi(A):
    from ...operators.convert import aslinearoperator
    d = np.abs(np.asarray(aslinearoperator(A).diagonal()))
    if np.any(d == 0) or not np.all(np.isfinite(d)):
        raise ValueError("minres-jacobi needs a diagonal without zeros")
    inv = 1.0 / d
    return LinearOperator((d.size, d.size), matvec=lambda r: inv * r, dtype=d.dtype, symmetric=True,
                          positive_definite=True)


def _setup_learned(A):
    # the learned layer sits above the solvers: named here, resolved when the candidate is used
    return load("krylearn.learned.pretrained:pretrained_preconditioner")(A)


class _TunedSSOR:
    """SSOR-PCG whose ω is chosen per solve by Tsallis-INF on the iteration counts (Learning to Relax)."""

    def __init__(self):
        from .bandits import TsallisINF, omega_grid
        self.tuner = TsallisINF(omega_grid("ssor_cg", size=12), seed=0)

    def setup(self, A):
        from ...operators.convert import aslinearoperator
        A = aslinearoperator(A)
        return A.tocsr() if hasattr(A, "tocsr") else A

    def solve(self, A, b, x0, rtol, atol, csr, callback):
        from ..precond.ssor import ssor
        omega = self.tuner.suggest()
        res = _cg(A, b, x0, rtol, atol, ssor(csr, omega), callback)
        if res.converged:
            self.tuner.observe(res.iterations)
        else:  # an interrupted or failed solve says nothing reliable about this ω: draw anew next time
            self.tuner.discard()
        res.info["omega"] = omega
        return res


def _ssor_candidate():
    tuned = _TunedSSOR()
    return Candidate("ssor-cg", tuned.solve, tuned.setup,
                     description="CG + SSOR, ω tuned online by Tsallis-INF on iteration counts")


def _factories():
    return {
        "mg-cg": lambda: Candidate("mg-cg", _cg, _setup_mg, requires="grid",
                                   description="CG + geometric multigrid V-cycle"),
        "learned-fcg": lambda: Candidate("learned-fcg", _with("fcg"), _setup_learned, requires="grid",
                                         package="torch", description="FCG + shipped learned preconditioner"),
        "ic0-cg": lambda: Candidate("ic0-cg", _cg, _setup_ic0, description="CG + IC(0)"),
        "amg-cg": lambda: Candidate("amg-cg", _cg, _setup_amg, package="pyamg",
                                    description="CG + smoothed-aggregation AMG V-cycle (PyAMG)"),
        "ssor-cg": _ssor_candidate,
        "jacobi-cg": lambda: Candidate("jacobi-cg", _cg, _setup_jacobi, description="CG + Jacobi"),
        "cg": lambda: Candidate("cg", _cg, description="CG"),
        "minres": lambda: Candidate("minres", _with("minres"), description="MINRES"),
        "minres-jacobi": lambda: Candidate("minres-jacobi", _with("minres"), _setup_abs_jacobi,
                                           description="MINRES + |D|^-1"),
        "gmres-ilu": lambda: Candidate("gmres-ilu", _with("gmres"), _setup_ilu, description="GMRES(30) + ILU(0)"),
        "bicgstab-ilu": lambda: Candidate("bicgstab-ilu", _with("bicgstab"), _setup_ilu,
                                          description="BiCGSTAB + ILU(0)"),
        "gmres": lambda: Candidate("gmres", _with("gmres"), description="GMRES(30)"),
    }


#: names of the built-in candidates
BUILTIN = tuple(_factories())


def builtin(name):
    """A fresh built-in candidate by name (``ValueError`` listing the valid names otherwise)."""
    factories = _factories()
    if name not in factories:
        raise ValueError(f"unknown candidate {name!r}; the built-in candidates are {list(BUILTIN)} "
                         f"(or pass your own as {{name: f(A, b, x0, rtol) -> SolverResult}})")
    return factories[name]()


def default_candidates(A):
    """Names of the built-in candidates that fit ``A`` and whose dependencies are installed."""
    from ...operators.convert import aslinearoperator
    if is_grid_operator(A):
        names = ["mg-cg", "ssor-cg", "ic0-cg", "amg-cg", "learned-fcg"]
    else:
        op = aslinearoperator(A)
        if op.positive_definite:
            names = ["ic0-cg", "amg-cg", "ssor-cg", "jacobi-cg"]
        elif op.hermitian:
            names = ["minres-jacobi", "minres"]
        else:
            names = ["gmres-ilu", "bicgstab-ilu", "gmres"]
    names = [n for n in names if builtin(n).unavailable(A) is None]
    if "learned-fcg" in names and "torch" not in sys.modules:
        # importing torch takes seconds: only a process that already uses torch explores it by default
        names.remove("learned-fcg")
    return names

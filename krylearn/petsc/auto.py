"""AutoKSP: online choice among PETSc option sets for the KSP solves of a time loop, on any number of ranks.

The PETSc counterpart of :class:`krylearn.solvers.AutoSolver`: the candidates are option sets
(``{"gamg": {"ksp_type": "cg", "pc_type": "gamg"}, "icc": {...}, "mg": {"pc_type": "python",
"pc_python_type": "krylearn.petsc.Multigrid"}}``), each with its own KSP (options prefix
``klauto<i>_``), so that each keeps its preconditioner set-up: PETSc rebuilds it only when the matrix
changed (a new Mat, or a modified one: its object state increased). Rank 0 owns the bandit
(:class:`krylearn.solvers.UCB` by default), decides and broadcasts the choice; the cost it learns from
is the slowest rank's wall time (or the iteration count), so the choices are identical on every rank
and a rerun with the same costs makes the same choices. A candidate whose solve diverges is charged a
penalty and the same call continues with the next option set (best mean cost first) from the iterate
reached; the result says which set produced ``x``.

    auto = krylearn.petsc.AutoKSP({"gamg": {"ksp_type": "cg", "pc_type": "gamg"},
                                   "icc": {"ksp_type": "cg", "pc_type": "bjacobi", "sub_pc_type": "icc"}})
    for step in range(steps):
        A = assemble(step)                  # a petsc4py Mat (new or modified each step)
        res = auto.solve(A, b, x, rtol=1e-6)  # x (a Vec) holds the solution, warm start from its content
"""

from __future__ import annotations

import math
import numbers
import time
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from petsc4py import PETSc

from ..solvers.tuning.cost_ledger import CostLedger
from ..solvers.result import SolverResult, Status
from ..typing import _is_a
from .solve import _set_norm, reason_name, status_from_reason

if TYPE_CHECKING:  # pragma: no cover - names for static checkers only
    import os

    from mpi4py import MPI

    from ..solvers.tuning.bandits import Tuner

__all__ = ["AutoKSP"]

_COSTS = ("time", "iterations")


def _check_option_sets(option_sets: dict[str, dict[str, Any]]) -> dict[str, dict[str, str]]:
    if not isinstance(option_sets, dict) or not option_sets:
        raise ValueError("option_sets must be a non-empty dict name -> {option: value}")
    out: dict[str, dict[str, str]] = {}
    for name, opts in option_sets.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"option-set names must be non-empty strings, got {name!r}")
        if not isinstance(opts, dict):
            raise ValueError(f"option set {name!r} must be a dict of PETSc options, got {opts!r}")
        clean: dict[str, str] = {}
        for k, v in opts.items():
            if not isinstance(k, str) or not k or k.startswith("-"):
                raise ValueError(f"option set {name!r}: option names are given without the leading '-', got {k!r}")
            clean[k] = "" if v is None else (str(v).lower() if isinstance(v, bool) else str(v))
        out[name] = clean
    return out


class AutoKSP:
    """Choose, solve after solve, the fastest of several PETSc option sets (module docstring).

    Parameters
    ----------
    option_sets : dict
        ``name -> {option: value}`` (options without the leading ``-``; ``None`` for a flag).
    comm : PETSc communicator, optional
        Default ``PETSc.COMM_WORLD``.
    tuner : Tuner class or instance, optional
        Used on rank 0 only; default :class:`krylearn.solvers.UCB` over the names.
    cost : {"time", "iterations"}
        The slowest rank's wall time of set-up + solve (default), or the iteration count.
    seed : int, optional
        Seed of the tuner.
    warm_start : bool
        Start from the content of ``x`` (default True).
    penalty : float
        A diverged solve is charged ``penalty × max(its cost, the largest mean cost seen, the cost of the
        set that rescued the call)`` (default 2; :class:`krylearn.solvers.tuning.cost_ledger.CostLedger`).
    """

    def __init__(self, option_sets: dict[str, dict[str, Any]], *, comm: PETSc.Comm | MPI.Comm | None = None,
                 tuner: Tuner | type[Tuner] | None = None, cost: Literal["time", "iterations"] = "time",
                 seed: int | None = None, warm_start: bool = True, penalty: float = 2.0) -> None:
        self.option_sets = _check_option_sets(option_sets)
        if cost not in _COSTS:
            raise ValueError(f"cost must be one of {_COSTS}, got {cost!r}")
        if isinstance(penalty, bool) or not _is_a(penalty, numbers.Real) or not penalty >= 1:
            raise ValueError(f"penalty must be a number >= 1, got {penalty!r}")
        self.comm = PETSc.COMM_WORLD if comm is None else comm
        self.rank, self.size = self.comm.getRank(), self.comm.getSize()
        self.cost, self.warm_start, self.penalty = cost, bool(warm_start), float(penalty)
        self._mpi = self.comm.tompi4py() if self.size > 1 else None
        self.names = list(self.option_sets)
        self.tuner: Tuner | None = None
        if self.rank == 0:
            if tuner is None or isinstance(tuner, type):
                from ..solvers.tuning.ucb import UCB
                self.tuner = (UCB if tuner is None else tuner)(arms=self.names, seed=seed)
            else:
                if getattr(tuner, "arm_names", None) != self.names:
                    raise ValueError(f"the tuner was built for arms {getattr(tuner, 'arm_names', None)}, the option "
                                     f"sets are {self.names}")
                self.tuner = tuner
        self._ksps: dict[str, PETSc.KSP] = {}
        self._ledger = CostLedger(self.names, self.penalty, 1.0 if cost == "iterations" else 1e-3)
        self.stats = self._ledger.stats   # identical on every rank: the costs are the slowest rank's
        self.history: list[dict[str, Any]] = []

    def _rank0_tuner(self) -> Tuner:
        """The tuner (rank 0 holds it; the other ranks receive its choices)."""
        if self.tuner is None:
            raise RuntimeError(f"rank {self.rank} has no tuner: only rank 0 decides")
        return self.tuner

    # -- collective helpers ------------------------------------------------------------------
    def _bcast(self, value):
        return value if self._mpi is None else self._mpi.bcast(value, root=0)

    def _max(self, value):
        return value if self._mpi is None else self._mpi.allreduce(value, op=_mpi_max())

    def _ksp(self, name):
        ksp = self._ksps.get(name)
        if ksp is None:
            prefix = f"klauto{self.names.index(name)}_"
            opts = PETSc.Options(prefix)
            for k, v in self.option_sets[name].items():
                opts[k] = v
            ksp = PETSc.KSP().create(self.comm)
            ksp.setOptionsPrefix(prefix)
            ksp.setType("cg")
            ksp.setFromOptions()
            self._ksps[name] = ksp
        return ksp

    # -- solving ------------------------------------------------------------------------------
    def solve(self, A: PETSc.Mat, b: PETSc.Vec, x: PETSc.Vec, *, rtol: float = 1e-6, atol: float = 0.0,
              maxiter: int | None = None, context: float | None = None) -> SolverResult:
        """Solve ``A x = b`` (petsc4py Mat and Vecs; ``x`` is overwritten) with the chosen option set.

        Collective. Returns a :class:`~krylearn.SolverResult` whose ``x`` is this rank's part of the
        solution (a copy) and whose ``info`` holds ``candidate``, ``chosen``, ``setup_time``,
        ``solve_time``, ``total_time`` (slowest rank), ``reason`` and ``attempts``."""
        if not (isinstance(A, PETSc.Mat) and isinstance(b, PETSc.Vec) and isinstance(x, PETSc.Vec)):
            raise TypeError("AutoKSP.solve takes a petsc4py Mat and two Vecs (b, x)")
        if A.getSize()[0] != A.getSize()[1] or b.getSize() != A.getSize()[0] or x.getSize() != A.getSize()[1]:
            raise ValueError(f"sizes do not match: A {A.getSize()}, b {b.getSize()}, x {x.getSize()}")
        t_call = time.perf_counter()
        b_norm = b.norm()
        if not math.isfinite(b_norm):
            raise ValueError("b contains NaN or Inf")
        x0 = x.copy() if self.warm_start else None
        chosen = self._bcast(self._rank0_tuner().suggest(context) if self.rank == 0 else None)
        order = self._bcast([chosen] + self._ledger.fallback_order(chosen) if self.rank == 0 else None)
        attempts, final = [], None
        # KSPSolve leaves its right-hand side read-locked when it fails with an error (e.g. an option set
        # unsupported in parallel); the attempts solve with a private copy so that the user's b stays usable
        rhs = b.copy()
        for k, name in enumerate(order):
            rec = self._attempt(name, A, rhs, x, rtol, atol, maxiter)
            if rec["error"] is not None:
                rhs.destroy()
                rhs = b.copy()
            attempts.append(rec)
            if rec["status"] is Status.CONVERGED:
                final = rec
                break
            if not np.all(np.isfinite(x.array_r)) and x0 is not None:
                x0.copy(x)  # restart the fallback from the warm start, not from NaNs
        rhs.destroy()
        self._charge(chosen, attempts[0], attempts[-1])
        if final is None:
            final = attempts[0]
        total = self._max(time.perf_counter() - t_call)
        res = SolverResult(x=x.array_r.copy(), status=final["status"], iterations=final["iterations"],
                           residuals=np.array([final["residual"]]), time=final["solve_time"], method="petsc-auto",
                           b_norm=b_norm, tol=max(atol, rtol * b_norm),
                           info={"candidate": final["candidate"], "chosen": chosen,
                                 "setup_time": sum(a["setup_time"] for a in attempts),
                                 "solve_time": sum(a["solve_time"] for a in attempts), "total_time": total,
                                 "reason": final["reason"], "attempts": attempts})
        self.history.append({"chosen": chosen, "candidate": final["candidate"], "time": total,
                             "iterations": final["iterations"], "converged": res.converged})
        return res

    def _attempt(self, name, A, b, x, rtol, atol, maxiter):
        ksp = self._ksp(name)
        ksp.setOperators(A)
        ksp.setTolerances(rtol=rtol, atol=atol, max_it=maxiter if maxiter is not None else PETSc.DEFAULT)
        ksp.setInitialGuessNonzero(self.warm_start)
        _set_norm(ksp, PETSc.KSP.NormType.UNPRECONDITIONED)
        self.comm.barrier()
        t0 = time.perf_counter()
        error = None
        try:
            ksp.setUp()  # PETSc rebuilds the preconditioner only if the matrix changed
            t1 = time.perf_counter()
            ksp.solve(b, x)
            reason = int(ksp.getConvergedReason())
        except PETSc.Error as exc:  # e.g. a factorisation that broke down: fall back
            t1 = t1 if "t1" in locals() else time.perf_counter()
            reason, error = -11, f"PETSc error {exc.ierr}: {str(exc).strip()[:200]}"
        t2 = time.perf_counter()
        setup = self._max(t1 - t0)
        solve = self._max(t2 - t1)
        return {"candidate": name, "setup_time": setup, "solve_time": solve, "time": self._max(t2 - t0),
                "iterations": int(ksp.getIterationNumber()), "status": status_from_reason(reason),
                "reason": reason_name(reason), "residual": float(ksp.getResidualNorm()), "error": error}

    def _charge(self, name, rec, last):
        """The chosen set's cost to the tuner (rank 0), by the rules of :class:`CostLedger`."""
        key = "time" if self.cost == "time" else "iterations"
        ok = rec["status"] is Status.CONVERGED
        charged = self._ledger.charge(name, float(rec[key]), ok, ok, float(last[key]))
        if charged is None:
            rec["cold"] = True
        if self.rank == 0:
            if charged is None:
                self._rank0_tuner().discard()
            else:
                self._rank0_tuner().observe(charged)

    def report(self) -> dict[str, dict[str, float]]:
        """Per option set: times chosen, mean cost, failures (identical on every rank)."""
        return {n: {"chosen": s["chosen"], "mean_cost": float(np.mean(s["costs"])) if s["costs"] else math.nan,
                    "failures": s["failures"]} for n, s in self.stats.items()}

    def save(self, path: str | os.PathLike[str]) -> str | os.PathLike[str]:
        """Rank 0 writes its tuner state (``Tuner.save``); other ranks do nothing. Collective."""
        if self.rank == 0:
            self._rank0_tuner().save(path)
        self.comm.barrier()
        return path

    def destroy(self) -> None:
        """Destroy the KSPs of the option sets (collective)."""
        for ksp in self._ksps.values():
            ksp.destroy()
        self._ksps.clear()


def _mpi_max():
    from mpi4py import MPI
    return MPI.MAX

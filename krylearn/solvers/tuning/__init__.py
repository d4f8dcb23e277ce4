"""Learning to Relax: bandit tuners of a solver parameter over a sequence of systems
(:mod:`.bandits`: Tsallis-INF, Exp3 and the tuner state files; :mod:`.contextual_tuners`: ChebCB,
Tsallis-INF-CB; :mod:`.ucb`), the sequence driver (:mod:`.sequence`) and its ω baselines
(:mod:`.omega`), and the online solver chooser :class:`AutoSolver` with its candidates."""

from ..._lazy import install

_LAZY = {
    "omega": ("krylearn.solvers.tuning.omega", None),
    "sequence": ("krylearn.solvers.tuning.sequence", None),
    "TsallisINF": ("krylearn.solvers.tuning.bandits", "TsallisINF"),
    "Exp3": ("krylearn.solvers.tuning.bandits", "Exp3"),
    "Tuner": ("krylearn.solvers.tuning.bandits", "Tuner"),
    "omega_grid": ("krylearn.solvers.tuning.bandits", "omega_grid"),
    "load_tuner": ("krylearn.solvers.tuning.bandits", "load_tuner"),
    "tuner_from_state": ("krylearn.solvers.tuning.bandits", "tuner_from_state"),
    "tsallis_inf_distribution": ("krylearn.solvers.tuning.bandits", "tsallis_inf_distribution"),
    "TsallisINFCB": ("krylearn.solvers.tuning.contextual_tuners", "TsallisINFCB"),
    "ChebCB": ("krylearn.solvers.tuning.contextual_tuners", "ChebCB"),
    "UCB": ("krylearn.solvers.tuning.ucb", "UCB"),
    "AutoSolver": ("krylearn.solvers.tuning.auto", "AutoSolver"),
    "solve_sequence": ("krylearn.solvers.tuning.sequence", "solve_sequence"),
}
install(__name__, _LAZY)

__all__ = list(_LAZY)

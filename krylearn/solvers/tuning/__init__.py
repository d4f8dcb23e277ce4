"""Learning to Relax: bandit tuners of a solver parameter over a sequence of systems
(:mod:`.bandits`: Tsallis-INF, Exp3 and the tuner state files; :mod:`.contextual_tuners`: ChebCB,
Tsallis-INF-CB; :mod:`.ucb`), the sequence driver (:mod:`.sequence`) and its ω baselines
(:mod:`.omega`), and the online solver chooser :class:`AutoSolver` with its candidates."""

from ..._lazy import exports, install

_LAZY = {
    **{module: (f"{__name__}.{module}", None) for module in ("omega", "sequence")},
    **exports(__name__, {"bandits": "TsallisINF Exp3 Tuner omega_grid load_tuner tuner_from_state tsallis_inf_distribution",
                         "contextual_tuners": "TsallisINFCB ChebCB", "ucb": "UCB", "auto": "AutoSolver",
                         "sequence": "solve_sequence"}),
}
install(__name__, _LAZY)

__all__ = list(_LAZY)

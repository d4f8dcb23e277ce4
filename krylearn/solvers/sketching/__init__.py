"""Randomized sketching: the sketch operators (:mod:`.sketches`) and sketching least squares
(:func:`lstsq`: sketch-and-precondition, iterative sketching, FOSSILS, sketch-and-solve, ℓ∞)."""

from ..._lazy import install

_LAZY = {
    "lstsq": ("krylearn.solvers.sketching.lstsq", "lstsq"),
    "sketches": ("krylearn.solvers.sketching.sketches", None),
}
install(__name__, _LAZY)

__all__ = list(_LAZY)

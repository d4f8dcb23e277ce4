"""Randomized sketching: the sketch operators (:mod:`.sketches`) and sketching least squares
(:func:`lstsq`: sketch-and-precondition, iterative sketching, FOSSILS, sketch-and-solve, ℓ∞)."""

from ..._lazy import exports, install

_LAZY = {**exports(__name__, {"lstsq": "lstsq"}), "sketches": (f"{__name__}.sketches", None)}
install(__name__, _LAZY)

__all__ = list(_LAZY)

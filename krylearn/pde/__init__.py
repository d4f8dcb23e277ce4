"""PDE discretizations on grids (Poisson, heat), obstacle-domain generators, and GP-HM."""

from .._lazy import install

_LAZY = {
    "poisson": ("krylearn.pde.poisson", "poisson"),
    "heat": ("krylearn.pde.heat", None),
    "obstacles": ("krylearn.pde.obstacles", None),
    "GPHMSolver": ("krylearn.pde.gphm", "GPHMSolver"),
    "gphm": ("krylearn.pde.gphm", None),
}
install(__name__, _LAZY)
__all__ = list(_LAZY)

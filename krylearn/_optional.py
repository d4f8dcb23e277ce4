"""Optional dependencies: imported only by the parts that need them."""

from __future__ import annotations

import importlib
from typing import Any

_HINTS = {
    "torch": "pip install 'krylearn[torch]'  (or: pip install torch==2.13.0)",
    "petsc4py": "pip install 'krylearn[petsc]', or run scripts/install_petsc.sh (MPI + PETSc + petsc4py)",
    "mpi4py": "pip install 'krylearn[petsc]'  (needs an MPI library, e.g. apt-get install mpich libmpich-dev)",
    "pyamg": "pip install 'krylearn[amg]'  (or: pip install pyamg)",
}


def is_torch_tensor(v: object) -> bool:
    """True for a torch tensor, without importing torch (the check the solvers' dispatch uses)."""
    return type(v).__module__.startswith("torch") and hasattr(v, "device") and hasattr(v, "dtype")


def require(module: str, feature: str | None = None) -> Any:
    """Import and return ``module``, or raise an ImportError that says how to install it.

    Typed ``Any``: the module's attributes (``torch.nn.Module`` as a base class) are dynamic to a
    static checker, as an optional dependency may be absent."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        what = f" for {feature}" if feature else ""
        raise ImportError(f"{top} is required{what} but is not installed; install it with: "
                          f"{_HINTS.get(top, 'pip install ' + top)}") from exc

"""The MPI launcher the PETSc tests use (MPICH's ``mpiexec.mpich`` or any ``mpiexec``), or None."""

import shutil


def mpiexec():
    for name in ("mpiexec.mpich", "mpiexec"):
        path = shutil.which(name)
        if path:
            return path
    return None

#!/usr/bin/env bash
# Install MPI + PETSc + petsc4py into the given virtual environment (default .venv).
# Recipe verified on this machine kind (see ../shared/REFERENCES.md §5): PETSc is built from
# source by pip (~15-25 min on 2 cores the first time; pip caches the wheel, later runs take seconds).
set -euo pipefail
VENV=${1:-.venv}
PY="$VENV/bin/python"
PETSC_VERSION=${PETSC_VERSION:-3.26.1}
if "$PY" -c "import petsc4py, mpi4py; from petsc4py import PETSc" 2>/dev/null; then
  echo "petsc4py already installed"; exit 0
fi
if ! command -v mpicc.mpich >/dev/null 2>&1 || [ ! -e /usr/include/x86_64-linux-gnu/mpich/mpi.h -a ! -e /usr/lib/x86_64-linux-gnu/libmpich.so ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq mpich libmpich-dev liblapack-dev libblas-dev >/dev/null
fi
"$PY" -m pip install -q numpy cython setuptools wheel
MPICC=/usr/bin/mpicc.mpich "$PY" -m pip install -q mpi4py
echo "building PETSc $PETSC_VERSION (first time: ~20 min; cached afterwards)"
MPICC=/usr/bin/mpicc.mpich MPICXX=/usr/bin/mpicxx.mpich \
  PETSC_CONFIGURE_OPTIONS="--with-fc=0 --with-debugging=0 --COPTFLAGS=-O3 --CXXOPTFLAGS=-O3" \
  "$PY" -m pip install "petsc==$PETSC_VERSION"
"$PY" -m pip install --no-build-isolation "petsc4py==$PETSC_VERSION"
"$PY" -c "from petsc4py import PETSc; print('PETSc', PETSc.Sys.getVersion())"

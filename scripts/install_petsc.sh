#!/usr/bin/env bash
# Install MPI + PETSc + petsc4py + mpi4py into the given virtual environment (default .venv).
# Recipe verified on this machine kind (see ../shared/REFERENCES.md §5): PETSc is built from
# source by pip (~15-25 min on 2 cores the first time; pip caches the wheel, later runs take seconds).
#
# Everything is built against Debian's MPICH: mpi4py from source too (its PyPI binary wheels look
# for libmpi.so.12, which Debian's MPICH does not ship, so `from mpi4py import MPI` fails with them).
# The script ends with an `mpiexec -n 2` smoke test of petsc4py + mpi4py.
set -euo pipefail
VENV=${1:-.venv}
PY="$VENV/bin/python"
PETSC_VERSION=${PETSC_VERSION:-3.26.1}
MPI4PY_VERSION=${MPI4PY_VERSION:-4.1.2}
# a PETSC_DIR/PETSC_ARCH from the environment would make petsc4py build against another PETSc
unset PETSC_DIR PETSC_ARCH

smoke_test() {
  # both ranks must see a 2-rank COMM_WORLD through PETSc and mpi4py (catches MPIUNI builds and an
  # mpi4py linked to another MPI); only rank 0 prints, so interleaved output cannot garble the check
  local out
  out=$(timeout 120 mpiexec -n 2 "$PY" -c "
from mpi4py import MPI
from petsc4py import PETSc
assert PETSc.COMM_WORLD.getSize() == 2 == MPI.COMM_WORLD.Get_size(), 'not 2 ranks'
total = PETSc.COMM_WORLD.tompi4py().allreduce(1)
if MPI.COMM_WORLD.Get_rank() == 0:
    print('mpi-ok', total, flush=True)" 2>&1) || { echo "$out" >&2; return 1; }
  echo "$out" | grep -q '^mpi-ok 2$' || { echo "$out" >&2; return 1; }
}

if command -v mpiexec >/dev/null 2>&1 && "$PY" -c "import petsc4py, mpi4py; from petsc4py import PETSc; from mpi4py import MPI" 2>/dev/null \
   && smoke_test 2>/dev/null; then
  echo "petsc4py + mpi4py already installed and working under mpiexec"; exit 0
fi

PKGS="mpich libmpich-dev liblapack-dev libblas-dev"
if ! dpkg -s $PKGS >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $PKGS >/dev/null
fi
MPICC=$(command -v mpicc.mpich || command -v mpicc)
MPICXX=$(command -v mpicxx.mpich || command -v mpicxx)

"$PY" -m pip install -q numpy cython setuptools wheel
if ! "$PY" -c "from mpi4py import MPI" 2>/dev/null; then
  MPICC=$MPICC "$PY" -m pip install -q --force-reinstall --no-deps --no-binary mpi4py "mpi4py==$MPI4PY_VERSION"
fi
if ! "$PY" -c "from petsc4py import PETSc" 2>/dev/null; then
  echo "building PETSc $PETSC_VERSION (first time: ~20 min; cached afterwards)"
  MPICC=$MPICC MPICXX=$MPICXX \
    PETSC_CONFIGURE_OPTIONS="--with-fc=0 --with-debugging=0 --COPTFLAGS=-O3 --CXXOPTFLAGS=-O3" \
    "$PY" -m pip install "petsc==$PETSC_VERSION"
  # no build isolation: petsc4py must compile against the PETSc just installed (with isolation pip
  # may pick a cached PETSc wheel built without MPI -> "undefined symbol: MPIUNI_TMP")
  "$PY" -m pip install --no-build-isolation "petsc4py==$PETSC_VERSION"
fi
"$PY" -c "from petsc4py import PETSc; print('PETSc', PETSc.Sys.getVersion())"
if ! smoke_test; then
  echo "install_petsc.sh: petsc4py/mpi4py do not run under 'mpiexec -n 2' (see above). If PETSc was built" >&2
  echo "without MPI (e.g. a cached wheel), rebuild it: $PY -m pip uninstall -y petsc petsc4py;" >&2
  echo "$PY -m pip cache remove petsc; then run this script again." >&2
  exit 1
fi
echo "mpiexec -n 2 smoke test passed"

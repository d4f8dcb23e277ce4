"""PETSc interop: krylearn preconditioners and operators inside PETSc KSP, distributed runs under MPI.

Importing this module imports petsc4py (and only this module does). Contents:

* :class:`PC` -- a PETSc python-PC context wrapping any krylearn preconditioner/operator
  (``pc.setType("python"); pc.setPythonContext(krylearn.petsc.PC(M))``), and the
  options-database contexts (``-pc_type python -pc_python_type krylearn.petsc.SSOR
  -krylearn_ssor_omega 1.6``) :class:`Jacobi`, :class:`SSOR`, :class:`IC0`, :class:`AMG`,
  :class:`Multigrid` (geometric multigrid on a stencil or DMDA grid), :class:`TunedSSOR` (ω chosen
  per solve by a bandit tuner) and :class:`DCDM` (the learned preconditioner, nonlinear: use
  ``-ksp_type fcg``). On several ranks they precondition each
  rank's diagonal block, like PETSc's block Jacobi;
* :func:`as_mat` (krylearn operator -> PETSc python Mat), :class:`PetscMatOperator`
  (PETSc Mat -> krylearn operator; ``krylearn.aslinearoperator(mat)`` returns one), :func:`as_aij`;
* :func:`solve` -- a KSP solve returning krylearn's :class:`~krylearn.SolverResult`;
* :func:`poisson` -- DMDA-assembled 2D/3D Poisson matrix (run under ``mpiexec -n P``), with
  :func:`to_natural`/:func:`from_natural` to convert to and from krylearn's numbering.

PETSc reads command-line options only if petsc4py was initialised with them: call
``petsc4py.init(sys.argv)`` before importing ``krylearn.petsc`` (as ``examples/petsc_poisson.py``
does).
"""

from .._optional import require

require("petsc4py", "krylearn.petsc (PETSc interop)")
require("petsc4py.PETSc", "krylearn.petsc (PETSc interop)")

from petsc4py import PETSc  # noqa: E402

from ..operators.petsc_mat import MatContext, PetscMatOperator, as_aij, as_mat, local_block, local_csr, set_spd  # noqa: E402
from .pc import AMG, DCDM, IC0, PC, SSOR, Jacobi, Multigrid, TunedSSOR  # noqa: E402
from .auto import AutoKSP  # noqa: E402
from .poisson import from_natural, poisson, to_natural  # noqa: E402
from .solve import reason_name, solve, status_from_reason  # noqa: E402

__all__ = ["PETSc", "AutoKSP", "PC", "Jacobi", "SSOR", "IC0", "AMG", "Multigrid", "TunedSSOR", "DCDM", "as_mat", "as_aij",
           "PetscMatOperator", "MatContext", "local_block", "local_csr", "set_spd", "solve", "status_from_reason",
           "reason_name", "poisson", "to_natural", "from_natural"]

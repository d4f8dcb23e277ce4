"""A shared table of small test problems for the solver tests (any engineer may reuse it).

Each :class:`Problem` holds a dense reference matrix, a right-hand side and its structure
(``spd``, ``hermitian``, ``complex``). :func:`as_form` turns it into the input kinds every
solver must accept ("dense" ndarray, "csr" scipy.sparse matrix, "linop" untagged krylearn
LinearOperator with matvec/rmatvec). :data:`SOLVERS` lists each Krylov solver with the
structure it needs; :func:`cases` gives the (problem, solver) pairs that apply.

Usage from another test file::

    from tests.solvers.problems import PROBLEMS, as_form
    # inside tests/solvers/ (no __init__.py, pytest "prepend" import mode): from problems import ...
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = ["Problem", "PROBLEMS", "FORMS", "as_form", "SOLVERS", "cases", "problem"]


@dataclass(frozen=True)
class Problem:
    name: str
    A: np.ndarray          # dense reference matrix
    b: np.ndarray
    spd: bool = False      # Hermitian positive definite
    hermitian: bool = False
    diag_dominant: bool = False   # strictly diagonally dominant (stationary methods converge)

    @property
    def n(self):
        return self.A.shape[0]

    @property
    def is_complex(self):
        return np.iscomplexobj(self.A) or np.iscomplexobj(self.b)

    @property
    def x_true(self):
        return np.linalg.solve(self.A, self.b)

    @property
    def cond(self):
        return float(np.linalg.cond(self.A))

    def __repr__(self):
        return f"Problem({self.name}, n={self.n})"


def _laplace1d(n):
    return sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(n, n))


def _poisson2d(k):
    T = _laplace1d(k)
    I = sp.identity(k)
    return (sp.kron(I, T) + sp.kron(T, I)).toarray()


def _orth(rng, n, complex_=False):
    Z = rng.standard_normal((n, n))
    if complex_:
        Z = Z + 1j * rng.standard_normal((n, n))
    Q, _ = np.linalg.qr(Z)
    return Q


def _build():
    rng = np.random.default_rng(20261122)
    n = 40
    out = []
    # SPD: 2D Poisson 6x6 (an M-matrix, diagonally dominant but not strictly: weakly)
    A = _poisson2d(6)
    out.append(Problem("spd_poisson2d", A, rng.standard_normal(A.shape[0]), spd=True, hermitian=True))
    # SPD with a spread spectrum (cond 100), dense
    Q = _orth(rng, n)
    A = (Q * np.linspace(1.0, 100.0, n)) @ Q.T
    A = (A + A.T) / 2
    out.append(Problem("spd_random", A, rng.standard_normal(n), spd=True, hermitian=True))
    # SPD strictly diagonally dominant (stationary methods converge on it)
    A = _laplace1d(n).toarray() + 0.5 * np.eye(n)
    out.append(Problem("spd_diagdom", A, rng.standard_normal(n), spd=True, hermitian=True,
                       diag_dominant=True))
    # symmetric indefinite: eigenvalues in [-5, -1] ∪ [0.5, 10]
    Q = _orth(rng, n)
    ev = np.concatenate([-np.linspace(1.0, 5.0, 15), np.linspace(0.5, 10.0, n - 15)])
    A = (Q * ev) @ Q.T
    A = (A + A.T) / 2
    out.append(Problem("sym_indefinite", A, rng.standard_normal(n), hermitian=True))
    # nonsymmetric: 1D convection-diffusion (upwind) + a small random perturbation
    A = sp.diags([-1.6, 2.2, -0.4], [-1, 0, 1], shape=(n, n)).toarray()
    A += 0.05 * rng.standard_normal((n, n)) * (rng.random((n, n)) < 0.1)
    out.append(Problem("nonsymmetric", A, rng.standard_normal(n)))
    # nonsymmetric, strictly diagonally dominant
    A = sp.diags([-1.0, 3.0, -1.5], [-1, 0, 1], shape=(n, n)).toarray()
    out.append(Problem("nonsym_diagdom", A, rng.standard_normal(n), diag_dominant=True))
    # complex Hermitian positive definite
    Q = _orth(rng, n, complex_=True)
    A = (Q * np.linspace(1.0, 50.0, n)) @ Q.conj().T
    A = (A + A.conj().T) / 2
    bc = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    out.append(Problem("complex_hpd", A, bc, spd=True, hermitian=True))
    # complex Hermitian indefinite
    Q = _orth(rng, n, complex_=True)
    ev = np.concatenate([-np.linspace(1.0, 4.0, 10), np.linspace(1.0, 8.0, n - 10)])
    A = (Q * ev) @ Q.conj().T
    A = (A + A.conj().T) / 2
    out.append(Problem("complex_hermitian_indefinite", A,
                       rng.standard_normal(n) + 1j * rng.standard_normal(n), hermitian=True))
    # complex non-Hermitian (shifted random: eigenvalues in a disc around 3+1j)
    A = (rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))) / (2 * np.sqrt(n)) \
        + (3 + 1j) * np.eye(n)
    out.append(Problem("complex_nonhermitian", A,
                       rng.standard_normal(n) + 1j * rng.standard_normal(n)))
    return out


PROBLEMS = _build()
FORMS = ("dense", "csr", "linop")


def problem(name):
    for p in PROBLEMS:
        if p.name == name:
            return p
    raise KeyError(name)


def as_form(p, form):
    """``p.A`` as a dense array, a CSR matrix, or an untagged krylearn LinearOperator."""
    import krylearn as kl

    if form == "dense":
        return p.A.copy()
    if form == "csr":
        return sp.csr_matrix(p.A)
    if form == "linop":
        A = p.A
        AH = A.conj().T.copy()
        return kl.LinearOperator(A.shape, matvec=lambda x: A @ x, rmatvec=lambda x: AH @ x, dtype=A.dtype)
    raise ValueError(form)


def _solver(name):
    import krylearn as kl

    return getattr(kl, name)


#: solver name -> what it needs of the problem ("spd", "hermitian" or "any")
SOLVERS = {"cg": "spd", "fcg": "spd", "minres": "hermitian", "gmres": "any", "bicgstab": "any"}


def applies(p, need):
    return need == "any" or (need == "spd" and p.spd) or (need == "hermitian" and p.hermitian)


def cases(solvers=SOLVERS):
    """``(problem, solver_name)`` pairs where the solver applies to the problem."""
    return [(p, s) for p in PROBLEMS for s, need in solvers.items() if applies(p, need)]

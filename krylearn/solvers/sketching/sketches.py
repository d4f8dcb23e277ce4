"""Random sketching operators for tall least-squares problems.

A sketch ``S`` (``m x n`` with ``m << n``) is a random linear map that approximately preserves
the norms of all vectors in the column space of a tall ``A`` (a *subspace embedding*):
``(1 - ε)‖Ax‖ ≤ ‖SAx‖ ≤ (1 + ε)‖Ax‖``. Every sketch here is a krylearn
:class:`~krylearn.LinearOperator` of shape ``(m, n)`` built from a ``seed`` (same seed, same
sketch), normalised so that ``E[SᵀS] = I``, with :meth:`Sketch.apply` computing the dense
``m x d`` matrix ``S A`` at the sketch's natural cost for a dense ``A`` (ndarray), a
``scipy.sparse`` ``A`` (never densified as a whole) and a matrix-free ``A`` (column blocks through
``A.matmat``).

=======================  ==========================================  ===========================
sketch                   ``S``                                       cost of ``S A``
=======================  ==========================================  ===========================
:class:`GaussianSketch`  i.i.d. ``N(0, 1/m)``                        ``O(m nnz(A))`` + ``m n`` draws
:class:`SRHT`            ``√(N/m) P H D / √N`` (Walsh–Hadamard, pad   ``O(N d log N)``, ``N=2^⌈log2 n⌉``
                         to ``N``)
:class:`SRTT`            ``√(n/m) P C D`` (orthonormal DCT-II,       ``O(n d log n)``
                         any ``n``)
:class:`CountSketch`     one ``±1`` per column                       ``O(nnz(A))``
:class:`SparseSign`      ``ζ`` entries ``±1/√ζ`` per column (ζ = 8)  ``O(ζ nnz(A))``
:class:`LeverageScore`   rows sampled ∝ leverage scores, rescaled    ``O(m d)`` after the scores
=======================  ==========================================  ===========================

References
----------
- N. Ailon and B. Chazelle, "The fast Johnson–Lindenstrauss transform", SIAM J. Comput. 39 (2009).
- J. A. Tropp, "Improved analysis of the subsampled randomized Hadamard transform" (2011).
- K. L. Clarkson and D. P. Woodruff, "Low-rank approximation and regression in input sparsity
  time", J. ACM 63 (2017) (CountSketch).
- J. Nelson and H. L. Nguyen, "OSNAP: faster numerical linear algebra algorithms via sparser
  subspace embeddings", FOCS 2013 (sparse sign embeddings); E. N. Epperly, "Which sketch should I
  use?" (2023) for ζ = 8.
- P. Drineas, M. Magdon-Ismail, M. W. Mahoney, D. P. Woodruff, "Fast approximation of matrix
  coherence and statistical leverage", JMLR 13 (2012).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._base import IdentitySketch, Sketch
from .gaussian import GaussianSketch
from .leverage import LeverageScore, leverage_scores
from .sparse_sign import CountSketch, SparseSign
from .srht import SRHT, SRTT, fwht

if TYPE_CHECKING:  # annotations only
    from typing import Any
    from ...typing import OperatorLike

__all__ = ["Sketch", "GaussianSketch", "SRHT", "CountSketch", "SparseSign", "LeverageScore",
           "make_sketch", "SKETCHES", "fwht", "SRTT",
           "IdentitySketch", "leverage_scores"]


SKETCHES = {
    "gaussian": GaussianSketch,
    "srht": SRHT,
    "srtt": SRTT,
    "countsketch": CountSketch,
    "sparse_sign": SparseSign,
    "leverage": LeverageScore,
}


def make_sketch(kind: Any, m: Any, n: Any, seed: Any = None, *, A: OperatorLike | None = None, **options: Any) -> Any:
    """Build a sketch by name: ``"gaussian"``, ``"srht"``, ``"srtt"``, ``"countsketch"``, ``"sparse_sign"``
    (options: ``zeta``) or ``"leverage"`` (needs ``A`` or ``scores``). A :class:`Sketch` instance
    is returned unchanged after a shape check.

    Examples
    --------
    >>> import numpy as np
    >>> from krylearn.solvers.sketching.sketches import make_sketch
    >>> A = np.random.default_rng(0).standard_normal((1000, 10))
    >>> S = make_sketch("sparse_sign", 80, 1000, seed=1)
    >>> S.apply(A).shape
    (80, 10)
    """
    if isinstance(kind, Sketch):
        if kind.shape[1] != n:
            raise ValueError(f"the given sketch has {kind.shape[1]} columns, A has {n} rows")
        return kind
    if not isinstance(kind, str) or kind not in SKETCHES:
        raise ValueError(f"unknown sketch {kind!r}; choose one of {sorted(SKETCHES)}")
    cls = SKETCHES[kind]
    if cls is LeverageScore:
        return LeverageScore(m, n, seed, A=A, **options)
    return cls(m, n, seed, **options)

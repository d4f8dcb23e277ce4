"""Leverage-score row sampling (Drineas, Magdon-Ismail, Mahoney, Woodruff, JMLR 2012): rows drawn
with probability ∝ their (approximate) statistical leverage, rescaled to be unbiased."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from ._base import Sketch, _unwrap
from .sparse_sign import SparseSign

if TYPE_CHECKING:  # annotations only
    from typing import Any
    from ...typing import ArrayLike, OperatorLike


def leverage_scores(A: OperatorLike, *, seed: Any = None, exact: bool = False, oversampling: int = 4, jl_dim: Any = None) -> Any:
    """Leverage scores ``ℓ_i = ‖(A R⁻¹)_i‖²`` of the rows of a tall ``A``.

    ``exact=True`` uses a thin QR of ``A`` (dense only). Otherwise (Drineas et al. 2012) ``R``
    comes from a sparse sign sketch of ``4d`` rows and the row norms of ``A R⁻¹`` are estimated
    with a Gaussian JL projection ``A (R⁻¹ G)`` of ``jl_dim`` (default 32) columns: ``O(nnz(A) log n)``."""
    kind, M = _unwrap(A)
    n, d = M.shape
    if exact:
        if kind != "dense":
            raise ValueError("exact leverage scores need a dense A")
        Q = np.linalg.qr(M, mode="reduced")[0]
        return np.einsum("ij,ij->i", Q, Q)
    S = SparseSign(min(n, oversampling * d), n, seed=seed)
    SA = S.apply(M)
    _, s, Vt = np.linalg.svd(SA, full_matrices=False)
    keep = s > s[0] * max(SA.shape) * np.finfo(float).eps
    k = jl_dim or 32
    G = np.random.default_rng(np.random.SeedSequence(S._ss.entropy, spawn_key=(7,))).standard_normal(
        (int(keep.sum()), k)) / np.sqrt(k)
    Z = Vt[keep].T @ (G / s[keep, None])            # d x k:  R⁻¹ G with R = Σ Vᵀ
    if kind == "operator":
        AZ = M.matmat(Z)
    else:
        AZ = M @ Z
    return np.einsum("ij,ij->i", AZ, AZ)


class LeverageScore(Sketch):
    """Leverage-score row sampling: ``m`` rows drawn i.i.d. with probabilities ``p_i ∝ ℓ_i``
    (mixed with 10 % uniform for robustness), each scaled by ``1/√(m p_i)`` so ``E[SᵀS] = I``.

    Parameters
    ----------
    m, n : int
    seed : int, optional
    A : matrix or operator, optional
        The matrix whose leverage scores define the distribution (approximated as in
        :func:`leverage_scores`). Or pass ``scores`` directly.
    scores : array_like, optional
    """

    kind = "leverage"

    def __init__(self, m: int, n: int, seed: int | None = None, *, A: OperatorLike | None = None, scores: ArrayLike | None = None, uniform_mix: float = 0.1) -> None:
        super().__init__(m, n, seed)
        if scores is None:
            if A is None:
                raise ValueError("LeverageScore needs A or scores")
            scores = leverage_scores(A, seed=self._rng(1).integers(2**63))
        scores = np.asarray(scores, dtype=np.float64)
        if scores.shape != (self.shape[1],) or not np.all(np.isfinite(scores)) or np.any(scores < 0):
            raise ValueError("scores must be a finite non-negative vector of length n")
        p = scores / scores.sum() if scores.sum() > 0 else np.full(self.shape[1], 1.0 / self.shape[1])
        p = (1 - uniform_mix) * p + uniform_mix / self.shape[1]
        rng = self._rng(0)
        self.rows = rng.choice(self.shape[1], size=self.shape[0], replace=True, p=p)
        self.weights = 1.0 / np.sqrt(self.shape[0] * p[self.rows])

    def _apply_dense(self, A):
        A = np.asarray(A, dtype=np.float64)
        if A.ndim == 1:
            return self.weights * A[self.rows]
        return self.weights[:, None] * A[self.rows]

    def _apply_sparse(self, A):
        return np.asarray((sp.diags(self.weights) @ A[self.rows]).toarray())

    def _apply_operator(self, A):
        # rows of a matrix-free A: (A^T e_rows)^T through rmatmat
        E = np.zeros((self.shape[1], self.shape[0]))
        E[self.rows, np.arange(self.shape[0])] = 1.0
        return self.weights[:, None] * np.asarray(A.rmatmat(E)).T.conj()

    def _matvec(self, x):
        return self.weights * x[self.rows]

    def _rmatvec(self, y):
        out = np.zeros(self.shape[1], dtype=np.result_type(y.dtype, np.float64))
        np.add.at(out, self.rows, self.weights * y)
        return out

    def todense(self) -> np.ndarray:
        D = np.zeros(self.shape)
        D[np.arange(self.shape[0]), self.rows] = self.weights
        return D

"""The symmetric Lanczos process with full reorthogonalisation: one routine for the package.

Used for spectral estimates (:func:`krylearn.solvers.tuning.sequence.jacobi_spectral_radius`, Young's ω)
and for the Ritz bases of DCDM's training data (:func:`krylearn.learned.data.lanczos_ritz`).
CG and MINRES get their Ritz values from their own recurrences (``estimate_eigenvalues``) and do
not run this.

Reference: C. Lanczos, J. Res. Nat. Bur. Standards 45 (1950); G. H. Golub, C. F. Van Loan,
*Matrix Computations*, 4th ed., §10.1 (the process) and §10.3 (full reorthogonalisation).
"""

from __future__ import annotations

import numpy as np

__all__ = ["lanczos"]


def lanczos(matvec, start, steps, *, iterate=None):
    """``steps`` Lanczos steps for a symmetric operator, each new vector reorthogonalised against all
    previous ones (classical Gram–Schmidt, twice — "twice is enough").

    Parameters
    ----------
    matvec : callable
        ``v ↦ A v`` for a real symmetric ``A``.
    start : ndarray, shape (n,)
        Starting vector (normalised here; must be nonzero).
    steps : int
        Number of steps (at most ``n``).
    iterate : callable, optional
        Wraps the step range, e.g. a progress bar (``tqdm``).

    Returns
    -------
    alpha, beta : ndarray
        The tridiagonal ``T_k`` (diagonal, ``k``; off-diagonal, ``k − 1``): its eigenvalues are the
        Ritz values. ``k < steps`` when an invariant subspace was found (the new vector vanished).
    V : ndarray, shape (k, n)
        The Lanczos vectors as orthonormal rows (Ritz vectors: ``V.T @ S`` for the eigenvectors
        ``S`` of ``T_k``).
    """
    v = np.array(start, dtype=np.float64)
    n = v.shape[0]
    nrm = float(np.linalg.norm(v))
    if not nrm > 0:
        raise ValueError("the Lanczos start vector is zero")
    m = int(min(max(int(steps), 1), n))
    V = np.zeros((m, n))
    alpha = np.zeros(m)
    beta = np.zeros(max(m - 1, 0))
    v /= nrm
    k = m
    for j in (iterate or (lambda r: r))(range(m)):
        V[j] = v
        w = matvec(v)
        alpha[j] = v @ w
        for _ in range(2):
            w -= V[:j + 1].T @ (V[:j + 1] @ w)
        if j == m - 1:
            break
        bnorm = float(np.linalg.norm(w))
        if bnorm < 1e-12 * max(1.0, abs(alpha[j])):  # invariant subspace found
            k = j + 1
            break
        beta[j] = bnorm
        v = w / bnorm
    return alpha[:k], beta[:k - 1], V[:k]

"""Shared ILU(0)/IC(0) factorization with the diagonal shift retry (used by ic0 and ilu)."""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp

from ._triangular import ilu0_factor, symmetry_defect

__all__ = ["factor_with_shift", "symmetry_error"]


def symmetry_error(csr):
    """``max |A − Aᴴ| / max |A|`` (0 for a Hermitian matrix) of a canonical CSR matrix, in
    ``O(nnz log)`` by a numba kernel (no transpose is formed)."""
    worst, amax = symmetry_defect(csr.indptr, csr.indices, csr.data)
    return float(worst) / (float(amax) or 1.0)


def factor_with_shift(system, *, positive, shift, max_tries, what):
    """Factor ``A + α·diag(A)`` by ILU(0) on the pattern of ``A``, starting from ``α = shift``;
    on a breakdown double ``α`` (starting at 1e-3 when it was 0) and retry, as PETSc's ICC does
    with ``MAT_SHIFT_POSITIVE_DEFINITE`` (Manteuffel's shifted incomplete factorization).

    Returns ``(lu, invpiv, alpha, tries, breakdown_rows)``."""
    if not isinstance(shift, numbers.Real) or not np.isfinite(shift) or shift < 0:
        raise ValueError(f"shift must be a finite non-negative number, got {shift!r}")
    if not isinstance(max_tries, numbers.Integral) or max_tries < 1:
        raise ValueError(f"max_shift_tries must be a positive integer, got {max_tries!r}")
    alpha = float(shift)
    rows = []
    absdiag = np.abs(system.diag)
    for tries in range(1, int(max_tries) + 1):
        lu = system.data.copy()
        if alpha > 0:
            lu[system.dptr] += alpha * (absdiag if positive else system.diag)
        bad = ilu0_factor(system.indptr, system.indices, system.data, system.dptr, lu, positive)
        if bad < 0:
            piv = lu[system.dptr]
            return lu, 1.0 / piv, alpha, tries, rows
        rows.append(int(bad))
        alpha = max(2.0 * alpha, 1e-3)
    raise ValueError(f"{what}: the incomplete factorization broke down (bad pivot in row {rows[-1]}) even "
                     f"with the diagonal shifted by {alpha / 2:.3g}·diag(A) after {max_tries} tries; "
                     "is A positive definite?" if positive else "is A singular?")


def lu_matrices(system, lu):
    """The factors as SciPy CSR matrices: ``(L unit lower, U upper)``."""
    n = system.n
    M = sp.csr_matrix((lu, system.indices, system.indptr), shape=(n, n))
    L = sp.tril(M, -1, format="csr") + sp.identity(n, format="csr", dtype=lu.dtype)
    U = sp.triu(M, 0, format="csr")
    return L.tocsr(), U

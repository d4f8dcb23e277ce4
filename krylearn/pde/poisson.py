"""Poisson problems on grids: ``−∇·(c∇u) = f`` as a matrix-free krylearn operator.

Finite-volume 5-point (2D) / 7-point (3D) discretisation on a cell grid with solid-cell masks,
as in the pressure projection of grid fluid solvers (R. Bridson, "Fluid Simulation for Computer
Graphics", 2nd ed., 2015, ch. 5; the systems of DCDM, Kaneda et al., ICML 2023).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..operators.stencil import PoissonStencil

if TYPE_CHECKING:  # annotations only
    import numpy as np

__all__ = ["poisson", "PoissonStencil"]


def poisson(shape: tuple[int, ...], spacing: float | tuple[float, ...] | None = None, bc: str | tuple = "dirichlet",
            mask: np.ndarray | None = None, coefficient: float | np.ndarray | None = None) -> PoissonStencil:
    """The discrete operator ``−∇·(c ∇u)`` (positive sign: CG applies) on a 2D or 3D grid of cells.

    Parameters
    ----------
    shape : tuple of int
        Grid of cells ``(N0, N1)`` or ``(N0, N1, N2)``. Unknowns are numbered in C order (last axis
        fastest), skipping solid cells.
    spacing : float or sequence of float, optional
        Cell size ``h`` (one value, or one per axis). Default ``h_a = 1/(N_a + 1)``: the unit box
        with the Dirichlet ghost cells at ``0`` and ``1`` (so the unmasked Dirichlet operator is
        exactly the textbook matrix ``tridiag(−1, 2, −1)/h²`` in each direction, e.g.
        ``(4u_ij − Σ neighbours)/h²`` in 2D, i.e. ``KroneckerSum(T_0, T_1)``).
    bc : {"dirichlet", "neumann"} or sequence
        Condition on the box faces: one string for all, or one entry per axis, each a string or a
        ``(low, high)`` pair. Dirichlet: ``u = 0`` in the ghost cell one spacing outside the box
        (the face weight enters the diagonal only). Neumann: zero flux (the face is dropped).
    mask : array of bool, optional
        Grid-shaped; True for cells inside the domain (fluid), False for solid cells, which are
        removed from the system; faces between fluid and solid carry no flux. Box faces of fluid
        cells follow ``bc``.
    coefficient : float or array, optional
        Positive coefficient ``c`` (default 1), constant or one value per cell. The coefficient of
        an interior face is the harmonic mean ``2 c_i c_j/(c_i + c_j)`` of its two cells; a Dirichlet
        box face uses its cell's value.

    Returns
    -------
    PoissonStencil
        An ``n x n`` LinearOperator (``n`` = number of cells in the domain), tagged symmetric, and
        positive definite when every connected piece of the domain touches a Dirichlet face
        (otherwise positive semidefinite — e.g. all-Neumann — with ``positive_definite=False``
        and ``singular_components`` counting the constant null vectors). Matrix-free numba
        application (a dedicated fast kernel for the unmasked constant-coefficient case), with
        ``tocsr()`` (the identical matrix), ``diagonal()``, ``to_grid(v)``/``from_grid(u)``, and
        the exact definition exposed in ``face_weights``, ``index``, ``cells``.

    Notes
    -----
    ``(A u)_i = Σ_f w_f (u_i − u_nb)`` over the 4/6 faces of cell ``i`` with ``w_f = c_f/h_a²``,
    ``u_nb = 0`` across Dirichlet box faces and ``w_f = 0`` across Neumann box faces and solid
    faces. With the default spacing the right-hand side is the source ``f`` at the cell centres.
    The operator's :meth:`~PoissonStencil.matvec_dot` computes ``A x`` and ``xᵀAx`` in one pass;
    :func:`krylearn.cg` uses it.

    References
    ----------
    .. [1] R. Bridson, *Fluid Simulation for Computer Graphics*, 2nd ed., CRC Press, 2015, ch. 5.
    .. [2] S. V. Patankar, *Numerical Heat Transfer and Fluid Flow*, Hemisphere, 1980, §4.2
       (harmonic means of face coefficients).

    Examples
    --------
    >>> import numpy as np, krylearn as kl
    >>> A = kl.pde.poisson((64, 64))
    >>> res = kl.cg(A, np.ones(A.shape[0]), rtol=1e-8)
    >>> u = A.to_grid(res.x)            # (64, 64) array
    >>> mask = np.ones((32, 32, 32), bool); mask[10:20, 10:20, 10:20] = False   # a solid box
    >>> B = kl.pde.poisson(mask.shape, mask=mask)
    >>> B.shape[0] == int(mask.sum())
    True
    """
    return PoissonStencil(shape, spacing=spacing, bc=bc, mask=mask, coefficient=coefficient)


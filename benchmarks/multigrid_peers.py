"""Peer solvers for the geometric-multigrid benchmark, and a memory-bandwidth yardstick.

Every peer takes a masked Poisson operator ``A`` made by :func:`krylearn.pde.poisson` (a
:class:`krylearn.operators.PoissonStencil`) and a right-hand side ``b`` over its unknowns (the fluid
cells), solves ``A x = b`` from ``x0 = 0`` until ``‖b − A x‖₂ ≤ rtol·‖b‖₂`` (unpreconditioned 2-norm,
``atol = 0``, the krylearn stopping rule) and returns one dict:

``name``
    What ran.
``convert_s``
    Time to turn ``A`` into the peer's matrix format (``A.tocsr()``, and the PETSc AIJ copy for the
    PETSc peers); part of ``setup_s``, reported apart so the table can show it either way.
``setup_s``, ``solve_s``, ``total_s``
    Wall-clock seconds a user pays: set-up (conversion + preconditioner construction), the solve,
    and their sum.
``iterations``
    Krylov iterations.
``relres``
    The **true** relative residual ``‖b − A x‖₂/‖b‖₂``, recomputed here with ``A.tocsr()`` after
    the solve (not the solver's recurrence).
``converged``
    The solver's own verdict (PETSc: a positive ``KSPConvergedReason``; PyAMG: ``info == 0``;
    krylearn: ``res.converged``). Check ``relres`` as well.

plus peer-specific keys (``levels``, ``grid``, ``reason``, ...).

Peers: :func:`petsc_cg_pcmg` (PETSc CG + geometric PCMG on a DMDA, Galerkin coarse operators),
:func:`petsc_cg_gamg` (CG + PETSc's smoothed-aggregation AMG), :func:`petsc_cg_icc` (CG + ICC(0)),
:func:`pyamg_sa_pcg` (PyAMG smoothed aggregation as CG preconditioner, PyAMG's own CG), and
:func:`krylearn_ic0_pcg` (krylearn CG + IC(0)). :func:`stream_triad_gbs` measures the attainable
memory bandwidth (STREAM triad) to put solve times in perspective. :func:`warm_up` runs every peer
once on a tiny grid (numba compilation, PETSc initialisation) so that timings exclude one-off costs.

PETSc is imported only by the PETSc peers (``petsc4py.init([])`` if nobody initialised it yet, so
the benchmark's command line is not read as PETSc options). The caller pins threads (PETSc and
the PETSc peers are serial; krylearn's kernels follow ``NUMBA_NUM_THREADS``).

References: S. Balay et al., "PETSc/TAO Users Manual", ANL-21/39 (rev. 3.26), chapters KSP, PC (PCMG,
PCGAMG) and DMDA; N. Bell, L. Olson, J. Schroder, "PyAMG: Algebraic Multigrid Solvers in Python",
JOSS 7 (2022); J. D. McCalpin, "Memory bandwidth and machine balance in current high performance
computers", IEEE TCCA Newsletter (1995) for STREAM.
"""

from __future__ import annotations

import itertools
import os
import sys
import time

import numpy as np
import scipy.sparse as sp

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import krylearn as kl  # noqa: E402

__all__ = ["petsc_cg_pcmg", "petsc_cg_gamg", "petsc_cg_icc", "pyamg_sa_pcg", "krylearn_ic0_pcg",
           "stream_triad_gbs", "dmda_levels", "warm_up", "PEERS"]

DEFAULT_MAXITER = 100_000
_prefixes = itertools.count()


# ---- shared helpers ---------------------------------------------------------------------------

def _petsc():
    """petsc4py's PETSc module, initialised without the command line if nobody did it yet."""
    if "petsc4py.PETSc" not in sys.modules:
        import petsc4py

        petsc4py.init([])
    from petsc4py import PETSc

    return PETSc


def _check(A, b):
    if not hasattr(A, "grid_shape") or not hasattr(A, "mask"):
        raise ValueError(f"expected a kl.pde.poisson operator (PoissonStencil), got {A!r}")
    b = np.ascontiguousarray(b, dtype=np.float64)
    if b.shape != (A.shape[0],):
        raise ValueError(f"b has shape {b.shape}, the operator has {A.shape[0]} unknowns")
    return b


def _result(name, csr, b, x, *, convert_s, setup_s, solve_s, iterations, converged, **extra):
    relres = float(np.linalg.norm(b - csr @ x) / np.linalg.norm(b))
    out = {"name": name, "convert_s": convert_s, "setup_s": setup_s, "solve_s": solve_s,
           "total_s": setup_s + solve_s, "iterations": int(iterations), "relres": relres,
           "converged": bool(converged)}
    out.update(extra)
    return out


def _aij(csr):
    """A sequential PETSc AIJ copy of a SciPy CSR matrix (``krylearn.petsc.as_aij``), tagged SPD."""
    from krylearn.petsc import as_aij, set_spd

    mat = as_aij(csr)
    mat.setOption(mat.Option.SYMMETRIC, True)
    set_spd(mat)
    return mat


def _ksp_cg(PETSc, mat, rtol, maxiter, pc_type):
    """KSPCG on ``mat`` with the krylearn stopping rule, under a private options prefix."""
    ksp = PETSc.KSP().create(comm=PETSc.COMM_SELF)
    ksp.setOptionsPrefix(f"mgpeer{next(_prefixes)}_")
    ksp.setType("cg")
    ksp.setOperators(mat)
    ksp.setNormType(PETSc.KSP.NormType.UNPRECONDITIONED)
    ksp.setTolerances(rtol=rtol, atol=0.0, max_it=maxiter)
    ksp.setInitialGuessNonzero(False)
    ksp.getPC().setType(pc_type)
    return ksp


def _from_options(PETSc, ksp, options):
    """``ksp.setFromOptions()`` with ``options`` (dict, keys without the leading dash) set under the
    KSP's private prefix for the call only."""
    db = PETSc.Options()
    prefix = ksp.getOptionsPrefix()
    for k, v in (options or {}).items():
        db.setValue(prefix + k.lstrip("-"), "" if v is None else str(v))
    try:
        ksp.setFromOptions()
    finally:
        for k in (options or {}):
            db.delValue(prefix + k.lstrip("-"))
    # the stopping rule is the benchmark's, whatever the options say
    ksp.setNormType(PETSc.KSP.NormType.UNPRECONDITIONED)
    rtol, _, _, max_it = ksp.getTolerances()
    ksp.setTolerances(rtol=rtol, atol=0.0, max_it=max_it)


def _ksp_solve(ksp, mat, rhs):
    """Set up (timed) and solve (timed); returns (x Vec, setup_s, solve_s, iterations, reason)."""
    t0 = time.perf_counter()
    ksp.setUp()
    ksp.getPC().setUpOnBlocks()
    setup_s = time.perf_counter() - t0
    bv = mat.createVecLeft()
    bv.array_w[...] = rhs
    xv = mat.createVecRight()
    t0 = time.perf_counter()
    ksp.solve(bv, xv)
    solve_s = time.perf_counter() - t0
    return xv, setup_s, solve_s, ksp.getIterationNumber(), int(ksp.getConvergedReason())


def _reason(PETSc, reason):
    names = {v: k for k, v in vars(PETSc.KSP.ConvergedReason).items() if k.isupper()}
    return names.get(reason, str(reason))


# ---- PETSc geometric multigrid on a DMDA ------------------------------------------------------

def dmda_levels(grid_shape, levels=None, *, min_coarse=3, max_pad=None):
    """Vertex-centred DMDA sizes for PCMG on a grid of ``grid_shape`` cells.

    PETSc coarsens a non-periodic vertex-centred DMDA of ``M`` points to ``(M − 1)/2 + 1`` points and
    its Q1 interpolation needs ``(M_fine − 1) = 2 (M_coarse − 1)`` exactly, so ``L`` levels need
    ``M − 1`` divisible by ``2^(L−1)`` on every axis. Grids like 512 or 96 do not satisfy this, so the
    grid is **padded** at the high end of each axis to the smallest such ``M ≥ N`` (e.g. 512 → 513,
    96 → 97) and the padding cells are made solid (decoupled), which leaves the fluid system unchanged.

    Parameters
    ----------
    grid_shape : tuple of int
    levels : int, optional
        Number of levels (finest included). Default: the most levels whose coarsest grid keeps at
        least ``min_coarse`` points per axis while padding no axis by more than ``max_pad`` cells.
    min_coarse : int
    max_pad : int, optional
        Default ``max(2, min(grid_shape) // 16)``.

    Returns
    -------
    levels : int
    padded : tuple of int
        The DMDA size per axis (krylearn axis order).
    """
    shape = tuple(int(n) for n in grid_shape)
    if max_pad is None:
        max_pad = max(2, min(shape) // 16)

    def padded(L):
        f = 2 ** (L - 1)
        return tuple(f * -(-(n - 1) // f) + 1 for n in shape)

    if levels is not None:
        levels = int(levels)
        if levels < 1:
            raise ValueError(f"levels must be at least 1, got {levels}")
        return levels, padded(levels)
    best = 1
    for L in range(2, 20):
        M = padded(L)
        coarse = [(m - 1) // 2 ** (L - 1) + 1 for m in M]
        if min(coarse) < min_coarse:
            break
        if max(m - n for m, n in zip(M, shape)) <= max_pad:
            best = L
    return best, padded(best)


def petsc_cg_pcmg(A, b, rtol=1e-6, *, levels=None, maxiter=DEFAULT_MAXITER, options=None, solid_diagonal=None):
    """PETSc CG preconditioned by geometric multigrid (PCMG) on a DMDA, Galerkin coarse operators.

    The masked operator is embedded in the full (padded, see :func:`dmda_levels`) grid: fluid rows
    are the rows of ``A.tocsr()``, solid (and padding) rows are ``s·I`` with zero right-hand side, so
    the fluid solution is unchanged. The scale ``s`` matters through the Galerkin products: a coarse
    basis function that reaches into a wall pays ``s·Σ P²`` there, so a large ``s`` pins the coarse
    correction to ~0 on walls (as if they were Dirichlet) and e.g. doubles the iterations; the default
    ``s = 10⁻⁶ × mean fluid diagonal`` is in the regime where ``s`` no longer matters (measured on
    128² to 512² and 32³: ``s/d ≤ 10⁻⁵`` all give the same counts; ``s = d`` gives 2-3× more on mazes).
    A vertex-centred DMDA of that size
    (``stencil_width=1``, star stencil) is coarsened ``levels − 1`` times (``DMCoarsenHierarchy``);
    the interpolation between consecutive levels is the DMDA's bilinear/trilinear one
    (``DMCreateInterpolation``, ``DMDA_Q1``), given to PCMG level by level; coarse operators are
    ``Pᵀ A P`` (``-pc_mg_galerkin both``). Everything else is PETSc's default: a V-cycle with two
    Chebyshev steps preconditioned by local symmetric SOR before and after the coarse correction
    (eigenvalue bounds from 10 CG steps with a noisy right-hand side, computed lazily by PETSc's
    first smoother application, i.e. inside ``solve_s``), LU on the coarsest level.

    Note that PETSc's residual norm includes the solid rows (``‖r‖²_full = ‖r_fluid‖² + ‖d·x_solid‖²``),
    so its test is never looser than ``‖r_fluid‖ ≤ rtol‖b‖``.

    Parameters
    ----------
    A : PoissonStencil
    b : ndarray, shape (n,)
    rtol : float
    levels : int, optional
        Multigrid levels (default: :func:`dmda_levels`).
    maxiter : int
    options : dict, optional
        Extra PETSc options without prefix, e.g. ``{"mg_levels_ksp_type": "richardson"}``.
    solid_diagonal : float, optional
        ``s`` above (default ``10⁻⁶ × mean fluid diagonal``).

    Returns
    -------
    dict
        The common keys (module docstring) plus ``levels``, ``grid`` (DMDA size per axis),
        ``level_sizes``, ``reason``.
    """
    PETSc = _petsc()
    b = _check(A, b)
    shape = tuple(A.grid_shape)
    nd = len(shape)
    L, M = dmda_levels(shape, levels)

    t0 = time.perf_counter()
    csr = A.tocsr()
    # fluid unknown -> padded-grid vertex (C order over the padded grid == DMDA natural order with
    # DMDA x = krylearn's last axis, which is also the PETSc order on one rank)
    g = np.ravel_multi_index(np.unravel_index(A.cells, shape), M)
    coo = csr.tocoo()
    N = int(np.prod(M))
    solid = np.ones(N, dtype=bool)
    solid[g] = False
    d = 1e-6 * float(csr.diagonal().mean()) if solid_diagonal is None else float(solid_diagonal)
    sidx = np.flatnonzero(solid)
    full = sp.csr_matrix((np.concatenate([coo.data, np.full(sidx.size, d)]),
                          (np.concatenate([g[coo.row], sidx]), np.concatenate([g[coo.col], sidx]))), shape=(N, N))
    mat = _aij(full)
    convert_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    da = PETSc.DMDA().create(dim=nd, dof=1, sizes=M[::-1], stencil_width=1,
                             stencil_type=PETSc.DMDA.StencilType.STAR,
                             boundary_type=(PETSc.DM.BoundaryType.NONE,) * nd, comm=PETSc.COMM_SELF)
    da.setInterpolationType(PETSc.DMDA.InterpolationType.Q1)
    da.setUp()
    hierarchy = [da] + (list(da.coarsenHierarchy(L - 1)) if L > 1 else [])   # fine ... coarse
    hierarchy = hierarchy[::-1]                                             # PCMG: level 0 coarsest
    ksp = _ksp_cg(PETSc, mat, rtol, maxiter, "mg")
    pc = ksp.getPC()
    pc.setMGLevels(L)
    pc.setMGType(PETSc.PC.MGType.MULTIPLICATIVE)
    pc.setMGCycleType(PETSc.PC.MGCycleType.V)
    interps = []
    for lev in range(1, L):
        P, _ = hierarchy[lev - 1].createInterpolation(hierarchy[lev])
        interps.append(P)
        pc.setMGInterpolation(lev, P)
    _from_options(PETSc, ksp, {"pc_mg_galerkin": "both", **(options or {})})
    build_s = time.perf_counter() - t0
    xv, ksp_setup_s, solve_s, its, reason = _ksp_solve(ksp, mat, _scatter(b, g, N))
    x = xv.array_r[g].copy()
    sizes = [tuple(h.getSizes()[::-1]) for h in hierarchy]
    out = _result(f"PETSc CG + PCMG (DMDA Q1, Galerkin, {L} levels)", csr, b, x, convert_s=convert_s,
                  setup_s=convert_s + build_s + ksp_setup_s, solve_s=solve_s, iterations=its,
                  converged=reason > 0, levels=L, grid=M, level_sizes=sizes, reason=_reason(PETSc, reason),
                  solid_rows=int(sidx.size))
    ksp.destroy()
    mat.destroy()
    return out


def _scatter(b, g, N):
    full = np.zeros(N)
    full[g] = b
    return full


# ---- PETSc algebraic peers ----------------------------------------------------------------------

def _petsc_algebraic(name, pc_type, A, b, rtol, maxiter, options):
    PETSc = _petsc()
    b = _check(A, b)
    t0 = time.perf_counter()
    csr = A.tocsr()
    mat = _aij(csr)
    convert_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ksp = _ksp_cg(PETSc, mat, rtol, maxiter, pc_type)
    _from_options(PETSc, ksp, options)
    build_s = time.perf_counter() - t0
    xv, ksp_setup_s, solve_s, its, reason = _ksp_solve(ksp, mat, b)
    x = xv.array_r.copy()
    extra = {}
    if pc_type == "gamg":
        extra["levels"] = ksp.getPC().getMGLevels()
    out = _result(name, csr, b, x, convert_s=convert_s, setup_s=convert_s + build_s + ksp_setup_s,
                  solve_s=solve_s, iterations=its, converged=reason > 0, reason=_reason(PETSc, reason), **extra)
    ksp.destroy()
    mat.destroy()
    return out


def petsc_cg_gamg(A, b, rtol=1e-6, *, maxiter=DEFAULT_MAXITER, options=None):
    """PETSc CG + PCGAMG (smoothed aggregation, PETSc defaults) on the AIJ copy of ``A.tocsr()``,
    tagged SPD (``MAT_SPD``, so GAMG estimates eigenvalues with CG). Adds ``levels``."""
    return _petsc_algebraic("PETSc CG + GAMG", "gamg", A, b, rtol, maxiter, options)


def petsc_cg_icc(A, b, rtol=1e-6, *, maxiter=DEFAULT_MAXITER, options=None):
    """PETSc CG + PCICC (ICC(0), PETSc defaults: natural ordering, positive-definite shift) on the
    AIJ copy of ``A.tocsr()``."""
    return _petsc_algebraic("PETSc CG + ICC(0)", "icc", A, b, rtol, maxiter, options)


# ---- PyAMG and krylearn -----------------------------------------------------------------------------

def pyamg_sa_pcg(A, b, rtol=1e-6, *, maxiter=DEFAULT_MAXITER, **sa_options):
    """PyAMG as its users run it: ``ml = pyamg.smoothed_aggregation_solver(csr, **sa_options)`` (PyAMG
    defaults: symmetric strength, symmetric Gauss–Seidel smoothing, V-cycle), then
    ``ml.solve(b, tol=rtol, accel="cg")`` — PyAMG's CG with one V-cycle as preconditioner.

    PyAMG's CG (default ``criteria="rr"``) stops when ``‖r_k‖₂ < tol·‖b‖₂`` with ``r_k`` the CG
    residual (recomputed as ``b − A x`` every 8 iterations), i.e. krylearn's rule. Adds ``levels``
    and ``operator_complexity``."""
    import pyamg

    b = _check(A, b)
    t0 = time.perf_counter()
    csr = A.tocsr()
    convert_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ml = pyamg.smoothed_aggregation_solver(csr, **sa_options)
    setup_s = convert_s + time.perf_counter() - t0
    residuals = []
    t0 = time.perf_counter()
    x, info = ml.solve(b, x0=np.zeros_like(b), tol=rtol, accel="cg", maxiter=maxiter, residuals=residuals,
                       return_info=True)
    solve_s = time.perf_counter() - t0
    return _result("PyAMG SA + CG (pyamg.krylov.cg)", csr, b, x, convert_s=convert_s, setup_s=setup_s,
                   solve_s=solve_s, iterations=len(residuals) - 1, converged=info == 0, levels=len(ml.levels),
                   operator_complexity=float(ml.operator_complexity()))


def krylearn_ic0_pcg(A, b, rtol=1e-6, *, maxiter=DEFAULT_MAXITER):
    """krylearn: ``kl.cg(A, b, rtol=rtol, M=kl.precond.ic0(A.tocsr()))`` (matrix-free stencil
    products, numba IC(0) triangular solves)."""
    b = _check(A, b)
    t0 = time.perf_counter()
    csr = A.tocsr()
    convert_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    M = kl.precond.ic0(csr)
    setup_s = convert_s + time.perf_counter() - t0
    t0 = time.perf_counter()
    res = kl.cg(A, b, rtol=rtol, M=M, maxiter=maxiter)
    solve_s = time.perf_counter() - t0
    return _result("krylearn CG + IC(0)", csr, b, res.x, convert_s=convert_s, setup_s=setup_s, solve_s=solve_s,
                   iterations=res.iterations, converged=res.converged, status=res.status.name)


PEERS = {"petsc_cg_pcmg": petsc_cg_pcmg, "petsc_cg_gamg": petsc_cg_gamg, "petsc_cg_icc": petsc_cg_icc,
         "pyamg_sa_pcg": pyamg_sa_pcg, "krylearn_ic0_pcg": krylearn_ic0_pcg}


def warm_up(peers=None):
    """Run each peer once on a 16² maze (numba compilation or cache load, PETSc initialisation), so
    that a benchmark's first timed run pays no one-off cost. Peers whose package is missing are skipped."""
    mask = kl.pde.obstacles.random_domain((16, 16), "thin_walls", seed=0)
    A = kl.pde.poisson((16, 16), mask=mask)
    b = np.ones(A.shape[0])
    done = []
    for name in peers or PEERS:
        try:
            PEERS[name](A, b)
        except ImportError:
            continue
        done.append(name)
    return done


# ---- STREAM triad -------------------------------------------------------------------------------

_triad_kernels = {}


def _triad(parallel):
    """(triad, fill) numba kernels, serial or ``parallel=True`` (prange)."""
    if parallel not in _triad_kernels:
        import numba

        @numba.njit(parallel=parallel)
        def triad(a, b, c, s):
            for i in numba.prange(a.shape[0]):
                a[i] = b[i] + s * c[i]

        @numba.njit(parallel=parallel)
        def fill(a, v):
            for i in numba.prange(a.shape[0]):
                a[i] = v

        _triad_kernels[parallel] = (triad, fill)
    return _triad_kernels[parallel]


def stream_triad_gbs(n=20_000_000, repeats=7):
    """STREAM-triad bandwidth ``a[:] = b + s·c`` with numba, serial and with numba's threads.

    Three float64 arrays of ``n`` entries (default 20M: 3 × 160 MB, far beyond any L3 cache), first
    touched by the kernel that will use them. Each entry moves 4 × 8 bytes (read ``b``, ``c``; write
    ``a`` plus its write-allocate read), so ``GB/s = 32·n / t / 1e9`` with ``t`` the median of
    ``repeats`` timed runs after one warm-up run.

    Returns
    -------
    dict
        ``serial_gbs``, ``parallel_gbs``, ``threads`` (``numba.get_num_threads()``, i.e. the default
        or ``NUMBA_NUM_THREADS``), ``n``, ``bytes_per_entry`` (32), ``serial_s``, ``parallel_s``.
    """
    import numba

    out = {"n": int(n), "bytes_per_entry": 32, "threads": int(numba.get_num_threads())}
    for key, parallel in (("serial", False), ("parallel", True)):
        kernel, fill = _triad(parallel)
        a, b, c = np.empty(n), np.empty(n), np.empty(n)
        for arr, v in ((a, 0.0), (b, 1.0), (c, 2.0)):   # first touch by the threads that use them
            fill(arr, v)
        kernel(a, b, c, 3.0)  # warm-up
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            kernel(a, b, c, 3.0)
            times.append(time.perf_counter() - t0)
        t = float(np.median(times))
        out[f"{key}_s"] = t
        out[f"{key}_gbs"] = 32.0 * n / t / 1e9
        del a, b, c
    return out


if __name__ == "__main__":
    # smoke run: every peer on a 128² held-out domain and a 32³ maze
    print("warm-up:", warm_up())
    for shape, family in (((128, 128), "ellipses_lshapes"), ((128, 128), "thin_walls"),
                          ((32, 32, 32), "ellipses_lshapes"), ((32, 32, 32), "thin_walls")):
        mask = kl.pde.obstacles.random_domain(shape, family, seed=1000)
        A = kl.pde.poisson(shape, mask=mask)
        b = np.ones(A.shape[0])
        print(f"\n{'x'.join(map(str, shape))} {family}: {A.shape[0]} unknowns")
        for name, fn in PEERS.items():
            try:
                r = fn(A, b, 1e-6)
            except ImportError as exc:
                print(f"  {name}: skipped ({exc})")
                continue
            print(f"  {r['name']:<45} its {r['iterations']:>5}  setup {r['setup_s']:.3f}s "
                  f"(convert {r['convert_s']:.3f}s)  solve {r['solve_s']:.3f}s  relres {r['relres']:.2e} "
                  f"converged {r['converged']}")
    s = stream_triad_gbs(n=5_000_000, repeats=3)
    print(f"\nSTREAM triad (n=5M): serial {s['serial_gbs']:.1f} GB/s, "
          f"{s['threads']} threads {s['parallel_gbs']:.1f} GB/s")

"""DCDM training data: Ritz vectors from Lanczos with full reorthogonalisation, cached on disk.

Following Kaneda et al., "A Deep Conjugate Direction Method for Iteratively Solving Linear
Systems", ICML 2023 (§3.4): run Lanczos on the training matrix ``A`` started from ``A·randn``,
keeping the Lanczos vectors and re-orthogonalising each new one against all previous ones (twice,
"twice is enough"); the eigendecomposition of the tridiagonal matrix gives Ritz pairs
``(θ_j, y_j = V s_j)``; tiny Ritz values are dropped. Training right-hand sides are random
combinations ``b = Σ_j c_j y_j / ‖·‖`` with ``c_j ~ N(0, 1)``, the coefficients of the low end of
the spectrum (the lower half of the Ritz values) multiplied by 9, so the smooth modes CG
struggles with dominate.

Here the training set holds several domains (the open box plus random ``spheres_boxes``
obstacle domains from :mod:`krylearn.pde.obstacles`), one Lanczos run each; right-hand sides are
drawn on the fly from the cached Ritz bases, so "20,000 vectors" costs no disk.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import scipy.linalg as sla

__all__ = ["lanczos_ritz", "training_domains", "RitzDataset", "poisson_system", "default_cache_dir",
           "build_dataset"]


def default_cache_dir():
    """``$KRYLEARN_CACHE`` or ``~/.cache/krylearn``."""
    return Path(os.environ.get("KRYLEARN_CACHE", Path.home() / ".cache" / "krylearn"))


def poisson_system(mask, bc="dirichlet"):
    """The grid Poisson operator on ``mask`` from :func:`krylearn.pde.poisson`."""
    mask = np.asarray(mask, dtype=bool)
    from ..pde.poisson import poisson
    return poisson(mask.shape, bc=bc, mask=mask)


def lanczos_ritz(A, m, *, seed=0, progress=True, drop=1e-10, desc="lanczos"):
    """Ritz pairs of a symmetric ``A`` from ``m`` Lanczos steps with full reorthogonalisation.

    Parameters
    ----------
    A : sparse matrix or operator with ``@``
    m : int
        Number of Lanczos steps (≤ n).
    seed : int
        Start vector ``A·randn`` (as in the paper).
    progress : bool
        Show a tqdm progress bar.
    drop : float
        Drop Ritz values below ``drop · θ_max``.

    Returns
    -------
    theta : ndarray, shape (k,)
        Ritz values, ascending.
    Y : ndarray, shape (n, k), float32
        Ritz vectors (orthonormal columns).
    """
    from tqdm.auto import tqdm

    from ..solvers.lanczos import lanczos

    n = A.shape[0]
    rng = np.random.default_rng(seed)
    alpha, beta, V = lanczos(lambda v: A @ v, A @ rng.standard_normal(n), m,
                             iterate=lambda r: tqdm(r, desc=desc, disable=not progress, leave=False))
    theta, S = sla.eigh_tridiagonal(alpha, beta)
    keep = theta > drop * theta.max()
    theta, S = theta[keep], S[:, keep]
    Y = (V.T @ S).astype(np.float32)
    return theta, Y


def training_domains(dim, n, count, *, seed=0, family="spheres_boxes"):
    """``count`` training masks on an ``n^dim`` grid: the open box, then random obstacle domains."""
    from ..pde.obstacles import random_domain
    shape = (n,) * dim
    masks = [np.ones(shape, dtype=bool)]
    for i in range(1, count):
        masks.append(random_domain(shape, family, seed=seed * 1000 + i))
    return masks


class RitzDataset:
    """Ritz bases of several training domains; draws random training right-hand sides.

    Parameters
    ----------
    masks : list of bool ndarray
    ritz : list of (theta, Y)
        Ritz values (ascending) and vectors per domain.
    low_factor, low_fraction : float
        The paper's bias: the coefficients of the lowest ``low_fraction`` of the Ritz vectors are
        multiplied by ``low_factor`` (9 and one half).
    spectral_decay : float
        0 (default): the paper's mix. ``s_max > 0``: each right-hand side is additionally weighted
        by ``(θ_min/θ_j)^(s/2)`` with ``s ~ U(0, s_max)``, i.e. smoothed by ``A^(-s/2)``, so that
        some samples concentrate on the few lowest modes. With hundreds of Ritz vectors the paper's
        mix gives each of those ≈ 0.4 % of ‖b‖², and a 2D 128² network trained on it maps the
        lowest eigenvectors poorly (|cos(f(v), v)| 0.01–0.8 on the open box): the error CG and
        DCDM are left with. Not in the paper; recorded in the recipe when used.
    """

    def __init__(self, masks, ritz, low_factor=9.0, low_fraction=0.5, spectral_decay=0.0):
        if not spectral_decay >= 0.0:
            raise ValueError(f"spectral_decay must be ≥ 0, got {spectral_decay}")
        self.masks = masks
        self.ritz = ritz
        self.low_factor = float(low_factor)
        self.low_fraction = float(low_fraction)
        self.spectral_decay = float(spectral_decay)
        self._solvers = {}          # domain index -> sparse LU solve, made on first use by energy()

    def sample(self, batch, rng):
        """``(index, B)``: domain indices and right-hand sides on the grid, float32, ``‖b‖ = 1``."""
        K = len(self.masks)
        index = rng.integers(0, K, batch)
        grid = self.masks[0].shape
        out = np.zeros((batch,) + grid, dtype=np.float32)
        for i, k in enumerate(index):
            theta, Y = self.ritz[k]
            c = rng.standard_normal(Y.shape[1]).astype(np.float32)
            c[: int(self.low_fraction * Y.shape[1])] *= self.low_factor
            if self.spectral_decay > 0.0:
                # b ~ A^(-s/2)·(paper's b) for s ~ U(0, spectral_decay): from the paper's mix (s = 0)
                # to right-hand sides whose energy sits in the few lowest modes (s = 2), which the
                # paper's mix of hundreds of Ritz vectors leaves at ~0.4 % of ‖b‖² each
                s = rng.uniform(0.0, self.spectral_decay)
                c *= (theta[0] / theta).astype(np.float32) ** (0.5 * s)
            b = Y @ c
            b /= np.linalg.norm(b)
            out[i][self.masks[k]] = b
        return index, out

    def energy(self, index, b):
        """``bᵢᵀ A⁻¹ bᵢ`` for grid right-hand sides ``b`` (as from :meth:`sample`), float64.

        Exact, by a sparse LU factorisation of each domain's matrix made on first use (the
        normaliser of the energy-norm loss, see :func:`krylearn.learned.train.dcdm_energy_loss`)."""
        import scipy.sparse.linalg as spla

        out = np.empty(len(index))
        for i, k in enumerate(index):
            k = int(k)
            if k not in self._solvers:
                self._solvers[k] = spla.factorized(poisson_system(self.masks[k]).tocsr().tocsc())
            v = np.asarray(b[i], dtype=np.float64)[self.masks[k]]
            out[i] = v @ self._solvers[k](v)
        return out


def _key(dim, n, count, m, seed, family):
    s = json.dumps({"dim": dim, "n": n, "count": count, "m": m, "seed": seed, "family": family,
                    "version": 1}, sort_keys=True)
    return hashlib.sha256(s.encode()).hexdigest()[:16]


def build_dataset(dim, n, *, domains=4, lanczos=500, seed=0, family="spheres_boxes", cache_dir=None,
                  progress=True):
    """Training masks and Ritz bases, generated once and cached as ``.npz`` files.

    The cache file name is a hash of the recipe, so a changed recipe regenerates."""
    from tqdm.auto import tqdm

    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir() / "dcdm"
    cache_dir.mkdir(parents=True, exist_ok=True)
    key = _key(dim, n, domains, lanczos, seed, family)
    masks = training_domains(dim, n, domains, seed=seed, family=family)
    ritz = []
    for i, mask in enumerate(tqdm(masks, desc=f"Ritz data {dim}D n={n}", disable=not progress)):
        f = cache_dir / f"ritz_{key}_{i}.npz"
        if f.exists():
            with np.load(f) as z:
                if z["mask"].shape == mask.shape and np.array_equal(z["mask"], mask):
                    ritz.append((z["theta"], z["Y"]))
                    continue
        A = poisson_system(mask).tocsr()
        theta, Y = lanczos_ritz(A, lanczos, seed=seed + i, progress=progress, desc=f"lanczos {i}")
        tmp = cache_dir / f"ritz_{key}_{i}.tmp.npz"
        np.savez(tmp, theta=theta, Y=Y, mask=mask)
        os.replace(tmp, f)
        ritz.append((theta, Y))
    return RitzDataset(masks, ritz)

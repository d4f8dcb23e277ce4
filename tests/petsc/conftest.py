"""Shared fixtures of the PETSc interop tests (each module skips itself without petsc4py)."""

import numpy as np
import pytest


@pytest.fixture(scope="module")
def poisson2d():
    import krylearn as kl

    A = kl.pde.poisson((24, 20))
    return A, A.tocsr()


@pytest.fixture
def rng():
    return np.random.default_rng(1234)

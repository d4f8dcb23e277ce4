"""Fixtures shared by the solver tests (the problem table lives in ``problems.py``)."""

import numpy as np
import pytest

from problems import PROBLEMS, problem  # tests/solvers is on sys.path (pytest rootdir-less "prepend" import mode)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(params=PROBLEMS, ids=lambda p: p.name)
def any_problem(request):
    return request.param


@pytest.fixture
def spd_problem():
    return problem("spd_poisson2d")

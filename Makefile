# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
# Both create and use the virtual environment .venv at the repo root.
PY      := .venv/bin/python
CORE    := .venv/.krylearn-core
PETSC   := .venv/.krylearn-petsc
PYTEST_ARGS ?=

.PHONY: demo test setup petsc bench docs clean

$(CORE): pyproject.toml
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[all]'
	touch $@

# MPI + PETSc + petsc4py (PETSc builds from source: ~20 min the first time, cached by pip after).
$(PETSC): $(CORE) scripts/install_petsc.sh
	bash scripts/install_petsc.sh .venv
	touch $@

setup: $(CORE) $(PETSC)

petsc: $(PETSC)

demo: $(CORE)
	$(PY) -m krylearn demo

test: $(CORE) $(PETSC)
	# one BLAS/OpenMP thread per test worker: oversubscribed BLAS pools are 10-100x slower on 2 cores
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m pytest -q -n 2 --dist loadfile $(PYTEST_ARGS) tests

bench: $(CORE)
	$(PY) benchmarks/run_all.py

docs: $(CORE)
	# Sphinx: API reference from the docstrings (docs/gen_api.py + autosummary), the examples run at
	# small sizes (sphinx-gallery), warnings are errors; the site is built into site/
	$(PY) -m pip install -q -e '.[docs]'
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m sphinx -W --keep-going -j 1 -b html docs site

clean:
	rm -rf .venv build *.egg-info site docs/api docs/auto_examples docs/sg_execution_times.rst docs/_build

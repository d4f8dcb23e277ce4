"""Sphinx configuration of the krylearn docs site (``make docs``: ``sphinx-build -W`` into ``site/``).

Markdown pages (index, guides, architecture, benchmarks) go through myst-parser; the API reference
is written from the namespaces' ``__all__`` by ``docs/gen_api.py`` at every build and filled from
the docstrings by autosummary + numpydoc; ``examples/`` is rendered by sphinx-gallery with small
problem sizes (``docs/_gallery.py``).
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS))  # gen_api and _gallery
sys.path.insert(0, str(ROOT))  # krylearn from this checkout, also without `pip install -e`

# one BLAS / OpenMP thread: the gallery's small runs are faster so on 2 cores, and so are the imports
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("MPLBACKEND", "Agg")
# no tqdm progress bars in the gallery's captured output (GP-HM's fit shows one)
os.environ.setdefault("TQDM_DISABLE", "1")


def _have(module):
    try:
        importlib.import_module(module)
        return True
    except Exception:  # noqa: BLE001 (an installed but broken package counts as missing)
        return False


HAVE_TORCH, HAVE_PETSC = _have("torch"), _have("petsc4py")

import gen_api  # noqa: E402

project = "krylearn"
author = "the krylearn authors"
copyright = "krylearn authors, BSD-3-Clause"
release = version = "0.1.0"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]
# no sphinx.ext.intersphinx: the build runs without network access

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "api/generated/*.examples", "auto_examples/*.ipynb", "auto_examples/*.py",
                    "auto_examples/*.zip", "auto_examples/*.md5", "auto_examples/*.json"]

# --- API reference -------------------------------------------------------------------------------
# optional dependencies that are not installed are mocked, so their namespaces still get pages
autodoc_mock_imports = [m for m, ok in (("torch", HAVE_TORCH), ("petsc4py", HAVE_PETSC), ("mpi4py", _have("mpi4py")))
                        if not ok]
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_typehints = "none"  # the numpydoc Parameters sections say the types
autoclass_content = "class"
# numpydoc renders the sections; docstring *style* is not checked here (warnings are errors)
numpydoc_validation_checks: set[str] = set()
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False


def _write_api():
    from sphinx.ext.autodoc.mock import mock

    with mock(autodoc_mock_imports):
        gen_api.main([str(DOCS / "api")])


# now, before Sphinx lists the source files (autosummary writes its stubs for the pages it finds)
_write_api()


# --- markdown --------------------------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
suppress_warnings = [
    # BENCHMARKS.md (written by benchmarks/assemble.py, included as is) jumps from "##" to "####"
    # headings in places; myst reports each jump. The page renders fine.
    "myst.header",
]

# --- gallery ---------------------------------------------------------------------------------------
# every example runs with small arguments (docs/_gallery.py), except those whose optional
# dependency is missing here: they are shown without output (see examples/README.txt)
_NEEDS = {"petsc_poisson": HAVE_PETSC, "petsc_time_loop": HAVE_PETSC,
          "dcdm_obstacles": HAVE_TORCH, "gphm_poisson": HAVE_TORCH}
_RUN = sorted(p.stem for p in (ROOT / "examples").glob("*.py") if _NEEDS.get(p.stem, True))
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": "/(" + "|".join(map(re.escape, _RUN)) + r")\.py$",
    "reset_argv": "_gallery.reset_argv",
    "image_scrapers": ("matplotlib", "_gallery.png_scraper"),
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": False,
    "only_warn_on_example_error": False,  # a failing example fails the build
    "show_memory": False,
    "default_thumb_file": None,
}

# --- HTML ------------------------------------------------------------------------------------------
try:
    import pydata_sphinx_theme  # noqa: F401

    html_theme = "pydata_sphinx_theme"
    html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}
except ImportError:
    html_theme = "alabaster"
html_title = "krylearn"
html_static_path: list[str] = []
html_show_sourcelink = False

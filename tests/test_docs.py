"""The docs site (Sphinx, ``make docs``): every public name is in the API reference, every page of
the index's toctrees exists, every example can be a gallery page, and the site builds with
warnings as errors."""

import ast
import importlib
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
EXAMPLES = ROOT / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, DOCS / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_api_reference_lists_every_public_name(tmp_path):
    gen = _load("gen_api")
    assert gen.main([str(tmp_path)]) == 0
    index = (tmp_path / "index.rst").read_text()
    for slug, module_name, _ in gen.NAMESPACES:
        assert re.search(rf"^   {re.escape(slug)}$", index, re.M), slug
        text = (tmp_path / f"{slug}.rst").read_text()
        if "Not available in this environment" in text:
            continue  # an optional dependency is missing here (the Sphinx build mocks it)
        mod = importlib.import_module(module_name)
        assert f".. automodule:: {module_name}\n" in text
        for name in mod.__all__:
            # an autosummary entry (its own page, or a link to its page in an earlier namespace) or a module link
            entry = re.search(rf"^   (~[\w.]+\.)?{re.escape(name)}$", text, re.M)
            module = f"``{module_name}.{name}``: " in text
            assert entry or module, (module_name, name)
        for page in re.findall(r":doc:`[^<`]+<([\w.]+)>`", text):
            assert (tmp_path / f"{page}.rst").is_file(), (module_name, page)


def test_api_reference_documents_each_object_once(tmp_path):
    """A class re-exported by several namespaces has one page (two: "duplicate object description")."""
    gen = _load("gen_api")
    gen.main([str(tmp_path)])
    own = {}
    for slug, module_name, _ in gen.NAMESPACES:
        text = (tmp_path / f"{slug}.rst").read_text()
        table = text.split(":toctree: generated\n\n", 1)[1].split("\n\n", 1)[0] if ":toctree:" in text else ""
        mod = importlib.import_module(module_name) if "Not available" not in text else None
        for name in re.findall(r"^   (\w+)$", table, re.M):
            obj = getattr(mod, name)
            if callable(obj):
                key = (id(obj), name)
                assert key not in own, (f"{module_name}.{name}", own.get(key))
                own[key] = f"{module_name}.{name}"
    assert "krylearn.cg" in own.values() and "krylearn.solvers.cg" not in own.values()


def _toctree_entries():
    text = (DOCS / "index.md").read_text()
    blocks = re.findall(r"```\{toctree\}\n(.*?)```", text, re.S)
    assert blocks
    return [line.strip() for b in blocks for line in b.splitlines() if line.strip() and not line.startswith(":")]


def test_toctree_pages_exist():
    entries = _toctree_entries()
    assert {"api/index", "auto_examples/index", "benchmarks", "architecture"} <= set(entries)
    for entry in entries:
        if entry == "api/index":
            continue  # written by docs/gen_api.py (test above)
        if entry == "auto_examples/index":
            assert (EXAMPLES / "README.txt").is_file()  # sphinx-gallery's header of the gallery
            continue
        assert (DOCS / f"{entry}.md").is_file() or (DOCS / f"{entry}.rst").is_file(), entry
    for guide in (DOCS / "guide").glob("*.md"):
        assert f"guide/{guide.stem}" in entries, guide.name
    assert "../BENCHMARKS.md" in (DOCS / "benchmarks.md").read_text()


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.py")), ids=lambda p: p.name)
def test_examples_are_gallery_pages(path):
    """A reST title (sphinx-gallery needs it) and small arguments for the docs build."""
    doc = ast.get_docstring(ast.parse(path.read_text()), clean=False)
    title, underline = doc.split("\n")[:2]
    assert title.strip() and set(underline) == {"="} and len(underline) >= len(title), path.name
    gallery = _load("_gallery")
    assert path.name in gallery.SMALL_ARGS, f"{path.name}: add its small-run arguments to docs/_gallery.py"
    assert "__doc__.splitlines()[0]" not in path.read_text()  # __doc__ is "" in the gallery


def _have_sphinx():
    return all(importlib.util.find_spec(m) for m in ("sphinx", "numpydoc", "sphinx_gallery", "myst_parser"))


@pytest.mark.slow
@pytest.mark.skipif(not _have_sphinx(), reason="the docs extra is not installed (pip install -e '.[docs]')")
def test_site_builds_with_warnings_as_errors(tmp_path):
    """The command of `make docs` (into a temporary folder): any Sphinx warning fails it."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               KRYLEARN_DOCS_OUT=str(tmp_path / "gallery_out"))
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-j", "1", "-q", "-b", "html",
           "-d", str(tmp_path / "doctrees"), str(DOCS), str(tmp_path / "html")]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-10000:]
    html = tmp_path / "html"
    for page in ("index.html", "api/index.html", "auto_examples/index.html", "benchmarks.html",
                 "api/generated/krylearn.cg.html"):
        assert (html / page).is_file(), page
    assert "<table" in (html / "benchmarks.html").read_text()
    assert list((html / "_images").glob("sphx_glr_*.png")), "the gallery has no figures"

"""sphinx-gallery hooks of the docs site: small problem sizes for the examples, and their PNGs.

``docs/conf.py`` names these by their qualified names (``"_gallery.reset_argv"``, ...), so the
Sphinx configuration stays picklable (a function in ``conf.py`` is not, and ``-W`` turns Sphinx's
warning about it into an error).

* :func:`reset_argv` gives every executed example the command-line arguments of a small run (the
  examples' own argparse options, so the code shown is the code run) and an output folder outside
  the repository, emptied first.
* :func:`png_scraper` puts the PNG files an example wrote into that folder on its gallery page: the
  examples save their figures with ``fig.savefig`` and close them (they are scripts first), so
  sphinx-gallery's matplotlib scraper, which takes the figures still open, finds none.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

#: example file -> arguments of the small run the gallery executes (``{out}``: the example's output folder)
SMALL_ARGS = {
    "learning_to_relax_shifted.py": ["--T", "200", "--seeds", "1", "--out", "{out}"],
    "learning_to_relax_heat.py": ["--nx", "25", "--steps", "60", "--dt", "0.0166667", "--out", "{out}"],
    "smoke.py": ["--n", "48", "--steps", "20", "--out", "{out}"],
    "dcdm_obstacles.py": ["--n", "64", "--out", "{out}/dcdm_obstacles.png"],
    "gphm_poisson.py": ["--grid", "100", "--out", "{out}"],
    "petsc_poisson.py": ["--shape", "32", "32"],
    "petsc_time_loop.py": ["--shape", "32", "32", "--steps", "20", "--compare"],
}

_ROOT = Path(os.environ.get("KRYLEARN_DOCS_OUT", Path(tempfile.gettempdir()) / "krylearn-docs-gallery"))
_shown: dict[str, set[str]] = {}


def out_dir(src_file) -> Path:
    """The output folder of one example (outside the repository)."""
    return _ROOT / Path(src_file).stem


def small_args(src_file) -> list[str]:
    """The arguments of the example's small run (empty for an example not listed)."""
    out = str(out_dir(src_file))
    return [a.replace("{out}", out) for a in SMALL_ARGS.get(Path(src_file).name, [])]


def reset_argv(gallery_conf, script_vars):
    """sphinx-gallery ``reset_argv``: ``sys.argv[1:]`` for the example about to run."""
    src = script_vars["src_file"]
    out = out_dir(src)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    _shown[str(out)] = set()
    return small_args(src)


def png_scraper(block, block_vars, gallery_conf):
    """sphinx-gallery image scraper: the PNGs that appeared in the example's output folder."""
    from sphinx_gallery.scrapers import figure_rst

    out = out_dir(block_vars["src_file"])
    shown = _shown.setdefault(str(out), set())
    new = sorted(p for p in out.rglob("*.png") if str(p) not in shown)
    paths = []
    for png in new:
        shown.add(str(png))
        dest = Path(next(block_vars["image_path_iterator"]))
        shutil.copyfile(png, dest)
        paths.append(dest)
    return figure_rst(paths, gallery_conf["src_dir"])

"""Write the API reference of the docs site (``docs/api/*.md``) from krylearn's docstrings.

Run: ``.venv/bin/python docs/gen_api.py [OUTDIR]`` (default ``docs/api``); ``make docs`` runs it and
then ``mkdocs build``. One page per public namespace; every public name gets its signature and its
full docstring (NumPy style, kept as written). Namespaces whose optional dependency is missing
(torch for ``krylearn.learned``, petsc4py for ``krylearn.petsc``) get a page that says how to
install it.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from pathlib import Path

#: (page, module, title); the names documented are the module's ``__all__``
NAMESPACES = [
    ("krylearn", "krylearn", "Top level: solvers, results, operators"),
    ("operators", "krylearn.operators", "Operators (`kl.operators`)"),
    ("precond", "krylearn.solvers.precond", "Preconditioners (`kl.precond`)"),
    ("solvers", "krylearn.solvers", "Solver classes, tuners and helpers (`kl.solvers`)"),
    ("pde", "krylearn.pde", "PDE discretisations and obstacle domains (`kl.pde`)"),
    ("threads", "krylearn.threads", "Threading policy (`kl.threads`)"),
    ("learned", "krylearn.learned", "Learned solvers (`kl.learned`, needs torch)"),
    ("petsc", "krylearn.petsc", "PETSc interop (`kl.petsc`, needs petsc4py)"),
]


def _signature(obj):
    try:
        return str(inspect.signature(obj))
    except (TypeError, ValueError):
        return ""


def _entry(name, obj):
    kind = "class" if inspect.isclass(obj) else ("function" if callable(obj) else "object")
    doc = inspect.getdoc(obj) or ""
    if kind == "object" and not inspect.ismodule(obj):
        doc = f"{type(obj).__name__}: {obj!r}"[:400]
    head = f"## `{name}`\n\n"
    sig = f"```python\n{name}{_signature(obj)}\n```\n\n" if kind != "object" else ""
    body = f"```text\n{doc}\n```\n" if doc else "*(no docstring)*\n"
    return head + f"*{kind}*\n\n" + sig + body


def page(module_name, title):
    """The markdown of one namespace's page; raises ImportError when an optional dependency is missing."""
    mod = importlib.import_module(module_name)
    names = list(getattr(mod, "__all__", []))
    lines = [f"# {title}\n", f"`import {module_name}`" + (" — " + inspect.getdoc(mod).splitlines()[0]
                                                          if inspect.getdoc(mod) else "") + "\n"]
    for name in names:
        obj = getattr(mod, name)
        if inspect.ismodule(obj):
            lines.append(f"## `{name}`\n\n*module* — see its page.\n")
            continue
        lines.append(_entry(name, obj))
    return "\n".join(lines), names


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0]) if argv else Path(__file__).resolve().parent / "api"
    out.mkdir(parents=True, exist_ok=True)
    index = ["# API reference\n", "Generated from the docstrings by `docs/gen_api.py`.\n"]
    for slug, module_name, title in NAMESPACES:
        try:
            text, names = page(module_name, title)
        except ImportError as exc:
            text, names = f"# {title}\n\nNot available in this environment: {exc}\n", []
        (out / f"{slug}.md").write_text(text)
        index.append(f"- [{title}]({slug}.md) — {len(names)} names")
    (out / "index.md").write_text("\n".join(index) + "\n")
    print(f"wrote {len(NAMESPACES) + 1} pages to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

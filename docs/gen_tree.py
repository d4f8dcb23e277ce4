"""Print the module tree of docs/architecture.md (one line per module: its docstring's first sentence).

Run: ``python docs/gen_tree.py`` and paste the output into the ```text block of docs/architecture.md."""
import re
import ast, sys
from pathlib import Path
root = Path(__file__).resolve().parents[1] / "krylearn"
def summary(p):
    doc = ast.get_docstring(ast.parse(p.read_text())) or ""
    para = " ".join(doc.strip().split("\n\n")[0].split())
    m = re.search(r"\.\s+(?=[A-Z])", para)
    line = (para[: m.start()] if m else para).rstrip(".")
    if len(line) > 100:
        line = line[:100].rsplit(" ", 1)[0] + " …"
    return line
def walk(d, prefix=""):
    entries = sorted([p for p in d.iterdir() if (p.is_dir() and (p / "__init__.py").exists()) or (p.suffix == ".py")],
                     key=lambda p: (p.is_dir(), p.name != "__init__.py", p.name))
    out = []
    for i, p in enumerate(entries):
        last = i == len(entries) - 1
        branch = "└── " if last else "├── "
        if p.is_dir():
            out.append(f"{prefix}{branch}{p.name}/  — {summary(p / '__init__.py')}")
            out += walk(p, prefix + ("    " if last else "│   "))
        elif p.name != "__init__.py":
            out.append(f"{prefix}{branch}{p.name}  — {summary(p)}")
    return out
print("krylearn/  — " + summary(root / "__init__.py"))
print("\n".join(walk(root)))

"""The package's import layering (docs/architecture.md), read from the source: every import
statement in ``krylearn/`` — function-level ones included, ``if TYPE_CHECKING:`` blocks excluded
(they never run) — must point to the same or a lower layer, and the import graph has no cycle.
Higher layers and optional back-ends are reached through name tables resolved at call time
(``krylearn._lazy.load``: the torch and PETSc operator back-ends, the learned AutoSolver candidate)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "krylearn"

#: lowest first: a module may import from its own layer and the ones below (a module belongs to the
#: layer of its longest matching prefix). Inside ``solvers/`` the subpackages are layers too: the
#: shared pieces, then Krylov methods, preconditioners (which use Krylov smoothers), stationary
#: solvers (standalone multigrid uses the preconditioner's hierarchy), then tuning and sketching,
#: then the ``kl.solve`` dispatcher and the package namespace.
LAYERS = [
    ("krylearn.threads", "krylearn._optional", "krylearn._lazy", "krylearn.typing"),
    ("krylearn.operators",),
    ("krylearn.solvers.result", "krylearn.solvers._common", "krylearn.solvers._columns",
     "krylearn.solvers._kernels", "krylearn.solvers._skeleton", "krylearn.solvers._sweeps",
     "krylearn.solvers.lanczos"),
    ("krylearn.solvers.krylov",),
    ("krylearn.solvers.precond",),
    ("krylearn.solvers.stationary",),
    ("krylearn.solvers.tuning", "krylearn.solvers.sketching"),
    ("krylearn.solvers", "krylearn.solvers.solve"),
    ("krylearn.pde",),
    ("krylearn.learned",),
    ("krylearn.petsc",),
    ("krylearn", "krylearn.demo", "krylearn.__main__"),
]

#: the internal API that higher packages may use (issue 12: the one Krylov skeleton)
INTERNAL_API = {"krylearn.solvers._skeleton"}

#: private modules of another top-level package imported today (a known debt: the list may only shrink)
PRIVATE_CROSSINGS = {
    ("krylearn.petsc.solve", "krylearn.solvers._common"),
    ("krylearn.petsc.solve", "krylearn.solvers._columns"),
}


def layer(module):
    best, best_len = None, -1
    for level, prefixes in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or (p != "krylearn" and module.startswith(p + "."))) and len(p) > best_len:
                best, best_len = level, len(p)
    return len(LAYERS) - 1 if best is None else best


def modules():
    out = {}
    for path in PKG.rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        out[name[: -len(".__init__")] if name.endswith(".__init__") else name] = path
    return out


class _Imports(ast.NodeVisitor):
    def __init__(self):
        self.found = []

    def visit_If(self, node):
        test = node.test
        if (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
                (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"):
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Import(self, node):
        self.found += [(0, a.name, None) for a in node.names]

    def visit_ImportFrom(self, node):
        self.found += [(node.level, node.module or "", a.name) for a in node.names]


def graph():
    mods = modules()
    edges = {}
    for name, path in mods.items():
        is_pkg = path.name == "__init__.py"
        v = _Imports()
        v.visit(ast.parse(path.read_text()))
        targets = set()
        for level, module, attr in v.found:
            if level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[: len(base) - (level - 1)]
                module = ".".join(base + ([module] if module else []))
            if not module.startswith("krylearn"):
                continue
            sub = f"{module}.{attr}" if attr else None
            targets.add(sub if sub in mods else module)
        edges[name] = {t for t in targets if t in mods and t != name}
    return edges


def _cycles(edges):
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in edges:
        if v not in index:
            visit(v)
    return found


@pytest.fixture(scope="module")
def edges():
    return graph()


def test_the_graph_is_read(edges):
    assert len(edges) > 80
    assert "krylearn.solvers._common" in edges["krylearn.solvers.krylov.cg"]      # module level
    assert "krylearn.solvers.precond.multigrid" in edges["krylearn.solvers.solve"]  # function level


def test_no_import_cycles(edges):
    assert _cycles(edges) == []


def test_no_upward_imports(edges):
    up = [(m, t) for m, ts in edges.items() for t in ts if layer(t) > layer(m)]
    assert up == [], f"imports from a higher layer: {up}"


def test_private_modules_of_other_packages_only_the_known_debt(edges):
    def top(m):
        return ".".join(m.split(".")[:2])

    crossings = {(m, t) for m, ts in edges.items() for t in ts
                 if top(m) != top(t) and t not in INTERNAL_API
                 and any(p.startswith("_") for p in t.split(".")[2:])}
    assert crossings <= PRIVATE_CROSSINGS, f"new imports of another package's private module: " \
                                           f"{sorted(crossings - PRIVATE_CROSSINGS)}"


def test_the_checker_sees_a_cycle_and_an_upward_import():
    fake = {"krylearn.operators.a": {"krylearn.solvers.b"}, "krylearn.solvers.b": {"krylearn.operators.a"}}
    assert _cycles(fake) == [["krylearn.operators.a", "krylearn.solvers.b"]]
    assert layer("krylearn.solvers.b") > layer("krylearn.operators.a")
    assert layer("krylearn") == len(LAYERS) - 1 and layer("krylearn.threads") == 0
    # inside solvers/: the Krylov methods sit below the preconditioners, the dispatcher on top
    assert layer("krylearn.solvers._common") < layer("krylearn.solvers.krylov.cg") \
        < layer("krylearn.solvers.precond.ic0") < layer("krylearn.solvers.stationary.sor") \
        < layer("krylearn.solvers.tuning.auto") < layer("krylearn.solvers.solve") < layer("krylearn.pde.poisson")


def test_the_architecture_page_names_every_module():
    """docs/architecture.md's module tree stays complete (regenerate it when a module is added)."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    tree = text[text.index("```text"):]
    tree = tree[: tree.index("```", 3)]
    missing = [str(p.relative_to(PKG)) for p in PKG.rglob("*.py")
               if p.name != "__init__.py" and f"── {p.name}  — " not in tree]
    packages = [str(p.parent.relative_to(PKG)) for p in PKG.rglob("__init__.py")
                if p.parent != PKG and f"── {p.parent.name}/  — " not in tree]
    assert not missing and not packages, f"add to docs/architecture.md: {missing + packages}"

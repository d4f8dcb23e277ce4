"""Lazy attribute loading for package namespaces (keeps ``import krylearn`` light).

Several public names are functions living in a module of the same name (``krylearn.solvers.krylov.cg``
holds ``cg``). Python binds a package attribute to a submodule when that submodule is first
imported, which would shadow the function; :func:`install` therefore gives the package a module
class that refuses to bind such submodules over a lazily exported function. (Consequence: write
``from krylearn.solvers.krylov.cg import cg``, not ``import krylearn.solvers.krylov.cg as m``.)
"""

import importlib
import sys
import types


def load(spec):
    """The object named by ``"package.module:attr"``, imported now.

    For plug-in tables: a lower layer refers to an implementation in a higher (or optional) one
    by name and resolves it only when it is used, so it imports nothing of that layer (operator
    back-ends for torch and PETSc, the learned AutoSolver candidate)."""
    module, _, attr = spec.partition(":")
    obj = importlib.import_module(module)
    return getattr(obj, attr) if attr else obj


def exports(package, modules):
    """A lazy table ``{name: (module, name)}`` from ``{submodule: "name name ..."}`` (submodules of
    ``package``), so that a namespace lists each of its modules once with the names it exports."""
    return {name: (f"{package}.{module}", name) for module, names in modules.items() for name in names.split()}


def same_named(package, names):
    """A lazy table for functions that live in a module of their own name (``krylov.cg.cg``)."""
    return exports(package, {name: name for name in names.split()})


def lazy_getattr(package, table):
    """Return a module ``__getattr__`` resolving ``name -> (module, attr)`` on first access.

    ``attr`` None means the module itself is the attribute."""

    def __getattr__(name):
        try:
            module, attr = table[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        mod = importlib.import_module(module)
        if attr is None:
            return mod
        value = getattr(mod, attr)
        object.__setattr__(sys.modules[package], name, value)  # cache: later lookups are direct
        return value

    return __getattr__


def install(package, table):
    """Make ``package`` resolve ``table``'s names lazily and keep functions from being shadowed."""
    functions = {name for name, (_, attr) in table.items() if attr is not None}
    module = sys.modules[package]

    class _LazyPackage(types.ModuleType):
        def __setattr__(self, name, value):
            if name in functions and isinstance(value, types.ModuleType):
                return  # the import system binding a same-named submodule: keep the function
            super().__setattr__(name, value)

    # a same-named submodule imported before this call (e.g. to read its table) is unbound again
    for name in functions:
        if isinstance(module.__dict__.get(name), types.ModuleType):
            del module.__dict__[name]
    module.__class__ = _LazyPackage
    module.__getattr__ = lazy_getattr(package, table)


class _MovedModule:
    """Import-system finder and loader for module paths that moved (deprecated aliases).

    ``import old.path`` imports ``new.path``, warns with a :class:`DeprecationWarning` naming the new
    path, and binds the same module object under both names (one module, never two copies)."""

    def __init__(self, moved):
        self.moved = dict(moved)

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in self.moved:
            return None
        import importlib.machinery

        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec):
        import warnings

        new = self.moved[spec.name]
        warnings.warn(f"module {spec.name} moved to {new}; import it from there "
                      f"(the old path will be removed)", DeprecationWarning, stacklevel=2)
        return importlib.import_module(new)

    def exec_module(self, module):
        # the module object is the new module, already executed; keep its own name and spec
        pass


def move_modules(moved):
    """Keep the old import paths in ``moved`` (``{old: new}``) working, with a DeprecationWarning."""
    for finder in sys.meta_path:
        if isinstance(finder, _MovedModule):
            finder.moved.update(moved)
            return
    sys.meta_path.append(_MovedModule(moved))

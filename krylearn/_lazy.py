"""Lazy attribute loading for package namespaces (keeps ``import krylearn`` light).

Several public names are functions living in a module of the same name (``krylearn.solvers.cg``
holds ``cg``). Python binds a package attribute to a submodule when that submodule is first
imported, which would shadow the function; :func:`install` therefore gives the package a module
class that refuses to bind such submodules over a lazily exported function. (Consequence: write
``from krylearn.solvers.cg import cg``, not ``import krylearn.solvers.cg as m``.)
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

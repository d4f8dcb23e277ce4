"""Lazy attribute loading for package namespaces (keeps ``import krylearn`` light)."""

import importlib


def lazy_getattr(package, table):
    """Return a module ``__getattr__`` resolving ``name -> (module, attr)`` on first access.

    ``attr`` None means the module itself is the attribute."""

    def __getattr__(name):
        try:
            module, attr = table[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        mod = importlib.import_module(module)
        return mod if attr is None else getattr(mod, attr)

    return __getattr__

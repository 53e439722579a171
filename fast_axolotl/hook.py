"""The import hook: finds a target module's real spec and wraps its loader.

The finder itself lives in ``fast_axolotl._autoload`` (standard library only, imported at
interpreter start). This module is imported the first time an Axolotl target module is
imported. The real module executes unchanged; the patcher runs after it, and the real
loader is put back on the module so that nothing downstream (``inspect``, resources,
``importlib.reload``) sees ours.
"""

from __future__ import annotations

import importlib.abc
import sys
import threading
from types import ModuleType
from typing import Any

from fast_axolotl import _autoload, patcher, registry

# Make the finder a registered importlib.abc.MetaPathFinder (done here, not at start-up,
# because importing importlib.abc costs tens of milliseconds).
importlib.abc.MetaPathFinder.register(_autoload.AxolotlFinder)

_resolving = threading.local()


def find_spec(finder: Any, fullname: str, path: Any, target: Any) -> Any:
    """Ask the finders after ``finder`` for the real spec (never importlib.util.find_spec,
    which would re-enter the import system) and wrap its loader; for a served module with
    no real spec, the spec of the served module."""
    busy = getattr(_resolving, "names", None)
    if busy is not None and fullname in busy:
        return None  # a finder below us re-entered the import system for this name
    spec = _real_spec(finder, fullname, path, target)
    if fullname in registry.SERVED:
        return spec if spec is not None else _served_spec(fullname)
    if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
        return spec
    if not isinstance(spec.loader, PatchingLoader):
        spec.loader = PatchingLoader(spec.loader)
    return spec


def _real_spec(finder: Any, fullname: str, path: Any, target: Any) -> Any:
    busy = getattr(_resolving, "names", None)
    if busy is None:
        busy = _resolving.names = set()
    if fullname in busy:  # a finder below us re-entered the import system for this name
        return None
    busy.add(fullname)
    try:
        spec = None
        for other in _finders_after(finder):
            find = getattr(other, "find_spec", None)
            if find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None:
                break
    finally:
        busy.discard(fullname)
    return spec


def _served_spec(fullname: str) -> Any:
    """The spec of a served module, only under its real, already imported parent package
    (the import system imports parents first); never a module of our own invention."""
    parent = sys.modules.get(fullname.rpartition(".")[0])
    if parent is None or not hasattr(parent, "__path__"):
        return None
    parent_spec = getattr(parent, "__spec__", None)
    if parent_spec is None or isinstance(parent_spec.loader, ServedLoader):
        return None
    import importlib.machinery

    return importlib.machinery.ModuleSpec(fullname, ServedLoader(registry.SERVED[fullname]))


class ServedLoader(importlib.abc.Loader):
    """Fills a served module with the ``__served__`` names of its fast_axolotl module."""

    def __init__(self, implementation: str) -> None:
        self.implementation = implementation

    def create_module(self, spec: Any) -> ModuleType | None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        import importlib

        impl = importlib.import_module(self.implementation)
        names = tuple(impl.__served__)
        for name in names:
            setattr(module, name, getattr(impl, name))
        module.__all__ = list(names)
        module.__doc__ = (
            f"Served by fast-axolotl (from {self.implementation}): fast-axolotl 0.2.0's "
            "streaming reader API, under the name 0.2.0 scripts import."
        )

    def __repr__(self) -> str:
        return f"<fast_axolotl.ServedLoader of {self.implementation}>"


def _finders_after(finder: Any) -> list[Any]:
    meta_path = list(sys.meta_path)
    try:
        start = meta_path.index(finder) + 1
    except ValueError:
        start = 0
    return [f for f in meta_path[start:] if not isinstance(f, _autoload.AxolotlFinder)]


class PatchingLoader(importlib.abc.Loader):
    """Runs the real loader, then the patcher; delegates everything else to the real one."""

    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def create_module(self, spec: Any) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)  # the real import; its errors are the user's
        # Put the real loader back, so the module looks exactly as if we never existed.
        module.__loader__ = self._loader
        spec = getattr(module, "__spec__", None)
        if spec is not None and spec.loader is self:
            spec.loader = self._loader
        patcher.module_loaded(module)  # never raises

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)

    def __repr__(self) -> str:
        return f"<fast_axolotl.PatchingLoader wrapping {self._loader!r}>"

"""Applies registry entries to loaded Axolotl modules and undoes them.

Module-level functions are replaced by name in their defining module; methods are
replaced on the class object, so subclasses, aliases and ``isinstance`` keep working.
Copies of the original made by ``from X import f`` in other loaded ``axolotl`` modules are
rebound by identity. Every outcome is recorded for ``status()``. Nothing here raises out
of an import: an unexpected error is logged once and leaves the original in place.
"""

from __future__ import annotations

import importlib
import logging
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from fast_axolotl import _fpcache, guards, registry
from fast_axolotl import config as config_mod
from fast_axolotl.registry import Entry

LOG = logging.getLogger("fast_axolotl")

PATCHED = "patched"
DISABLED = "disabled by config"
SKIPPED = "skipped"
NOT_IMPORTED = "module not imported yet"
ERROR = "error"
OFF = "not installed"

MARKER = "__fast_axolotl_target__"


@dataclass
class Record:
    entry: Entry
    state: str
    reason: str = ""
    owner: Any = None
    original: Any = None
    replacement: Any = None


_lock = threading.RLock()
_records: dict[str, Record] = {}
_config: config_mod.Config | None = None
_active = True  # False after uninstall(): module loads no longer patch
_logged: set[str] = set()


def log_once(key: str, msg: str, *args: Any, level: int = logging.WARNING) -> None:
    if key not in _logged:
        _logged.add(key)
        LOG.log(level, msg, *args)


def get_config() -> config_mod.Config:
    global _config
    if _config is None:
        _config = config_mod.load()
    return _config


def reset_config() -> None:
    global _config
    with _lock:
        _config = None


def module_loaded(module: ModuleType) -> None:
    """Called by the loader after a target module executed. Never raises."""
    try:
        with _lock:
            if not _active:
                return
            with _Batch():
                for entry in registry.entries_for(module.__name__):
                    _apply(entry, module)
    except Exception as exc:  # pragma: no cover - defensive, logged for the user
        log_once(
            f"module:{getattr(module, '__name__', '?')}",
            "fast-axolotl could not patch %s (originals kept): %r",
            getattr(module, "__name__", module),
            exc,
        )


def _owner_and_attr(entry: Entry, module: ModuleType) -> tuple[Any, str]:
    *path, attr = entry.qualname.split(".")
    owner: Any = module
    for part in path:
        owner = getattr(owner, part)
    return owner, attr


def _is_replacement(obj: Any) -> bool:
    return getattr(obj, MARKER, None) is not None


_roots: tuple[Any, frozenset[str]] = ((), frozenset())


def _target_package_modules() -> list[ModuleType]:
    """Loaded modules of the packages the registry patches (``axolotl`` and its submodules)."""
    global _roots
    entries, roots = _roots
    if entries is not registry.ENTRIES:  # computed once per registry (tests swap it)
        roots = frozenset(e.module.partition(".")[0] for e in registry.ENTRIES)
        _roots = (registry.ENTRIES, roots)
    return [
        m
        for name, m in list(sys.modules.items())
        if name.partition(".")[0] in roots and isinstance(m, ModuleType)
    ]


# Rebinds requested while a batch is open: id(old) -> (old, new, module to skip). The
# whole batch is applied in ONE pass over the loaded modules when the outermost batch
# closes (one pass per entry cost tens of milliseconds with Axolotl fully imported).
_pending: dict[int, tuple[Any, Any, Any]] | None = None


def _rebind(old: Any, new: Any, skip: Any = None) -> None:
    """Points every global of a loaded axolotl module that *is* ``old`` at ``new``."""
    if _pending is None:
        _rebind_all({id(old): (old, new, skip)})
        return
    known = _pending.get(id(old))
    if known is None or known[0] is not old:
        _pending[id(old)] = (old, new, skip)
    elif known[2] is not skip:
        # rebinding the same object again without the skip also covers the skipped module
        _pending[id(old)] = (old, known[1], None)


def _rebind_all(pairs: dict[int, tuple[Any, Any, Any]]) -> None:
    if not pairs:
        return
    for mod in _target_package_modules():
        namespace = mod.__dict__
        hits = [
            (key, pair[1])
            for key, value in namespace.items()
            if (pair := pairs.get(id(value))) is not None
            and pair[0] is value
            and pair[2] is not mod
        ]
        for key, new in hits:
            namespace[key] = new


def _pending_rebind_of(current: Any, owner: Any) -> bool:
    """True if an open batch will rebind ``current`` in ``owner`` (a copy of a symbol
    patched earlier in the batch): unbatched, the rebind would already have happened."""
    if _pending is None or not isinstance(owner, ModuleType):
        return False
    pair = _pending.get(id(current))
    return pair is not None and pair[0] is current and pair[2] is not owner


class _Batch:
    """Collects rebinds; the outermost batch applies them in one pass on exit."""

    def __enter__(self) -> None:
        global _pending
        self.outer = _pending is None
        if self.outer:
            _pending = {}
            _fpcache.hold()

    def __exit__(self, *exc: object) -> None:
        global _pending
        if self.outer:
            pairs, _pending = _pending, None
            try:
                _rebind_all(pairs or {})
            finally:
                _fpcache.release()


# The replacement built for each (target, original): install() after uninstall() puts the
# same object back, so identities callers took earlier stay valid.
_built: dict[str, tuple[Any, str | None, Callable[..., Any]]] = {}


def _build(entry: Entry, original: Any, variant: str | None) -> Callable[..., Any]:
    cached = _built.get(entry.target)
    if cached is not None and cached[0] is original and cached[1] == variant:
        return cached[2]
    replacement = _make(entry, original, variant)
    _built[entry.target] = (original, variant, replacement)
    return replacement


def _make(entry: Entry, original: Any, variant: str | None) -> Callable[..., Any]:
    module_name, _, factory_name = entry.replacement.partition(":")
    factory = getattr(importlib.import_module(module_name), factory_name)
    replacement = factory(original, variant)
    setattr(replacement, MARKER, entry.target)
    return replacement


def _apply(entry: Entry, module: ModuleType) -> None:
    previous = _records.get(entry.target)
    try:
        owner, attr = _owner_and_attr(entry, module)
    except AttributeError as exc:
        _records[entry.target] = Record(entry, SKIPPED, f"not found in Axolotl: {exc}")
        return
    current = owner.__dict__.get(attr)
    if current is None:
        _records[entry.target] = Record(entry, SKIPPED, f"{entry.qualname} not found in Axolotl")
        return
    if _is_replacement(current) or _pending_rebind_of(current, owner):
        return  # already ours (install() after the hook, or a repeated call)
    cfg = get_config()
    if not cfg.allows(entry.target, entry.group):
        _records[entry.target] = Record(
            entry, DISABLED, cfg.why_disabled(entry.target, entry.group), owner, current
        )
        return
    try:
        variant = guards.check(entry, current)
    except guards.GuardMismatch as exc:
        _records[entry.target] = Record(entry, SKIPPED, str(exc), owner, current)
        return
    try:
        replacement = _build(entry, current, variant)
    except Exception as exc:
        log_once(
            f"build:{entry.target}",
            "fast-axolotl: cannot build replacement for %s: %r",
            entry.target,
            exc,
        )
        _records[entry.target] = Record(
            entry, ERROR, f"replacement unavailable: {exc!r}", owner, current
        )
        return
    setattr(owner, attr, replacement)
    if isinstance(owner, ModuleType):
        _rebind(current, replacement, skip=owner)
        # After importlib.reload, importers still hold the previous generation's objects.
        if previous is not None and previous.state == PATCHED:
            _rebind(previous.replacement, replacement)
            _rebind(previous.original, replacement)
    reason = f"variant {variant}" if variant else ""
    _records[entry.target] = Record(entry, PATCHED, reason, owner, current, replacement)


def patch_loaded_modules() -> None:
    """Patches every target module already in sys.modules (used by install())."""
    with _lock, _Batch():
        for module_name in dict.fromkeys(e.module for e in registry.ENTRIES):
            module = sys.modules.get(module_name)
            if module is not None:
                module_loaded(module)


def set_active(active: bool) -> None:
    global _active
    with _lock:
        _active = active


def restore_all() -> None:
    """Puts back every original this process replaced, importers' copies included."""
    with _lock, _Batch():
        for target, rec in list(_records.items()):
            if rec.state != PATCHED:
                continue
            attr = rec.entry.qualname.rsplit(".", 1)[-1]
            if rec.owner.__dict__.get(attr) is rec.replacement:
                setattr(rec.owner, attr, rec.original)
            if isinstance(rec.owner, ModuleType):
                _rebind(rec.replacement, rec.original)
            _records[target] = Record(rec.entry, OFF, "uninstall() restored the original")


def records() -> dict[str, Record]:
    with _lock:
        return dict(_records)


def forget() -> None:
    """Drops every record and the cached configuration (tests, and install() after a
    configuration change). Does not touch patched objects: call restore_all() first."""
    global _config, _active
    with _lock:
        _records.clear()
        _config = None
        _active = True
        _logged.clear()

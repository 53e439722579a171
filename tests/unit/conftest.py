"""A fake target package and registry, so the hook is tested without Axolotl."""

from __future__ import annotations

import itertools
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

import fast_axolotl
from fast_axolotl import _autoload, guards, patcher, registry
from fast_axolotl.registry import Entry

_counter = itertools.count()

KERNELS = """
def scale(values, factor=2):
    '''Multiplies every value.'''
    return [v * factor for v in values]


class Collator:
    def __call__(self, batch):
        return ["orig", *batch]


class SubCollator(Collator):
    pass
"""

USER = """
from {pkg}.kernels import scale
from {pkg} import kernels as kernels_alias

def use(values):
    return scale(values)
"""

PATCHES = """
from fast_axolotl.patches._common import Defer, replacement

CALLS = []

def scale(original, variant):
    def fast(values, factor=2):
        if any(isinstance(v, str) for v in values):
            raise Defer
        if any(v is None or v == 13 for v in values):
            raise RuntimeError("bug in the fast path")
        CALLS.append(("scale", variant))
        return [v * factor for v in values]
    return replacement(original, fast)

def collate(original, variant):
    def fast(self, batch):
        CALLS.append(("collate", variant))
        return ["fast", *batch]
    return replacement(original, fast)

def broken(original, variant):
    raise RuntimeError("cannot build")
"""


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A uniquely named package `fakeaxo_N` with a function, an importer and a class,
    a patch module for it, and a registry that targets them."""
    n = next(_counter)
    pkg = f"fakeaxo_{n}"
    patches = f"fakepatches_{n}"
    root = tmp_path / "site"
    (root / pkg).mkdir(parents=True)
    (root / pkg / "__init__.py").write_text("")
    (root / pkg / "kernels.py").write_text(textwrap.dedent(KERNELS))
    (root / pkg / "user.py").write_text(USER.format(pkg=pkg))
    (root / f"{patches}.py").write_text(PATCHES)
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FAST_AXOLOTL_CONFIG", raising=False)
    monkeypatch.delenv("FAST_AXOLOTL_DISABLE", raising=False)
    monkeypatch.delenv("FAST_AXOLOTL_VERIFY", raising=False)
    (tmp_path / ".git").mkdir()  # the walk-up for pyproject.toml stops here

    sys.path_importer_cache.clear()
    import importlib

    importlib.invalidate_caches()
    from fast_axolotl.guards import fingerprint  # noqa: F401

    def entries(**overrides):
        scale = dict(
            target=f"{pkg}.kernels:scale",
            replacement=f"{patches}:scale",
            group="scaling",
            signature="(values, factor=2)",
        )
        collate = dict(
            target=f"{pkg}.kernels:Collator.__call__",
            replacement=f"{patches}:collate",
            group="collators",
            signature="(self, batch)",
        )
        scale.update(overrides.get("scale", {}))
        collate.update(overrides.get("collate", {}))
        return (Entry(**scale), Entry(**collate))

    def use(*new_entries: Entry) -> None:
        monkeypatch.setattr(registry, "ENTRIES", tuple(new_entries))
        monkeypatch.setattr(registry, "MODULES", frozenset(e.module for e in new_entries))
        monkeypatch.setattr(registry, "HOOKED", registry.MODULES | frozenset(registry.SERVED))

    saved_meta_path = list(sys.meta_path)
    was_active = _autoload.finder_installed()
    fast_axolotl.uninstall()
    patcher.forget()
    use(*entries())
    yield SimpleNamespace(
        pkg=pkg,
        patches=patches,
        root=root,
        entries=entries,
        use=use,
        guards=guards,
        calls=lambda: importlib.import_module(patches).CALLS,
    )
    fast_axolotl.uninstall()
    patcher.forget()
    sys.meta_path[:] = [f for f in saved_meta_path if not isinstance(f, _autoload.AxolotlFinder)]
    for name in list(sys.modules):
        if name.startswith((pkg, patches)):
            del sys.modules[name]
    # Leave the process as we found it: the real registry, and (when fast-axolotl was
    # active, as in the real-Axolotl test environment) every real target patched again.
    monkeypatch.undo()
    if was_active:
        fast_axolotl.install()

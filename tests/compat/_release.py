"""What the installed Axolotl release is, as the patcher saw it.

The differential and activation tests run against whichever release is installed
(``nox -s matrix -- 0.12.0``); what they expect comes from that release's real functions
and from the behaviour variant the guard recognised, never from a hard-coded version.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
from typing import Any

import pytest

from fast_axolotl import patcher, registry

try:
    AXOLOTL_VERSION: str | None = importlib.metadata.version("axolotl")
except importlib.metadata.PackageNotFoundError:  # `nox -s unit`: these tests are skipped
    AXOLOTL_VERSION = None


def module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def variant(target: str) -> str | None:
    """The variant the patcher reproduces for ``target`` (importing its module first), or
    None when the entry is not patched in this release."""
    importlib.import_module(target.partition(":")[0])
    rec = patcher.records().get(target)
    if rec is None or rec.state != patcher.PATCHED:
        return None
    return rec.reason.removeprefix("variant ") or None


def patched(target: str) -> Any:
    """The patched object behind ``target``; skips the calling test when this release has
    no such symbol (the registry entry belongs to other releases), and fails when the
    release has it but the guard refused it."""
    module_name, _, qualname = target.partition(":")
    if not module_exists(module_name):
        pytest.skip(f"{module_name} is not in axolotl {AXOLOTL_VERSION}")
    obj: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        if not hasattr(obj, part):
            pytest.skip(f"{target} is not in axolotl {AXOLOTL_VERSION}")
        obj = getattr(obj, part)
    rec = patcher.records().get(target)
    assert rec is not None and rec.state == patcher.PATCHED, (
        f"{target} is in axolotl {AXOLOTL_VERSION} but not patched: "
        f"{rec.state + ': ' + rec.reason if rec else 'no record'}"
    )
    return obj


def entry(target: str) -> registry.Entry:
    return next(e for e in registry.ENTRIES if e.target == target)

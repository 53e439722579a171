"""The data behind ``status()`` and ``fast-axolotl status``."""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

from fast_axolotl import _autoload, config, patcher, registry


def axolotl_version() -> str | None:
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # pragma: no cover
        return None
    try:
        return version("axolotl")
    except PackageNotFoundError:
        return None


def native_version() -> str | None:
    try:
        from fast_axolotl import _native
    except ImportError:
        return None
    return str(_native.__version__)


def _not_in_release(module: str) -> bool:
    """Whether ``module`` does not exist in the installed Axolotl: answered only when its
    package is already imported, so that asking imports nothing."""
    parent = module.rpartition(".")[0]
    if parent not in sys.modules:
        return False
    try:
        return importlib.util.find_spec(module) is None
    except (ImportError, ValueError):
        return False


def entries() -> list[dict[str, Any]]:
    records = patcher.records()
    hooked = _autoload.finder_installed()
    out = []
    for entry in registry.ENTRIES:
        rec = records.get(entry.target)
        if rec is not None:
            state, reason = rec.state, rec.reason
        elif config.disabled_by_env():
            state, reason = patcher.OFF, "FAST_AXOLOTL_DISABLE is set"
        elif not hooked:
            state, reason = patcher.OFF, "import hook not active (call fast_axolotl.install())"
        elif entry.module not in sys.modules and _not_in_release(entry.module):
            release = axolotl_version()
            state = patcher.SKIPPED
            reason = f"{entry.module} is not in axolotl {release}" if release else "no axolotl"
        elif entry.module not in sys.modules:
            state, reason = patcher.NOT_IMPORTED, ""
        else:
            state, reason = patcher.OFF, "module was imported before fast-axolotl was active"
        out.append({"target": entry.target, "group": entry.group, "state": state, "reason": reason})
    return out


def summary() -> dict[str, Any]:
    cfg = patcher.get_config() if not config.disabled_by_env() else None
    from fast_axolotl import __version__

    return {
        "fast_axolotl": __version__,
        "native": native_version(),
        "axolotl": axolotl_version(),
        "disabled_by_env": config.disabled_by_env(),
        "verify_mode": config.verify_mode(),
        "hook_active": _autoload.finder_installed(),
        "config_file": str(cfg.source) if cfg is not None and cfg.source else None,
        "config_problems": list(cfg.problems) if cfg is not None else [],
        "entries": entries(),
    }

"""User configuration: the environment switches and the ``[tool.fast-axolotl]`` table.

Read lazily, on the first patch, never at interpreter start. A broken or unknown
setting produces one warning that lists the valid names, and changes nothing else.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fast_axolotl import registry

TABLE = "fast-axolotl"
_TRUE = {"1", "true", "yes", "on"}


class ConfigWarning(UserWarning):
    """A [tool.fast-axolotl] setting was ignored."""


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


def disabled_by_env() -> bool:
    return env_flag("FAST_AXOLOTL_DISABLE")


def verify_mode() -> bool:
    return env_flag("FAST_AXOLOTL_VERIFY")


@dataclass
class Config:
    enable: frozenset[str] | None = None  # None: everything
    disable: frozenset[str] = frozenset()
    source: Path | None = None
    problems: list[str] = field(default_factory=list)

    def allows(self, target: str, group: str) -> bool:
        names = {target, group, target.partition(":")[2]}
        if self.enable is not None and not (names & self.enable):
            return False
        return not (names & self.disable)

    def why_disabled(self, target: str, group: str) -> str:
        names = {target, group, target.partition(":")[2]}
        if self.enable is not None and not (names & self.enable):
            return f"not in enable list ({self.source})"
        return f"in disable list ({self.source})"


def valid_names() -> list[str]:
    entries = registry.ENTRIES
    groups = dict.fromkeys(e.group for e in entries)
    return [*groups, *(e.target for e in entries), *(e.qualname for e in entries)]


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    with path.open("rb") as f:
        return tomllib.load(f)


def find_config_file(start: Path | None = None) -> Path | None:
    """The nearest pyproject.toml with a [tool.fast-axolotl] table, walking up from
    ``start`` (the working directory) and stopping at the repository root."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            try:
                if TABLE in _read_toml(candidate).get("tool", {}):
                    return candidate
            except Exception:
                pass  # an unrelated broken pyproject.toml is not ours to judge
        if (directory / ".git").exists():
            break
    return None


def _names(value: Any, key: str, source: Path, problems: list[str]) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(f"{source}: `{key}` must be a list of strings, got {value!r}; ignored")
        return frozenset()
    known = set(valid_names())
    unknown = [v for v in value if v not in known]
    if unknown:
        problems.append(
            f"{source}: unknown name(s) in `{key}`: {', '.join(unknown)}; "
            f"valid names are: {', '.join(valid_names())}"
        )
    return frozenset(v for v in value if v in known)


def load(start: Path | None = None) -> Config:
    """Reads the configuration; never raises. Problems are warned about once."""
    explicit = os.environ.get("FAST_AXOLOTL_CONFIG")
    if explicit:
        return load_file(Path(explicit), bare_table=True)
    path = find_config_file(start)
    return Config() if path is None else load_file(path)


def load_file(path: Path, bare_table: bool = False) -> Config:
    """Reads one file; ``bare_table`` accepts enable/disable at the top level too."""
    problems: list[str] = []
    try:
        data = _read_toml(path)
    except Exception as exc:
        problems.append(f"cannot read {path}: {exc}; using defaults")
        _warn(problems)
        return Config(source=path, problems=problems)
    table = data.get("tool", {}).get(TABLE)
    if table is None:
        table = data if bare_table else {}
    if not isinstance(table, dict):
        problems.append(f"{path}: [tool.{TABLE}] must be a table; using defaults")
        _warn(problems)
        return Config(source=path, problems=problems)
    for key in sorted(set(table) - {"enable", "disable"}):
        problems.append(f"{path}: unknown key `{key}` (valid keys: enable, disable); ignored")
    enable = None
    if "enable" in table:
        enable = _names(table["enable"], "enable", path, problems)
    disable = _names(table.get("disable", []), "disable", path, problems)
    _warn(problems)
    return Config(enable=enable, disable=disable, source=path, problems=problems)


def _warn(problems: list[str]) -> None:
    for p in problems:
        warnings.warn(f"fast-axolotl configuration: {p}", ConfigWarning, stacklevel=3)

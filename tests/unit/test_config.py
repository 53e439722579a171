"""[tool.fast-axolotl] lookup, allow/deny lists and the warnings for bad settings."""

from __future__ import annotations

import importlib
import warnings

import pytest

import fast_axolotl
from fast_axolotl import config, patcher


def _write(path, body):
    path.write_text(body)
    return path


def _states(fake):
    importlib.import_module(f"{fake.pkg}.kernels")
    return {e["group"]: e["state"] for e in fast_axolotl.status()}


def test_no_table_means_everything_enabled(fake, tmp_path):
    _write(tmp_path / "pyproject.toml", "[project]\nname = 'x'\n")
    fast_axolotl.install()
    assert _states(fake) == {"scaling": patcher.PATCHED, "collators": patcher.PATCHED}


def test_disable_a_group(fake, tmp_path):
    _write(tmp_path / "pyproject.toml", "[tool.fast-axolotl]\ndisable = ['collators']\n")
    fast_axolotl.install()
    assert _states(fake) == {"scaling": patcher.PATCHED, "collators": patcher.DISABLED}


def test_enable_is_an_allowlist_of_groups_or_targets(fake, tmp_path):
    target = f"{fake.pkg}.kernels:Collator.__call__"
    _write(tmp_path / "pyproject.toml", f"[tool.fast-axolotl]\nenable = ['{target}']\n")
    fast_axolotl.install()
    assert _states(fake) == {"scaling": patcher.DISABLED, "collators": patcher.PATCHED}


def test_table_is_found_walking_up_and_the_walk_stops_at_the_repository_root(
    fake, tmp_path, monkeypatch
):
    _write(tmp_path / "pyproject.toml", "[tool.fast-axolotl]\ndisable = ['scaling']\n")
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    _write(tmp_path / "a" / "pyproject.toml", "[project]\nname='no-table'\n")
    assert config.find_config_file(sub) == tmp_path / "pyproject.toml"
    # A .git below the table hides it: it belongs to another repository.
    (tmp_path / "a" / ".git").mkdir()
    assert config.find_config_file(sub) is None


def test_fast_axolotl_config_names_the_file(fake, tmp_path, monkeypatch):
    cfg = _write(tmp_path / "elsewhere.toml", "disable = ['scaling']\n")
    monkeypatch.setenv("FAST_AXOLOTL_CONFIG", str(cfg))
    fast_axolotl.install()
    assert _states(fake)["scaling"] == patcher.DISABLED


def test_unknown_names_warn_once_listing_valid_names_and_change_nothing_else(fake, tmp_path):
    _write(
        tmp_path / "pyproject.toml",
        "[tool.fast-axolotl]\ndisable = ['scaling', 'typo']\ncolour = 1\n",
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fast_axolotl.install()
        states = _states(fake)
    messages = [str(w.message) for w in caught if issubclass(w.category, config.ConfigWarning)]
    assert len([m for m in messages if "typo" in m]) == 1
    assert any("valid names are: scaling, collators" in m for m in messages)
    assert any("unknown key `colour`" in m for m in messages)
    assert states == {"scaling": patcher.DISABLED, "collators": patcher.PATCHED}


def test_unreadable_file_warns_and_keeps_defaults(fake, tmp_path):
    _write(tmp_path / "pyproject.toml", "[tool.fast-axolotl\nenable = [")
    # A broken pyproject.toml is skipped by the walk-up; a broken explicit file warns.
    assert config.find_config_file(tmp_path) is None
    with pytest.warns(config.ConfigWarning, match="cannot read"):
        cfg = config.load_file(tmp_path / "pyproject.toml")
    assert cfg.enable is None and not cfg.disable


def test_wrong_types_warn(fake, tmp_path):
    _write(tmp_path / "pyproject.toml", "[tool.fast-axolotl]\nenable = 'scaling'\n")
    with pytest.warns(config.ConfigWarning, match="must be a list of strings"):
        cfg = config.load(tmp_path)
    assert cfg.enable == frozenset()

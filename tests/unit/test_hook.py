"""The import hook, patcher and guards against a fake package (no Axolotl needed)."""

from __future__ import annotations

import importlib
import importlib.abc
import sys
import threading

import pytest

import fast_axolotl
from fast_axolotl import _autoload, patcher


def _import(fake, name):
    return importlib.import_module(f"{fake.pkg}.{name}")


def test_finder_is_a_registered_meta_path_finder_that_ignores_other_modules(fake):
    fast_axolotl.install()
    finder = sys.meta_path[0]
    assert isinstance(finder, _autoload.AxolotlFinder)
    assert isinstance(finder, importlib.abc.MetaPathFinder)
    assert finder.find_spec("json") is None
    assert finder.find_spec(f"{fake.pkg}.user") is None


def test_function_is_replaced_at_import_and_importers_see_the_replacement(fake):
    fast_axolotl.install()
    kernels = _import(fake, "kernels")
    user = _import(fake, "user")
    assert kernels.scale.__wrapped__ is not None
    assert user.scale is kernels.scale
    assert user.use([1, 2]) == [2, 4]
    assert ("scale", None) in fake.calls()
    # The replacement looks like the original.
    assert kernels.scale.__name__ == "scale"
    assert kernels.scale.__doc__ == "Multiplies every value."
    assert kernels.scale.__module__ == f"{fake.pkg}.kernels"


def test_real_loader_is_restored_on_the_module(fake):
    fast_axolotl.install()
    kernels = _import(fake, "kernels")
    assert "PatchingLoader" not in type(kernels.__loader__).__name__
    assert kernels.__spec__.loader is kernels.__loader__


def test_install_after_import_patches_and_rebinds_earlier_copies(fake):
    user = _import(fake, "user")  # imported before fast-axolotl is active
    original = user.scale
    assert not hasattr(original, "__wrapped__")
    fast_axolotl.install()
    kernels = _import(fake, "kernels")
    assert kernels.scale.__wrapped__ is original
    assert user.scale is kernels.scale, "a `from x import f` copy must be rebound"


def test_uninstall_restores_every_original_including_rebinds(fake):
    user = _import(fake, "user")
    kernels = _import(fake, "kernels")
    original_scale = kernels.scale
    original_call = kernels.Collator.__dict__["__call__"]
    fast_axolotl.install()
    assert kernels.scale is not original_scale
    fast_axolotl.uninstall()
    assert kernels.scale is original_scale
    assert user.scale is original_scale
    assert kernels.Collator.__dict__["__call__"] is original_call
    assert not _autoload.finder_installed()
    states = {e["target"]: e["state"] for e in fast_axolotl.status()}
    assert set(states.values()) == {patcher.OFF}


def test_method_is_patched_on_the_class_so_subclasses_and_instances_see_it(fake):
    fast_axolotl.install()
    kernels = _import(fake, "kernels")
    assert kernels.SubCollator()([1]) == ["fast", 1]
    assert isinstance(kernels.SubCollator(), kernels.Collator)
    assert kernels.Collator.__call__.__wrapped__.__qualname__ == "Collator.__call__"


def test_signature_mismatch_skips_with_reason_and_keeps_original(fake):
    fake.use(*fake.entries(scale={"signature": "(values, factor=3)"}))
    fast_axolotl.install()
    kernels = _import(fake, "kernels")
    assert not hasattr(kernels.scale, "__wrapped__")
    entry = next(e for e in fast_axolotl.status() if e["target"].endswith(":scale"))
    assert entry["state"] == patcher.SKIPPED
    assert "signature changed" in entry["reason"] and "factor=3" in entry["reason"]


def test_fingerprint_selects_the_variant_and_unknown_code_is_skipped(fake):
    kernels = _import(fake, "kernels")
    fp = fake.guards.fingerprint(kernels.scale)
    fake.use(*fake.entries(scale={"fingerprints": {fp: "v1"}}))
    fast_axolotl.install()
    assert kernels.scale([3]) == [6]
    assert ("scale", "v1") in fake.calls()
    fast_axolotl.uninstall()
    patcher.forget()
    fake.use(*fake.entries(scale={"fingerprints": {"0" * 16: "v1"}}))
    fast_axolotl.install()
    assert not hasattr(kernels.scale, "__wrapped__")
    entry = next(e for e in fast_axolotl.status() if e["target"].endswith(":scale"))
    assert entry["state"] == patcher.SKIPPED and "code changed" in entry["reason"]


def test_fingerprint_ignores_comments_whitespace_and_docstring_but_not_code(tmp_path):
    from fast_axolotl.guards import fingerprint

    def load(src, name):
        path = tmp_path / f"{name}.py"
        path.write_text(src)
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod.f

    a = load("def f(x):\n    '''doc'''\n    return x + 1\n", "fp_a")
    b = load("def f(x):\n    '''other doc'''\n    # comment\n\n    return x  +  1\n", "fp_b")
    c = load("def f(x):\n    '''doc'''\n    return x + 2\n", "fp_c")
    assert fingerprint(a) == fingerprint(b)
    assert fingerprint(a) != fingerprint(c)


def test_deferred_and_failing_fast_paths_return_the_originals_result(fake, caplog):
    fast_axolotl.install()
    kernels = _import(fake, "kernels")
    assert kernels.scale(["a"]) == ["aa"]  # Defer -> original
    with caplog.at_level("WARNING", logger="fast_axolotl"):
        with pytest.raises(TypeError):  # the original's own error on None * 2
            kernels.scale([None])
    # The original raised too: its error is the answer, and no fault of ours is claimed.
    assert "bug in the fast path" not in caplog.text
    with caplog.at_level("WARNING", logger="fast_axolotl"):
        assert kernels.scale([13]) == [26]  # the original succeeds: the fault was ours
    assert "bug in the fast path" in caplog.text


def test_broken_replacement_factory_keeps_original_and_never_breaks_the_import(fake):
    fake.use(*fake.entries(scale={"replacement": f"{fake.patches}:broken"}))
    fast_axolotl.install()
    kernels = _import(fake, "kernels")
    assert kernels.scale([1]) == [2]
    assert not hasattr(kernels.scale, "__wrapped__")
    entry = next(e for e in fast_axolotl.status() if e["target"].endswith(":scale"))
    assert entry["state"] == patcher.ERROR and "cannot build" in entry["reason"]


def test_missing_replacement_module_is_an_error_state_not_an_import_error(fake):
    fake.use(*fake.entries(scale={"replacement": "no_such_module_xyz:scale"}))
    fast_axolotl.install()
    assert _import(fake, "kernels").scale([1]) == [2]


def test_error_inside_the_target_module_propagates_unchanged(fake):
    (fake.root / fake.pkg / "kernels.py").write_text("raise ValueError('boom at import')\n")
    importlib.invalidate_caches()
    fast_axolotl.install()
    with pytest.raises(ValueError, match="boom at import"):
        _import(fake, "kernels")


def test_reload_repatches_the_new_original(fake):
    fast_axolotl.install()
    kernels = _import(fake, "kernels")
    user = _import(fake, "user")
    first = kernels.scale
    importlib.reload(kernels)
    assert kernels.scale is not first
    assert hasattr(kernels.scale, "__wrapped__")
    assert kernels.scale.__wrapped__ is not first.__wrapped__
    assert user.scale is kernels.scale, "importers follow the reload"


def test_status_reports_not_imported_then_patched(fake):
    fast_axolotl.install()
    states = {e["target"]: e["state"] for e in fast_axolotl.status()}
    assert set(states.values()) == {patcher.NOT_IMPORTED}
    _import(fake, "kernels")
    states = {e["target"]: e["state"] for e in fast_axolotl.status()}
    assert set(states.values()) == {patcher.PATCHED}


def test_disable_env_makes_install_a_no_op(fake, monkeypatch):
    monkeypatch.setenv("FAST_AXOLOTL_DISABLE", "1")
    assert fast_axolotl.install() is False
    assert not hasattr(_import(fake, "kernels").scale, "__wrapped__")


def test_concurrent_imports_patch_exactly_once(fake):
    fast_axolotl.install()
    results, errors = [], []

    def worker():
        try:
            results.append(_import(fake, "user").scale)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len({id(f) for f in results}) == 1
    assert hasattr(results[0], "__wrapped__")


def test_verify_mode_returns_the_originals_result_and_logs_differences(fake, monkeypatch, caplog):
    monkeypatch.setenv("FAST_AXOLOTL_VERIFY", "1")
    fast_axolotl.install()
    kernels = _import(fake, "kernels")
    assert kernels.scale([1, 2]) == [2, 4]
    assert ("scale", None) in fake.calls()
    assert "VERIFY" not in caplog.text
    with caplog.at_level("ERROR", logger="fast_axolotl"):
        assert kernels.Collator()([1]) == ["orig", 1]
    assert "VERIFY" in caplog.text and "differs" in caplog.text

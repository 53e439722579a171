"""The served module ``axolotl.utils.data.rust_streaming`` in real interpreters: present
under the real Axolotl, absent with FAST_AXOLOTL_DISABLE=1, never invented under a package
that is not Axolotl's, and never shadowing a real module of that name."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from test_activation import run_python

pytestmark = pytest.mark.axolotl

PROBE = textwrap.dedent(
    """
    import json, sys
    try:
        from axolotl.utils.data import rust_streaming as m
        from axolotl.utils.data.rust_streaming import streaming_dataset_reader
        rows = [b for b in streaming_dataset_reader(sys.argv[1], batch_size=2)]
        out = {
            "served": True,
            "names": sorted(m.__all__),
            "rows": rows,
            "is_fast_axolotl": streaming_dataset_reader.__module__,
            "in_parent": getattr(sys.modules["axolotl.utils.data"], "rust_streaming", None) is m,
        }
    except ImportError as e:  # `from pkg import missing_submodule` raises ImportError
        out = {"served": False, "error": str(e)}
    print("RESULT " + json.dumps(out))
    """
)


def _data(tmp_path: Path) -> str:
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}\n{"a": 3}\n')
    return str(path)


def test_rust_streaming_is_served_under_the_real_axolotl_and_reads(tmp_path):
    r = run_python(PROBE.replace("sys.argv[1]", repr(_data(tmp_path))), tmp_path)
    assert r["served"], r
    assert r["rows"] == [{"a": [1, 2]}, {"a": [3]}]
    assert r["is_fast_axolotl"] == "fast_axolotl.streaming"
    assert r["in_parent"]
    assert {
        "streaming_dataset_reader",
        "RustStreamingDataset",
        "create_rust_streaming_dataset",
        "should_use_rust_streaming",
    } <= set(r["names"])


def test_disable_env_removes_rust_streaming(tmp_path):
    code = PROBE.replace("sys.argv[1]", repr(_data(tmp_path)))
    r = run_python(code, tmp_path, env={"FAST_AXOLOTL_DISABLE": "1"})
    assert not r["served"]
    assert "rust_streaming" in r["error"]


def test_rust_streaming_is_not_invented_under_a_package_that_is_not_axolotls(tmp_path):
    # A stand-in `axolotl` package without `utils.data`: nothing may appear under it.
    fake = tmp_path / "fake" / "axolotl"
    (fake / "utils").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "utils" / "__init__.py").write_text("")
    code = textwrap.dedent(
        f"""
        import json, sys
        sys.path.insert(0, {str(tmp_path / "fake")!r})
        try:
            import axolotl.utils.data.rust_streaming
            out = {{"served": True}}
        except ModuleNotFoundError as e:
            created = sorted(m for m in sys.modules if m.startswith("axolotl.utils.data"))
            out = {{"served": False, "error": str(e), "created": created}}
        print("RESULT " + json.dumps(out))
        """
    )
    r = run_python(code, tmp_path)
    assert not r["served"] and r["created"] == [], r


def test_a_real_rust_streaming_module_wins_over_the_served_one(tmp_path):
    # If Axolotl ever ships the module itself, the hook must step aside.
    pkg = tmp_path / "fake" / "axolotl" / "utils" / "data"
    pkg.mkdir(parents=True)
    for d in (pkg.parent.parent, pkg.parent, pkg):
        (d / "__init__.py").write_text("")
    (pkg / "rust_streaming.py").write_text("REAL = True\n")
    code = textwrap.dedent(
        f"""
        import json, sys
        sys.path.insert(0, {str(tmp_path / "fake")!r})
        import axolotl.utils.data.rust_streaming as m
        print("RESULT " + json.dumps({{"real": getattr(m, "REAL", False)}}))
        """
    )
    assert run_python(code, tmp_path)["real"]


def test_finder_per_import_cost_stays_one_set_lookup():
    from fast_axolotl import registry

    assert isinstance(registry.HOOKED, frozenset)
    assert set(registry.SERVED) <= registry.HOOKED
    assert registry.MODULES <= registry.HOOKED

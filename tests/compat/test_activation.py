"""Activation in real interpreters: the .pth of a wheel or editable install, the off
switch, allow/deny lists, multiprocessing workers, uninstall() and import order.

Each test runs a fresh `python` of this environment in a scratch directory (so the
checkout never shadows the installed package) and inspects Axolotl's module globals.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import _release
import pytest

pytestmark = [pytest.mark.axolotl, pytest.mark.releases]

ROOT = Path(__file__).resolve().parents[2]
TARGET = "axolotl.utils.samplers.utils:get_dataset_lengths"
# Modules holding get_dataset_lengths; axolotl.utils.data.streaming arrived in 0.13.
IMPORTERS = [
    m
    for m in [
        "axolotl.utils.samplers.utils",
        "axolotl.utils.samplers",
        "axolotl.utils.data.utils",
        "axolotl.utils.trainer",
        "axolotl.utils.data.streaming",
        "axolotl.core.trainers.base",
    ]
    if _release.module_exists(m)
]

IMPORT = textwrap.dedent(
    f"""
    import importlib, json, sys
    mods = [importlib.import_module(m) for m in {IMPORTERS!r}]
    """
)
REPORT = textwrap.dedent(
    """
    objs = [m.get_dataset_lengths for m in mods]
    print("RESULT " + json.dumps({
        "patched": [hasattr(o, "__wrapped__") for o in objs],
        "same_object": len({id(o) for o in objs}) == 1,
        "hook": any(type(f).__name__ == "AxolotlFinder" for f in sys.meta_path),
        "fast_axolotl_file": getattr(sys.modules.get("fast_axolotl"), "__file__", None),
    }))
    """
)
PROBE = IMPORT + REPORT


def run_python(
    code: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    python: str = sys.executable,
    args: tuple[str, ...] = (),
) -> dict:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("FAST_AXOLOTL_")}
    full_env.update({"AXOLOTL_DO_NOT_TRACK": "1", "TRL_EXPERIMENTAL_SILENCE": "1"})
    full_env.update(env or {})
    proc = subprocess.run(
        [python, *args, "-c", code],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert lines, proc.stdout[-2000:] + proc.stderr[-2000:]
    return json.loads(lines[-1][len("RESULT ") :])


def test_installed_wheel_activates_in_a_new_interpreter(tmp_path):
    r = run_python(PROBE, tmp_path)
    assert r["hook"]
    assert all(r["patched"]) and r["same_object"], r


def test_disable_env_leaves_every_axolotl_function_the_original(tmp_path):
    r = run_python(PROBE, tmp_path, env={"FAST_AXOLOTL_DISABLE": "1"})
    assert not r["hook"]
    assert not any(r["patched"]) and r["same_object"], r
    assert r["fast_axolotl_file"] is None, "nothing of fast-axolotl may even be imported"


@pytest.mark.parametrize(
    ("table", "patched"),
    [
        ("disable = ['lengths']", False),
        (f"disable = ['{TARGET}']", False),
        ("enable = ['lengths']", True),
        ("enable = ['collators']", False),
    ],
)
def test_pyproject_allow_and_deny_lists(tmp_path, table, patched):
    project = tmp_path / "project"
    (project / "sub").mkdir(parents=True)
    (project / "pyproject.toml").write_text(f"[tool.fast-axolotl]\n{table}\n")
    r = run_python(PROBE, project / "sub")  # found by walking up
    assert all(p is patched for p in r["patched"]) and r["same_object"], r


def status_json(cwd: Path) -> dict:
    """`fast-axolotl status --json` run in a fresh interpreter in ``cwd``."""
    proc = subprocess.run(
        [sys.executable, "-m", "fast_axolotl", "status", "--json"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "AXOLOTL_DO_NOT_TRACK": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_status_cli_reports_config_decisions(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.fast-axolotl]\ndisable = ['lengths']\n")
    info = status_json(tmp_path)
    entry = next(e for e in info["entries"] if e["target"] == TARGET)
    assert entry["state"] == "disabled by config"
    assert info["axolotl"] == _release.AXOLOTL_VERSION
    assert info["config_file"] == str(tmp_path / "pyproject.toml")


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_multiprocessing_workers_are_patched(tmp_path, method):
    code = textwrap.dedent(
        f"""
        import json, multiprocessing as mp

        def probe(_):
            import axolotl.utils.samplers.utils as u
            return hasattr(u.get_dataset_lengths, "__wrapped__")

        if __name__ == "__main__":
            with mp.get_context({method!r}).Pool(2) as pool:
                print("RESULT " + json.dumps({{"patched": pool.map(probe, range(2))}}))
        """
    )
    script = tmp_path / "workers.py"
    script.write_text(code)
    r = run_python(f"import runpy; runpy.run_path({str(script)!r}, run_name='__main__')", tmp_path)
    assert r["patched"] == [True, True]


def test_uninstall_restores_identity_everywhere(tmp_path):
    code = PROBE + textwrap.dedent(
        """
        import fast_axolotl
        originals = [o.__wrapped__ for o in objs]
        fast_axolotl.uninstall()
        now = [m.get_dataset_lengths for m in mods]
        assert all(a is b for a, b in zip(now, originals)), "uninstall left a replacement"
        assert not any(type(f).__name__ == "AxolotlFinder" for f in sys.meta_path)
        fast_axolotl.install()
        again = [m.get_dataset_lengths for m in mods]
        assert all(hasattr(o, "__wrapped__") for o in again)
        print("RESULT " + json.dumps({"patched": [True], "same_object": True}))
        """
    )
    run_python(code, tmp_path)


@pytest.mark.parametrize("order", ["fast_axolotl_first", "axolotl_first"])
def test_explicit_install_works_before_or_after_importing_axolotl(tmp_path, order):
    # `python -S` skips site-packages .pth files, as in an environment where the start-up
    # file is not processed; site-packages is reached through PYTHONPATH instead.
    import fast_axolotl

    package_parent = str(Path(fast_axolotl.__file__).resolve().parents[1])
    site_packages = os.pathsep.join([sysconfig.get_paths()["purelib"], package_parent])
    pre = "import fast_axolotl; assert fast_axolotl.install()\n"
    code = pre + PROBE if order == "fast_axolotl_first" else IMPORT + pre + REPORT
    r = run_python(code, tmp_path, env={"PYTHONPATH": site_packages}, args=("-S",))
    assert all(r["patched"]) and r["same_object"], r


def test_importlib_reload_repatches(tmp_path):
    code = PROBE + textwrap.dedent(
        """
        import axolotl.utils.samplers.utils as u
        first = u.get_dataset_lengths
        importlib.reload(u)
        import axolotl.utils.data.utils as d
        print("RESULT " + json.dumps({"patched": [hasattr(u.get_dataset_lengths, "__wrapped__"),
            u.get_dataset_lengths is not first, d.get_dataset_lengths is u.get_dataset_lengths],
            "same_object": True}))
        """
    )
    r = run_python(code, tmp_path)
    assert r["patched"] == [True, True, True]


@pytest.mark.slow
def test_editable_install_activates(tmp_path):
    """`pip install -e .` of this checkout into a fresh venv that sees this environment's
    packages (torch, axolotl) through a plain path entry."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    venv_site = subprocess.run(
        [py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # A plain path line: this environment's packages become importable, but its .pth
    # files (our wheel's start-up file among them) are not processed in the venv.
    Path(venv_site, "zz_base_environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {**os.environ, "CARGO_TARGET_DIR": str(ROOT / "rust" / "target")}
    proc = subprocess.run(
        [py, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "-e", str(ROOT)],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    installed = sorted(p.name for p in Path(venv_site).iterdir())
    assert "fast_axolotl_autoload.pth" in installed, installed
    assert "fast_axolotl_autoload.start" in installed, installed
    r = run_python(PROBE, tmp_path, python=py)
    assert r["fast_axolotl_file"].startswith(str(ROOT)), r
    assert r["hook"] and all(r["patched"]) and r["same_object"], r
    r = run_python(PROBE, tmp_path, python=py, env={"FAST_AXOLOTL_DISABLE": "1"})
    assert not any(r["patched"])


# Older bodies the registry knowingly leaves alone (docs/compatibility.md, "Not reproduced").
#: Entries written for Axolotl 0.19's body only (the tokenization and save steps; see
#: docs/compatibility.md, "Axolotl releases"): on an older release the guard skips them.
ONLY_019 = {
    "axolotl.datasets:TokenizedPromptDataset.process",
    "axolotl.prompt_strategies.chat_template:ChatTemplateStrategy.tokenize_prompt",
    "axolotl.utils.data.shared:save_preprocessed_dataset",
}

NOT_REPRODUCED = {
    "axolotl.utils.data.utils:truncate_long_seq": {"93dafc889d64b3ce"},
    "axolotl.utils.data.utils:handle_long_seq_in_dataset": {
        "bc66023b0b22fba9",
        "4cfe33e3e7bd42df",
    },
}


def test_status_on_the_installed_release_patches_each_present_entry_or_gives_the_reason(
    tmp_path,
):
    import importlib

    from fast_axolotl import guards

    info = status_json(tmp_path)
    assert info["axolotl"] == _release.AXOLOTL_VERSION
    assert info["import_problems"] == []
    for e in info["entries"]:
        assert e["state"] in ("patched", "skipped"), e
        assert e["reason"], e
        absent = "not in axolotl" in e["reason"] or "not found in Axolotl" in e["reason"]
        if e["state"] == "skipped" and not absent and e["target"] not in ONLY_019:
            module, _, qualname = e["target"].partition(":")
            obj = importlib.import_module(module)
            for part in qualname.split("."):
                obj = getattr(obj, part)
            assert guards.fingerprint(obj) in NOT_REPRODUCED.get(e["target"], set()), e

"""The Python 3.15 start-up path (PEP 829), exercised on today's interpreters.

A 3.15 interpreter reads ``<name>.start`` files in site-packages after the ``.pth`` files:
each non-blank line that is not a comment is a ``pkg.mod:callable`` entry point, resolved
with ``pkgutil.resolve_name`` and called without arguments; a ``.start`` file with the stem
of a ``.pth`` file switches off that ``.pth`` file's import lines. Here a ``python -S``
(so no ``.pth`` line runs) processes the installed ``.start`` file that way and must end
up exactly as activated as through the ``.pth`` file.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import fast_axolotl

DATA = Path(fast_axolotl.__file__).parent / "_wheel_data" / "purelib"
SITE = Path(sysconfig.get_paths()["purelib"])

# site.py of 3.15 on one .start file, reduced to what PEP 829 specifies.
PROCESS_START_FILE = """
import pkgutil, sys
entry_points = []
with open(sys.argv[1], encoding="utf-8") as fh:
    for line in fh:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        entry_points.append(line)
for spec in entry_points:
    if ":" not in spec:
        raise SystemExit(f"not an entry point of the pkg.mod:callable form: {spec!r}")
    pkgutil.resolve_name(spec)()
print(len(entry_points),
      any(type(f).__name__ == "AxolotlFinder" for f in sys.meta_path),
      "fast_axolotl" in sys.modules)
"""


def start_files() -> tuple[Path, Path]:
    """The installed start-up files (site-packages), else the checkout's copies."""
    for folder in (SITE, DATA):
        pth, start = folder / "fast_axolotl_autoload.pth", folder / "fast_axolotl_autoload.start"
        if pth.exists() and start.exists():
            return pth, start
    pytest.skip("fast-axolotl's start-up files are not installed")


def run_start_file(start: Path, **env: str) -> str:
    full = {k: v for k, v in os.environ.items() if not k.startswith("FAST_AXOLOTL_")}
    full.update(env)
    full["PYTHONPATH"] = os.pathsep.join(
        [str(Path(fast_axolotl.__file__).resolve().parents[1]), str(SITE)]
    )
    out = subprocess.run(
        [sys.executable, "-S", "-c", PROCESS_START_FILE, str(start)],
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_start_file_shares_the_pth_stem_so_315_skips_the_pth_import_line():
    pth, start = start_files()
    assert pth.stem == start.stem
    assert pth.parent == start.parent


def test_start_file_entry_point_called_as_the_315_interpreter_calls_it_activates():
    _, start = start_files()
    assert run_start_file(start) == "1 True True"


def test_start_file_entry_point_honours_the_off_switch_before_importing_the_package():
    _, start = start_files()
    # The entry point's module is fast_axolotl._autoload: importing it imports the package
    # (stdlib only); the switch keeps the finder out.
    assert run_start_file(start, FAST_AXOLOTL_DISABLE="1").split()[:2] == ["1", "False"]


def test_start_file_entry_point_is_idempotent_with_the_pth_line():
    # Before 3.15 both files are present and only the .pth line runs; a 3.15 interpreter
    # that ran both (it must not) would still insert a single finder.
    _, start = start_files()
    code = (
        "import pkgutil, sys\n"
        f"spec = open({str(start)!r}).read().strip()\n"
        "pkgutil.resolve_name(spec)(); pkgutil.resolve_name(spec)()\n"
        "print(sum(type(f).__name__ == 'AxolotlFinder' for f in sys.meta_path))"
    )
    full = {k: v for k, v in os.environ.items() if not k.startswith("FAST_AXOLOTL_")}
    full["PYTHONPATH"] = str(Path(fast_axolotl.__file__).resolve().parents[1])
    out = subprocess.run(
        [sys.executable, "-S", "-c", code], env=full, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1"


@pytest.mark.axolotl
def test_axolotl_is_patched_after_the_315_start_file_path():
    _, start = start_files()
    code = PROCESS_START_FILE.replace(
        "print(len(entry_points),",
        "import axolotl.utils.samplers.utils as m\n"
        "print(hasattr(m.get_dataset_lengths, '__wrapped__'),",
    )
    full = {k: v for k, v in os.environ.items() if not k.startswith("FAST_AXOLOTL_")}
    # A full site (Axolotl's dependencies need their own .pth files) whose fast-axolotl
    # .pth line is switched off for the parent: only the .start entry point activates.
    full["FAST_AXOLOTL_DISABLE"] = "1"
    script = (
        "import os, sys\n"
        "del os.environ['FAST_AXOLOTL_DISABLE']\n"
        "sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != 'AxolotlFinder']\n"
        + code
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(start)],
        env=full,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=str(SITE),
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[:2] == ["True", "True"]

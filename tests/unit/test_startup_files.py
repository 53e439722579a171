"""The start-up files shipped in the wheel's data directory do what they claim."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import fast_axolotl

DATA = Path(fast_axolotl.__file__).parent / "_wheel_data" / "purelib"
PTH = DATA / "fast_axolotl_autoload.pth"
START = DATA / "fast_axolotl_autoload.start"

if not PTH.exists():  # installed from a wheel: the files live in site-packages instead
    import sysconfig

    site = Path(sysconfig.get_paths()["purelib"])
    PTH, START = site / PTH.name, site / START.name

CHECK = (
    "import sys; print(any(type(f).__name__ == 'AxolotlFinder' for f in sys.meta_path), "
    "'fast_axolotl' in sys.modules)"
)


def _run(code: str, **env: str) -> str:
    full = {k: v for k, v in os.environ.items() if not k.startswith("FAST_AXOLOTL_")}
    full.update(env)
    package_parent = str(Path(fast_axolotl.__file__).resolve().parents[1])
    full["PYTHONPATH"] = package_parent
    out = subprocess.run(
        [sys.executable, "-S", "-c", code], env=full, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_pth_is_one_import_line():
    lines = [ln for ln in PTH.read_text().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("import ")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("", "True True"), ("1", "False False"), ("true", "False False"), ("0", "True True")],
)
def test_pth_line_checks_the_off_switch_before_importing_anything(value, expected):
    line = PTH.read_text().strip()
    assert _run(f"import os\nexec({line!r})\n{CHECK}", FAST_AXOLOTL_DISABLE=value) == expected


def test_pth_line_never_raises_even_if_activation_fails():
    line = PTH.read_text().strip()
    code = (
        "import os, sys\n"
        "sys.modules['fast_axolotl._autoload'] = None\n"  # any import of it now fails
        f"exec({line!r})\n"
        "print('alive')"
    )
    assert _run(code) == "alive"


@pytest.mark.parametrize(("value", "expected"), [("", "True"), ("1", "False")])
def test_start_file_names_an_entry_point_that_honours_the_off_switch(value, expected):
    spec = START.read_text().strip()
    assert ":" in spec
    code = f"import pkgutil, sys\npkgutil.resolve_name({spec!r})()\n" + (
        "print(any(type(f).__name__ == 'AxolotlFinder' for f in sys.meta_path))"
    )
    assert _run(code, FAST_AXOLOTL_DISABLE=value) == expected

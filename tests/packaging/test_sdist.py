"""The source distribution installs with pip into a clean virtual environment (a Rust
toolchain is all it needs besides the package index), and the installed metadata names
the supported Pythons.

Slow (a release build of the native module): run by ``nox -s sdist``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SUPPORTED = ("3.10", "3.11", "3.12", "3.13")

REPORT = """
import importlib.metadata as md, json, sys, sysconfig, pathlib
import fast_axolotl, fast_axolotl._native
meta = md.metadata("fast-axolotl")
site = pathlib.Path(sysconfig.get_paths()["purelib"])
print(json.dumps({
    "requires_python": meta["Requires-Python"],
    "classifiers": meta.get_all("Classifier"),
    "native": fast_axolotl._native.__version__,
    "package": str(pathlib.Path(fast_axolotl.__file__).parent),
    "pth": (site / "fast_axolotl_autoload.pth").exists(),
    "start": (site / "fast_axolotl_autoload.start").exists(),
    "finder": any(type(f).__name__ == "AxolotlFinder" for f in sys.meta_path),
}))
"""


@pytest.fixture(scope="module")
def sdist(tmp_path_factory) -> Path:
    if shutil.which("cargo") is None:
        pytest.skip("building from the sdist needs a Rust toolchain (cargo)")
    out = tmp_path_factory.mktemp("sdist")
    subprocess.run(
        [sys.executable, "-m", "maturin", "sdist", "--out", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (archive,) = out.glob("fast_axolotl-*.tar.gz")
    return archive


def test_pip_installs_the_sdist_into_a_clean_venv_with_metadata_and_startup_files(sdist, tmp_path):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("FAST_AXOLOTL_", "VIRTUAL_ENV"))
    }
    # Crates already compiled for this checkout are reused: the test is about the sdist's
    # completeness and pip's build, not about compiling arrow-rs once more.
    env.setdefault("CARGO_TARGET_DIR", str(ROOT / "rust" / "target"))
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--no-cache-dir", str(sdist)],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert install.returncode == 0, install.stdout[-4000:] + install.stderr[-4000:]
    report = subprocess.run(
        [str(python), "-c", REPORT], env=env, capture_output=True, text=True, cwd=tmp_path
    )
    assert report.returncode == 0, report.stderr
    info = json.loads(report.stdout)
    assert Path(info["package"]).is_relative_to(env_dir)
    assert info["requires_python"] == ">=3.10"
    for minor in SUPPORTED:
        assert f"Programming Language :: Python :: {minor}" in info["classifiers"]
    assert info["pth"] and info["start"] and info["finder"]


def test_sdist_holds_the_crate_the_package_and_the_startup_files(sdist):
    import tarfile

    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    for needed in (
        "pyproject.toml",
        "rust/Cargo.toml",
        "rust/src/lib.rs",
        "fast_axolotl/__init__.py",
        "fast_axolotl/demo/__init__.py",
        "fast_axolotl/_wheel_data/purelib/fast_axolotl_autoload.pth",
        "fast_axolotl/_wheel_data/purelib/fast_axolotl_autoload.start",
    ):
        assert needed in names, needed

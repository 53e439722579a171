"""The only commands a contributor needs.

    nox              what CI runs: tests, the CI releases of the matrix, pythons but 3.11
    nox -s tests     everything: Rust unit tests, then pytest (unit, real-Axolotl differential
                     and activation tests, Axolotl's own data tests) on a wheel install
    nox -s compat    only the tests that need the real Axolotl
    nox -s unit      only the tests that need no Axolotl (fast)
    nox -s bench     benchmarks/run.py: original vs fast-axolotl, ratios
    nox -s demo      axolotl preprocess with and without fast-axolotl
    nox -s pythons   the abi3 wheel, built once, on Python 3.10-3.13: unit + activation tests
    nox -s sdist     pip install from the source distribution in a clean venv (Rust needed)
    nox -s lint      ruff, cargo fmt/clippy, mypy stubtest of the native module
    nox -s "matrix(0.12.0)"   the differential and activation tests against another Axolotl
                     release with its own pins (tests/requirements/axolotl-<release>.txt);
                     `nox -t release-matrix` runs the releases CI runs

Sessions that need Axolotl install the pinned CPU runtime from
tests/requirements/axolotl-0.19.0.txt (torch is large: pip's cache makes reruns fast),
then axolotl itself with --no-deps, then fast-axolotl from this checkout as a wheel.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import nox

ROOT = Path(__file__).parent
AXOLOTL = "axolotl==0.19.0"
RUNTIME = ROOT / "tests" / "requirements" / "axolotl-0.19.0.txt"
DEV = ROOT / "tests" / "requirements" / "dev.txt"

nox.options.reuse_existing_virtualenvs = True
# uv installs the ~5 GB runtime from its cache by hard links in seconds; plain virtualenv
# and pip where uv is missing.
nox.options.default_venv_backend = "uv|virtualenv"


def _install_axolotl(session: nox.Session) -> None:
    session.install("-r", str(RUNTIME))
    session.install("--no-deps", AXOLOTL)


def _install_self(session: nox.Session) -> None:
    # A real wheel install: what users get from `pip install fast-axolotl`.
    session.install("--force-reinstall", "--no-deps", ".")
    session.install(".")  # the runtime dependencies (numpy, tomli on 3.10)


def _env(session: nox.Session) -> dict[str, str]:
    return {
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "AXOLOTL_DO_NOT_TRACK": "1",
        "DO_NOT_TRACK": "1",
        "TRL_EXPERIMENTAL_SILENCE": "1",
        "FAST_AXOLOTL_REQUIRE_AXOLOTL": "1",
        "CARGO_TARGET_DIR": str(ROOT / "rust" / "target"),
    }


@nox.session
def tests(session: nox.Session) -> None:
    """The whole suite, real Axolotl included."""
    session.run("cargo", "test", "--manifest-path", "rust/Cargo.toml", "--quiet", external=True)
    _install_axolotl(session)
    session.install("-r", str(DEV))
    _install_self(session)
    # `pytest`, not `python -m pytest`: the checkout must not shadow the installed package.
    session.run("pytest", *(session.posargs or ["tests"]), env=_env(session))


@nox.session
def compat(session: nox.Session) -> None:
    """Only the tests that need the real Axolotl."""
    _install_axolotl(session)
    session.install("-r", str(DEV))
    _install_self(session)
    session.run("pytest", "-m", "axolotl", *(session.posargs or ["tests"]), env=_env(session))


@nox.session
def unit(session: nox.Session) -> None:
    """Tests that need no Axolotl: hook, patcher, config, kernels."""
    session.install("-r", str(DEV))
    _install_self(session)
    env = _env(session)
    env.pop("FAST_AXOLOTL_REQUIRE_AXOLOTL")
    # Slow tests (wheel and sdist builds) are not unit tests.
    marks = "not axolotl and not slow"
    session.run("pytest", "-m", marks, *(session.posargs or ["tests"]), env=env)


@nox.session
def bench(session: nox.Session) -> None:
    """Original vs fast-axolotl on the same inputs, one process, ratios."""
    _install_axolotl(session)
    _install_self(session)
    session.chdir(session.create_tmp())  # import the installed package, not the checkout
    session.run("python", str(ROOT / "benchmarks" / "run.py"), *session.posargs, env=_env(session))


@nox.session
def demo(session: nox.Session) -> None:
    """Real `axolotl preprocess` with and without fast-axolotl: identical output, times."""
    _install_axolotl(session)
    _install_self(session)
    session.chdir(session.create_tmp())
    session.run("fast-axolotl", "demo", *session.posargs, env=_env(session))


@nox.session
def lint(session: nox.Session) -> None:
    """ruff, rustfmt, clippy, and mypy stubtest of the native module's .pyi."""
    session.install("-r", str(DEV))
    session.run("ruff", "check", "fast_axolotl", "tests", "benchmarks", "noxfile.py")
    session.run("ruff", "format", "--check", "fast_axolotl", "tests", "benchmarks", "noxfile.py")
    session.run("cargo", "fmt", "--manifest-path", "rust/Cargo.toml", "--check", external=True)
    session.run(
        "cargo",
        "clippy",
        "--manifest-path",
        "rust/Cargo.toml",
        "--all-targets",
        "--features",
        "python",
        "--",
        "-D",
        "warnings",
        external=True,
    )
    _install_self(session)
    session.chdir(session.create_tmp())
    session.run(
        "python",
        "-m",
        "mypy.stubtest",
        "fast_axolotl._native",
        env={"MYPYPATH": str(ROOT)} if os.name != "nt" else None,
    )


# --- every supported Python -------------------------------------------------------------

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]

# pyenv's interpreters (not only the global one) can be found by nox as `python3.X`.
_PYENV_ROOT = os.environ.get("PYENV_ROOT") or (
    subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=False).stdout.strip()
    if shutil.which("pyenv")
    else ""
)
if _PYENV_ROOT:
    _versions = Path(_PYENV_ROOT) / "versions"
    _bins = [
        str(d / "bin")
        for minor in PYTHONS
        for d in sorted(_versions.glob(f"{minor}.*"), reverse=True)[:1]
        if (d / "bin" / f"python{minor}").exists()
    ]
    os.environ["PATH"] = os.pathsep.join([*_bins, os.environ.get("PATH", "")])

_ABI3_WHEEL: list[Path] = []


def _abi3_wheel(session: nox.Session) -> Path:
    """fast-axolotl's abi3 wheel, built once per nox run for every interpreter."""
    if not _ABI3_WHEEL:
        out = ROOT / "rust" / "target" / "abi3-wheel"
        shutil.rmtree(out, ignore_errors=True)
        session.install("maturin>=1.9,<2")
        session.run(
            "maturin",
            "build",
            "--release",
            "--out",
            str(out),
            env={"CARGO_TARGET_DIR": str(ROOT / "rust" / "target")},
        )
        (wheel,) = out.glob("fast_axolotl-*-abi3-*.whl")
        _ABI3_WHEEL.append(wheel)
    return _ABI3_WHEEL[0]


# Pins of Axolotl 0.19's runtime with no wheel for a newer Python (zstandard 0.22 has no
# cp313 wheel and does not build there): the nearest newer release instead.
_NO_WHEEL_FROM_313 = ("zstandard",)


def _install_runtime_for(session: nox.Session) -> None:
    """Axolotl 0.19's pinned runtime; where a pin has no release for this Python (3.10:
    numpy 2.4 and others need 3.11), the newest release of each package not newer than
    its pin; on 3.13+, the pins without a wheel there may move up."""
    lines = RUNTIME.read_text().splitlines()
    if session.python == "3.10":
        lines = [ln.replace("==", "<=", 1) if "==" in ln else ln for ln in lines]
    elif session.python not in ("3.11", "3.12"):
        lines = [
            ln.replace("==", ">=", 1) if ln.partition("==")[0] in _NO_WHEEL_FROM_313 else ln
            for ln in lines
        ]
    else:
        _install_axolotl(session)
        return
    adjusted = Path(session.create_tmp()) / "axolotl-0.19.0-adjusted.txt"
    adjusted.write_text("\n".join(lines) + "\n")
    session.install("-r", str(adjusted))
    session.install("--no-deps", AXOLOTL)


@nox.session(python=PYTHONS)
def pythons(session: nox.Session) -> None:
    """The same abi3 wheel on each Python: unit tests, activation tests, the 3.15 start
    file. (`tests` runs the full suite on one Python.)"""
    wheel = _abi3_wheel(session)
    _install_runtime_for(session)
    session.install("-r", str(DEV))
    session.install("--force-reinstall", "--no-deps", str(wheel))
    session.install(str(wheel))  # its runtime dependencies
    env = _env(session)
    session.chdir(session.create_tmp())  # the installed package, not the checkout
    tests = ROOT / "tests"
    session.run(
        "pytest",
        "-p",
        "no:cacheprovider",
        "-m",
        "not axolotl and not slow",
        str(tests / "unit"),
        env=env,
    )
    session.run(
        "pytest",
        "-p",
        "no:cacheprovider",
        "-m",
        "not slow",
        str(tests / "compat" / "test_activation.py"),
        str(tests / "unit" / "test_start_file_pep829.py"),
        *session.posargs,
        env=env,
    )


@nox.session
def sdist(session: nox.Session) -> None:
    """pip install from the source distribution (maturin sdist) into a clean venv."""
    session.install("-r", str(DEV))
    session.run(
        "pytest",
        "-p",
        "no:cacheprovider",
        "-m",
        "slow",
        str(ROOT / "tests" / "packaging"),
        env=_env(session),
    )


# Releases with a pinned runtime in tests/requirements/; CI runs the oldest and a middle one
# (0.19.0, the default pin, is covered by `tests`).
RELEASES = sorted(
    (
        p.name.removeprefix("axolotl-").removesuffix(".txt")
        for p in RUNTIME.parent.glob("axolotl-*.txt")
    ),
    key=lambda v: tuple(int(x) for x in v.split(".")),
)
CI_RELEASES = ("0.12.0", "0.14.0")


@nox.session
@nox.parametrize(
    "axolotl",
    [nox.param(v, id=v, tags=["release-matrix"] if v in CI_RELEASES else []) for v in RELEASES],
)
def matrix(session: nox.Session, axolotl: str) -> None:
    """Differential and activation tests (marker `releases`) against one Axolotl release,
    installed with that release's own pins of the data-path dependencies."""
    session.install("-r", str(RUNTIME.parent / f"axolotl-{axolotl}.txt"))
    session.install("--no-deps", f"axolotl=={axolotl}")
    session.install("-r", str(DEV))
    _install_self(session)
    # The `ci` hypothesis profile unless told otherwise: `tests` runs 0.19 with more examples.
    env = {**_env(session), "HYPOTHESIS_PROFILE": os.environ.get("HYPOTHESIS_PROFILE", "ci")}
    # `slow` (wheel and editable installs) does not depend on the Axolotl release.
    marker = "releases and not slow"
    session.run("pytest", "-m", marker, *(session.posargs or ["tests/compat"]), env=env)


# `nox` with no arguments runs what CI runs (.ci/run): the whole suite on Python 3.11 with
# Axolotl 0.19.0, the differential and activation tests against the oldest and a middle
# Axolotl release, and the abi3 wheel's unit and activation tests on the other Pythons.
nox.options.sessions = [
    "tests",
    *(f"matrix({release})" for release in CI_RELEASES),
    *(f"pythons-{python}" for python in PYTHONS if python != "3.11"),
]

"""The only commands a contributor needs.

    nox -s tests     everything: Rust unit tests, then pytest (unit, real-Axolotl differential
                     and activation tests, Axolotl's own data tests) on a wheel install
    nox -s compat    only the tests that need the real Axolotl
    nox -s unit      only the tests that need no Axolotl (fast)
    nox -s bench     benchmarks/run.py: original vs fast-axolotl, ratios
    nox -s demo      axolotl preprocess with and without fast-axolotl
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
from pathlib import Path

import nox

ROOT = Path(__file__).parent
AXOLOTL = "axolotl==0.19.0"
RUNTIME = ROOT / "tests" / "requirements" / "axolotl-0.19.0.txt"
DEV = ROOT / "tests" / "requirements" / "dev.txt"

nox.options.sessions = ["tests"]
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
    session.run("pytest", "-m", "not axolotl", *(session.posargs or ["tests"]), env=env)


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

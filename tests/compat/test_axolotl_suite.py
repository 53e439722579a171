"""Axolotl's own CPU data tests, run with fast-axolotl active: our external compatibility suite.

The test files come from Axolotl's source distribution on PyPI, for exactly the installed
Axolotl version. Nothing of Axolotl's is kept in this repository: at test time the sdist is
downloaded once into a cache (``$FAST_AXOLOTL_CACHE_DIR/sdist``, else
``~/.cache/fast-axolotl/sdist``; put the tarball there by hand to run without network), its
``tests/`` tree is extracted next to it, and the files below (plus the helper modules of
Axolotl's ``tests`` package they import) are copied into a temporary run directory.

Axolotl's tests/conftest.py is not used: it downloads models and datasets from the hub at
session start. Our own conftest (``axolotl_suite/suite_conftest.py``) takes its place. It
keeps the run offline in a private ``HF_HOME``, provides the fixtures these files need, applies
``DESELECT`` and, when ``FAST_AXOLOTL_EXPECT_ACTIVE=1``, stops the session unless fast-axolotl
really patched Axolotl in that interpreter. This test sets that variable unless
``FAST_AXOLOTL_DISABLE`` is set, in which case the run checks plain Axolotl.

All files run in ONE pytest subprocess: every interpreter spends ~10 s importing Axolotl
(torch, transformers, datasets, trl) while the seven files together run in a few seconds, so
one subprocess costs about a seventh of seven. Our conftest writes a JSON report of every
test outcome, and each file still gets its own test id here, judged from that report.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.axolotl

HERE = Path(__file__).resolve().parent
CONFTEST_TEMPLATE = HERE / "axolotl_suite" / "suite_conftest.py"

# Paths inside the sdist, relative to its top directory.
TEST_FILES = (
    "tests/utils/data/test_utils.py",
    "tests/test_exact_deduplication.py",
    "tests/test_calculate_total_num_steps.py",
    "tests/test_save_deduplicated.py",
    "tests/test_streaming.py",
    "tests/utils/data/test_rl.py",
    "tests/utils/data/test_hash.py",
)

# Only tests that need the network/hub or a GPU. Node id (or class prefix) -> reason.
DESELECT = {
    "tests/test_exact_deduplication.py::TestDeduplicateNonRL": (
        "needs the hub: setUp normalizes a config for huggyllama/llama-7b and the tests "
        "prepare the hub dataset mhenrichsen/alpaca_2k_test (also skip-marked upstream)"
    ),
}

SUBPROCESS_TIMEOUT = 1800  # seconds; the run takes ~15 s on 2 idle cores
OUTPUT_TAIL_LINES = 80
_TRUE = {"1", "true", "yes", "on"}


def _axolotl_version() -> str:
    try:
        return importlib.metadata.version("axolotl")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("axolotl is not installed in this environment")


def _cache_dir() -> Path:
    root = os.environ.get("FAST_AXOLOTL_CACHE_DIR")
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "fast-axolotl"
    return base / "sdist"


def _tail(text: str, lines: int = OUTPUT_TAIL_LINES) -> str:
    return "\n".join(text.splitlines()[-lines:])


# ---------------------------------------------------------------- obtain the sdist


def _download_sdist(version: str, cache: Path) -> Path:
    """Return the cached sdist tarball, downloading it with pip the first time."""
    wanted = f"axolotl-{version}.tar.gz"
    if (cache / wanted).is_file():
        return cache / wanted
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache, prefix=".download-") as tmp:
        cmd = [
            sys.executable, "-m", "pip", "download",
            "--no-binary", ":all:", "--no-deps", f"axolotl=={version}", "-d", tmp,
        ]  # fmt: skip
        env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1")
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=900, env=env, check=False
        )
        tarballs = sorted(Path(tmp).glob("*.tar.gz"))
        if proc.returncode != 0 or len(tarballs) != 1:
            pytest.fail(
                f"could not download Axolotl's sdist ({' '.join(cmd)} -> exit "
                f"{proc.returncode}, files {[p.name for p in Path(tmp).iterdir()]}). "
                f"Without network, place {wanted} in {cache}.\n"
                f"{_tail(proc.stdout + proc.stderr, 30)}"
            )
        os.replace(tarballs[0], cache / wanted)
    return cache / wanted


def _safe_members(tf: tarfile.TarFile, top: str) -> list[tarfile.TarInfo]:
    """Members under <top>/tests/: regular files and directories with plain relative paths."""
    members = []
    for member in tf.getmembers():
        parts = Path(member.name).parts
        if len(parts) < 2 or parts[0] != top or parts[1] != "tests":
            continue
        if member.name.startswith("/") or ".." in parts:
            raise RuntimeError(f"unsafe path in sdist: {member.name!r}")
        if member.isfile() or member.isdir():
            members.append(member)
    return members


def _extract_tests(sdist: Path, cache: Path, version: str) -> Path:
    """Extract the sdist's tests/ tree once; return the sdist's top directory."""
    top = f"axolotl-{version}"
    dest = cache / top
    marker = dest / ".extracted"
    if marker.is_file():
        return dest
    tmp = Path(tempfile.mkdtemp(dir=cache, prefix=".extract-"))
    try:
        with tarfile.open(sdist, "r:gz") as tf:
            members = _safe_members(tf, top)
            if not members:
                pytest.fail(f"{sdist} has no {top}/tests/ directory")
            if hasattr(tarfile, "data_filter"):
                tf.extractall(tmp, members=members, filter="data")
            else:  # Python without extraction filters: members were checked above
                tf.extractall(tmp, members=members)  # nosec B202
        (tmp / top / ".extracted").write_text(sdist.name)
        if dest.exists():  # an incomplete earlier extraction
            shutil.rmtree(dest)
        try:
            os.replace(tmp / top, dest)
        except OSError:
            if not marker.is_file():  # not merely a concurrent run that finished first
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


# ------------------------------------------------------------------ stage a run dir


def _tests_package_imports(path: Path) -> set[str]:
    """Module names of the sdist's `tests` package that a file imports."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.split(".")[0] == "tests")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] == "tests":
                names.add(node.module)
                # `from tests.pkg import name` may name a submodule
                names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def _module_file(src: Path, module: str) -> Path | None:
    base = src.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _stage_run_dir(src: Path, run_dir: Path, test_files: list[str]) -> None:
    """Copy the test files, their `tests.*` helpers and the package __init__ files."""
    pending = [src / rel for rel in test_files]
    copied: set[Path] = set()
    while pending:
        path = pending.pop()
        if path in copied:
            continue
        if not path.is_file():
            pytest.fail(f"{path.relative_to(src)} is not in Axolotl's sdist")
        copied.add(path)
        # __init__.py of every enclosing package keeps upstream module names
        for parent in path.relative_to(src).parents:
            init = src / parent / "__init__.py"
            if parent != Path(".") and init.is_file():
                copied.add(init)
        for module in _tests_package_imports(path):
            helper = _module_file(src, module)
            if helper is not None and helper not in copied:
                pending.append(helper)
    for path in copied:
        target = run_dir / path.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    shutil.copyfile(CONFTEST_TEMPLATE, run_dir / "tests" / "conftest.py")
    (run_dir / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")


# ----------------------------------------------------------------------- the run


@dataclass
class SuiteRun:
    files: list[str]
    returncode: int | None  # None: timed out
    output: str
    report: dict | None
    elapsed: float
    run_dir: Path

    def failure_context(self) -> str:
        activation = (self.report or {}).get("activation")
        return (
            f"pytest subprocess exit code {self.returncode}, {self.elapsed:.0f} s, "
            f"run dir {self.run_dir}, fast-axolotl activation {activation}\n"
            f"--- last {OUTPUT_TAIL_LINES} lines of its output ---\n{_tail(self.output)}"
        )


def _subprocess_env(run_dir: Path, report: Path, deselect: Path) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_CURRENT_TEST"):
        env.pop(name, None)
    env.update(
        PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        AXOLOTL_DO_NOT_TRACK="1",
        DO_NOT_TRACK="1",
        FAST_AXOLOTL_COMPAT_HF_HOME=str(run_dir / "hf_home"),
        FAST_AXOLOTL_COMPAT_REPORT=str(report),
        FAST_AXOLOTL_COMPAT_DESELECT=str(deselect),
    )
    if env.get("FAST_AXOLOTL_DISABLE", "").strip().lower() in _TRUE:
        env.pop("FAST_AXOLOTL_EXPECT_ACTIVE", None)
    else:
        env["FAST_AXOLOTL_EXPECT_ACTIVE"] = "1"
    return env


def _selected_files(request: pytest.FixtureRequest) -> list[str]:
    """Files whose per-file test is part of this session (all of them by default)."""
    selected = {
        item.callspec.params["test_file"]
        for item in request.session.items
        if getattr(item, "originalname", None) == "test_axolotl_test_file"
        and hasattr(item, "callspec")
    }
    return [f for f in TEST_FILES if f in selected] or list(TEST_FILES)


@pytest.fixture(scope="module")
def suite_run(request, tmp_path_factory) -> SuiteRun:
    version = _axolotl_version()
    cache = _cache_dir()
    src = _extract_tests(_download_sdist(version, cache), cache, version)

    files = _selected_files(request)
    run_dir = tmp_path_factory.mktemp("axolotl-suite")
    _stage_run_dir(src, run_dir, files)
    report_path = run_dir / "report.json"
    deselect_path = run_dir / "deselect.json"
    deselect_path.write_text(json.dumps(DESELECT, indent=1), encoding="utf-8")

    cmd = [
        sys.executable, "-m", "pytest", "-c", str(run_dir / "pytest.ini"),
        "--rootdir", str(run_dir), "--import-mode=prepend", "-p", "no:cacheprovider",
        "-q", "-rfEs", "--tb=short", "--color=no", *files,
    ]  # fmt: skip
    start = time.monotonic()
    try:
        proc = subprocess.run(
            cmd,
            cwd=run_dir,
            env=_subprocess_env(run_dir, report_path, deselect_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=SUBPROCESS_TIMEOUT,
            check=False,
        )
        returncode, output = proc.returncode, proc.stdout
    except subprocess.TimeoutExpired as exc:
        partial = exc.stdout or b""
        returncode = None
        output = partial.decode(errors="replace") if isinstance(partial, bytes) else partial
        output += f"\n[timed out after {SUBPROCESS_TIMEOUT} s]"
    elapsed = time.monotonic() - start
    (run_dir / "pytest-output.txt").write_text(output, encoding="utf-8")
    report = json.loads(report_path.read_text()) if report_path.is_file() else None
    return SuiteRun(files, returncode, output, report, elapsed, run_dir)


def test_axolotl_suite_exit_status(suite_run: SuiteRun) -> None:
    """The whole subprocess, including collection and the activation check, exits 0."""
    if suite_run.returncode != 0 or suite_run.report is None:
        pytest.fail(suite_run.failure_context(), pytrace=False)


@pytest.mark.parametrize("test_file", TEST_FILES)
def test_axolotl_test_file(suite_run: SuiteRun, test_file: str) -> None:
    """Every collected, non-deselected test of this file passed (a skip counts as a failure)."""
    assert test_file in suite_run.files
    report = suite_run.report
    if report is None:
        pytest.fail("no report from the subprocess\n" + suite_run.failure_context(), pytrace=False)

    collect_errors = {
        nid: text
        for nid, text in report["collect_errors"].items()
        if nid == test_file or nid.startswith(test_file + "::")
    }
    if collect_errors:
        pytest.fail(
            f"collection of {test_file} failed:\n"
            + "\n".join(f"{nid}:\n{text}" for nid, text in collect_errors.items())
            + "\n"
            + suite_run.failure_context(),
            pytrace=False,
        )

    results = {
        nid: entry for nid, entry in report["tests"].items() if nid.startswith(test_file + "::")
    }
    passed = [nid for nid, entry in results.items() if entry["outcome"] == "passed"]
    not_passed = {nid: entry for nid, entry in results.items() if entry["outcome"] != "passed"}
    details = "\n".join(
        f"{entry['outcome'].upper()}: {nid}\n{entry['longrepr'][-3000:]}"
        for nid, entry in sorted(not_passed.items())
    )
    if not_passed:
        pytest.fail(
            f"{len(not_passed)} of {len(results)} tests in {test_file} did not pass "
            f"(to exclude one that needs the hub or a GPU, add it to DESELECT):\n{details}\n"
            + suite_run.failure_context(),
            pytrace=False,
        )
    if not passed:
        pytest.fail(f"no test ran in {test_file}\n" + suite_run.failure_context(), pytrace=False)

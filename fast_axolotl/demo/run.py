"""Running ``axolotl preprocess`` in a fresh subprocess, plain or with fast-axolotl.

Each run starts from clean output directories and an empty Hugging Face cache of its
own, in an environment that differs between the two modes only in
``FAST_AXOLOTL_DISABLE``.
"""

from __future__ import annotations

import datetime
import os
import pathlib
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass

LOG_TAIL_LINES = 40
#: Starts the last line of each run's log: its wall-clock start and its duration.
RUN_BOUNDS = "# fast-axolotl demo run:"

PLAIN = "plain"
FAST = "fast"
MODE_TITLES = {PLAIN: "plain Axolotl", FAST: "with fast-axolotl"}

# Environment shared by both runs: no network, no telemetry, no prompts.
_OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "AXOLOTL_DO_NOT_TRACK": "1",  # Axolotl's opt-out for its PostHog telemetry
    "DO_NOT_TRACK": "1",
    "WANDB_MODE": "disabled",
    "PYTHONUNBUFFERED": "1",
}

# Variables that would make one run differ from the other, or reach outside the
# work directory; removed from the inherited environment of both runs.
_SCRUBBED_ENV = (
    "FAST_AXOLOTL_DISABLE",
    "FAST_AXOLOTL_CONFIG",
    "FAST_AXOLOTL_VERIFY",
    "AXOLOTL_DATASET_NUM_PROC",
    "AXOLOTL_DATASET_PROCESSES",
    "RUNPOD_CPU_COUNT",
    "HF_DATASETS_CACHE",
    "HF_HOME",
)


@dataclass
class RunResult:
    """The ``axolotl preprocess`` subprocesses of one mode (one per repetition)."""

    mode: str
    returncode: int
    times: list[float]  # wall-clock seconds of each successful repetition
    log_path: pathlib.Path  # log of the last repetition
    prepared_root: pathlib.Path
    fast_axolotl_loaded: bool | None = None

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def seconds(self) -> float:
        """Best (smallest) wall-clock time: the least disturbed by other load."""
        return min(self.times) if self.times else float("nan")


def base_env(workdir: pathlib.Path, mode: str, cache: str | None = None) -> dict[str, str]:
    """The environment of a run of ``mode``; ``cache`` names its Hugging Face cache dir."""
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
    env.update(_OFFLINE_ENV)
    # A separate, empty Hugging Face cache per run: otherwise the second run
    # would reuse the JSON->Arrow conversion cached by the first one.
    hf_home = workdir / "hf-home" / (cache or mode)
    env["HF_HOME"] = str(hf_home)
    env["HF_DATASETS_CACHE"] = str(hf_home / "datasets")
    if mode == PLAIN:
        env["FAST_AXOLOTL_DISABLE"] = "1"
    return env


def probe_fast_axolotl(env: dict[str, str]) -> bool | None:
    """Whether fast-axolotl loads itself at start-up of an interpreter with ``env``."""
    code = "import sys; print(int('fast_axolotl' in sys.modules))"
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    return proc.stdout.strip().endswith("1")


def preprocess_command(config_path: pathlib.Path) -> list[str]:
    # Equivalent to `axolotl preprocess <config>`; skips the model download
    # step (there are no weights, only a config).
    return [sys.executable, "-m", "axolotl.cli.preprocess", str(config_path), "--download=False"]


def run_preprocess(
    mode: str,
    config_path: pathlib.Path,
    prepared_root: pathlib.Path,
    workdir: pathlib.Path,
    log_path: pathlib.Path | None = None,
    *,
    output_dir: pathlib.Path | None = None,
    cache: str | None = None,
) -> RunResult:
    """Run ``axolotl preprocess`` once, from clean output dirs, and time it.

    ``axolotl preprocess`` loads an existing prepared dataset instead of preparing it
    again, and the datasets cache would skip the JSON parsing: both are removed first.
    """
    env = base_env(workdir, mode, cache)
    output_dir = output_dir or workdir / f"output-{mode}"
    for d in (prepared_root, output_dir, pathlib.Path(env["HF_HOME"])):
        shutil.rmtree(d, ignore_errors=True)
    log_path = log_path or workdir / f"preprocess-{mode}.log"
    loaded = probe_fast_axolotl(env)
    cmd = preprocess_command(config_path)
    with log_path.open("w", encoding="utf-8") as log:
        log.write("$ " + shlex.join(cmd) + "\n\n")
        log.flush()
        started = datetime.datetime.now()
        start = time.perf_counter()
        proc = subprocess.run(
            cmd,
            env=env,
            cwd=str(workdir),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        seconds = time.perf_counter() - start
        # Wall-clock bounds in the format of Axolotl's log lines, for the breakdown of
        # where the time goes (benchmarks/demo_phases.py).
        stamp = f"{started:%Y-%m-%d %H:%M:%S},{started.microsecond // 1000:03d}"
        log.write(
            f"\n{RUN_BOUNDS} started [{stamp}] exit {proc.returncode} after {seconds:.3f} s\n"
        )
    return RunResult(
        mode=mode,
        returncode=proc.returncode,
        times=[seconds] if proc.returncode == 0 else [],
        log_path=log_path,
        prepared_root=prepared_root,
        fast_axolotl_loaded=loaded,
    )


def tail(path: pathlib.Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"(cannot read {path}: {exc})"
    return "\n".join(text.splitlines()[-lines:])


def fast_axolotl_status(workdir: pathlib.Path) -> str:
    """``python -m fast_axolotl status`` in the environment of the accelerated runs."""
    env = base_env(workdir, FAST)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "fast_axolotl", "status"],
            env=env,
            cwd=str(workdir),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"(could not run `python -m fast_axolotl status`: {exc})"
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or proc.stdout.strip().splitlines() or [""])[-1]
        return f"(`python -m fast_axolotl status` is not available: {last})"
    return proc.stdout.rstrip()

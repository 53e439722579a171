"""End-to-end demo: real ``axolotl preprocess``, with and without fast-axolotl.

Run as ``fast-axolotl demo [--rows N] [--workdir DIR] [--keep]`` (or
``python -m fast_axolotl demo``). The story, fully offline inside a work directory:

1. ``data``: two generated datasets of English-like text, an alpaca one and a
   multi-turn chat one, each with exact duplicates and rows longer than the
   sequence length;
2. ``tokenizer``: a small byte-level BPE tokenizer trained on the same kind of
   text, saved with a tiny Llama config (no weights) as a local model directory;
3. ``config``: one Axolotl YAML config per dataset and run (sample packing and
   exact deduplication on; ``type: alpaca`` and ``type: chat_template`` with
   Axolotl's chatml template);
4. ``run``: ``python -m axolotl.cli.preprocess <config>`` in fresh subprocesses,
   once with ``FAST_AXOLOTL_DISABLE=1`` (plain Axolotl) and once with
   fast-axolotl allowed to activate itself, for each dataset;
5. ``compare``: the saved ``.arrow`` files of both runs must be byte-identical
   and the loaded datasets equal (splits, features, every value);
6. fast-axolotl's status and a summary with both timings of each dataset.

Only the standard library is imported at module level: this package may be
imported at interpreter start-up, so ``tokenizers``, ``datasets`` and friends
are imported inside the functions that need them. ``data`` and ``tokenizer`` are
also the test bed's: tests and benchmarks build their tokenizers and text there.
"""

from __future__ import annotations

import argparse
import pathlib
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field

from fast_axolotl.demo.compare import Comparison, compare_prepared, find_prepared_datasets
from fast_axolotl.demo.config import SEQUENCE_LEN, write_axolotl_config
from fast_axolotl.demo.data import (
    DEFAULT_SEED,
    DatasetStats,
    generate_chat_dataset,
    generate_dataset,
    tokenizer_corpus,
)
from fast_axolotl.demo.run import (
    FAST,
    LOG_TAIL_LINES,
    MODE_TITLES,
    PLAIN,
    RunResult,
    fast_axolotl_status,
    run_preprocess,
    tail,
)
from fast_axolotl.demo.tokenizer import build_model_dir

__all__ = [
    "DATASETS",
    "DEFAULT_ROWS",
    "Comparison",
    "DatasetDemo",
    "DemoResult",
    "build_model_dir",
    "build_parser",
    "compare_prepared",
    "find_prepared_datasets",
    "generate_chat_dataset",
    "generate_dataset",
    "main",
    "print_summary",
    "run_demo",
    "tail",
    "tokenizer_corpus",
]

DEFAULT_ROWS = 20_000
#: The demo's datasets: name -> (generator, file name, what a row is).
DATASETS = {
    "alpaca": (generate_dataset, "alpaca.jsonl", "alpaca rows"),
    "chat_template": (generate_chat_dataset, "chat.jsonl", "multi-turn conversations"),
}


@dataclass
class DatasetDemo:
    """Both runs of one dataset and the comparison of what they saved."""

    name: str
    dataset: DatasetStats
    plain: RunResult | None = None
    fast: RunResult | None = None
    comparison: Comparison | None = None

    @property
    def both_succeeded(self) -> bool:
        return bool(self.plain and self.plain.ok and self.fast and self.fast.ok)

    @property
    def identical(self) -> bool:
        return bool(self.comparison and self.comparison.identical)

    @property
    def speedup(self) -> float | None:
        if not self.both_succeeded or self.fast.seconds <= 0:  # type: ignore[union-attr]
            return None
        return self.plain.seconds / self.fast.seconds  # type: ignore[union-attr]


@dataclass
class DemoResult:
    rows: int
    workdir: pathlib.Path
    datasets: dict[str, DatasetDemo] = field(default_factory=dict)
    status_output: str | None = None
    error: str | None = None

    @property
    def both_succeeded(self) -> bool:
        return bool(self.datasets) and all(d.both_succeeded for d in self.datasets.values())

    @property
    def identical(self) -> bool:
        return bool(self.datasets) and all(d.identical for d in self.datasets.values())

    @property
    def exit_code(self) -> int:
        if self.error or not self.both_succeeded:
            return 2
        return 0 if self.identical else 1


def _say(msg: str = "") -> None:
    print(msg, flush=True)


def run_demo(
    rows: int = DEFAULT_ROWS,
    workdir: pathlib.Path | str | None = None,
    *,
    num_proc: int = 1,
    repeat: int = 1,
    val_set_size: float = 0.05,
    seed: int = DEFAULT_SEED,
    show_status: bool = True,
    verbose: bool = True,
    datasets: tuple[str, ...] = tuple(DATASETS),
) -> DemoResult:
    """Run the whole demo in ``workdir`` and return the outcome.

    ``workdir`` is created if missing and never removed here (``main`` removes
    the temporary one it creates); ``None`` makes a new temporary directory.
    Nothing is printed about the outcome: see ``print_summary``.
    """
    say = _say if verbose else (lambda msg="": None)
    if workdir is None:
        workdir = tempfile.mkdtemp(prefix="fast-axolotl-demo-")
    workdir = pathlib.Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    result = DemoResult(rows=rows, workdir=workdir)

    say(f"fast-axolotl demo: real `axolotl preprocess`, {rows} rows, work dir {workdir}")
    data_paths = {}
    for name in datasets:
        generate, file_name, what = DATASETS[name]
        t0 = time.perf_counter()
        data_paths[name] = workdir / file_name
        stats = generate(data_paths[name], rows, seed)
        result.datasets[name] = DatasetDemo(name, stats)
        say(
            f"[1/5] dataset {name}: {stats.rows} {what} ({stats.duplicate_rows} exact "
            f"duplicates, {stats.overlong_rows} overlong) -> {file_name}  "
            f"[{time.perf_counter() - t0:.1f}s]"
        )

    t0 = time.perf_counter()
    model_dir = workdir / "tiny-llama"
    vocab = build_model_dir(model_dir, tokenizer_corpus(seed))
    say(
        f"[2/5] tokenizer: byte-level BPE, {vocab} tokens, tiny Llama config -> "
        f"{model_dir.name}/  [{time.perf_counter() - t0:.1f}s]"
    )

    def tag(name: str, mode: str) -> str:
        # The alpaca run keeps the names it had before the chat dataset joined.
        return mode if name == "alpaca" else f"{name}-{mode}"

    configs = {}
    for name in datasets:
        for mode in (PLAIN, FAST):
            configs[name, mode] = workdir / f"config-{tag(name, mode)}.yml"
            write_axolotl_config(
                configs[name, mode],
                model_dir=model_dir,
                data_path=data_paths[name],
                prepared_path=workdir / f"prepared-{tag(name, mode)}",
                output_dir=workdir / f"output-{tag(name, mode)}",
                num_proc=num_proc,
                val_set_size=val_set_size,
                dataset_type=name,
            )
    say(
        f"[3/5] axolotl configs: {', '.join(p.name for p in configs.values())} "
        f"(sequence_len {SEQUENCE_LEN}, sample_packing, dataset_exact_deduplication)"
    )

    # Plain first, then fast-axolotl; with repetitions the two alternate, so
    # that both see the same share of whatever else the machine is doing.
    for name in datasets:
        demo = result.datasets[name]
        for rep in range(1, repeat + 1):
            for step, mode in ((4, PLAIN), (5, FAST)):
                suffix = f" (repetition {rep}/{repeat})" if repeat > 1 else ""
                say(f"[{step}/5] axolotl preprocess {name}, {MODE_TITLES[mode]}{suffix} ...")
                t = tag(name, mode)
                log_path = workdir / (
                    f"preprocess-{t}-{rep}.log" if repeat > 1 else f"preprocess-{t}.log"
                )
                run = run_preprocess(
                    mode,
                    configs[name, mode],
                    workdir / f"prepared-{t}",
                    workdir,
                    log_path,
                    output_dir=workdir / f"output-{t}",
                    cache=t,
                )
                previous: RunResult | None = getattr(demo, mode)
                if previous is not None:
                    run.times = previous.times + run.times
                setattr(demo, mode, run)
                if run.ok:
                    say(f"      ok in {run.times[-1]:.2f}s, log: {run.log_path}")
                else:
                    say(f"      FAILED (exit code {run.returncode}), log: {run.log_path}")
                    say(f"----- last {LOG_TAIL_LINES} lines of {run.log_path.name} -----")
                    say(tail(run.log_path))
                    say("-----")
                    result.error = f"axolotl preprocess {name} failed ({MODE_TITLES[mode]})"
                    return result

        say(f"comparing the prepared {name} datasets ...")
        demo.comparison = compare_prepared(
            workdir / f"prepared-{tag(name, PLAIN)}", workdir / f"prepared-{tag(name, FAST)}"
        )

    if show_status:
        result.status_output = fast_axolotl_status(workdir)
    return result


def print_summary(result: DemoResult) -> None:
    say = _say
    if result.status_output is not None:
        say("")
        say("fast-axolotl status (in the accelerated environment):")
        for line in result.status_output.splitlines():
            say("  " + line)

    def secs(run: RunResult | None) -> str:
        if run is None:
            return "not run"
        if not run.ok:
            return "failed"
        if len(run.times) > 1:
            return f"{run.seconds:.2f} s (best of {len(run.times)})"
        return f"{run.seconds:.2f} s"

    rows = [("input rows (each dataset)", str(result.rows))]
    for name, demo in result.datasets.items():
        cmp = demo.comparison
        say("")
        if cmp is not None:
            for where, n in cmp.splits.items():
                say(f"prepared {name} dataset {where}: {n} rows, columns {', '.join(cmp.columns)}")
            for diff in cmp.differences:
                say(f"  DIFFERENCE ({name}): {diff}")
        speedup = demo.speedup
        rows += [
            (f"{name}: axolotl preprocess, plain Axolotl", secs(demo.plain)),
            (f"{name}: axolotl preprocess, with fast-axolotl", secs(demo.fast)),
            (f"{name}: speedup (plain / fast-axolotl)", f"{speedup:.2f}x" if speedup else "n/a"),
            (
                f"{name}: prepared data identical",
                "n/a" if cmp is None else ("yes" if cmp.identical else "NO"),
            ),
            (
                f"{name}: saved .arrow files byte-identical",
                "n/a"
                if cmp is None
                else f"{'yes' if cmp.data_files_identical else 'NO'} ({cmp.data_files} files)",
            ),
        ]
    width = max(len(k) for k, _ in rows)
    vwidth = max(len(v) for _, v in rows)
    say("")
    say("+-" + "-" * width + "-+-" + "-" * vwidth + "-+")
    for k, v in rows:
        say(f"| {k:<{width}} | {v:>{vwidth}} |")
    say("+-" + "-" * width + "-+-" + "-" * vwidth + "-+")

    for demo in result.datasets.values():
        if demo.fast is not None and demo.fast.fast_axolotl_loaded is False:
            say(
                "note: fast-axolotl did not activate in the accelerated run (is it installed in "
                f"{sys.executable}'s environment?), so both runs used plain Axolotl."
            )
            break
    for demo in result.datasets.values():
        if demo.plain is not None and demo.plain.fast_axolotl_loaded:
            say("note: fast-axolotl was loaded despite FAST_AXOLOTL_DISABLE=1.")
            break
    if result.error:
        say(f"error: {result.error}")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return value


def _dataset_names(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in DATASETS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown dataset {', '.join(unknown) or '(none)'}; choose from {', '.join(DATASETS)}"
        )
    return names


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fast-axolotl demo",
        description=(
            "Run real `axolotl preprocess` on generated data twice, with plain Axolotl "
            "and with fast-axolotl, compare the prepared datasets and the times."
        ),
    )
    parser.add_argument(
        "--rows",
        type=_positive_int,
        default=DEFAULT_ROWS,
        help=f"rows of each generated dataset (default {DEFAULT_ROWS})",
    )
    parser.add_argument(
        "--workdir",
        type=pathlib.Path,
        default=None,
        help="work directory (default: a new temporary directory)",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the temporary work directory (a --workdir is always kept)",
    )
    parser.add_argument(
        "--num-proc",
        type=_positive_int,
        default=1,
        help="Axolotl's dataset_num_proc for both runs (default 1)",
    )
    parser.add_argument(
        "--repeat",
        type=_positive_int,
        default=1,
        help="run each mode this many times, alternating, and report the "
        "best time of each (default 1)",
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help="seed of the generated datasets"
    )
    parser.add_argument(
        "--datasets",
        type=_dataset_names,
        default=tuple(DATASETS),
        help=f"comma-separated datasets to run (default {','.join(DATASETS)})",
    )
    parser.add_argument(
        "--no-status", action="store_true", help="do not run `python -m fast_axolotl status`"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    temporary = args.workdir is None
    workdir = (
        pathlib.Path(tempfile.mkdtemp(prefix="fast-axolotl-demo-")) if temporary else args.workdir
    )
    result: DemoResult | None = None
    try:
        result = run_demo(
            args.rows,
            workdir,
            num_proc=args.num_proc,
            repeat=args.repeat,
            seed=args.seed,
            show_status=not args.no_status,
            datasets=args.datasets,
        )
    except KeyboardInterrupt:
        _say("interrupted")
        return 130
    finally:
        if result is not None:
            print_summary(result)
        failed = result is None or result.exit_code != 0
        if temporary and not args.keep and not failed:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            _say(f"work dir kept: {workdir}")
    return result.exit_code

"""Where the time of `axolotl preprocess` goes, from the demo's logs.

    python benchmarks/demo_phases.py WORKDIR [WORKDIR ...]

Reads every ``preprocess-*.log`` the demo (``python -m fast_axolotl demo --workdir``)
left in each work dir and splits its run at Axolotl's own log lines: interpreter start,
imports and config (up to "Loading raw datasets"), loading the JSON and tokenizing (up to
"min_input_len"), dropping long sequences (up to "Dropped"), the sample-packing step (up
to the first "Starting deduplication"), deduplication, save and reload (up to
"check_dataset_labels"), and the rest of the run (shutdown). The run's start and duration
are the last line the demo writes to each log. Prints one Markdown table.
"""

from __future__ import annotations

import datetime
import pathlib
import re
import sys

from fast_axolotl.demo.run import RUN_BOUNDS

STAMP = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]")
BOUNDS = re.compile(re.escape(RUN_BOUNDS) + r" started \[([^\]]+)\] exit (-?\d+) after ([\d.]+) s")

#: (phase, the message that ends it), in run order.
PHASES = (
    ("interpreter start, imports (torch, transformers, Axolotl), config", "Loading raw datasets"),
    ("load JSON + tokenize", "min_input_len"),
    ("drop long sequences", "Dropped "),
    ("sample-packing step", "Starting deduplication"),
    ("deduplication, save and reload, deduplication", "check_dataset_labels"),
)
SHUTDOWN = "labels check, shutdown"


def _time(stamp: str) -> datetime.datetime:
    return datetime.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f")


def phases(log: pathlib.Path) -> dict[str, float] | None:
    """Seconds per phase of one run, or None (no bounds line: an older or failed run)."""
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    bounds = next((m for line in lines if (m := BOUNDS.search(line))), None)
    if bounds is None or bounds.group(2) != "0":
        return None
    start = _time(bounds.group(1))
    end = start + datetime.timedelta(seconds=float(bounds.group(3)))
    out: dict[str, float] = {}
    at = start
    for name, marker in PHASES:
        hit = next(
            (STAMP.match(line) for line in lines if marker in line and STAMP.match(line)), None
        )
        if hit is None:
            return None
        when = _time(hit.group(1))
        out[name] = (when - at).total_seconds()
        at = when
    out[SHUTDOWN] = (end - at).total_seconds()
    out["total"] = (end - start).total_seconds()
    return out


def main(argv: list[str]) -> int:
    columns: list[tuple[str, dict[str, float]]] = []
    for workdir in map(pathlib.Path, argv or ["."]):
        for log in sorted(workdir.glob("preprocess-*.log")):
            got = phases(log)
            if got is not None:
                columns.append((f"{workdir.name}/{log.stem.removeprefix('preprocess-')}", got))
    if not columns:
        print("no demo run logs with timings found", file=sys.stderr)
        return 1
    names = [name for name, _ in PHASES] + [SHUTDOWN, "total"]
    print("| step | " + " | ".join(c for c, _ in columns) + " |")
    print("| --- |" + " ---: |" * len(columns))
    for name in names:
        cells = " | ".join(f"{got[name]:.1f} s" for _, got in columns)
        print(f"| {'**total**' if name == 'total' else name} | {cells} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

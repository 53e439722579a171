"""Axolotl's original versus fast-axolotl's replacement, on the same inputs, in one process.

    python benchmarks/run.py [--quick] [--only NAME ...] [--json OUT] [--no-memory]

Every ``bench_<family>.py`` next to this file is a benchmark family: its ``CASES`` are
paired comparisons (see ``harness.Case``), its optional ``run_section(options)`` returns a
free-form table. For each case both results are checked to be identical (type, dtype,
shape, values) before anything is timed; a mismatch is reported and the case not timed.
Ratio = original / fast on the best (minimum) time per call; below 1.0 is a LOSS.
Exit status: 1 if any case mismatched or failed, 0 otherwise (losses are reported, and
``--fail-on-loss`` turns them into exit status 2).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import re
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import harness  # noqa: E402


def discover() -> dict[str, Any]:
    """family name -> module, for every bench_<family>.py here, in name order."""
    families = {}
    for path in sorted(HERE.glob("bench_*.py")):
        families[path.stem.removeprefix("bench_")] = importlib.import_module(path.stem)
    return families


def selected(family: str, name: str, only: list[str] | None) -> bool:
    """``--only`` takes a family (``lengths``), a path part of a case name
    (``lengths/input_ids``) or a whole word of it (``shuffled``): ``tokenize`` selects
    the family, not the ``.../tokenized`` cases of others."""
    if not only:
        return True
    words = set(re.split(r"[/\s]+", name))
    return any(o == family or o in words or ("/" in o and o in name) for o in only)


# ---------------------------------------------------------------------------- formatting


def fmt_time(ns: float | None) -> str:
    if ns is None:
        return "-"
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.0f} ns"


def fmt_mem(kib: int | str | None) -> str:
    if kib is None:
        return "-"
    if isinstance(kib, str):
        return "n/a"
    if abs(kib) >= 1024 * 1024:
        return f"{kib / 1024 / 1024:.2f} GiB"
    if abs(kib) >= 1024:
        return f"{kib / 1024:.1f} MiB"
    return f"{kib} KiB"


def fmt_ratio(ratio: float | None) -> str:
    if ratio is None:
        return "-"
    text = f"{ratio:,.0f}x" if ratio >= 100 else f"{ratio:.2f}x" if ratio < 10 else f"{ratio:.1f}x"
    return text + ("  << LOSS" if ratio < 1.0 else "")


def table(headers: list[str], rows: list[list[str]], right: set[int]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            str(c).rjust(w) if i in right else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


def best(t: harness.Timing | None) -> str:
    return fmt_time(None if t is None else t.best_ns)


def case_row(r: harness.Result, with_memory: bool) -> list[str]:
    o, f = r.original, r.fast
    status = r.status if r.status != "ok" else ("DEFERRED" if r.deferred else "")
    row = [
        r.case.name,
        r.case.size,
        "-" if o is None or f is None else f"{o.samples}/{f.samples}",
        best(o),
        best(f),
        fmt_ratio(r.ratio),
    ]
    if with_memory:
        row += [fmt_mem(r.mem_original_kib), fmt_mem(r.mem_fast_kib)]
    return [*row, status]


def environment() -> dict[str, str]:
    info = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": str(os.cpu_count()),
    }
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next(
                line.split(":", 1)[1].strip() for line in f if line.startswith("model name")
            )
    except (OSError, StopIteration):
        info["cpu"] = platform.processor() or "unknown"
    from importlib import metadata

    for dist in ("fast-axolotl", "axolotl", "numpy", "datasets", "pyarrow", "torch"):
        try:
            info[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            info[dist] = "not installed"
    return info


# ---------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small inputs only and a shorter time budget (about 1 minute)",
    )
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="a family (lengths, startup), case prefix or substring; repeatable",
    )
    parser.add_argument("--json", metavar="OUT", help="also write every figure to this file")
    parser.add_argument(
        "--no-memory", action="store_true", help="skip the peak-memory measurements"
    )
    parser.add_argument(
        "--budget",
        type=float,
        metavar="SECONDS",
        help="timing budget per path and case (default 1.5, quick 0.3)",
    )
    parser.add_argument(
        "--fail-on-loss", action="store_true", help="exit with status 2 if any ratio is below 1.0"
    )
    args = parser.parse_args(argv)

    options = harness.Options(quick=args.quick, memory=not args.no_memory)
    options.budget_s = args.budget or (0.3 if args.quick else 1.5)

    env = environment()
    print("fast-axolotl benchmarks: Axolotl's original vs fast-axolotl, same input, one process")
    print(
        f"  {env['cpu']}, {env['cpus']} CPUs; Python {env['python']}; "
        f"axolotl {env['axolotl']}, fast-axolotl {env['fast-axolotl']}, numpy {env['numpy']}, "
        f"datasets {env['datasets']}, pyarrow {env['pyarrow']}"
    )
    load = os.getloadavg()[0]
    print(
        f"  mode: {'quick' if args.quick else 'full'}, budget {options.budget_s}s per path "
        f"and case; load average at start {load:.1f}; times are the best per-call time over "
        "n samples (original/fast)\n"
    )
    env["loadavg_start"] = f"{load:.2f}"

    report: dict[str, Any] = {
        "environment": env,
        "mode": "quick" if args.quick else "full",
        "cases": [],
        "sections": [],
    }
    problems: list[str] = []
    losses: list[str] = []
    started = time.perf_counter()
    for family, module in discover().items():
        cases = [
            c
            for c in getattr(module, "CASES", [])
            if selected(family, c.name, args.only) and (c.quick or not args.quick)
        ]
        results = []
        for case in cases:
            if options.verbose:
                print(
                    f"  running {case.name} [{case.size}] ...", end="", flush=True, file=sys.stderr
                )
            t = time.perf_counter()
            result = harness.measure(case, options)
            results.append(result)
            if options.verbose:
                figures = (
                    f"original {best(result.original)}, fast {best(result.fast)}, "
                    f"{fmt_ratio(result.ratio)}"
                    if result.ratio is not None
                    else f"{result.status} {result.detail}"
                )
                print(f" {time.perf_counter() - t:.1f}s: {figures}", file=sys.stderr)
            if result.status != "ok":
                problems.append(f"{result.status} {case.name} [{case.size}]: {result.detail}")
            elif result.ratio is not None and result.ratio < 1.0:
                losses.append(
                    f"{case.name} [{case.size}]: {fmt_ratio(result.ratio)} "
                    f"(original {best(result.original)}, fast {best(result.fast)})"
                )
            if result.deferred:
                problems.append(
                    f"DEFERRED {case.name} [{case.size}]: the replacement called "
                    "Axolotl's original, so this measures the fallback"
                )
            report["cases"].append(result_json(family, result))
        if results:
            with_memory = any(r.case.memory for r in results) and options.memory
            headers = ["case", "size", "n", "original", "fast", "ratio"]
            if with_memory:
                headers += ["peak mem orig", "peak mem fast"]
            headers.append("")
            right = {2, 3, 4, 5, 6, 7}
            print(f"== {family} ==")
            print(table(headers, [case_row(r, with_memory) for r in results], right))
            notes = getattr(module, "NOTES", [])
            for note in notes:
                print(f"  {note}")
            print()
        if hasattr(module, "run_section") and (not args.only or family in args.only):
            if options.verbose:
                print(f"  running {family} section ...", file=sys.stderr)
            section = module.run_section(options)
            print(f"== {section.title} ==")
            print(table(section.headers, section.rows, set(range(1, len(section.headers)))))
            for note in section.notes:
                print(f"  {note}")
            print()
            problems += section.problems
            losses += section.losses
            report["sections"].append(
                {
                    "family": family,
                    "title": section.title,
                    "headers": section.headers,
                    "rows": section.rows,
                    "notes": section.notes,
                    "problems": section.problems,
                    "losses": section.losses,
                    "data": section.data,
                }
            )

    print("== losses (ratio < 1.0) ==")
    print("\n".join(f"  LOSS {x}" for x in losses) if losses else "  none measured")
    print("== problems ==")
    print("\n".join(f"  {x}" for x in problems) if problems else "  none")
    env["loadavg_end"] = f"{os.getloadavg()[0]:.2f}"
    print(f"\ntotal {time.perf_counter() - started:.0f}s, load average at end {env['loadavg_end']}")
    report["losses"], report["problems"] = losses, problems
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    if any(not p.startswith("DEFERRED") for p in problems):
        return 1
    return 2 if losses and args.fail_on_loss else 0


def result_json(family: str, r: harness.Result) -> dict[str, Any]:
    def timing(t: harness.Timing | None) -> dict[str, Any] | None:
        return (
            None
            if t is None
            else {
                "best_ns": t.best_ns,
                "median_ns": t.median_ns,
                "samples": t.samples,
                "calls_per_sample": t.calls_per_sample,
            }
        )

    return {
        "family": family,
        "case": r.case.name,
        "size": r.case.size,
        "rows": r.case.rows,
        "target": r.case.target,
        "status": r.status,
        "detail": r.detail,
        "deferred": r.deferred,
        "original": timing(r.original),
        "fast": timing(r.fast),
        "ratio": r.ratio,
        "peak_rss_kib_original": r.mem_original_kib,
        "peak_rss_kib_fast": r.mem_fast_kib,
        "setup_s": r.setup_s,
        "note": r.case.note,
    }


if __name__ == "__main__":
    sys.exit(main())

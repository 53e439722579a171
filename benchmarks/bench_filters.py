"""Axolotl's whole preprocess steps around the filters: with fast-axolotl vs without.

``process_datasets_for_packing`` (drop rows without trainable tokens, add position ids)
and ``handle_long_seq_in_dataset`` (truncate / drop / raise) are run end to end on the same
``datasets.Dataset``, once with fast-axolotl installed and once after
``fast_axolotl.uninstall()`` (Axolotl's own code throughout), alternating, best time of the
repeats. ``handle_long_seq_in_dataset`` is not replaced itself: it is accelerated through
the per-batch functions it passes to ``filter``/``map``, so a paired ``Case`` cannot
reach its original; hence a section rather than ``CASES``.

Data: ``input_ids`` / ``attention_mask`` / ``labels`` as ``list<int32>`` columns, row
lengths U[50, 3000] tokens (``raise``: U[50, 2048], so nothing raises), labels -100 with
probability 0.3 and entirely -100 on 3% of rows; sequence_len 2048, min_sample_len 2.
Peak memory: peak RSS a step adds over the RSS before it (VmHWM reset through
/proc/self/clear_refs after the input is built), in a fresh child process per path.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import time
from typing import Any

import numpy as np
import pyarrow as pa

try:
    from harness import Case, Section
except ImportError:  # run as a child process for the memory figures
    Case = Section = None  # type: ignore[assignment,misc]

CASES: list[Any] = []  # see run_section
SIZES = (10, 10_000, 100_000)
LABEL = {10: "10", 10_000: "10k", 100_000: "100k"}
STEPS = ("packing", "truncate", "drop", "raise")
REPEATS = {10: 15, 10_000: 3, 100_000: 1}
MEMORY_SIZES = (10_000, 100_000)


def make(rows: int, max_len: int = 3000, seed: int = 0) -> Any:
    import datasets

    datasets.disable_progress_bars()
    rng = np.random.default_rng(seed)
    lengths = rng.integers(50, max_len + 1, rows)
    offsets = np.zeros(rows + 1, np.int32)
    np.cumsum(lengths, out=offsets[1:])
    n = int(offsets[-1])
    off = pa.array(offsets)
    ids = rng.integers(0, 32000, n, dtype=np.int32)
    labels = ids.copy()
    labels[rng.random(n) < 0.3] = -100
    for r in np.flatnonzero(rng.random(rows) < 0.03):
        labels[offsets[r] : offsets[r + 1]] = -100
    table = pa.table(
        {
            "input_ids": pa.ListArray.from_arrays(off, pa.array(ids)),
            "attention_mask": pa.ListArray.from_arrays(off, pa.array(np.ones(n, np.int32))),
            "labels": pa.ListArray.from_arrays(off, pa.array(labels)),
        }
    )
    return datasets.Dataset(datasets.table.InMemoryTable(table))


def step_call(step: str, ds: Any) -> Any:
    from axolotl.utils import trainer
    from axolotl.utils.data import utils as data_utils
    from axolotl.utils.dict import DictDefault

    if step == "packing":
        cfg = DictDefault({"sample_packing": True, "is_preprocess": True})
        return trainer.process_datasets_for_packing(cfg, ds, None)[0]
    cfg = DictDefault({"is_preprocess": True, "min_sample_len": 2, "excess_length_strategy": step})
    return data_utils.handle_long_seq_in_dataset(ds, 2048, cfg)


def summary(ds: Any) -> Any:
    return ds.features, ds.with_format("arrow")[:]


def dataset_for(step: str, rows: int) -> Any:
    return make(rows, max_len=2048 if step == "raise" else 3000)


def timed(step: str, ds: Any, fast: bool) -> tuple[float, Any]:
    import fast_axolotl

    if fast:
        fast_axolotl.install()
    else:
        fast_axolotl.uninstall()
    gc.collect()
    t0 = time.perf_counter()
    out = step_call(step, ds)
    elapsed = time.perf_counter() - t0
    fast_axolotl.install()
    return elapsed, out


def peak_rss_mb(step: str, rows: int, fast: bool) -> float:
    env = dict(os.environ, HF_DATASETS_DISABLE_PROGRESS_BARS="1")
    out = subprocess.run(
        [sys.executable, __file__, "--child", step, str(rows), "fast" if fast else "original"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return float(json.loads(out.stdout.strip().splitlines()[-1])["peak_mb"])


def _child(step: str, rows: int, path: str) -> None:
    ds = dataset_for(step, rows)
    import fast_axolotl

    if path == "original":
        fast_axolotl.uninstall()
    import axolotl.utils.data.utils  # noqa: F401

    gc.collect()
    # Reset the peak RSS (VmHWM) so that building the input does not count.
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    rss = _status_kb("VmRSS")
    step_call(step, ds)
    print(json.dumps({"peak_mb": (_status_kb("VmHWM") - rss) / 1024}))


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def run_section(options: Any) -> Any:
    os.environ.setdefault("AXOLOTL_DO_NOT_TRACK", "1")
    rows_out: list[list[str]] = []
    problems: list[str] = []
    losses: list[str] = []
    data: dict[str, Any] = {}
    sizes = (10, 10_000) if options.quick else SIZES
    for rows in sizes:
        for step in STEPS:
            ds = dataset_for(step, rows)
            best = {True: float("inf"), False: float("inf")}
            results = {}
            for _ in range(REPEATS[rows]):
                for fast in (False, True):
                    t, out = timed(step, ds, fast)
                    best[fast] = min(best[fast], t)
                    results.setdefault(fast, summary(out))
                    del out
            if results[True][0] != results[False][0] or not results[True][1].equals(
                results[False][1]
            ):
                problems.append(f"{step} {LABEL[rows]}: results differ")
            del ds, results  # free the inputs and outputs before the memory children run
            ratio = best[False] / best[True]
            mem = ""
            if options.memory and rows in MEMORY_SIZES and not options.quick:
                m_orig, m_fast = peak_rss_mb(step, rows, False), peak_rss_mb(step, rows, True)
                mem = f"{m_orig:.0f} / {m_fast:.0f}"
                if m_fast > m_orig * 1.05:
                    losses.append(
                        f"{step} {LABEL[rows]}: peak memory {m_fast:.0f} > {m_orig:.0f} MB"
                    )
            rows_out.append(
                [
                    step,
                    LABEL[rows],
                    f"{best[False] * 1e3:.1f}",
                    f"{best[True] * 1e3:.1f}",
                    f"{ratio:.1f}x",
                    mem,
                ]
            )
            data[f"{step}/{rows}"] = {"original_s": best[False], "fast_s": best[True]}
            if ratio < 1.0:
                losses.append(f"{step} {LABEL[rows]}: {ratio:.2f}x")
    return Section(
        title="filters: whole preprocess steps, with vs without fast-axolotl",
        headers=["step", "rows", "axolotl ms", "fast ms", "ratio", "peak MB axolotl / fast"],
        rows=rows_out,
        notes=[
            "packing = process_datasets_for_packing (sample_packing); truncate/drop/raise = "
            "handle_long_seq_in_dataset(excess_length_strategy=...), sequence_len 2048",
            "list<int32> columns, rows U[50,3000] tokens (raise: U[50,2048]); best of "
            + ", ".join(f"{REPEATS[r]} at {LABEL[r]}" for r in sizes),
        ],
        problems=problems,
        losses=losses,
        data=data,
    )


if __name__ == "__main__" and len(sys.argv) == 5 and sys.argv[1] == "--child":
    _child(sys.argv[2], int(sys.argv[3]), sys.argv[4])

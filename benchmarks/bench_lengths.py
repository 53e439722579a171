"""``axolotl.utils.samplers.utils.get_dataset_lengths``: every branch, 10 to 1M rows.

Inputs are ``datasets.Dataset`` objects built straight from pyarrow tables (the way
``datasets`` holds a tokenized dataset: ``list<int64>`` columns with int32 offsets), so
building even the 1M-row inputs takes about a second. Row lengths are drawn uniformly,
seeded, and shrink with the row count so that the 1M-row inputs stay near 0.5 GB:

    10 and 10k rows: U[1, 2048] tokens (mean ~1024)
    100k rows:       U[1, 256]  tokens (mean ~128)
    1M rows:         U[1, 128]  tokens (mean ~64)

``position_ids`` rows are 0..len-1 (one packed-free sequence per row), ``input_ids`` rows
are random token ids below 32000, ``length`` is the int64 row length. A dataset holds only
the column its branch reads: both paths select that one column, so other columns change
neither path's work.
"""

from __future__ import annotations

import shutil
import tempfile

import numpy as np
import pyarrow as pa
from harness import Call, Case

TARGET = "axolotl.utils.samplers.utils:get_dataset_lengths"

SIZES = (10, 10_000, 100_000, 1_000_000)
MAX_LEN = {10: 2048, 10_000: 2048, 100_000: 256, 1_000_000: 128}
LABEL = {10: "10", 10_000: "10k", 100_000: "100k", 1_000_000: "1M"}

NOTES = [
    "row lengths: 10 and 10k rows U[1,2048] tokens, 100k rows U[1,256], 1M rows U[1,128] "
    "(int64 values, int32 offsets)",
    "peak mem = peak RSS one call adds (kernel high-water mark, in-process; see "
    "docs/benchmarks.md)",
]


def _datasets():  # imported lazily: `datasets` is only needed once a case runs
    import datasets

    datasets.disable_progress_bars()
    return datasets


def row_lengths(rows: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(1, MAX_LEN[rows] + 1, rows, dtype=np.int64)


def list_column(lengths: np.ndarray, kind: str, seed: int = 1) -> pa.ListArray:
    """A ``list<int64>`` column with the given row lengths: position ids or token ids."""
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    total = int(offsets[-1])
    if kind == "position_ids":
        values = np.arange(total, dtype=np.int64) - np.repeat(offsets[:-1], lengths)
    else:
        values = np.random.default_rng(seed).integers(0, 32_000, total, dtype=np.int64)
    return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), pa.array(values))


def in_memory(rows: int, column: str, shuffled: bool = False):
    lengths = row_lengths(rows)
    if column == "length":
        table = pa.table({"length": pa.array(lengths)})
    else:
        table = pa.table({column: list_column(lengths, column)})
    ds = _datasets().Dataset(table)
    if shuffled:
        ds = ds.shuffle(seed=0)  # adds an indices mapping; the table stays as it is
        assert ds._indices is not None
    return ds


def setup(rows: int, column: str, shuffled: bool = False, **kwargs: object):
    def build() -> Call:
        return Call((in_memory(rows, column, shuffled),), dict(kwargs))

    return build


def setup_mmap(rows: int, column: str, **kwargs: object):
    """save_to_disk + load_from_disk: the table is memory-mapped from Arrow files, as for
    a dataset Axolotl prepared earlier and loads from its cache."""

    def build() -> Call:
        folder = tempfile.mkdtemp(prefix="fast-axolotl-bench-")
        in_memory(rows, column).save_to_disk(folder)
        ds = _datasets().load_from_disk(folder)
        return Call((ds,), dict(kwargs), cleanup=lambda: shutil.rmtree(folder, ignore_errors=True))

    return build


def setup_merged(rows: int):
    """What ``axolotl.utils.data.shared.merge_datasets`` returns for several datasets with
    its default ``shuffle_merged_datasets``: ``concatenate_datasets`` of the parts, then
    ``shuffle``. The concatenated dataset records every column as a format column (with
    no format type), which the replacement treats as formatted."""

    def build() -> Call:
        ds = in_memory(rows, "input_ids")
        cut = [0, rows // 3, 2 * rows // 3, rows]
        parts = [ds.select(range(cut[i], cut[i + 1])) for i in range(3)]
        merged = _datasets().concatenate_datasets(parts).shuffle(seed=0)
        return Call((merged,))

    return build


def size(rows: int, lists: bool) -> str:
    return f"{LABEL[rows]} rows" + (f", len U[1,{MAX_LEN[rows]}]" if lists else "")


def cases() -> list[Case]:
    """One row per branch and size, grouped by branch. Shuffled variants (an indices
    mapping) exist for every branch: Axolotl's ``from_arrow`` path ignores the mapping and
    the replacement must too. There is no 1M-row shuffled case: Axolotl reads a shuffled
    dataset through ``take`` per batch of 10 rows and needs minutes there. Memory is
    measured where Axolotl reads every row."""
    # name, column, kwargs, shuffled, sizes, sizes with memory
    variants = [
        ("length", "length", {}, False, SIZES, (100_000,)),
        ("length shuffled", "length", {}, True, (10_000,), ()),
        ("position_ids", "position_ids", {}, False, SIZES, (10_000, 100_000, 1_000_000)),
        ("position_ids shuffled", "position_ids", {}, True, (10_000,), ()),
        ("input_ids", "input_ids", {}, False, SIZES, (100_000, 1_000_000)),
        ("input_ids shuffled", "input_ids", {}, True, SIZES[:-1], ()),
        ("from_arrow", "input_ids", {"from_arrow": True}, False, SIZES, (100_000, 1_000_000)),
        ("from_arrow shuffled", "input_ids", {"from_arrow": True}, True, (10_000, 100_000), ()),
    ]
    out: list[Case] = []
    for name, column, kwargs, shuffled, sizes, with_memory in variants:
        for rows in sizes:
            out.append(
                Case(
                    f"lengths/{name}",
                    size(rows, column != "length"),
                    TARGET,
                    setup(rows, column, shuffled, **kwargs),
                    rows,
                    memory=rows in with_memory,
                    quick=rows <= 10_000,
                )
            )
    for rows in (10, 10_000):
        out.append(
            Case(
                "lengths/input_ids merged",
                size(rows, True),
                TARGET,
                setup_merged(rows),
                rows,
                note="concatenate_datasets of 3 parts + shuffle, as Axolotl's merge_datasets",
            )
        )
    for column in ("position_ids", "input_ids"):
        out.append(
            Case(
                f"lengths/{column} mmap",
                size(100_000, True),
                TARGET,
                setup_mmap(100_000, column),
                100_000,
                memory=True,
                quick=False,
                note="save_to_disk + load_from_disk (memory-mapped Arrow files)",
            )
        )
    return out


CASES = cases()

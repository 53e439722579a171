"""``axolotl.utils.data.utils.deduplicate_and_log_datasets`` (10 to 300k rows) and
``_deduplicate_dataset`` called directly (10 and 100k rows).

Inputs are ``datasets.Dataset`` objects built from pyarrow tables, seeded:

- ``tokenized``: ``input_ids`` and ``labels`` (``list<int64>``, lengths U[1,128], token ids
  below 32000) and ``attention_mask`` (all ones), the shape of a tokenized SFT dataset;
- ``text``: ``instruction``/``output`` strings (10-200 ASCII and non-ASCII characters) and a
  float32 ``score``, the shape of a raw dataset before tokenization;
- about 10% of the rows repeat an earlier row (exact duplicates), placed at random;
- ``train+eval``: an eval dataset of a tenth of the rows, half of them copies of train rows,
  deduplicated against train (the ``dataset_exact_deduplication`` path of ``rl.py``).

There is no 1M-row case: Axolotl's loop reads about 3-6k rows a second here, so one
1M-row call takes minutes and the harness needs several of them; 100k and 300k rows
measure the same per-row costs.

The original path of ``deduplicate_and_log_datasets`` runs entirely Axolotl's code (see
``_resolve_entirely_axolotl``). The harness compares results with ``==``, which for two
``Dataset`` objects is identity; this module teaches it to compare them by what
``select`` produced: length, fingerprint (a hash of the input's fingerprint and the exact
list of selected positions) and indices mapping.
"""

from __future__ import annotations

import shutil
import tempfile
from typing import Any

import harness
import numpy as np
import pyarrow as pa
from harness import Call, Case

TARGET = "axolotl.utils.data.utils:deduplicate_and_log_datasets"
TARGET_ONE = "axolotl.utils.data.utils:_deduplicate_dataset"
LABEL = {10: "10", 10_000: "10k", 100_000: "100k", 300_000: "300k"}

NOTES = [
    "tokenized rows: input_ids/labels list<int64> U[1,128] tokens + attention_mask; "
    "text rows: two strings of 10-200 chars + a float32; ~10% exact duplicates",
    "peak mem = peak RSS added by one call (see docs/benchmarks.md)",
]


def _same_dataset_result(a: Any, b: Any, where: str) -> str | None:
    import datasets

    if isinstance(a, datasets.Dataset) and isinstance(b, datasets.Dataset):
        ia = None if a._indices is None else a._indices.column("indices")
        ib = None if b._indices is None else b._indices.column("indices")
        if len(a) != len(b):
            return f"{where}: {len(a)} rows (original) != {len(b)} rows (fast)"
        if a._fingerprint != b._fingerprint:
            return f"{where}: fingerprint {a._fingerprint} (original) != {b._fingerprint}"
        if (ia is None) != (ib is None) or (ia is not None and not ia.equals(ib)):
            return f"{where}: indices mappings differ"
        return None
    return _difference(a, b, where)


_difference = harness.difference


def _difference_with_datasets(a: Any, b: Any, where: str = "result") -> str | None:
    if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            d = _same_dataset_result(x, y, f"{where}[{i}]")
            if d:
                return d
        return None
    return _same_dataset_result(a, b, where)


harness.difference = _difference_with_datasets

_resolve = harness.resolve


def _resolve_entirely_axolotl(target: str) -> tuple[Any, Any]:
    """Axolotl's ``deduplicate_and_log_datasets`` calls ``_deduplicate_dataset`` through its
    module, where fast-axolotl replaced it too; the original path here runs Axolotl's code
    object with that name bound to Axolotl's own helper, so no fast code is timed in it."""
    import types

    original, fast = _resolve(target)
    if target == TARGET:
        helper = _resolve(TARGET_ONE)[0]
        scope = {**original.__globals__, "_deduplicate_dataset": helper}
        original = types.FunctionType(
            original.__code__, scope, original.__name__, original.__defaults__
        )
    return original, fast


harness.resolve = _resolve_entirely_axolotl


def _datasets():
    import datasets

    datasets.disable_progress_bars()
    return datasets


def _with_duplicates(rows: int, rng: np.random.Generator) -> np.ndarray:
    """Source row of each row: ~10% of the rows copy an earlier row."""
    source = np.arange(rows)
    dup = np.flatnonzero(rng.random(rows) < 0.1)
    dup = dup[dup > 0]
    source[dup] = (rng.random(dup.size) * dup).astype(np.int64)
    return source


def _list_column(lengths: np.ndarray, values: np.ndarray) -> pa.ListArray:
    offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values))


def tokenized(rows: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 129, rows)
    total = int(lengths.sum())
    ids = rng.integers(0, 32_000, total, dtype=np.int64)
    labels = np.where(rng.random(total) < 0.3, -100, ids)
    table = pa.table(
        {
            "input_ids": _list_column(lengths, ids),
            "attention_mask": _list_column(lengths, np.ones(total, dtype=np.int64)),
            "labels": _list_column(lengths, labels),
        }
    )
    return table.take(pa.array(_with_duplicates(rows, rng)))


def text(rows: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    alphabet = np.array(list("abcdefghij klmnopqrstuvwxyz'\"é日"))

    def strings() -> list[str]:
        lengths = rng.integers(10, 201, rows)
        chars = alphabet[rng.integers(0, len(alphabet), int(lengths.sum()))]
        cuts = np.cumsum(lengths)[:-1]
        return ["".join(part) for part in np.split(chars, cuts)]

    table = pa.table(
        {
            "instruction": pa.array(strings()),
            "output": pa.array(strings()),
            "score": pa.array(rng.random(rows).astype(np.float32)),
        }
    )
    return table.take(pa.array(_with_duplicates(rows, rng)))


def setup(kind: str, rows: int, with_eval: bool = False):
    def build() -> Call:
        ds = _datasets().Dataset
        make = tokenized if kind == "tokenized" else text
        train = make(rows)
        args: tuple[Any, ...] = (ds(train),)
        if with_eval:
            n = max(1, rows // 10)
            rng = np.random.default_rng(7)
            own = make(n, seed=1)
            take = np.where(rng.random(n) < 0.5, rng.integers(0, rows, n), -1)
            evals = pa.concat_tables([train.take(pa.array(take[take >= 0])), own])
            args += (ds(evals),)
        return Call(args)

    return build


def setup_mmap(rows: int):
    def build() -> Call:
        folder = tempfile.mkdtemp(prefix="fast-axolotl-bench-")
        _datasets().Dataset(tokenized(rows)).save_to_disk(folder)
        ds = _datasets().load_from_disk(folder)
        return Call((ds,), cleanup=lambda: shutil.rmtree(folder, ignore_errors=True))

    return build


def cases() -> list[Case]:
    out: list[Case] = []
    for rows in (10, 10_000, 100_000, 300_000):
        out.append(
            Case(
                "dedup/tokenized",
                f"{LABEL[rows]} rows",
                TARGET,
                setup("tokenized", rows),
                rows,
                memory=rows >= 100_000,
                quick=rows <= 10_000,
            )
        )
    for rows in (10, 100_000):
        out.append(
            Case(
                "dedup/text",
                f"{LABEL[rows]} rows",
                TARGET,
                setup("text", rows),
                rows,
                memory=rows >= 100_000,
                quick=rows <= 10,
            )
        )
    for rows in (10, 100_000):
        out.append(
            Case(
                "dedup/train+eval",
                f"{LABEL[rows]} + {LABEL.get(rows // 10, '1')} rows",
                TARGET,
                setup("tokenized", rows, with_eval=True),
                rows + rows // 10,
                memory=rows >= 100_000,
                quick=rows <= 10,
            )
        )
    # `_deduplicate_dataset` called directly computes Axolotl's SHA-256 hex digests too.
    for kind, rows in (("tokenized", 10), ("tokenized", 100_000), ("text", 100_000)):
        out.append(
            Case(
                f"dedup/_deduplicate_dataset {kind}",
                f"{LABEL[rows]} rows",
                TARGET_ONE,
                setup(kind, rows),
                rows,
                memory=rows >= 100_000,
                quick=rows <= 10,
            )
        )
    out.append(
        Case(
            "dedup/tokenized mmap",
            "100k rows",
            TARGET,
            setup_mmap(100_000),
            100_000,
            memory=True,
            quick=False,
            note="save_to_disk + load_from_disk (memory-mapped Arrow files)",
        )
    )
    return out


CASES = cases()

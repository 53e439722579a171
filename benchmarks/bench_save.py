"""``axolotl.utils.data.shared.save_preprocessed_dataset`` (100 rows to 100k rows).

Input: a tokenized SFT dataset as ``axolotl preprocess`` holds it before saving:
``input_ids`` and ``labels`` (``list<int64>``, lengths U[16, 512], ids below 32000) and
``attention_mask`` (ones), read memory-mapped from an Arrow cache file (``load_from_disk``,
as after ``Dataset.map``), seeded. ``dataset_num_proc`` is left unset, so Axolotl uses
``os.cpu_count()`` workers (``num_proc = min(max(1, rows // 256), workers)``) and
``save_to_disk`` starts a spawned pool and a spawned ``Manager`` for every call, even at
100 rows. Every call writes the same directory (the shards of the previous call are
overwritten, by both paths alike).

In this runner the spawned children re-import only what ``benchmarks/run.py`` imports at
module level (the standard library and ``harness``) plus ``datasets`` to unpickle their
shard; under ``axolotl preprocess`` they re-import the CLI's whole stack (torch,
transformers, Axolotl), which costs more, so the ratios here understate the gain there.
Identical directories (byte for byte) are checked by tests/compat/test_save_differential.py.
"""

from __future__ import annotations

import shutil
import tempfile

import numpy as np
from harness import Call, Case

TARGET = "axolotl.utils.data.shared:save_preprocessed_dataset"
LABEL = {100: "100", 1_000: "1k", 10_000: "10k", 100_000: "100k"}

NOTES = [
    "rows: input_ids/labels list<int64> U[16,512] + attention_mask, memory-mapped; "
    "dataset_num_proc unset (os.cpu_count() workers); every call overwrites one directory",
    "original = Axolotl's save_to_disk with its spawned pool + Manager; "
    "fast = the same shards written in-process",
]


def tokenized_dataset(rows: int, folder: str):
    import datasets
    import pyarrow as pa

    rng = np.random.default_rng(rows)
    lengths = rng.integers(16, 513, rows)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    ids = rng.integers(0, 32000, int(offsets[-1])).astype(np.int64)
    ids_col = pa.ListArray.from_arrays(pa.array(offsets), pa.array(ids))
    mask = pa.ListArray.from_arrays(pa.array(offsets), pa.array(np.ones(len(ids), np.int64)))
    table = pa.table({"input_ids": ids_col, "attention_mask": mask, "labels": ids_col})
    dataset = datasets.Dataset(table)
    dataset.save_to_disk(f"{folder}/source", num_shards=1)
    return datasets.load_from_disk(f"{folder}/source")


def setup(rows: int):
    def build() -> Call:
        from axolotl.utils.dict import DictDefault

        folder = tempfile.mkdtemp(prefix="fast-axolotl-bench-save-")
        dataset = tokenized_dataset(rows, folder)
        cfg = DictDefault(
            {
                "dataset_prepared_path": f"{folder}/prepared",
                "dataset_num_proc": None,
                "num_dataset_shards_to_save": None,
            }
        )
        return Call(
            args=(cfg, dataset, "hash", "train"),
            cleanup=lambda: shutil.rmtree(folder, ignore_errors=True),
        )

    return build


CASES = [
    Case(
        name="save_preprocessed_dataset/tokenized",
        size=LABEL[rows],
        target=TARGET,
        setup=setup(rows),
        rows=rows,
        quick=rows <= 1_000,
    )
    for rows in (100, 1_000, 10_000, 100_000)
]

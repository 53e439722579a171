"""save_preprocessed_dataset: the in-process save against Axolotl's real one.

Axolotl's original (``__wrapped__``, run with its spawned ``save_to_disk`` pool) and the
patched function save the same dataset into two directories, which must be identical file
for file, byte for byte (shard names and count, ``.arrow`` bytes, ``state.json``,
``dataset_info.json``). Hypothesis draws the row count (0, below 256, above 512 so that
``num_proc`` is 2), the columns, in-memory or memory-mapped tables, an indices mapping
(``select`` / ``shuffle``), the split name, ``dataset_num_proc`` and
``num_dataset_shards_to_save``. Each original call starts a spawned pool, so the example
count is small.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.axolotl

datasets = pytest.importorskip("datasets")
import axolotl.utils.data.shared as shared  # noqa: E402
from axolotl.utils.dict import DictDefault  # noqa: E402
from hypothesis import HealthCheck, Phase, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

PATCHED = shared.save_preprocessed_dataset
ORIGINAL = getattr(PATCHED, "__wrapped__", None)


def test_fast_axolotl_is_active_in_this_environment():
    assert ORIGINAL is not None, "save_preprocessed_dataset not patched"
    import axolotl.utils.data.rl as rl
    import axolotl.utils.data.sft as sft

    for importer in (sft, rl):
        assert importer.save_preprocessed_dataset is PATCHED, importer.__name__


def tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.name, record.levelno, record.getMessage()))


@pytest.fixture
def logs():
    """Every record of datasets' and Axolotl's loggers, debug included."""
    handler = Records()
    names = ("datasets", "axolotl", "fast_axolotl")
    saved = {}
    for name in names:
        logger = logging.getLogger(name)
        saved[name] = logger.level
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    yield handler
    for name in names:
        logging.getLogger(name).removeHandler(handler)
        logging.getLogger(name).setLevel(saved[name])


def build_dataset(rows: int, columns: set[str], split: str | None, seed: int) -> datasets.Dataset:
    data: dict[str, list] = {}
    feats: dict[str, object] = {}
    if "input_ids" in columns or not columns:
        data["input_ids"] = [[(i * 7 + j) % 32003 for j in range(i % 13)] for i in range(rows)]
        feats["input_ids"] = datasets.Sequence(datasets.Value("int32"))
    if "labels" in columns:
        data["labels"] = [[-100] * (i % 5) + [i] for i in range(rows)]
        feats["labels"] = datasets.Sequence(datasets.Value("int64"))
    if "text" in columns:
        data["text"] = [("é日🙂" * (i % 4)) + str(i) for i in range(rows)]
        feats["text"] = datasets.Value("string")
    if "length" in columns:
        data["length"] = [float(i) / 3 for i in range(rows)]
        feats["length"] = datasets.Value("float64")
    return datasets.Dataset.from_dict(
        data,
        features=datasets.Features(feats),
        split=datasets.NamedSplit(split) if split else None,
    )


def cfg_for(path: Path, num_proc: int | None, shards: int | None) -> DictDefault:
    return DictDefault(
        {
            "dataset_prepared_path": str(path),
            "dataset_num_proc": num_proc,
            "num_dataset_shards_to_save": shards,
        }
    )


def in_writer(line: tuple[str, int, str]) -> bool:
    """Debug records emitted inside the shard writer job: in Axolotl's path they happen in
    the spawned child (and reach its own stderr only if DATASETS_VERBOSITY=debug), here in
    this process (documented in docs/compatibility.md)."""
    name, level, message = line
    return level == logging.DEBUG and (
        name == "datasets.arrow_writer"
        or message.startswith("Set __getitem__(key) output type to arrow for no columns")
    )


def save_both(tmp: Path, dataset, num_proc, shards, logs) -> None:
    results = {}
    for label, fn in (("axolotl", ORIGINAL), ("fast", PATCHED)):
        logs.lines.clear()
        fn(cfg_for(tmp / label, num_proc, shards), dataset, "hash0", "train")
        kept = sorted(line for line in logs.lines if not in_writer(line))
        results[label] = (tree(tmp / label), kept)
    (files_a, logs_a), (files_f, logs_f) = results["axolotl"], results["fast"]
    assert sorted(files_a) == sorted(files_f)
    for name in files_a:
        assert files_a[name] == files_f[name], name
    assert logs_a == logs_f
    assert not [line for line in logs_f if line[0] == "fast_axolotl"]


@settings(
    max_examples=int(os.environ.get("FAST_AXOLOTL_SAVE_EXAMPLES", "4")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    phases=[Phase.explicit, Phase.generate],  # each example spawns pools: no shrinking
)
@given(
    rows=st.sampled_from([0, 1, 3, 255, 256, 300, 600]),
    columns=st.sets(st.sampled_from(["input_ids", "labels", "text", "length"])),
    split=st.sampled_from([None, "train", "test"]),
    memory_mapped=st.booleans(),
    view=st.sampled_from(["none", "select", "shuffle", "slice"]),
    num_proc=st.sampled_from([None, 1, 2, 3]),
    shards=st.sampled_from([None, None, 1, 3, 7]),
)
@example(
    rows=0, columns=set(), split=None, memory_mapped=False, view="none", num_proc=2, shards=None
)
@example(
    rows=600,
    columns={"input_ids", "text"},
    split="train",
    memory_mapped=True,
    view="select",
    num_proc=2,
    shards=None,
)
def test_saved_directory_is_byte_identical_to_axolotls(
    tmp_path_factory, logs, rows, columns, split, memory_mapped, view, num_proc, shards
):
    tmp = tmp_path_factory.mktemp("save")
    dataset = build_dataset(rows, columns, split, seed=rows)
    if memory_mapped and rows:  # load_from_disk cannot read back a directory of 0 shards
        dataset.save_to_disk(str(tmp / "source"))
        dataset = datasets.load_from_disk(str(tmp / "source"))
    if view == "select" and rows:
        dataset = dataset.select([i for i in range(rows - 1, -1, -2)])
    elif view == "shuffle":
        dataset = dataset.shuffle(seed=3)
    elif view == "slice" and rows > 2:
        dataset = dataset.select(range(1, rows - 1))
    try:
        save_both(tmp, dataset, num_proc, shards, logs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_many_shards_and_a_formatted_dataset_are_byte_identical(tmp_path, logs):
    dataset = build_dataset(40, {"input_ids", "labels"}, "train", 0)
    dataset = dataset.with_format("numpy", columns=["input_ids"], output_all_columns=True)
    save_both(tmp_path, dataset, 1, 12, logs)


def test_more_shards_than_rows_makes_axolotls_own_pooled_call(tmp_path, spawns):
    """Dataset.shard raises for an empty shard past the last row; Axolotl's pool path then
    fails while tearing its pool down. The fast path makes the very same call."""
    dataset = build_dataset(2, {"text"}, None, 0)
    with pytest.raises(Exception) as fast:
        PATCHED(cfg_for(tmp_path / "f", 2, 5), dataset, "h", "train")
    assert spawns == ["spawn"]
    with pytest.raises(Exception) as axolotl:
        ORIGINAL(cfg_for(tmp_path / "a", 2, 5), dataset, "h", "train")
    assert type(fast.value) is type(axolotl.value)


def test_empty_dataset_with_many_shards_is_byte_identical(tmp_path, logs):
    save_both(tmp_path, build_dataset(0, {"text"}, None, 0), 2, 5, logs)


def failures(tmp: Path, dataset, prepare) -> dict[str, tuple[type, str, int]]:
    """Type, message and get_prepared_dataset_path calls of each path's exception."""
    out = {}
    real = shared.get_prepared_dataset_path
    for label, fn in (("axolotl", ORIGINAL), ("fast", PATCHED)):
        calls = []

        def counting(cfg, dataset_hash, calls=calls):
            calls.append(dataset_hash)
            return real(cfg, dataset_hash)

        prepare(tmp / label)
        shared.get_prepared_dataset_path = counting
        try:
            with pytest.raises(Exception) as info:
                fn(cfg_for(tmp / label, 2, None), dataset, "hash0", "train")
        finally:
            shared.get_prepared_dataset_path = real
        message = str(info.value).replace(str(tmp / label), "<tmp>")
        out[label] = (type(info.value), message, len(calls))
    return out


def test_a_path_that_is_a_file_raises_axolotls_error_once(tmp_path, logs):
    def prepare(root: Path) -> None:
        root.mkdir()
        (root / "hash0").write_text("not a directory")

    found = failures(tmp_path, build_dataset(10, {"text"}, None, 0), prepare)
    assert found["axolotl"] == found["fast"]
    assert found["fast"][2] == 1
    assert not [line for line in logs.lines if line[0] == "fast_axolotl"]


def test_an_unwritable_shard_raises_axolotls_error_once(tmp_path, logs):
    """A directory where the shard file goes: the writer's open fails (in the pool child
    for Axolotl, here in-process); the same exception type and message reach the caller."""

    def prepare(root: Path) -> None:
        (root / "hash0" / "data-00000-of-00001.arrow").mkdir(parents=True)

    found = failures(tmp_path, build_dataset(10, {"text"}, None, 0), prepare)
    assert found["axolotl"][:2] == found["fast"][:2]
    assert found["fast"][2] == 1
    assert not [line for line in logs.lines if line[0] == "fast_axolotl"]


@pytest.fixture
def spawns(monkeypatch):
    """The multiprocessing contexts save_to_disk asks for (Axolotl's path: "spawn")."""
    from datasets import arrow_dataset

    asked: list[str] = []
    real = arrow_dataset.mp.get_context

    def spy(method=None):
        asked.append(method)
        return real(method)

    monkeypatch.setattr(arrow_dataset.mp, "get_context", spy)
    return asked


def test_the_fast_path_starts_no_process_pool(tmp_path, spawns):
    dataset = build_dataset(600, {"input_ids"}, None, 0)
    PATCHED(cfg_for(tmp_path / "f", 2, None), dataset, "h", "train")
    assert spawns == []
    assert len(list((tmp_path / "f" / "h").glob("*.arrow"))) == 2


def test_a_dataset_subclass_takes_axolotls_path(tmp_path, spawns):
    class Sub(datasets.Dataset):
        pass

    dataset = build_dataset(5, {"text"}, None, 0)
    sub = Sub(dataset.data, info=dataset.info, split=dataset.split)
    PATCHED(cfg_for(tmp_path / "f", 1, None), sub, "h", "train")
    assert spawns == ["spawn"]  # Axolotl's own save_to_disk call, pool included
    assert sorted(tree(tmp_path / "f")) == [
        "h/data-00000-of-00001.arrow",
        "h/dataset_info.json",
        "h/state.json",
    ]


def test_size_derived_shard_counts_are_byte_identical(tmp_path, logs, monkeypatch):
    """With a tiny MAX_SHARD_SIZE the shard count comes from the estimated size, not from
    num_proc (save_to_disk's other branch)."""
    monkeypatch.setattr(datasets.config, "MAX_SHARD_SIZE", "2KB")
    dataset = build_dataset(300, {"input_ids", "text"}, "train", 0)
    save_both(tmp_path, dataset, 2, None, logs)
    assert len(list((tmp_path / "fast" / "hash0").glob("*.arrow"))) > 2

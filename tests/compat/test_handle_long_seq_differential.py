"""handle_long_seq_in_dataset end to end against Axolotl's real function.

Every strategy (drop, raise, truncate, unknown ones that act as drop, any case), boundary
lengths (== sequence_len, == min_sample_len), indices mappings, memory-mapped datasets
and ``num_proc=2``: the patched step and Axolotl's original must return datasets with the
same rows, columns, features, Arrow types and order, log the same lines, or raise the
same error.
"""

from __future__ import annotations

import logging

import pytest

pytestmark = [
    pytest.mark.axolotl,
    pytest.mark.releases,
    pytest.mark.usefixtures("kernels_on_every_batch"),
]

np = pytest.importorskip("numpy")
pa = pytest.importorskip("pyarrow")
datasets = pytest.importorskip("datasets")
import _release  # noqa: E402
import axolotl.utils.data.utils as data_utils  # noqa: E402
from axolotl.utils.dict import DictDefault  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

# 0.12.2-0.14's body is not reproduced (docs/compatibility.md): its drop and raise
# strategies run the patched drop_long_seq, tested in test_filters_differential.py.
if _release.variant("axolotl.utils.data.utils:handle_long_seq_in_dataset") is None:
    pytest.skip(
        f"handle_long_seq_in_dataset is not patched in axolotl {_release.AXOLOTL_VERSION}",
        allow_module_level=True,
    )

HANDLE = data_utils.handle_long_seq_in_dataset
# fast_axolotl: a fast path that failed and fell back logs there, and fails the comparison.
LOGGERS = ("axolotl.utils.data.utils", "axolotl.utils.trainer", "fast_axolotl")


def test_handle_long_seq_in_dataset_is_patched_and_rebound():
    import axolotl.utils.data.sft as sft

    current = data_utils.handle_long_seq_in_dataset  # other tests may reinstall
    assert hasattr(current, "__wrapped__"), "fast-axolotl is not active"
    assert sft.handle_long_seq_in_dataset is current


@st.composite
def tokenized(draw, max_rows=25):
    n = draw(st.integers(0, max_rows))
    lengths = draw(st.lists(st.integers(0, 12), min_size=n, max_size=n))
    list_of = draw(st.sampled_from([pa.list_, pa.large_list]))
    ids_type = draw(st.sampled_from([pa.int64(), pa.int32(), pa.uint16(), pa.int8()]))
    ids = [[(7 * i + j) % 100 for j in range(k)] for i, k in enumerate(lengths)]
    columns = {"input_ids": pa.array(ids, list_of(ids_type))}
    if draw(st.booleans()):
        columns["attention_mask"] = pa.array([[1] * k for k in lengths], pa.list_(pa.int8()))
    if draw(st.booleans()):
        columns["labels"] = pa.array(
            [[-100 if v % 2 else v for v in r] for r in ids], pa.list_(pa.int64())
        )
    if draw(st.booleans()):
        extra = draw(st.integers(-1, 2))
        columns["position_ids"] = pa.array(
            [list(range(max(k + extra, 0))) for k in lengths], pa.list_(pa.int64())
        )
    if draw(st.booleans()):
        columns["length"] = pa.array(lengths, pa.int64())
    table = pa.table(columns)
    chunk = draw(st.integers(1, max(n, 1)))
    table = pa.Table.from_batches(table.to_batches(max_chunksize=chunk), schema=table.schema)
    ds = datasets.Dataset(datasets.table.InMemoryTable(table))
    view = draw(st.sampled_from(["plain", "shuffle", "select"]))
    if view == "shuffle" and n:
        ds = ds.shuffle(seed=draw(st.integers(0, 99)))
    elif view == "select" and n:
        ds = ds.select(range(0, n, 2))
    return ds, lengths


STRATEGIES = st.sampled_from([None, "drop", "raise", "truncate", "Truncate", "RAISE", "other"])


def summary(ds):
    table = ds.with_format("arrow")[:]
    return (ds.features, ds.column_names, table.schema, table.to_pylist())


def run(func, caplog, *args):
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        try:
            outcome = ("ok", summary(func(*args)))
        except Exception as exc:
            outcome = ("raised", type(exc), str(exc))
    logs = [(r.levelname, r.getMessage()) for r in caplog.records if r.name in LOGGERS]
    return outcome, logs


@given(tokenized(), STRATEGIES, st.data())
@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_strategy_matches_axolotl(caplog, case, strategy, data):
    ds, lengths = case
    sequence_len = data.draw(st.one_of(st.sampled_from(lengths or [0]), st.integers(0, 13)))
    min_len = data.draw(st.one_of(st.none(), st.sampled_from(lengths or [0]), st.integers(0, 5)))
    cfg = DictDefault(
        {
            "excess_length_strategy": strategy,
            "min_sample_len": min_len,
            "is_preprocess": data.draw(st.booleans()),
            "dataset_num_proc": data.draw(st.sampled_from([None, 1])),
        }
    )
    got = run(HANDLE, caplog, ds, sequence_len, cfg)
    expected = run(HANDLE.__wrapped__, caplog, ds, sequence_len, cfg)
    assert got == expected


@pytest.mark.parametrize("strategy", ["drop", "raise", "truncate"])
def test_memory_mapped_dataset_and_num_proc_2_match(caplog, tmp_path, strategy):
    rng = np.random.default_rng(3)
    ids = [rng.integers(0, 50, size=int(k)).tolist() for k in rng.integers(0, 30, size=90)]
    ds = datasets.Dataset.from_dict(
        {"input_ids": ids, "attention_mask": [[1] * len(r) for r in ids], "labels": ids}
    )
    ds.save_to_disk(str(tmp_path / "ds"))
    loaded = datasets.load_from_disk(str(tmp_path / "ds"))
    seq_len = 40 if strategy == "raise" else 20
    for view in (loaded, loaded.shuffle(seed=1)):
        for num_proc in (None, 2):
            cfg = DictDefault(
                {
                    "excess_length_strategy": strategy,
                    "min_sample_len": 3,
                    "dataset_num_proc": num_proc,
                    "is_preprocess": True,
                }
            )
            got = run(HANDLE, caplog, view, seq_len, cfg)
            expected = run(HANDLE.__wrapped__, caplog, view, seq_len, cfg)
            assert got == expected


def test_truncation_batches_go_through_the_arrow_table_path():
    from datasets.formatting import get_formatter
    from datasets.formatting.formatting import LazyBatch

    from fast_axolotl.patches.data_filters import truncate_table

    ds = datasets.Dataset.from_dict({"input_ids": [[1, 2, 3], [4]], "labels": [[1, 2, 3], [4]]})
    batch = LazyBatch(
        ds.with_format("arrow")[:], get_formatter(None, features=ds.features, lazy=True)
    )
    out = truncate_table(batch, 2)
    assert isinstance(out, pa.Table)
    assert out.to_pydict() == {"input_ids": [[1, 2], [4]], "labels": [[1, 2], [4]]}


def test_a_dataset_without_input_ids_is_returned_as_axolotl_does(caplog):
    ds = datasets.Dataset.from_dict({"chosen": ["a"], "rejected": ["b"]})
    cfg = DictDefault({"excess_length_strategy": "truncate"})
    assert run(HANDLE, caplog, ds, 4, cfg) == run(HANDLE.__wrapped__, caplog, ds, 4, cfg)

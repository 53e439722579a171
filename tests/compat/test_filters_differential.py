"""Length filters, position ids and truncation against Axolotl's real functions.

Hypothesis builds tokenized datasets (int widths, list and large_list columns, several
chunks, empty rows, indices mappings), and each patched function is run the way Axolotl
runs it — through ``dataset.filter(..., batched=True)`` / ``dataset.map(..., batched=True)``
— and directly on the ``LazyBatch`` that ``datasets`` builds, next to the original
(``__wrapped__``). Results must agree on rows, columns, features and Arrow types, or on the
exception type and message.
"""

from __future__ import annotations

import functools
import inspect

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
import axolotl.utils.trainer as trainer  # noqa: E402
from datasets.formatting import get_formatter  # noqa: E402
from datasets.formatting.formatting import LazyBatch  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

# Up to 0.14 the length filter is drop_long_seq (0.12 without raise_on_drop); keep_min_len
# and the four-column truncate_long_seq arrive in 0.15. Keys name what is tested, values
# the installed release's symbols; a release without one leaves it out.
LENGTH_FILTER = (
    "filter_sequences_by_length"
    if hasattr(trainer, "filter_sequences_by_length")
    else "drop_long_seq"
)
TARGETS = {
    "filter_sequences_by_length": (trainer, LENGTH_FILTER),
    "keep_min_len": (data_utils, "keep_min_len"),
    "add_position_ids": (trainer, "add_position_ids"),
    "truncate_long_seq": (data_utils, "truncate_long_seq"),
}
PATCHED = {
    key: getattr(module, name)
    for key, (module, name) in TARGETS.items()
    if _release.variant(f"{module.__name__}:{name}") is not None
}
HAS_RAISE_ON_DROP = "raise_on_drop" in inspect.signature(getattr(trainer, LENGTH_FILTER)).parameters


def original(name):
    return PATCHED[name].__wrapped__


def need(name):
    if name not in PATCHED:
        pytest.skip(f"{TARGETS[name][1]} is not patched in axolotl {_release.AXOLOTL_VERSION}")


def test_every_function_under_test_is_patched_and_rebound():
    # Looked up now: other tests may reinstall fast-axolotl, which builds new replacements.
    # The length filter and add_position_ids are in every release; the others where their
    # guard accepts them (0.12.2-0.14's truncate_long_seq is not reproduced, see the docs).
    assert {"filter_sequences_by_length", "add_position_ids"} <= PATCHED.keys()
    for key in PATCHED:
        module, name = TARGETS[key]
        assert hasattr(_release.patched(f"{module.__name__}:{name}"), "__wrapped__")
    assert getattr(data_utils, LENGTH_FILTER) is getattr(trainer, LENGTH_FILTER)


VALUE_TYPES = [pa.int64(), pa.int32(), pa.int16(), pa.uint32(), pa.int8()]


@st.composite
def tokenized_tables(draw, max_rows=30):
    n = draw(st.integers(0, max_rows))
    lengths = draw(st.lists(st.integers(0, 12), min_size=n, max_size=n))
    list_of = draw(st.sampled_from([pa.list_, pa.large_list]))
    ids_type = draw(st.sampled_from(VALUE_TYPES))
    hi = 100 if ids_type == pa.int8() else 5000
    lo = 0 if ids_type == pa.uint32() else -3
    ids = [draw(st.lists(st.integers(lo, hi), min_size=k, max_size=k)) for k in lengths]
    columns = {"input_ids": pa.array(ids, list_of(ids_type))}
    if draw(st.booleans()):
        columns["attention_mask"] = pa.array([[1] * k for k in lengths], pa.list_(pa.int8()))
    if draw(st.booleans()):
        masked = draw(st.booleans())
        labels = [[-100 if masked or v % 3 == 0 else v for v in r] for r in ids]
        columns["labels"] = pa.array(labels, pa.list_(pa.int64()))
    if draw(st.booleans()):
        # Axolotl cuts position_ids by the length of input_ids, not their own.
        extra = draw(st.integers(-2, 2))
        pos = [list(range(max(k + extra, 0))) for k in lengths]
        columns["position_ids"] = pa.array(pos, pa.list_(draw(st.sampled_from(VALUE_TYPES[:2]))))
    if draw(st.booleans()):
        columns["text"] = pa.array([str(k) for k in lengths], pa.string())
    table = pa.table(columns)
    chunk = draw(st.integers(1, max(n, 1)))
    table = pa.Table.from_batches(table.to_batches(max_chunksize=chunk), schema=table.schema)
    view = draw(st.sampled_from(["plain", "shuffle", "select", "filter"]))
    seed = draw(st.integers(0, 2**16))
    return table, view, seed, lengths


def make_dataset(table, view, seed):
    ds = datasets.Dataset(datasets.table.InMemoryTable(table))
    if view == "shuffle":
        ds = ds.shuffle(seed=seed)
    elif view == "select" and len(ds):
        ds = ds.select([i for i in range(len(ds)) if (i * seed) % 3])
    elif view == "filter" and len(ds):
        ds = ds.filter(lambda _, i: i % 2 == seed % 2, with_indices=True)
    return ds


def dataset_outcome(step):
    try:
        result = step()
    except Exception as exc:
        return ("raised", type(exc), str(exc))
    table = result.with_format("arrow")[:]
    return ("ok", result.features, result.column_names, table.schema, table.to_pylist())


def bounds(lengths, draw_from):
    """Bounds that sit on row lengths (boundary cases) or anywhere."""
    return st.one_of(st.sampled_from(lengths or [0]), st.integers(-1, 14))


def run_both(ds, method, name, batch_size, num_proc=None, **kwargs):
    """Both outcomes, asserted equal; None when this release does not patch ``name``."""
    if name not in PATCHED:
        return None
    outcomes = []
    for f in (PATCHED[name], original(name)):
        fn = functools.partial(f, **kwargs) if kwargs else f
        step = functools.partial(
            getattr(ds, method),
            fn,
            batched=True,
            batch_size=batch_size,
            num_proc=num_proc,
            load_from_cache_file=False,
        )
        outcomes.append(dataset_outcome(step))
    assert outcomes[0] == outcomes[1]
    return outcomes[0]


@given(tokenized_tables(), st.data())
def test_filter_sequences_by_length_matches_through_batched_filter(case, data):
    table, view, seed, lengths = case
    ds = make_dataset(table, view, seed)
    run_both(
        ds,
        "filter",
        "filter_sequences_by_length",
        data.draw(st.sampled_from([1, 3, 1000])),
        sequence_len=data.draw(bounds(lengths, data)),
        min_sequence_len=data.draw(st.one_of(st.none(), st.just(0), bounds(lengths, data))),
        **({"raise_on_drop": data.draw(st.booleans())} if HAS_RAISE_ON_DROP else {}),
    )


@given(tokenized_tables(), st.data())
def test_keep_min_len_matches_through_batched_filter(case, data):
    need("keep_min_len")
    table, view, seed, lengths = case
    run_both(
        make_dataset(table, view, seed),
        "filter",
        "keep_min_len",
        data.draw(st.sampled_from([1, 4, 1000])),
        min_sequence_len=data.draw(st.one_of(st.none(), st.just(0), bounds(lengths, data))),
    )


@given(tokenized_tables(), st.sampled_from([1, 5, 1000]))
def test_add_position_ids_matches_through_batched_map(case, batch_size):
    table, view, seed, _ = case
    run_both(make_dataset(table, view, seed), "map", "add_position_ids", batch_size)


@given(tokenized_tables(), st.data())
def test_truncate_long_seq_matches_through_batched_map(case, data):
    need("truncate_long_seq")
    table, view, seed, lengths = case
    run_both(
        make_dataset(table, view, seed),
        "map",
        "truncate_long_seq",
        data.draw(st.sampled_from([1, 4, 1000])),
        sequence_len=data.draw(st.one_of(st.sampled_from(lengths or [0]), st.integers(0, 13))),
    )


def lazy_batch(ds):
    formatter = get_formatter(None, features=ds.features, lazy=True)
    return LazyBatch(ds.with_format("arrow")[:], formatter)


def plain(value):
    """Numpy rows (what the fast map functions store) compared as the lists they become."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def call_outcome(f, sample, **kwargs):
    try:
        r = f(sample, **kwargs)
    except Exception as exc:
        return ("raised", type(exc), str(exc))
    if isinstance(r, list):
        return ("list", [(type(v), v) for v in r])
    if isinstance(r, LazyBatch) or isinstance(r, dict):
        assert r is sample  # Axolotl mutates and returns the batch itself
        return ("batch", {k: plain(r[k]) for k in r})
    return (type(r), r)


@given(tokenized_tables(), st.data())
@settings(max_examples=60)
def test_direct_calls_on_a_lazy_batch_return_what_axolotl_returns(case, data):
    table, view, seed, lengths = case
    ds = make_dataset(table, view, seed)
    name = data.draw(st.sampled_from(sorted(PATCHED)))
    kwargs = {}
    if name == "filter_sequences_by_length":
        kwargs = {
            "sequence_len": data.draw(bounds(lengths, data)),
            "min_sequence_len": data.draw(bounds(lengths, data)),
        }
        if HAS_RAISE_ON_DROP:
            kwargs["raise_on_drop"] = data.draw(st.booleans())
    elif name == "keep_min_len":
        kwargs = {"min_sequence_len": data.draw(bounds(lengths, data))}
    elif name == "truncate_long_seq":
        kwargs = {"sequence_len": data.draw(st.integers(0, 13))}
    got = call_outcome(PATCHED[name], lazy_batch(ds), **kwargs)
    expected = call_outcome(original(name), lazy_batch(ds), **kwargs)
    assert got == expected


def test_empty_batch_gives_axolotls_scalar_false():
    ds = datasets.Dataset.from_dict({"input_ids": [[1]]}).select([])
    batch = lazy_batch(ds)
    assert PATCHED["filter_sequences_by_length"](batch) is False
    if "keep_min_len" in PATCHED:
        assert PATCHED["keep_min_len"](lazy_batch(ds)) == []


@pytest.mark.parametrize(
    "sample",
    [
        {"input_ids": [1, 2, 3]},
        {"input_ids": [[1, 2, 3], [4]]},
        {"input_ids": []},
        {"labels": [1]},
    ],
    ids=["single", "batched-dict", "empty", "no-input_ids"],
)
def test_plain_dicts_defer_to_axolotl(sample):
    import copy

    for name in ("filter_sequences_by_length", "add_position_ids"):
        got = call_outcome(PATCHED[name], copy.deepcopy(sample))
        expected = call_outcome(original(name), copy.deepcopy(sample))
        assert got == expected


def test_raise_on_drop_message_names_the_first_long_row():
    if not HAS_RAISE_ON_DROP:
        pytest.skip(f"{LENGTH_FILTER} has no raise_on_drop in axolotl {_release.AXOLOTL_VERSION}")
    ds = datasets.Dataset.from_dict({"input_ids": [[1, 2], [1, 2, 3, 4], [1, 2, 3]]})
    fn = functools.partial(
        PATCHED["filter_sequences_by_length"], sequence_len=2, raise_on_drop=True
    )
    with pytest.raises(
        ValueError, match=r"^Sequence encountered with 4 tokens, which exceeds the maximum 2\.$"
    ):
        ds.filter(fn, batched=True)


def test_a_read_or_replaced_input_ids_is_what_counts():
    ds = datasets.Dataset.from_dict({"input_ids": [[1, 2], [1, 2, 3, 4]]})
    for name in PATCHED:
        a, b = lazy_batch(ds), lazy_batch(ds)
        a["input_ids"] = [[1], [1, 2, 3, 4, 5, 6]]
        b["input_ids"] = [[1], [1, 2, 3, 4, 5, 6]]
        assert call_outcome(PATCHED[name], a) == call_outcome(original(name), b)


def test_null_rows_defer_to_axolotls_own_error():
    table = pa.table({"input_ids": pa.array([[1, 2], None], pa.list_(pa.int64()))})
    ds = datasets.Dataset(datasets.table.InMemoryTable(table))
    for name in PATCHED:
        assert call_outcome(PATCHED[name], lazy_batch(ds)) == call_outcome(
            original(name), lazy_batch(ds)
        )


@given(tokenized_tables(max_rows=12).filter(lambda c: len(c[0]) > 0))
@settings(max_examples=8)
def test_memory_mapped_datasets_loaded_from_disk_match(tmp_path_factory, case):
    table, _, seed, _ = case
    path = tmp_path_factory.mktemp("ds")
    datasets.Dataset(datasets.table.InMemoryTable(table)).save_to_disk(str(path))
    loaded = datasets.load_from_disk(str(path))
    assert type(loaded.data).__name__ == "MemoryMappedTable"
    for view_ds in (loaded, loaded.shuffle(seed=seed)):
        run_both(view_ds, "filter", "filter_sequences_by_length", 4, sequence_len=6)
        run_both(view_ds, "filter", "keep_min_len", 4, min_sequence_len=3)
        run_both(view_ds, "map", "add_position_ids", 4)
        run_both(view_ds, "map", "truncate_long_seq", 4, sequence_len=5)


def test_num_proc_2_workers_run_the_patched_functions_and_match():
    rng = np.random.default_rng(1)
    ids = [rng.integers(0, 100, size=int(k)).tolist() for k in rng.integers(0, 20, size=64)]
    labels = [[-100 if v % 2 else v for v in r] for r in ids]
    ds = datasets.Dataset.from_dict({"input_ids": ids, "labels": labels}).shuffle(seed=2)
    run_both(ds, "filter", "filter_sequences_by_length", 8, num_proc=2, sequence_len=12)
    run_both(ds, "filter", "keep_min_len", 8, num_proc=2, min_sequence_len=5)
    run_both(ds, "map", "add_position_ids", 8, num_proc=2)
    run_both(ds, "map", "truncate_long_seq", 8, num_proc=2, sequence_len=7)


def test_large_batches_match():
    rng = np.random.default_rng(0)
    ids = [rng.integers(0, 30000, size=int(k)).tolist() for k in rng.integers(50, 3000, size=300)]
    ds = datasets.Dataset.from_dict(
        {"input_ids": ids, "attention_mask": [[1] * len(r) for r in ids], "labels": ids}
    )
    run_both(ds, "filter", "filter_sequences_by_length", 1000, sequence_len=2048)
    run_both(ds, "map", "truncate_long_seq", 1000, sequence_len=2048)
    run_both(ds, "map", "add_position_ids", 1000)


def test_batches_below_the_measured_size_run_axolotls_python(monkeypatch):
    need("keep_min_len")
    from fast_axolotl.patches import _batches

    monkeypatch.setitem(_batches.SMALL_BATCH_BYTES, "length", 10_000)
    calls = []
    import fast_axolotl._native as native

    real = native.length_range_mask
    monkeypatch.setattr(native, "length_range_mask", lambda *a: calls.append(a) or real(*a))
    small = datasets.Dataset.from_dict({"input_ids": [[1, 2, 3]] * 10})
    big = datasets.Dataset.from_dict({"input_ids": [list(range(300))] * 10})
    assert PATCHED["keep_min_len"](lazy_batch(small)) == [True] * 10
    assert calls == []
    assert PATCHED["keep_min_len"](lazy_batch(big)) == [True] * 10
    assert len(calls) == 1

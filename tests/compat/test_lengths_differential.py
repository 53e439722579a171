"""get_dataset_lengths: the patched function against Axolotl's real one.

Hypothesis builds Arrow tables (several chunks, list/large_list/fixed-size list, int widths,
null and empty rows), wraps them as `datasets.Dataset`s, optionally reorders them through
an indices mapping, and both functions must agree on type, dtype, shape, values or on the
exception type and message.
"""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.axolotl, pytest.mark.releases]

np = pytest.importorskip("numpy")
pa = pytest.importorskip("pyarrow")
datasets = pytest.importorskip("datasets")
from axolotl.utils.samplers import utils as sampler_utils  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

PATCHED = sampler_utils.get_dataset_lengths
ORIGINAL = getattr(PATCHED, "__wrapped__", None)


def test_fast_axolotl_is_active_in_this_environment():
    assert ORIGINAL is not None, "get_dataset_lengths is not patched: is fast-axolotl installed?"
    import axolotl.utils.data.utils as data_utils
    import axolotl.utils.samplers as samplers
    import axolotl.utils.trainer as trainer

    for importer in (samplers, data_utils, trainer):
        assert importer.get_dataset_lengths is PATCHED, importer.__name__


def outcome(func, dataset, from_arrow):
    try:
        r = func(dataset, from_arrow=from_arrow)
    except Exception as exc:
        return ("raised", type(exc), str(exc))
    return (
        "returned",
        type(r),
        getattr(r, "dtype", None),
        getattr(r, "shape", None),
        r.tolist() if hasattr(r, "tolist") else r,
    )


def assert_same(dataset, from_arrow=False):
    expected = outcome(ORIGINAL, dataset, from_arrow)
    got = outcome(PATCHED, dataset, from_arrow)
    assert got == expected


INT_TYPES = [pa.int64(), pa.int32(), pa.int16(), pa.uint32(), pa.uint64(), pa.int8()]


@st.composite
def list_column(draw, nullable_rows=True):
    value_type = draw(st.sampled_from(INT_TYPES[:4]))
    bits = {pa.int64(): 62, pa.int32(): 31, pa.int16(): 15, pa.uint32(): 31}[value_type]
    lo = 0 if value_type == pa.uint32() else -(2**bits)
    value = st.one_of(st.integers(0, 4096), st.integers(lo, 2**bits - 1))
    row = st.lists(value, max_size=6)
    if nullable_rows:
        row = st.one_of(row, st.none()) if draw(st.booleans()) else row
    rows = draw(st.lists(row, max_size=25))
    flavour = draw(st.sampled_from(["list", "large_list", "fixed"]))
    if flavour == "fixed":
        width = draw(st.integers(0, 3))
        rows = [None if r is None else (r + [0] * width)[:width] for r in rows]
        typ = pa.list_(value_type, width)
    elif flavour == "large_list":
        typ = pa.large_list(value_type)
    else:
        typ = pa.list_(value_type)
    return pa.array(rows, type=typ)


@st.composite
def table_and_view(draw):
    branch = draw(st.sampled_from(["length", "position_ids", "input_ids", "length+position_ids"]))
    n_hint = draw(st.integers(0, 25))
    columns = {}
    input_ids = draw(list_column())
    n = len(input_ids)
    columns["input_ids"] = input_ids
    if "position_ids" in branch:
        pos = draw(list_column())
        # same row count as input_ids
        pos = pa.concat_arrays([pos] * (n // max(len(pos), 1) + 1))[:n] if len(pos) else pos
        if len(pos) != n:
            pos = pa.array([[0]] * n, type=pa.list_(pa.int64()))
        columns["position_ids"] = pos
    if "length" in branch:
        typ = draw(st.sampled_from([*INT_TYPES, pa.float64(), pa.bool_()]))
        if pa.types.is_floating(typ):
            vals = draw(st.lists(st.floats(allow_nan=False, width=32), min_size=n, max_size=n))
        elif pa.types.is_boolean(typ):
            vals = draw(st.lists(st.booleans(), min_size=n, max_size=n))
        else:
            vals = draw(st.lists(st.integers(0, 100), min_size=n, max_size=n))
            if typ == pa.uint64() and n and draw(st.booleans()):
                vals[0] = 2**64 - 1
        if n and draw(st.integers(0, 9)) == 0:
            vals[0] = None
        columns["length"] = pa.array(vals, type=typ)
    table = pa.table(columns)
    chunk = draw(st.integers(1, max(n, 1)))
    table = pa.Table.from_batches(table.to_batches(max_chunksize=chunk), schema=table.schema)
    del n_hint
    view = draw(st.sampled_from(["plain", "shuffle", "select", "filter", "slice"]))
    seed = draw(st.integers(0, 2**16))
    picks = (
        draw(st.lists(st.integers(0, max(len(table) - 1, 0)), max_size=12)) if len(table) else []
    )
    return table, view, seed, picks


def make_dataset(table, view, seed, picks):
    ds = datasets.Dataset(datasets.table.InMemoryTable(table))
    if view == "shuffle":
        ds = ds.shuffle(seed=seed)
    elif view == "select":
        ds = ds.select(picks)
    elif view == "filter" and len(ds):
        ds = ds.filter(lambda _, i: i % 2 == seed % 2, with_indices=True)
    elif view == "slice" and len(ds) > 2:
        ds = ds.select(range(1, len(ds) - 1))
    return ds


@given(table_and_view(), st.booleans())
def test_patched_matches_axolotl_on_generated_datasets(case, from_arrow):
    assert_same(make_dataset(*case), from_arrow=from_arrow)


# datasets itself cannot load a 0-row dataset back from disk, hence len > 0.
@given(list_column(nullable_rows=False).filter(len))
@settings(max_examples=20)
def test_memory_mapped_datasets_loaded_from_disk_match(tmp_path_factory, column):
    ds = datasets.Dataset(datasets.table.InMemoryTable(pa.table({"input_ids": column})))
    path = tmp_path_factory.mktemp("ds")
    ds.save_to_disk(str(path))
    loaded = datasets.load_from_disk(str(path))
    assert type(loaded.data).__name__ == "MemoryMappedTable"
    for from_arrow in (False, True):
        assert_same(loaded, from_arrow)
        assert_same(loaded.shuffle(seed=0), from_arrow)
    if all(len(r) for r in column.to_pylist()):
        pos = datasets.Dataset(datasets.table.InMemoryTable(pa.table({"position_ids": column})))
        assert_same(pos)


@pytest.mark.parametrize("from_arrow", [False, True])
@pytest.mark.parametrize(
    "columns",
    [
        {"input_ids": pa.array([], type=pa.list_(pa.int64()))},
        {"position_ids": pa.array([], type=pa.list_(pa.int64()))},
        {"length": pa.array([], type=pa.int64())},
    ],
    ids=["input_ids", "position_ids", "length"],
)
def test_empty_datasets_match_including_dtype_and_error(columns, from_arrow):
    assert_same(datasets.Dataset(datasets.table.InMemoryTable(pa.table(columns))), from_arrow)


def test_empty_position_ids_row_raises_axolotls_index_error():
    ds = datasets.Dataset.from_dict({"position_ids": [[0, 1], []]})
    with pytest.raises(IndexError):
        PATCHED(ds)
    assert_same(ds)


def test_from_arrow_ignores_the_indices_mapping_as_axolotl_does():
    ds = datasets.Dataset.from_dict({"input_ids": [[1], [1, 2], [1, 2, 3]]}).select([2, 0])
    assert PATCHED(ds, from_arrow=True).tolist() == [1, 2, 3]
    assert PATCHED(ds).tolist() == [3, 1]
    assert_same(ds, True)
    assert_same(ds, False)


def test_lengths_are_int64_for_every_integer_width():
    for typ in (pa.int8(), pa.int32(), pa.uint16()):
        ds = datasets.Dataset(
            datasets.table.InMemoryTable(pa.table({"length": pa.array([1, 2], typ)}))
        )
        assert PATCHED(ds).dtype == np.int64
        assert_same(ds)


def test_merged_cast_and_column_formatted_datasets_match():
    a = datasets.Dataset.from_dict({"input_ids": [[1, 2], [3]], "position_ids": [[0, 1], [0]]})
    b = datasets.Dataset.from_dict({"input_ids": [[4, 5, 6]], "position_ids": [[0, 1, 2]]})
    merged = datasets.concatenate_datasets([a, b])
    assert merged._format_type is None and merged._format_columns is not None
    for ds in (merged, merged.shuffle(seed=1), merged.remove_columns("position_ids")):
        assert_same(ds)
        assert_same(ds, True)
    # A column list that excludes the column read: `datasets` returns raw Arrow there.
    only_ids = merged.remove_columns("position_ids")
    only_ids.set_format(columns=["input_ids"])
    assert_same(only_ids)
    pos = merged.select_columns(["position_ids", "input_ids"])
    pos.set_format(columns=["input_ids"])
    assert_same(pos)
    casted = datasets.Dataset.from_dict({"length": [3, 1]}).cast_column(
        "length", datasets.Value("int32")
    )
    assert_same(casted)


def test_formatted_and_non_dataset_inputs_defer_to_axolotl():
    ds = datasets.Dataset.from_dict({"input_ids": [[1, 2], [3]], "length": [2, 1]})
    assert_same(ds.with_format("numpy"))
    assert_same(ds.with_format("torch"))
    assert_same({"input_ids": [[1, 2]]})
    # An IterableDataset yields an object array of lazy columns: compare its shape only.
    iterable = ds.to_iterable_dataset()
    got, expected = PATCHED(iterable), ORIGINAL(iterable)
    assert (type(got), got.dtype, got.shape) == (type(expected), expected.dtype, expected.shape)


def test_large_dataset_matches():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 50, size=20_000)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    values = pa.array(rng.integers(0, 1000, size=int(offsets[-1])), pa.int64())
    ids = pa.ListArray.from_arrays(pa.array(offsets), values)
    pos = pa.ListArray.from_arrays(
        pa.array(offsets), pa.array(np.concatenate([np.arange(n) for n in lengths]), pa.int64())
    )
    ds = datasets.Dataset(datasets.table.InMemoryTable(pa.table({"input_ids": ids})))
    assert_same(ds)
    assert_same(ds.shuffle(seed=3))
    assert_same(ds, True)
    ds2 = datasets.Dataset(datasets.table.InMemoryTable(pa.table({"position_ids": pos})))
    assert_same(ds2.shuffle(seed=4))

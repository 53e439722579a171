"""deduplicate_and_log_datasets: the patched function against Axolotl's real one.

Hypothesis builds Arrow tables of mixed schemas (ints of every width, floats with NaN,
-0.0 and inf, float32, bools, strings with quotes and non-ASCII, nulls, nested lists,
structs), draws their rows from a small pool so that duplicates are frequent, splits them
into several chunks, optionally reorders them through an indices mapping, and builds a
second dataset from the same pool under a cast schema (wider ints, float64 for float32,
ints for bools, large_string, large_list, other column order). Both functions must select
the same rows in the same order — same `select(list)` call, so the same fingerprint — and
log the same lines.
"""

from __future__ import annotations

import itertools
import logging
import math
import multiprocessing
import os
import types

import pytest

pytestmark = [pytest.mark.axolotl, pytest.mark.releases]

np = pytest.importorskip("numpy")
pa = pytest.importorskip("pyarrow")
datasets = pytest.importorskip("datasets")
import axolotl.utils.data.utils as data_utils  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

PATCHED = data_utils.deduplicate_and_log_datasets
PATCHED_ONE = data_utils._deduplicate_dataset
ORIGINAL_ONE = getattr(PATCHED_ONE, "__wrapped__", None)
AXOLOTL_LOGGER = "axolotl.utils.data.utils"


def entirely_axolotl(patched):
    """Axolotl's original `deduplicate_and_log_datasets` calling Axolotl's original
    `_deduplicate_dataset`: its own code object, with the helper's name bound to the
    real helper instead of the module global (which fast-axolotl patches too)."""
    original = getattr(patched, "__wrapped__", None)
    if original is None or ORIGINAL_ONE is None:
        return None
    scope = {**original.__globals__, "_deduplicate_dataset": ORIGINAL_ONE}
    return types.FunctionType(
        original.__code__, scope, original.__name__, original.__defaults__, original.__closure__
    )


ORIGINAL = entirely_axolotl(PATCHED)


def test_fast_axolotl_is_active_in_this_environment():
    assert ORIGINAL is not None, "deduplicate_and_log_datasets or _deduplicate_dataset not patched"
    assert ORIGINAL.__code__ is PATCHED.__wrapped__.__code__
    import axolotl.utils.data.rl as rl
    import axolotl.utils.data.sft as sft
    import axolotl.utils.data.shared as shared

    for importer in (sft, shared, rl):
        assert importer.deduplicate_and_log_datasets is PATCHED, importer.__name__


# --- values -------------------------------------------------------------------------

INTS = {
    "int8": (pa.int8(), -(2**7), 2**7 - 1),
    "int16": (pa.int16(), -(2**15), 2**15 - 1),
    "int32": (pa.int32(), -(2**31), 2**31 - 1),
    "int64": (pa.int64(), -(2**63), 2**63 - 1),
    "uint8": (pa.uint8(), 0, 2**8 - 1),
    "uint32": (pa.uint32(), 0, 2**32 - 1),
    "uint64": (pa.uint64(), 0, 2**64 - 1),
}
# 0.71854400634765625 (a float32 value) sits on a rounding tie of the shortest repr.
SPECIAL_FLOATS = [0.0, -0.0, math.nan, -math.nan, math.inf, -math.inf, 1.0, 1.1, 1e16, 1e-5]
SPECIAL_FLOATS += [0.71854400634765625, 9007199254740993.0]
SPECIAL_TEXT = ["", "a", "'", '"', "'\"", "\\", "\n", "é", "日本", "\x00", "\u2028", "🙂"]


def ints(lo, hi):
    return st.one_of(st.sampled_from([0, 1, lo, hi]), st.integers(lo, hi))


floats = st.one_of(st.sampled_from(SPECIAL_FLOATS), st.floats(allow_nan=True, width=64))
floats32 = st.one_of(st.sampled_from(SPECIAL_FLOATS), st.floats(width=32))
texts = st.one_of(st.sampled_from(SPECIAL_TEXT), st.text(max_size=6))


def nullable(values, null_ok):
    return st.one_of(st.none(), values) if null_ok else values


@st.composite
def column_kind(draw, depth=0):
    """(Arrow type, strategy of Python values of that type)."""
    null_ok = draw(st.booleans())
    choices = [*INTS, "bool", "float32", "float64", "string", "large_string", "null"]
    if depth < 2:
        choices += ["list", "large_list", "fixed_list", "struct"]
    kind = draw(st.sampled_from(choices))
    if kind in INTS:
        typ, lo, hi = INTS[kind]
        return typ, nullable(ints(lo, hi), null_ok)
    if kind == "bool":
        return pa.bool_(), nullable(st.booleans(), null_ok)
    if kind == "float32":
        return pa.float32(), nullable(floats32, null_ok)
    if kind == "float64":
        return pa.float64(), nullable(floats, null_ok)
    if kind in ("string", "large_string"):
        return getattr(pa, kind)(), nullable(texts, null_ok)
    if kind == "null":
        return pa.null(), st.none()
    if kind == "struct":
        n = draw(st.integers(0, 3))
        kinds = [draw(column_kind(depth + 1)) for _ in range(n)]
        keys = draw(st.lists(st.sampled_from("kvab'é"), min_size=n, max_size=n, unique=True))
        typ = pa.struct([pa.field(k, t) for k, (t, _) in zip(keys, kinds, strict=True)])
        value = st.fixed_dictionaries({k: s for k, (_, s) in zip(keys, kinds, strict=True)})
        return typ, nullable(value, null_ok)
    item_type, item = draw(column_kind(depth + 1))
    if kind == "fixed_list":
        width = draw(st.integers(0, 3))
        typ = pa.list_(item_type, width)
        return typ, nullable(st.lists(item, min_size=width, max_size=width), null_ok)
    typ = pa.list_(item_type) if kind == "list" else pa.large_list(item_type)
    return typ, nullable(st.lists(item, max_size=4), null_ok)


@st.composite
def schema_and_pool(draw):
    n_cols = draw(st.integers(1, 4))
    names = draw(
        st.lists(
            st.sampled_from(["text", "input_ids", "a", "b", "é k"]),
            min_size=n_cols,
            max_size=n_cols,
            unique=True,
        )
    )
    kinds = [draw(column_kind()) for _ in names]
    schema = pa.schema([pa.field(n, t) for n, (t, _) in zip(names, kinds, strict=True)])
    row = st.fixed_dictionaries({n: s for n, (_, s) in zip(names, kinds, strict=True)})
    pool = draw(st.lists(row, min_size=1, max_size=6))
    return schema, pool


# --- datasets -----------------------------------------------------------------------


def build(schema, rows, draw):
    """A Dataset of these rows in several chunks, possibly behind an indices mapping."""
    table = pa.Table.from_pylist(rows, schema=schema)
    cuts = sorted(draw(st.lists(st.integers(0, len(rows)), max_size=3)))
    bounds = [0, *cuts, len(rows)]
    batches = [table.slice(a, b - a) for a, b in itertools.pairwise(bounds)]
    table = pa.concat_tables(batches) if batches else table
    ds = datasets.Dataset(table)
    mapping = draw(st.sampled_from(["none", "select", "shuffle"]))
    if mapping == "select" and len(ds):
        ds = ds.select(draw(st.lists(st.integers(0, len(ds) - 1), max_size=2 * len(ds))))
    elif mapping == "shuffle":
        ds = ds.shuffle(seed=draw(st.integers(0, 3)))
    return ds


WIDER = {
    pa.int8(): pa.int64(),
    pa.int16(): pa.int32(),
    pa.int32(): pa.int64(),
    pa.uint8(): pa.int16(),
    pa.uint32(): pa.uint64(),
    pa.float32(): pa.float64(),
    pa.bool_(): pa.int64(),  # True -> 1: a different repr, so never a duplicate
    pa.string(): pa.large_string(),
}


def recast(typ):
    if pa.types.is_list(typ) or pa.types.is_large_list(typ):
        return pa.large_list(recast(typ.value_type))
    if pa.types.is_fixed_size_list(typ):
        return pa.list_(recast(typ.value_type))
    if pa.types.is_struct(typ):
        return pa.struct([pa.field(f.name, recast(f.type)) for f in typ])
    return WIDER.get(typ, typ)


@st.composite
def other_dataset(draw, schema, pool):
    rows = draw(st.lists(st.sampled_from(pool), max_size=12))
    ds = build(schema, rows, draw)
    how = draw(st.sampled_from(["same", "cast", "reorder", "rename"]))
    if how == "cast":
        wider = pa.schema([pa.field(f.name, recast(f.type)) for f in schema])
        ds = datasets.Dataset(pa.Table.from_pylist(rows, schema=schema).cast(wider))
    elif how == "reorder" and len(schema) > 1:
        ds = ds.select_columns(list(reversed(schema.names)))
    elif how == "rename":
        ds = ds.rename_column(schema.names[0], schema.names[0] + "_")
    return ds


# --- comparison ---------------------------------------------------------------------


class Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.seen = []

    def emit(self, record):
        self.seen.append((record.name, record.levelname, record.funcName, record.getMessage()))


def describe(ds):
    if ds is None:
        return None
    indices = None if ds._indices is None else ds._indices.column("indices").to_pylist()
    return (type(ds), len(ds), ds._fingerprint, indices, ds.features, [repr(r) for r in ds])


def outcome(func, *args, **kwargs):
    logger = logging.getLogger(AXOLOTL_LOGGER)
    handler = Records()
    logger.addHandler(handler)
    try:
        result = func(*args, **kwargs)
    except Exception as exc:
        return ("raised", type(exc), str(exc), handler.seen)
    finally:
        logger.removeHandler(handler)
    return ("returned", describe(result[0]), describe(result[1]), handler.seen)


def assert_same(*args, **kwargs):
    expected = outcome(ORIGINAL, *args, **kwargs)
    got = outcome(PATCHED, *args, **kwargs)
    assert got == expected


def assert_fast_path_taken(monkeypatch, *args, **kwargs):
    """The original is not called: the kernel decided."""

    def fail(*a, **k):  # pragma: no cover - reached only on a regression
        raise AssertionError("deferred to Axolotl")

    monkeypatch.setattr(data_utils, "_deduplicate_dataset", fail)
    PATCHED(*args, **kwargs)


# --- tests --------------------------------------------------------------------------


@given(st.data())
def test_same_rows_fingerprint_and_logs_as_axolotl_on_one_dataset(data):
    schema, pool = data.draw(schema_and_pool())
    rows = data.draw(st.lists(st.sampled_from(pool), max_size=20))
    assert_same(build(schema, rows, data.draw))


@given(st.data())
def test_same_rows_as_axolotl_across_train_and_eval_of_cast_schemas(data):
    schema, pool = data.draw(schema_and_pool())
    rows = data.draw(st.lists(st.sampled_from(pool), max_size=20))
    train = build(schema, rows, data.draw)
    other = data.draw(other_dataset(schema, pool))
    names = data.draw(st.sampled_from([{}, {"dataset_name": "sft", "other_name": None}]))
    assert_same(train, other, **names)


@pytest.mark.parametrize(
    ("typ", "values", "kept"),
    [
        (pa.float64(), [math.nan, -math.nan, float("nan")], 1),
        (pa.float64(), [0.0, -0.0, 0.0], 2),
        (pa.float32(), [1.1, 1.1, 2.5], 2),
        (pa.int32(), [1, 1, None, None], 2),
        (pa.string(), ["a'", 'a"', "a'", "é", "é"], 3),
        (pa.list_(pa.int64()), [[], [1], [], None, [1]], 3),
    ],
)
def test_repr_equality_classes_on_the_fast_path(monkeypatch, typ, values, kept):
    ds = datasets.Dataset(pa.table({"x": pa.array(values, typ)}))
    assert_same(ds)
    got, _ = PATCHED(ds)
    assert len(got) == kept
    assert_fast_path_taken(monkeypatch, ds)


def test_int_widths_are_equal_but_bool_and_float_are_not_across_datasets():
    train = datasets.Dataset(pa.table({"x": pa.array([1, 2], pa.int32())}))
    for col in (
        pa.array([2, 1, 3], pa.int64()),
        pa.array([2, 1, 3], pa.uint8()),
        pa.array([True, False, True]),
        pa.array([1.0, 2.0, 3.0]),
    ):
        assert_same(train, datasets.Dataset(pa.table({"x": col})))


def test_empty_datasets_match_axolotl():
    empty = datasets.Dataset(pa.table({"x": pa.array([], pa.int64())}))
    full = datasets.Dataset(pa.table({"x": [1, 1]}))
    assert_same(empty)
    assert_same(empty, full)
    assert_same(full, empty)
    assert_same(full, full.select([]))


def test_datasets_without_columns_match_axolotl():
    no_columns = datasets.Dataset.from_dict({"x": [1, 2]}).remove_columns(["x"])
    assert_same(no_columns)


def test_memory_mapped_dataset_from_disk_matches_axolotl(tmp_path, monkeypatch):
    rows = {"text": ["a", "b", "a", "c"] * 300, "n": list(range(4)) * 300}
    datasets.Dataset.from_dict(rows).save_to_disk(tmp_path / "ds")
    loaded = datasets.load_from_disk(str(tmp_path / "ds"))
    assert isinstance(loaded.data, datasets.table.MemoryMappedTable)
    assert_same(loaded)
    assert_same(loaded.shuffle(seed=0), loaded.select(range(10)))
    assert_fast_path_taken(monkeypatch, loaded)


def test_formatted_and_decoded_datasets_defer_to_axolotl(monkeypatch):
    calls = []
    real = data_utils._deduplicate_dataset

    def spy(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(data_utils, "_deduplicate_dataset", spy)
    plain = datasets.Dataset.from_dict({"x": [1, 1, 2]})
    for ds in (
        plain.with_format("numpy"),
        datasets.Dataset.from_dict({"x": [1, 1], "y": [2, 2]}).with_format(None, columns=["x"]),
        plain.cast_column("x", datasets.Value("float16")),
        datasets.Dataset.from_dict({"x": [b"a", b"a"]}),
        datasets.Dataset.from_dict(
            {"x": [[[1, 2]], [[1, 2]]]},
            features=datasets.Features({"x": datasets.Array2D((1, 2), "int32")}),
        ),
    ):
        calls.clear()
        assert_same(ds)
        assert calls, ds


def test_merged_datasets_and_all_column_formats_take_the_fast_path(monkeypatch):
    a = datasets.Dataset.from_dict({"x": [1, 1, 2], "y": ["a", "a", "b"]})
    b = datasets.Dataset.from_dict({"x": [2, 3], "y": ["b", "c"]})
    merged = datasets.concatenate_datasets([a, b])
    assert merged._format_type is None and merged._format_columns is not None
    for ds in (merged, merged.shuffle(seed=0), a.with_format(None, columns=["y", "x"])):
        assert_same(ds)
        assert_same(ds, other_dataset=b)
        with monkeypatch.context() as m:
            assert_fast_path_taken(m, ds)


def test_class_labels_and_sequences_of_dicts_take_the_fast_path(monkeypatch):
    features = datasets.Features(
        {
            "label": datasets.ClassLabel(names=["no", "yes"]),
            "turns": datasets.Sequence(
                {"role": datasets.Value("string"), "n": datasets.Value("int32")}
            ),
        }
    )
    turns = {"role": ["user", "assistant"], "n": [1, 2]}
    ds = datasets.Dataset.from_dict(
        {"label": [1, 1, 0], "turns": [turns, turns, {"role": [], "n": []}]}, features=features
    )
    assert_same(ds)
    assert_fast_path_taken(monkeypatch, ds)


def test_select_fingerprint_shortcut_matches_datasets_on_long_lists():
    from fast_axolotl.patches import dedup

    assert dedup._fingerprint_shortcut_holds()
    ds = datasets.Dataset.from_dict({"x": list(range(70_000))}).shuffle(seed=3)
    positions = sorted({(i * 104_729) % 70_000 for i in range(60_000)})
    assert dedup.select(ds, positions)._fingerprint == ds.select(positions)._fingerprint


def test_dataset_with_a_search_index_raises_what_axolotl_raises():
    class Index:
        pass

    ds = datasets.Dataset.from_dict({"x": [1, 1, 2]})
    ds._indexes["x"] = Index()  # what add_faiss_index leaves behind; select then refuses
    assert_same(ds)
    assert outcome(PATCHED, ds)[0] == "raised"


def test_shadow_mode_sees_no_difference(monkeypatch, caplog):
    from fast_axolotl import config
    from fast_axolotl.patches import dedup

    monkeypatch.setattr(config, "verify_mode", lambda: True)
    shadow = dedup.deduplicate_and_log_datasets(ORIGINAL, "train-then-other")
    train = datasets.Dataset.from_dict({"x": [1, 1, 2] * 1000, "y": list(range(3)) * 1000})
    evals = train.shuffle(seed=0).select(range(50))
    with caplog.at_level(logging.ERROR, logger="fast_axolotl"):
        result = shadow(train, evals)
    assert len(result[0]) == 3
    assert not [r for r in caplog.records if "VERIFY" in r.getMessage()]


def test_non_datasets_inputs_raise_what_axolotl_raises():
    assert_same(None)
    assert_same([{"x": 1}, {"x": 1}])
    assert_same(datasets.Dataset.from_dict({"x": [1]}), other_dataset=[{"x": 1}])


def test_large_datasets_use_the_pool_and_match_axolotl_fingerprints(monkeypatch):
    def rows(lo, hi):
        span = range(lo, hi)
        return {"input_ids": [[i % 97, i % 89] for i in span], "text": [str(i % 500) for i in span]}

    train = datasets.Dataset.from_dict(rows(0, 6000))
    # Half of eval repeats train rows; the rest is new, and its own rows repeat once.
    evals = datasets.Dataset.from_dict(rows(3000, 9000)).select(list(range(6000)) * 2)
    evals = evals.shuffle(seed=1)
    assert_same(train, evals)
    assert_fast_path_taken(monkeypatch, train, evals)


def _dedup_in_child(queue):
    ds = datasets.Dataset.from_dict({"x": [i % 100 for i in range(20_000)]})
    got, _ = data_utils.deduplicate_and_log_datasets(ds)
    queue.put(len(got))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_after_the_parent_used_the_pool_does_not_hang():
    ds = datasets.Dataset.from_dict({"x": [i % 100 for i in range(20_000)]})
    assert len(PATCHED(ds)[0]) == 100  # the parent's pool now exists
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_dedup_in_child, args=(queue,))
    child.start()
    child.join(timeout=60)
    if child.is_alive():
        child.kill()
        pytest.fail("the forked child hung in the dedup kernel")
    assert child.exitcode == 0
    assert queue.get(timeout=5) == 100


def test_dedup_inside_datasets_map_with_num_proc_workers():
    # Workers are forked by `datasets`; each runs the patched function on its shard.
    def shard_sizes(batch, indices):
        ds = datasets.Dataset.from_dict({"x": [i % 50 for i in range(5000)]})
        return {"kept": [len(PATCHED(ds)[0])] * len(indices)}

    PATCHED(datasets.Dataset.from_dict({"x": list(range(5000))}))
    out = datasets.Dataset.from_dict({"i": list(range(4))}).map(
        shard_sizes, batched=True, batch_size=1, with_indices=True, num_proc=2
    )
    assert out["kept"] == [50] * 4


@settings(max_examples=20)
@given(st.data())
def test_rows_with_many_columns_and_duplicates_across_chunks(data):
    schema, pool = data.draw(schema_and_pool())
    rows = data.draw(st.lists(st.sampled_from(pool), min_size=1, max_size=60))
    train = build(schema, rows, data.draw)
    assert_same(train, build(schema, list(reversed(rows)), data.draw))


# --- _deduplicate_dataset: the sha256(str(row)) digests themselves ---------------------


@pytest.fixture(scope="module")
def warm_printable_table():
    from fast_axolotl.patches import dedup

    dedup.printable_table()  # so that small inputs take the kernel too


def test_deduplicate_dataset_is_patched():
    assert ORIGINAL_ONE is not None, "_deduplicate_dataset is not patched"


def outcome_one(func, dataset, seen):
    try:
        result, returned = func(dataset, seen) if seen is not None else func(dataset)
    except Exception as exc:
        return ("raised", type(exc), str(exc))
    return ("returned", describe(result), returned is seen, sorted(returned))


def assert_same_one(dataset, seen_factory):
    expected = outcome_one(ORIGINAL_ONE, dataset, seen_factory())
    got = outcome_one(PATCHED_ONE, dataset, seen_factory())
    assert got == expected


@given(st.data())
def test_same_digests_rows_and_seen_set_as_axolotl(warm_printable_table, data):
    schema, pool = data.draw(schema_and_pool())
    rows = data.draw(st.lists(st.sampled_from(pool), max_size=20))
    dataset = build(schema, rows, data.draw)
    earlier = build(schema, data.draw(st.lists(st.sampled_from(pool), max_size=5)), data.draw)
    _, axolotl_seen = ORIGINAL_ONE(earlier)
    seen = data.draw(st.sampled_from(["none", "empty", "axolotl", "junk"]))
    factory = {
        "none": lambda: None,
        "empty": set,
        "axolotl": lambda: set(axolotl_seen),
        "junk": lambda: {"not a digest", *axolotl_seen},
    }[seen]
    assert_same_one(dataset, factory)


@given(st.lists(st.tuples(st.floats(), st.floats(width=32), st.text()), max_size=20))
def test_float_and_string_reprs_hash_as_in_cpython(warm_printable_table, rows):
    table = pa.table(
        {
            "f": pa.array([r[0] for r in rows], pa.float64()),
            "f32": pa.array([r[1] for r in rows], pa.float32()),
            "s": pa.array([r[2] for r in rows], pa.string()),
        }
    )
    assert_same_one(datasets.Dataset(table), lambda: None)


def test_a_set_filled_by_axolotl_is_honoured_by_the_kernel_and_back(warm_printable_table):
    train = datasets.Dataset.from_dict({"t": ["a", "b", "a", "ü"]})
    evals = datasets.Dataset.from_dict({"t": ["b", "c", "ü", "c"]})
    _, seen = ORIGINAL_ONE(train)
    kept, seen_after = PATCHED_ONE(evals, seen)
    assert seen_after is seen
    assert kept["t"] == ["c"]
    _, kernel_seen = PATCHED_ONE(train)
    assert kernel_seen == ORIGINAL_ONE(train)[1]


def test_set_subclasses_and_cold_small_inputs_defer(monkeypatch):
    from fast_axolotl import _native

    def fail(*a, **k):  # pragma: no cover - reached only on a regression
        raise AssertionError("kernel called")

    class Tracking(set):
        pass

    ds = datasets.Dataset.from_dict({"t": ["a", "a"]})
    real = _native.first_row_sha256
    monkeypatch.setattr(_native, "first_row_sha256", fail)
    assert_same_one(ds, Tracking)
    from fast_axolotl.patches import dedup

    # Without the printable table: ASCII text takes the kernel, non-ASCII text defers.
    monkeypatch.setattr(dedup, "_printable", [])
    calls = []
    monkeypatch.setattr(_native, "first_row_sha256", lambda *a: calls.append(1) or real(*a))
    assert_same_one(ds, lambda: None)
    assert calls and not dedup._printable
    assert_same_one(datasets.Dataset.from_dict({"t": ["é", "é"]}), lambda: None)
    assert not dedup._printable


def test_float32_values_whose_repr_is_a_rounding_tie_hash_as_in_cpython(warm_printable_table):
    # Float32 values widened to float64 often end in ...5 at the 17th digit: repr picks
    # the even neighbour there (0.71854400634765625 -> 0.7185440063476562).
    values = np.random.default_rng(0).random(4000).astype(np.float32)
    values[0] = np.float32(0.718544)
    ds = datasets.Dataset(pa.table({"score": pa.array(values)}))
    assert_same_one(ds, lambda: None)

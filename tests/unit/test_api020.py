"""fast-axolotl 0.2.0's public API in 0.3.0: `pack_sequences`, `concatenate_and_pack`,
`pad_sequences`, `create_padding_mask`, `parallel_hash_rows`, `deduplicate_indices`,
`get_version`, `RUST_AVAILABLE`.

Three kinds of evidence:
- recorded: 0.2.0's own results on a fixed corpus (tests/unit/data/api020_expected.json,
  written by tests/unit/make_api020_expected.py in a venv holding 0.2.0). 0.3.0 must return
  exactly the same (types included) wherever 0.2.0 was correct, and raise ValueError where
  0.2.0 panicked or silently dropped tokens;
- properties: hypothesis inputs against the plain-Python spec in api020_reference.py;
- errors: bad input raises a Python exception naming the argument, never a panic.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import api020_reference as ref
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fast_axolotl

DATA = Path(__file__).resolve().parent / "data" / "api020_expected.json"
RECORDED = json.loads(DATA.read_text())["cases"]

# ---------------------------------------------------------------------------- helpers


def decode(v: Any) -> Any:
    """The input object `make_api020_expected.encode` recorded."""
    if isinstance(v, list):
        return [decode(x) for x in v]
    if not isinstance(v, dict):
        return v
    kind = v["kind"]
    if kind == "bool":
        return bool(v["value"])
    if kind == "ndarray":
        return np.array(v["items"], dtype=v["dtype"])
    if kind == "npint":
        return np.dtype(v["dtype"]).type(v["value"])
    if kind == "float":
        return float(v["value"])
    if kind == "tuple":
        return tuple(decode(x) for x in v["items"])
    if kind == "range":
        return range(*v["args"])
    if kind == "bytes":
        return bytes.fromhex(v["hex"])
    raise AssertionError(f"unknown encoding {kind}")


def assert_same(got: Any, want: Any, where: str = "result") -> None:
    """Equal values with the exact types JSON can tell apart: lists, dicts in key order,
    str, and ints that are `int` itself (not bool, not numpy)."""
    if isinstance(want, list):
        assert type(got) is list, f"{where}: {type(got).__name__}, expected list"
        assert len(got) == len(want), f"{where}: length {len(got)} != {len(want)}"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_same(g, w, f"{where}[{i}]")
    elif isinstance(want, dict):
        assert type(got) is dict and list(got) == list(want), f"{where}: keys {list(got)}"
        for k in want:
            assert_same(got[k], want[k], f"{where}[{k!r}]")
    else:
        assert type(got) is type(want) and got == want, f"{where}: {got!r} != {want!r}"


def outcome(fn: Any, args: Any, kwargs: Any) -> tuple[Any, BaseException | None]:
    try:
        return fn(*args, **kwargs), None
    except Exception as exc:  # the comparison is on the exception type
        return None, exc


def jsonable(result: Any) -> Any:
    return json.loads(json.dumps(result))


# ---------------------------------------------------------------------------- recorded 0.2.0


def _case_id(i: int) -> str:
    c = RECORDED[i]
    return f"{i:03d}-{c['fn']}-{c.get('raises', 'returns')}"


@pytest.mark.parametrize("i", range(len(RECORDED)), ids=_case_id)
def test_results_equal_0_2_0_where_it_was_correct_and_value_error_where_it_was_not(i: int) -> None:
    case = RECORDED[i]
    args, kwargs = decode(case["args"]), {k: decode(v) for k, v in case["kwargs"].items()}
    fn = getattr(fast_axolotl, case["fn"])
    got, exc = outcome(fn, args, kwargs)
    spec, spec_exc = outcome(getattr(ref, case["fn"]), args, kwargs)
    if case.get("raises", "PanicException") != "PanicException":
        # 0.2.0's own exceptions (bad argument types, negative sizes) stay
        assert exc is not None, f"0.2.0 raised {case['raises']}, 0.3.0 returned {got!r}"
        assert type(exc).__name__ == case["raises"], f"{exc!r} vs 0.2.0's {case['raises']}"
        return
    if isinstance(spec_exc, ValueError):
        # 0.2.0 panicked, or returned data with tokens dropped: a ValueError instead
        assert isinstance(exc, ValueError), f"expected ValueError, got {exc!r} / {got!r}"
        return
    assert "raises" not in case, f"0.2.0 panicked on an input the spec accepts: {case}"
    assert exc is None, f"0.2.0 returned, 0.3.0 raised {exc!r}"
    want = case["returns"]
    if case["fn"] == "deduplicate_indices":
        assert type(got) is tuple and len(got) == 2
        got = list(got)
    assert_same(got, want)
    # the spec agrees with 0.2.0 on its correct inputs (so the properties below test 0.2.0)
    assert spec_exc is None and jsonable(spec) == want


def test_the_recorded_corpus_covers_every_function_and_0_2_0_failure() -> None:
    fns = {c["fn"] for c in RECORDED}
    assert fns == {
        "pack_sequences",
        "concatenate_and_pack",
        "pad_sequences",
        "create_padding_mask",
        "parallel_hash_rows",
        "deduplicate_indices",
    }
    assert any(c.get("raises") == "PanicException" for c in RECORDED)
    assert json.loads(DATA.read_text())["fast_axolotl"].startswith("0.2.0")


# ---------------------------------------------------------------------------- properties

ints = st.integers(min_value=-(2**70), max_value=2**70)
small_ints = st.integers(min_value=-200, max_value=70_000)
row = st.lists(small_ints | ints, max_size=24)


def same_as_spec(name: str, *args: Any, **kwargs: Any) -> None:
    got, exc = outcome(getattr(fast_axolotl, name), args, kwargs)
    want, want_exc = outcome(getattr(ref, name), args, kwargs)
    if want_exc is not None:
        assert type(exc) is type(want_exc), f"{exc!r} != spec's {want_exc!r}"
    else:
        assert exc is None, repr(exc)
        assert_same(list(got) if name == "deduplicate_indices" else got, jsonable(want))


@given(st.lists(row, max_size=12), st.integers(0, 60), small_ints, small_ints, small_ints)
def test_pack_sequences_matches_the_spec_including_value_error_for_long_rows(
    seqs: list[list[int]], max_length: int, pad: int, eos: int, label_pad: int
) -> None:
    same_as_spec("pack_sequences", seqs, max_length, pad, eos, label_pad)


@given(st.lists(row, max_size=12), st.integers(0, 60), small_ints, small_ints, st.data())
def test_concatenate_and_pack_matches_the_spec(
    ids: list[list[int]], max_length: int, pad: int, label_pad: int, data: st.DataObject
) -> None:
    labels = [[v if data.draw(st.booleans()) else -100 for v in r] for r in ids]
    masks = [[data.draw(st.integers(0, 1)) for _ in r] for r in ids]
    if ids and data.draw(st.integers(0, 5)) == 0:  # a misaligned row now and then
        masks[-1] = masks[-1] + [1]
    same_as_spec("concatenate_and_pack", ids, labels, masks, max_length, pad, label_pad)


@given(
    st.lists(row, max_size=12),
    st.none() | st.integers(0, 40),
    small_ints,
    st.sampled_from(["right", "left"]),
    st.none() | st.integers(0, 9),
)
def test_pad_sequences_matches_the_spec_including_value_error_for_long_rows(
    seqs: list[list[int]], target: int | None, pad: int, side: str, multiple: int | None
) -> None:
    same_as_spec("pad_sequences", seqs, target, pad, side, multiple)


@given(st.integers(0, 200_000), st.integers(0, 200_000))
def test_create_padding_mask_is_list_range_of_the_difference(current: int, target: int) -> None:
    assert_same(
        fast_axolotl.create_padding_mask(current, target), ref.create_padding_mask(current, target)
    )


texts = st.lists(st.text(max_size=60), max_size=20)


@given(texts, st.sampled_from([0, 1, 2, 7]))
def test_parallel_hash_rows_is_hashlib_sha256_hexdigest_of_the_utf8(
    rows: list[str], t: int
) -> None:
    assert_same(fast_axolotl.parallel_hash_rows(rows, t), ref.parallel_hash_rows(rows))


@given(texts, st.data())
def test_deduplicate_indices_keeps_first_rows_of_unseen_digests(
    rows: list[str], data: st.DataObject
) -> None:
    rows = rows + data.draw(st.lists(st.sampled_from(rows), max_size=5)) if rows else rows
    digests = ref.parallel_hash_rows(rows)
    existing = (
        data.draw(st.none() | st.lists(st.sampled_from(digests) | st.text(max_size=64), max_size=5))
        if digests
        else None
    )
    same_as_spec("deduplicate_indices", rows, existing, 0)


def test_hashing_on_threads_keeps_row_order() -> None:
    rows = [f"row {i % 50_001}" for i in range(120_000)]
    got = fast_axolotl.parallel_hash_rows(rows, 2)
    assert got[0] == hashlib.sha256(b"row 0").hexdigest()
    assert got == ref.parallel_hash_rows(rows)
    idx, hashes = fast_axolotl.deduplicate_indices(rows, got[:10], 0)
    assert idx == list(range(10, 50_001)) and hashes == got[10:50_001]


@given(st.lists(st.lists(small_ints, max_size=8), max_size=6), st.data())
def test_tuples_ranges_bools_and_numpy_rows_read_as_their_int_values(
    seqs: list[list[int]], data: st.DataObject
) -> None:
    def variant(r: list[int]) -> Any:
        kind = data.draw(st.sampled_from(["tuple", "ndarray", "bool-list", "npint-list", "list"]))
        if kind == "tuple":
            return tuple(r)
        if kind == "ndarray":
            return np.array(r, dtype=np.int64)
        if kind == "npint-list":
            return [np.int32(v) for v in r]
        if kind == "bool-list":
            return [bool(v % 2) for v in r]
        return list(r)

    mixed = [variant(r) for r in seqs]
    plain = [[int(v) for v in r] for r in mixed]
    assert_same(
        fast_axolotl.pad_sequences(mixed, None, 3, "left"),
        ref.pad_sequences(plain, None, 3, "left"),
    )
    assert_same(fast_axolotl.pack_sequences(mixed, 20, 0, 2), ref.pack_sequences(plain, 20, 0, 2))


@pytest.mark.parametrize(
    "dtype", ["int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", ">i4"]
)
def test_numpy_rows_of_every_integer_dtype_and_layout_read_as_their_int_values(dtype: str) -> None:
    info = np.iinfo(np.dtype(dtype))
    values = [int(info.min), int(info.max), 0, 1, int(info.max) // 3]
    base = np.array(values * 2, dtype=dtype)
    rows = [base[:5], base[::2], base[:0], np.array(values[:2], dtype=dtype)]
    plain = [[int(v) for v in r] for r in rows]
    got = fast_axolotl.pad_sequences(rows, None, 3, "left")
    assert_same(got, ref.pad_sequences(plain, None, 3, "left"))
    assert all(type(v) is int for r in got for v in r)
    packed = fast_axolotl.concatenate_and_pack(rows, rows, rows, 16, 0)
    assert_same(packed, jsonable(ref.concatenate_and_pack(plain, plain, plain, 16, 0)))


def test_numpy_bool_and_2d_rows_keep_0_2_0s_reading() -> None:
    import operator
    import warnings

    bools = np.array([True, False])
    try:  # numpy.bool lost __index__ in numpy 2.3; before, it warns and gives 1 / 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            expected = [[operator.index(v) for v in bools]]
    except TypeError:
        with pytest.raises(TypeError, match=r"sequences\[0\]\[0\]: 'numpy.bool"):
            fast_axolotl.pad_sequences([bools])
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            assert fast_axolotl.pad_sequences([bools]) == expected
    with pytest.raises(TypeError, match=r"sequences\[0\]\[0\]"):
        fast_axolotl.pad_sequences([np.zeros((2, 2), dtype=np.int64)])
    with pytest.raises(TypeError, match=r"sequences\[0\]\[0\]"):
        fast_axolotl.pad_sequences([np.array([1.0, 2.0])])


def test_outputs_are_new_lists_the_caller_may_change() -> None:
    seqs = [[1, 2, 3], [4, 5, 6]]
    padded = fast_axolotl.pad_sequences(seqs)
    assert padded == seqs and all(p is not s for p, s in zip(padded, seqs, strict=True))
    padded[0].append(9)
    assert seqs == [[1, 2, 3], [4, 5, 6]]
    mask = fast_axolotl.create_padding_mask(0, 5)
    mask.append(99)
    assert fast_axolotl.create_padding_mask(0, 6) == [0, 1, 2, 3, 4, 5]


def test_an_index_method_that_changes_other_rows_is_read_safely() -> None:
    victim = list(range(1000, 1100))

    class Sneaky:
        def __index__(self) -> int:
            victim.clear()  # would leave a stale length behind in a careless kernel
            return 7

    seqs = [victim, [Sneaky()], victim]
    got = fast_axolotl.pad_sequences(seqs)
    assert got == [[0], [7], [0]] or got == ref.pad_sequences([[], [7], []])
    packed = fast_axolotl.pack_sequences([list(range(50)), [Sneaky()]], 60, 0, 2)
    assert all(len(r) == 60 for r in packed["input_ids"])


# ---------------------------------------------------------------------------- references
# The builders write list slots and reference counts directly (rust/src/python/sequences.rs);
# a count off by one either way is a leak or a use-after-free no value comparison sees.


def fresh_rows(n_rows: int, seed: int) -> list[list[int]]:
    """Rows of int objects that nothing else references (not small ints, not constants)."""
    rng = random.Random(seed)
    return [[rng.randrange(10**6, 10**9) for _ in range(rng.randint(0, 40))] for _ in range(n_rows)]


def counts(objs: list[Any]) -> list[int]:
    return [sys.getrefcount(o) for o in objs]


def slots(outputs: list[list[Any]], obj: Any) -> int:
    return sum(x is obj for row in outputs for x in row)


def test_pad_sequences_takes_one_reference_per_output_slot_and_frees_them_with_the_output() -> None:
    rows = fresh_rows(30, 1)
    tokens = [t for r in rows for t in r]
    before = counts(tokens)
    for side in ("right", "left"):
        out = fast_axolotl.pad_sequences(rows, None, 10**12 + 1, side, 8)
        assert counts(tokens) == [b + 1 for b in before]
        pad = next(x for r in out for x in r if x == 10**12 + 1)
        # every padding slot refers to the one pad object: its slots, `pad`, the argument
        assert sys.getrefcount(pad) == slots(out, pad) + 2
        del out, pad
        assert counts(tokens) == before


def test_pack_sequences_takes_one_reference_per_output_slot_and_frees_them_with_the_output() -> (
    None
):
    rows = fresh_rows(40, 2)
    tokens = [t for r in rows for t in r]
    before = counts(tokens)
    out = fast_axolotl.pack_sequences(rows, 64, 10**12 + 1, 10**12 + 2, 10**12 + 3)
    assert counts(tokens) == [b + 2 for b in before]  # in input_ids and in labels
    ids, labels = out["input_ids"], out["labels"]
    for value in (10**12 + 1, 10**12 + 2, 10**12 + 3):
        obj = next(x for r in ids + labels for x in r if x == value)
        assert sys.getrefcount(obj) == slots(ids, obj) + slots(labels, obj) + 2
        del obj
    del out, ids, labels
    assert counts(tokens) == before


def test_concatenate_and_pack_takes_one_reference_per_output_slot_and_frees_them() -> None:
    ids, labels, masks = fresh_rows(40, 3), fresh_rows(40, 3), fresh_rows(40, 3)
    tokens = [t for rows in (ids, labels, masks) for r in rows for t in r]
    before = counts(tokens)
    out = fast_axolotl.concatenate_and_pack(ids, labels, masks, 64, 10**12 + 1, 10**12 + 3)
    assert counts(tokens) == [b + 1 for b in before]
    pad = next(x for r in out["input_ids"] for x in r if x == 10**12 + 1)
    assert sys.getrefcount(pad) == slots(out["input_ids"], pad) + 2
    del out, pad
    assert counts(tokens) == before


@pytest.mark.parametrize("bad", [True, 1.5, np.int64(5)])
def test_a_build_abandoned_at_a_bad_value_leaves_no_reference_behind(bad: Any) -> None:
    rows = fresh_rows(20, 4)
    rows[12] = [*rows[12], bad, *fresh_rows(1, 5)[0]]
    tokens = [t for r in rows for t in r if type(t) is int]
    before = counts(tokens)
    for call in (
        lambda: fast_axolotl.pad_sequences(rows, None, 0, "left"),
        lambda: fast_axolotl.pack_sequences(rows, 128, 0, 2),
        lambda: fast_axolotl.concatenate_and_pack(rows, rows, rows, 128, 0),
    ):
        try:
            out = call()  # bools and numpy ints are read as ints: the converted path
        except TypeError:
            assert isinstance(bad, float)
        else:
            assert not isinstance(bad, float)
            del out
        assert counts(tokens) == before


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("call", "exc", "message"),
    [
        (
            lambda: fast_axolotl.pack_sequences([[1] * 9], 10, 0, 2),
            ValueError,
            r"sequences\[0\].*max_length=10",
        ),
        (lambda: fast_axolotl.pack_sequences([[1], [1]], 0, 0, 2), ValueError, r"max_length=0"),
        (
            lambda: fast_axolotl.concatenate_and_pack(
                [[1, 2, 3, 4]], [[1, 2, 3, 4]], [[1] * 4], 3, 0
            ),
            ValueError,
            r"input_ids\[0\].*max_length=3",
        ),
        (
            lambda: fast_axolotl.concatenate_and_pack([[1], [2]], [[1]], [[1], [1]], 3, 0),
            ValueError,
            r"labels 1",
        ),
        (
            lambda: fast_axolotl.concatenate_and_pack([[1, 2]], [[1]], [[1, 1]], 3, 0),
            ValueError,
            r"row 0 has 2 input_ids, 1 labels",
        ),
        (
            lambda: fast_axolotl.pad_sequences([[1, 2, 3]], 2),
            ValueError,
            r"sequences\[0\].*target_length=2",
        ),
        (
            lambda: fast_axolotl.pad_sequences([[1]], 3, padding_side="up"),
            ValueError,
            r"padding_side",
        ),
        (
            lambda: fast_axolotl.create_padding_mask(0, 2**62),
            ValueError,
            r"target_length - current_length",
        ),
        (lambda: fast_axolotl.pad_sequences([[1.5]]), TypeError, r"sequences\[0\]\[0\].*float"),
        (lambda: fast_axolotl.pack_sequences("abc", 5, 0, 2), TypeError, r"sequences.*str"),
        (lambda: fast_axolotl.pack_sequences([None], 5, 0, 2), TypeError, r"sequences\[0\]"),
        (lambda: fast_axolotl.pad_sequences([[1]], -1), OverflowError, r"negative"),
        (lambda: fast_axolotl.parallel_hash_rows([b"x"]), TypeError, r"rows.*bytes"),
        (lambda: fast_axolotl.parallel_hash_rows(["\ud800"]), UnicodeEncodeError, r"surrogates"),
        (lambda: fast_axolotl.deduplicate_indices(["a"], "abc"), TypeError, r"existing_hashes"),
    ],
)
def test_bad_input_raises_a_python_exception_naming_what_was_wrong(
    call: Any, exc: type, message: str
) -> None:
    with pytest.raises(exc, match=message):
        call()


def test_huge_padding_raises_memory_error_not_a_crash() -> None:
    with pytest.raises(MemoryError):
        fast_axolotl.pad_sequences([[1]], 2**55)


# ---------------------------------------------------------------------------- package surface


def test_get_version_reports_package_and_native_versions_as_0_2_0_did() -> None:
    from importlib.metadata import version

    from fast_axolotl import _native

    assert fast_axolotl.__version__ == _native.__version__ == version("fast-axolotl")
    assert fast_axolotl.get_version() == f"{fast_axolotl.__version__} (rust: {_native.__version__})"
    assert re.fullmatch(r"\d+\.\d+\.\d+ \(rust: \d+\.\d+\.\d+\)", fast_axolotl.get_version())
    # above 0.2.0, so that `pip install -U fast-axolotl` upgrades its users
    assert tuple(int(p) for p in fast_axolotl.__version__.split(".")) > (0, 2, 0)


def test_rust_available_and_is_available_agree() -> None:
    assert fast_axolotl.RUST_AVAILABLE is fast_axolotl.is_available() is True


def test_signatures_are_0_2_0s() -> None:
    import inspect

    sig = {n: str(inspect.signature(getattr(fast_axolotl, n))) for n in ref.__all__}
    assert sig == {
        "pack_sequences": "(sequences, max_length, pad_token_id, eos_token_id, label_pad_id=-100)",
        "concatenate_and_pack": (
            "(input_ids, labels, attention_masks, max_length, pad_token_id, label_pad_id=-100)"
        ),
        "pad_sequences": (
            "(sequences, target_length=None, pad_value=0, padding_side='right', "
            "pad_to_multiple_of=None)"
        ),
        "create_padding_mask": "(current_length, target_length)",
        "parallel_hash_rows": "(rows, num_threads=0)",
        "deduplicate_indices": "(rows, existing_hashes=None, num_threads=0)",
    }


def test_importing_fast_axolotl_loads_none_of_the_api_modules() -> None:
    code = (
        "import sys, fast_axolotl\n"
        "assert not {'fast_axolotl.sequences', 'fast_axolotl.row_hashing', 'fast_axolotl._native'}"
        " & set(sys.modules), sorted(m for m in sys.modules if m.startswith('fast_axolotl'))\n"
        "from fast_axolotl import pad_sequences, RUST_AVAILABLE\n"
        "assert 'fast_axolotl.sequences' in sys.modules and RUST_AVAILABLE\n"
    )
    subprocess.run(
        [sys.executable, "-c", code], check=True, env={"FAST_AXOLOTL_DISABLE": "1", "PATH": ""}
    )


def test_unknown_attributes_still_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        fast_axolotl.no_such_name  # noqa: B018


@pytest.mark.parametrize("enabled", [True, False])
def test_the_garbage_collector_state_is_restored_after_every_call(enabled: bool) -> None:
    import gc

    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        fast_axolotl.pad_sequences([[1, 2], [3]])
        fast_axolotl.pack_sequences([[1, 2], (3,)], 8, 0, 2)
        with pytest.raises(ValueError):
            fast_axolotl.pad_sequences([[1, 2, 3]], 2)
        with pytest.raises(TypeError):
            fast_axolotl.concatenate_and_pack([[1]], [[None]], [[1]], 4, 0)
        assert gc.isenabled() is enabled
    finally:
        gc.enable() if was else gc.disable()

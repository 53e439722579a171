"""The streaming reader against the real `datasets` streaming loaders: for generated files
of each format, the rows (column names and order, Python values and their types, row
order) equal `datasets.load_dataset(<builder>, data_files=path, split="train",
streaming=True)`'s. Inputs are drawn from what `datasets` infers one type for per column
(docs/compatibility.md lists the type-inference differences outside it)."""

from __future__ import annotations

import string
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parents[1] / "unit"))
import stream_files

from fast_axolotl.streaming import streaming_dataset_reader

datasets = pytest.importorskip("datasets")

BUILDER = {
    "jsonl": "json",
    "json": "json",
    "csv": "csv",
    "text": "text",
    "parquet": "parquet",
    "arrow": "arrow",
    "arrow_stream": "arrow",
}

ints = st.integers(-(2**53), 2**53)
floats = st.floats(allow_nan=False, allow_infinity=False, width=64)
texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
COLUMN_KINDS = {
    "int": ints,
    "float": floats.filter(lambda f: f != int(f) if abs(f) < 2**60 else False),
    "str": texts,
    "bool": st.booleans(),
    "list": st.lists(ints, max_size=4),
    "struct": st.fixed_dictionaries({"x": ints, "y": texts}),
}


@st.composite
def tables(draw, kinds=tuple(COLUMN_KINDS), nulls=True, min_rows=1):
    names = draw(st.lists(st.sampled_from("abcdefgh"), min_size=1, max_size=4, unique=True))
    cols = {n: draw(st.sampled_from(kinds)) for n in names}
    n_rows = draw(st.integers(min_rows, 40))
    rows = []
    for _ in range(n_rows):
        row = {}
        for n, kind in cols.items():
            value = draw(COLUMN_KINDS[kind])
            if nulls and draw(st.integers(0, 9)) == 0:
                value = None
            row[n] = value
        rows.append(row)
    return rows


def _datasets_rows(path: Path, builder: str) -> list[dict]:
    ds = datasets.load_dataset(builder, data_files=str(path), split="train", streaming=True)
    return list(ds)


def _our_rows(path: Path, batch_size: int) -> list[dict]:
    out = []
    for batch in streaming_dataset_reader(path, batch_size=batch_size):
        out.extend(
            dict(zip(batch, vals, strict=False)) for vals in zip(*batch.values(), strict=False)
        )
    return out


def _typed(rows: list[dict]) -> list:
    """Rows with every value paired with its type, so 1 and 1.0 and True differ."""

    def t(v):
        if isinstance(v, dict):
            return ("dict", [(k, t(x)) for k, x in v.items()])
        if isinstance(v, list):
            return ("list", [t(x) for x in v])
        return (type(v).__name__, v)

    return [[(k, t(v)) for k, v in r.items()] for r in rows]


def check(rows, fmt, batch_size=7):
    with tempfile.TemporaryDirectory() as tmp:
        path = stream_files.write(Path(tmp), rows, fmt)
        expected = _datasets_rows(path, BUILDER[fmt])
        assert _typed(_our_rows(path, batch_size)) == _typed(expected)


pytestmark = pytest.mark.filterwarnings("ignore")
SETTINGS = settings(max_examples=25)


@SETTINGS
@given(rows=tables(), batch_size=st.integers(1, 50))
def test_jsonl_rows_equal_datasets_json_streaming(rows, batch_size):
    check(rows, "jsonl", batch_size)


def _survives_datasets_array_round_trip(rows) -> bool:
    # `datasets` rewrites a top-level JSON array with pandas' ujson_dumps, which keeps 10
    # significant digits of a float (docs/compatibility.md); this reader keeps every digit.
    import pandas as pd

    def ok(v):
        if isinstance(v, float):
            return pd.io.json.ujson_loads(pd.io.json.ujson_dumps(v)) == v
        if isinstance(v, list):
            return all(ok(x) for x in v)
        return True

    return all(ok(v) for r in rows for v in r.values())


@SETTINGS
@given(
    rows=tables(kinds=("int", "float", "str", "bool", "list")).filter(
        _survives_datasets_array_round_trip
    )
)
def test_json_array_rows_equal_datasets_json_streaming(rows):
    check(rows, "json")


def test_json_array_floats_keep_every_digit(tmp_path):
    # Where `datasets` rounds a top-level array's floats to 10 significant digits.
    rows = [{"a": 2.7452518116782302e-219}, {"a": 0.12345678901234566}]
    path = stream_files.write(tmp_path, rows, "json")
    assert _our_rows(path, 7) == rows


@SETTINGS
@given(rows=tables(), batch_size=st.integers(1, 50))
def test_parquet_rows_equal_datasets_parquet_streaming(rows, batch_size):
    check(rows, "parquet", batch_size)


@SETTINGS
@given(rows=tables(), stream=st.booleans())
def test_arrow_ipc_rows_equal_datasets_arrow_streaming(rows, stream):
    check(rows, "arrow_stream" if stream else "arrow")


# CSV cells as pandas would read them back as the same type: words that are not numbers,
# booleans or NA strings; ints; floats with a fractional part.
csv_words = st.text(string.ascii_letters + " -_", min_size=1, max_size=10).map(lambda s: "w" + s)
csv_cells = {
    "int": ints,
    "float": floats.filter(lambda f: abs(f) < 1e15 and f != int(f))
    .map(lambda f: round(f, 6))
    .filter(lambda f: f != int(f)),
    "str": csv_words,
}


@st.composite
def csv_tables(draw):
    names = draw(st.lists(st.sampled_from("abcdef"), min_size=1, max_size=4, unique=True))
    kinds = {n: draw(st.sampled_from(sorted(csv_cells))) for n in names}
    n_rows = draw(st.integers(1, 40))
    return [
        {
            n: (None if draw(st.integers(0, 9)) == 0 else draw(csv_cells[k]))
            for n, k in kinds.items()
        }
        for _ in range(n_rows)
    ]


@SETTINGS
@given(rows=csv_tables(), batch_size=st.integers(1, 50))
def test_csv_rows_equal_datasets_csv_streaming(rows, batch_size):
    check(rows, "csv", batch_size)


@SETTINGS
@given(content=st.text(st.characters(exclude_categories=("Cs",)), max_size=200))
def test_text_lines_equal_datasets_text_streaming(content):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.txt"
        path.write_bytes(content.encode())
        expected = _datasets_rows(path, "text")
        assert _our_rows(path, 5) == expected


@pytest.mark.parametrize("compression", ["gz", "zst", "bz2", "xz"])
@pytest.mark.parametrize("fmt", ["jsonl", "csv", "text"])
def test_compressed_files_equal_datasets_streaming(tmp_path, fmt, compression):
    rows = (
        [{"text": f"t{i}"} for i in range(30)]
        if fmt == "text"
        else [{"a": i, "b": f"w{i}", "c": i + 0.5} for i in range(30)]
    )
    path = stream_files.write(tmp_path, rows, fmt, compression)
    assert _typed(_our_rows(path, 8)) == _typed(_datasets_rows(path, BUILDER[fmt]))

"""The streaming reader on its own (no Axolotl, no `datasets`): every format and
compression round-trips, batches have the requested size, reading is lazy and stops when
the iterator is dropped, and bad input raises an exception naming the file and position."""

from __future__ import annotations

import gzip
import os
import sys
from pathlib import Path

import pyarrow as pa
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import stream_files

import fast_axolotl
from fast_axolotl.streaming import streaming_dataset_reader

ROWS = [{"a": i, "b": f"s{i}", "c": i / 4} for i in range(23)]
TEXT_ROWS = [{"text": f"line {i}"} for i in range(23)]


def read_rows(path, **kw) -> list[dict]:
    out = []
    for batch in streaming_dataset_reader(path, **kw):
        names = list(batch)
        out.extend(
            dict(zip(names, vals, strict=False)) for vals in zip(*batch.values(), strict=False)
        )
    return out


@pytest.mark.parametrize("compression", stream_files.COMPRESSIONS)
@pytest.mark.parametrize("fmt", stream_files.FORMATS)
def test_every_format_and_compression_round_trips_rows_in_order(tmp_path, fmt, compression):
    rows = TEXT_ROWS if fmt == "text" else ROWS
    path = stream_files.write(tmp_path, rows, fmt, compression)
    assert read_rows(path, batch_size=4) == rows


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet", "arrow", "text"])
def test_batches_have_batch_size_rows_except_the_last(tmp_path, fmt):
    rows = TEXT_ROWS if fmt == "text" else ROWS
    path = stream_files.write(tmp_path, rows, fmt)
    sizes = [len(next(iter(b.values()))) for b in streaming_dataset_reader(path, batch_size=5)]
    assert sizes == [5, 5, 5, 5, 3]


def test_arrow_format_yields_record_batches_equal_to_the_python_batches(tmp_path):
    path = stream_files.write(tmp_path, ROWS, "parquet")
    arrow = list(streaming_dataset_reader(path, batch_size=10, format="arrow"))
    assert all(isinstance(b, pa.RecordBatch) for b in arrow)
    python = list(streaming_dataset_reader(path, batch_size=10))
    assert [b.to_pydict() for b in arrow] == python


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv"])
def test_a_huge_batch_size_yields_all_rows_instead_of_aborting(tmp_path, fmt):
    # arrow-json/arrow-csv reserve memory per batch_size row up front; 2**40 rows used to
    # abort the process on that allocation. In a child, so an abort fails only this test.
    import subprocess

    path = stream_files.write(tmp_path, ROWS, fmt)
    code = (
        "import sys; from fast_axolotl.streaming import streaming_dataset_reader as r; "
        "print([len(b['a']) for b in r(sys.argv[1], batch_size=2**40)])"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == f"[{len(ROWS)}]"


def test_explicit_dataset_type_overrides_the_extension(tmp_path):
    path = tmp_path / "rows.data"
    path.write_bytes(stream_files.encode(ROWS, "jsonl"))
    assert read_rows(str(path), dataset_type="jsonl") == ROWS
    with pytest.raises(ValueError, match=r"rows\.data.*dataset_type"):
        read_rows(str(path))


def test_compression_is_recognised_by_magic_bytes_without_an_extension(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_bytes(gzip.compress(stream_files.encode(ROWS, "jsonl")))
    assert read_rows(path) == ROWS


def test_extension_claiming_a_compression_the_content_lacks_is_an_error(tmp_path):
    path = tmp_path / "rows.jsonl.gz"
    path.write_bytes(stream_files.encode(ROWS, "jsonl"))
    with pytest.raises(ValueError, match=r"rows\.jsonl\.gz.*byte 0.*gzip"):
        read_rows(path)


def test_directory_and_glob_read_files_in_sorted_order(tmp_path):
    stream_files.write(tmp_path, ROWS[10:], "jsonl", name="b")
    stream_files.write(tmp_path, ROWS[:10], "jsonl", name="a")
    (tmp_path / ".hidden.jsonl").write_text('{"a": -1}\n')  # `datasets` skips hidden files
    assert read_rows(tmp_path) == ROWS
    assert read_rows(str(tmp_path / "*.jsonl")) == ROWS


def test_save_to_disk_dataset_and_dataset_dict_split(tmp_path):
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_list(ROWS)
    ds.save_to_disk(str(tmp_path / "ds"), num_shards=3)
    assert read_rows(tmp_path / "ds", batch_size=4) == ROWS
    dd = datasets.DatasetDict({"train": ds, "test": datasets.Dataset.from_list(ROWS[:3])})
    dd.save_to_disk(str(tmp_path / "dd"))
    assert read_rows(tmp_path / "dd") == ROWS
    assert read_rows(tmp_path / "dd", split="test") == ROWS[:3]
    with pytest.raises(ValueError, match='no split "nope"'):
        read_rows(tmp_path / "dd", split="nope")


def test_first_batch_arrives_before_a_corrupt_tail_is_read(tmp_path):
    # Proof of laziness: a file whose end is garbage still yields its first batches
    # (past the first 10 MB chunk, the unit `datasets` infers types over).
    path = tmp_path / "big.jsonl"
    good = stream_files.encode([{"a": i} for i in range(1_000_000)], "jsonl")
    path.write_bytes(good + b"{not json\n")
    it = streaming_dataset_reader(path, batch_size=1000)
    assert next(it) == {"a": list(range(1000))}
    with pytest.raises(ValueError, match=r"big\.jsonl: line 1000001 .*invalid JSON"):
        for _ in it:
            pass


def _open_fds_to(path: Path) -> int:
    fd_dir = Path("/proc/self/fd")
    n = 0
    for fd in fd_dir.iterdir():
        try:
            if os.readlink(fd) == str(path):
                n += 1
        except OSError:
            pass
    return n


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs /proc")
@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet", "text"])
def test_dropping_the_iterator_closes_the_file(tmp_path, fmt):
    rows = TEXT_ROWS if fmt == "text" else ROWS
    path = stream_files.write(tmp_path, rows * 50, fmt)
    it = streaming_dataset_reader(path, batch_size=10)
    next(it)
    assert _open_fds_to(path) == 1
    del it
    assert _open_fds_to(path) == 0


def test_invalid_json_line_names_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}\n{"a": \n{"a": 4}\n')
    with pytest.raises(ValueError, match=r"bad\.jsonl: line 3 \(byte offset 18\)"):
        read_rows(path)


def test_invalid_utf8_text_names_file_and_byte_offset(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"ok\nfine\nbro\xffken\n")
    with pytest.raises(ValueError, match=r"bad\.txt: line 3 \(byte offset 11\): invalid UTF-8"):
        read_rows(path)


def test_csv_value_of_the_wrong_type_after_the_inference_window_names_its_line(tmp_path):
    path = tmp_path / "bad.csv"
    lines = ["a"] + [str(i) for i in range(10_500)] + ["oops"]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"bad\.csv: .*line"):
        read_rows(path)


def test_truncated_gzip_raises_naming_the_file(tmp_path):
    path = tmp_path / "cut.jsonl.gz"
    data = gzip.compress(stream_files.encode(ROWS * 100, "jsonl"))
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"cut\.jsonl\.gz"):
        read_rows(path)


def test_truncated_parquet_raises_naming_the_file(tmp_path):
    path = stream_files.write(tmp_path, ROWS, "parquet")
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(ValueError, match=r"data\.parquet"):
        read_rows(path)


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nothere\.jsonl"):
        read_rows(tmp_path / "nothere.jsonl")


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"batch_size": 0}, ValueError),
        ({"batch_size": 1.5}, TypeError),
        ({"num_threads": -1}, ValueError),
        ({"format": "pandas"}, ValueError),
        ({"dataset_type": "excel"}, ValueError),
    ],
)
def test_bad_arguments_raise_clear_errors(tmp_path, kwargs, error):
    path = stream_files.write(tmp_path, ROWS, "jsonl")
    with pytest.raises(error):
        read_rows(path, **kwargs)


def test_text_lines_end_only_at_universal_newlines(tmp_path):
    content = "a\r\nb\rc\n\nd\x0be\u2028f\x85g"
    path = tmp_path / "t.txt"
    path.write_bytes(content.encode())
    expected = content.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    assert read_rows(path) == [{"text": t} for t in expected]


def test_json_top_level_array_of_strings_becomes_text_rows(tmp_path):
    path = tmp_path / "s.json"
    path.write_text('[\n "x",\n "y, z"\n]\n')
    assert read_rows(path) == [{"text": "x"}, {"text": "y, z"}]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("d.parquet", ("parquet", None)),
        ("d.jsonl.zst", ("jsonl", "zstd")),
        ("d.csv.gz", ("csv", "gzip")),
        ("d.txt.bz2", ("text", "bz2")),
        ("d.json.xz", ("json", "xz")),
        ("d.feather", ("feather", None)),
        ("d.arrow", ("arrow", None)),
        ("d.unknown", ("unknown", None)),
    ],
)
def test_detect_format_names_format_and_compression(name, expected):
    assert fast_axolotl.detect_format(name) == expected


def test_detect_format_of_a_directory_is_hf_dataset(tmp_path):
    assert fast_axolotl.detect_format(str(tmp_path)) == ("hf_dataset", None)


def test_supported_formats_include_every_0_2_0_format():
    v020 = [
        "parquet",
        "arrow",
        "feather",
        "csv",
        "json",
        "jsonl",
        "text",
        "parquet.zst",
        "parquet.gz",
        "arrow.zst",
        "arrow.gz",
        "json.zst",
        "json.gz",
        "jsonl.zst",
        "jsonl.gz",
        "csv.zst",
        "csv.gz",
        "text.zst",
        "text.gz",
        "hf_dataset",
    ]
    formats = fast_axolotl.list_supported_formats()
    assert set(v020) <= set(formats)
    assert formats[:7] == v020[:7]
    assert {"jsonl.bz2", "csv.xz"} <= set(formats)


def test_should_use_rust_streaming_keeps_0_2_0_rule(tmp_path):
    from fast_axolotl.streaming import should_use_rust_streaming

    small = stream_files.write(tmp_path, ROWS, "jsonl")
    on = {"dataset_use_rust_streaming": True, "sequence_len": 20000}
    assert not should_use_rust_streaming(str(small), {}, on)  # < 1 GiB
    assert should_use_rust_streaming(str(tmp_path / "missing"), {}, on)
    assert not should_use_rust_streaming(str(tmp_path / "missing"), {}, {**on, "sequence_len": 10})
    assert not should_use_rust_streaming(
        str(tmp_path / "missing"), {}, {**on, "dataset_keep_in_memory": True}
    )
    assert not should_use_rust_streaming(str(tmp_path / "missing"), {}, {})


def test_rust_streaming_dataset_iterates_the_readers_batches(tmp_path):
    path = stream_files.write(tmp_path, ROWS, "jsonl")
    ds = fast_axolotl.create_rust_streaming_dataset(str(path), "jsonl", batch_size=10)
    assert ds.with_format("torch") is ds
    assert list(ds) == list(streaming_dataset_reader(path, "jsonl", 10))

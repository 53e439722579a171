"""Writers of small dataset files in every format and compression the reader supports
(shared by the reader's unit, fuzz and differential tests)."""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import lzma
from pathlib import Path
from typing import Any

FORMATS = ("jsonl", "json", "csv", "text", "parquet", "arrow", "arrow_stream", "feather")
COMPRESSIONS = (None, "gz", "zst", "bz2", "xz")


def compress(data: bytes, compression: str | None) -> bytes:
    if compression is None:
        return data
    if compression == "gz":
        return gzip.compress(data)
    if compression == "bz2":
        return bz2.compress(data)
    if compression == "xz":
        return lzma.compress(data)
    if compression == "zst":
        import zstandard

        return zstandard.ZstdCompressor().compress(data)
    raise ValueError(compression)


def encode(rows: list[dict[str, Any]], fmt: str) -> bytes:
    """The bytes of a file of `rows` in `fmt` (text: the rows' "text" values as lines)."""
    if fmt == "jsonl":
        return "".join(json.dumps(r) + "\n" for r in rows).encode()
    if fmt == "json":
        return json.dumps(rows).encode()
    if fmt == "text":
        return "".join(r["text"] + "\n" for r in rows).encode()
    if fmt == "csv":
        out = io.StringIO()
        names = list(rows[0]) if rows else ["a"]
        w = csv.DictWriter(out, fieldnames=names, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        return out.getvalue().encode()
    import pyarrow as pa

    table = pa.Table.from_pylist(rows)
    sink = io.BytesIO()
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, sink, row_group_size=7)
    elif fmt == "arrow":
        with pa.ipc.new_file(sink, table.schema) as w:
            for b in table.to_batches(max_chunksize=5):
                w.write_batch(b)
    elif fmt == "arrow_stream":
        with pa.ipc.new_stream(sink, table.schema) as w:
            for b in table.to_batches(max_chunksize=5):
                w.write_batch(b)
    elif fmt == "feather":
        import pyarrow.feather as feather

        feather.write_feather(table, sink, compression="uncompressed")
    else:
        raise ValueError(fmt)
    return sink.getvalue()


def extension(fmt: str) -> str:
    return {"arrow_stream": "arrow", "text": "txt"}.get(fmt, fmt)


def write(
    tmp: Path,
    rows: list[dict[str, Any]],
    fmt: str,
    compression: str | None = None,
    name: str = "data",
) -> Path:
    suffix = "." + extension(fmt) + (f".{compression}" if compression else "")
    path = tmp / (name + suffix)
    path.write_bytes(compress(encode(rows, fmt), compression))
    return path

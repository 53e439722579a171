"""The streaming dataset reader: fast-axolotl 0.2.0's ``streaming_dataset_reader`` and its
dataset wrapper, reading lazily with bounded memory.

``axolotl.utils.data.rust_streaming`` (served by the import hook under a real Axolotl) and
the top-level ``fast_axolotl.streaming_dataset_reader`` are these objects. Rows, columns and
values follow ``datasets.load_dataset(<builder>, data_files=path, streaming=True)``;
docs/compatibility.md lists where type inference differs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

__all__ = [
    "RUST_AVAILABLE",
    "RustStreamingDataset",
    "create_rust_streaming_dataset",
    "detect_format",
    "is_available",
    "list_supported_formats",
    "should_use_rust_streaming",
    "streaming_dataset_reader",
]


def is_available() -> bool:
    """True if the native extension loads on this machine."""
    try:
        from fast_axolotl import _native  # noqa: F401
    except ImportError:
        return False
    return True


RUST_AVAILABLE: bool = is_available()

#: 0.2.0's names for the same two facts in ``axolotl.utils.data.rust_streaming``.
get_rust_extension_status = is_available
RUST_EXTENSION_AVAILABLE: bool = RUST_AVAILABLE

#: What the served module ``axolotl.utils.data.rust_streaming`` exports (0.2.0's module
#: plus the dataset wrapper it imported from the package).
__served__ = (
    "RUST_EXTENSION_AVAILABLE",
    "RustStreamingDataset",
    "create_rust_streaming_dataset",
    "get_rust_extension_status",
    "should_use_rust_streaming",
    "streaming_dataset_reader",
)

_FORMATS = ("python", "arrow")


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


def streaming_dataset_reader(
    file_path: str | os.PathLike[str],
    dataset_type: str | None = None,
    batch_size: int = 1000,
    num_threads: int = 0,
    *,
    format: str = "python",
    split: str | None = None,
) -> Iterator[Any]:
    """Yields the rows of a dataset file, directory, glob or ``save_to_disk`` directory in
    batches of ``batch_size`` rows (the last batch of each file may be shorter).

    ``dataset_type`` is one of parquet, arrow, feather, csv, json, jsonl, text; None detects
    it from the file name (gzip/zstd/bz2/xz compression is recognised by its magic bytes).
    ``format="python"`` yields ``{column: [values]}`` dicts, as fast-axolotl 0.2.0 did;
    ``format="arrow"`` yields ``pyarrow.RecordBatch`` objects that share the decoded memory.
    ``split`` picks a split of a ``DatasetDict`` directory ("train" by default).
    ``num_threads=1`` decodes on the calling thread (with the GIL released); any other value
    (0, the default, means automatic) decodes the next batch on one background thread while
    the current one is consumed. One batch is decoded ahead at most.

    The file is opened on the first ``next()``; a file that cannot be read raises
    FileNotFoundError / OSError, bad content a ValueError naming the file and the line or
    byte offset. Closing or dropping the iterator stops reading and frees its buffers.
    """
    path = os.fspath(file_path)
    if not isinstance(path, str):
        raise TypeError(f"file_path must be a str or os.PathLike of str, got {type(path).__name__}")
    if dataset_type is not None and not isinstance(dataset_type, str):
        raise TypeError(f"dataset_type must be a str or None, got {type(dataset_type).__name__}")
    _check_int("batch_size", batch_size, 1)
    _check_int("num_threads", num_threads, 0)
    if format not in _FORMATS:
        raise ValueError(f"format must be one of {_FORMATS}, got {format!r}")
    if split is not None and not isinstance(split, str):
        raise TypeError(f"split must be a str or None, got {type(split).__name__}")
    return _batches(path, dataset_type, batch_size, format, split, num_threads != 1)


def _batches(
    path: str,
    dataset_type: str | None,
    batch_size: int,
    fmt: str,
    split: str | None,
    prefetch: bool,
) -> Iterator[Any]:
    import pyarrow as pa

    from fast_axolotl import _native

    reader = _native.StreamReader(path, dataset_type, batch_size, split, prefetch)
    try:
        if fmt == "arrow":
            for batch in reader:
                yield pa.record_batch(batch)
        else:
            for batch in reader:
                yield pa.record_batch(batch).to_pydict()
    finally:
        reader.close()


def detect_format(file_path: str) -> tuple[str, str | None]:
    """``(format, compression)`` from a path's extensions, as 0.2.0:
    ``"data.jsonl.zst"`` -> ``("jsonl", "zstd")``; a directory -> ``("hf_dataset", None)``;
    an unknown extension -> ``("unknown", None)``. Compression names are gzip, zstd, bz2, xz."""
    from fast_axolotl import _native

    if not isinstance(file_path, str):
        file_path = os.fspath(file_path)
    return _native.detect_format(file_path)


def list_supported_formats() -> list[str]:
    """Base formats, each compressed variant (``jsonl.zst``, ``csv.gz``, ``text.bz2``,
    ``parquet.xz``, ...) and ``hf_dataset`` (a ``save_to_disk`` directory)."""
    from fast_axolotl import _native

    return _native.list_supported_formats()


class RustStreamingDataset:
    """fast-axolotl 0.2.0's iterable wrapper: iterating yields the reader's batches."""

    def __init__(
        self,
        file_path: str,
        dataset_type: str | None = None,
        batch_size: int = 1000,
        num_threads: int = 4,
        dataset_keep_in_memory: bool = False,
    ) -> None:
        if not RUST_AVAILABLE:
            raise ImportError("Rust extension is not available")
        self.file_path = file_path
        self.dataset_type = dataset_type
        self.batch_size = batch_size
        self.num_threads = num_threads
        self.dataset_keep_in_memory = dataset_keep_in_memory

    def __iter__(self) -> Iterator[dict[str, list[Any]]]:
        yield from streaming_dataset_reader(
            self.file_path, self.dataset_type, self.batch_size, self.num_threads
        )

    def with_format(self, format: str) -> RustStreamingDataset:
        """Accepted for 0.2.0 compatibility: the batches stay dicts of lists."""
        return self


def create_rust_streaming_dataset(
    file_path: str,
    dataset_type: str | None = None,
    batch_size: int = 1000,
    num_threads: int = 4,
    dataset_keep_in_memory: bool = False,
) -> RustStreamingDataset:
    """0.2.0's factory of :class:`RustStreamingDataset`."""
    return RustStreamingDataset(
        file_path, dataset_type, batch_size, num_threads, dataset_keep_in_memory
    )


#: 0.2.0 used the reader only for files of at least 1 GiB.
_MIN_FILE_BYTES = 1024 * 1024 * 1024
#: ... and sequence lengths of at least 10,000.
_MIN_SEQUENCE_LEN = 10000


def should_use_rust_streaming(
    file_path: str, dataset_config: dict[str, Any], cfg: dict[str, Any]
) -> bool:
    """0.2.0's rule, unchanged: only when ``cfg["dataset_use_rust_streaming"]`` is set,
    ``dataset_keep_in_memory`` is not, the file is at least 1 GiB (an unreadable path does
    not count against it) and ``sequence_len`` is at least 10,000."""
    del dataset_config  # part of 0.2.0's signature, never read by it
    if not RUST_AVAILABLE or not cfg.get("dataset_use_rust_streaming", False):
        return False
    if cfg.get("dataset_keep_in_memory", False):
        return False
    try:
        if os.path.getsize(file_path) < _MIN_FILE_BYTES:
            return False
    except OSError:
        pass
    return not cfg.get("sequence_len", 0) < _MIN_SEQUENCE_LEN

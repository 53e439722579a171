"""Replacements for the exact-deduplication helpers of ``axolotl.utils.data.utils``."""

from __future__ import annotations

import pickle
import sys
from collections.abc import Callable
from typing import Any

from fast_axolotl import _native
from fast_axolotl.patches._common import Defer, replacement

#: `Value` dtypes whose Python values the kernel models exactly (int, bool, float, str, None).
#: float16 is left out: its conversion to Python is not the same in every pyarrow.
_PLAIN_DTYPES = frozenset(
    {
        "null",
        "bool",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "float32",
        "float64",
        "string",
        "large_string",
    }
)

# No size threshold: the kernel path is faster from one row on (the 10-row cases of
# benchmarks/bench_dedup.py run 1.2-1.4x faster; `select` dominates both paths there).


def _plain_feature(feature: Any) -> bool:
    """True if `datasets` turns this feature's Arrow values into Python values as plain
    `to_pylist()` does (no decoding, no extension type)."""
    from datasets import features as F

    if isinstance(feature, dict):
        return all(_plain_feature(f) for f in feature.values())
    if isinstance(feature, list):
        return len(feature) == 1 and _plain_feature(feature[0])
    if isinstance(feature, (F.List, F.LargeList, F.Sequence)):
        return _plain_feature(feature.feature)
    if isinstance(feature, F.ClassLabel):
        return True
    if type(feature) is F.Value:
        return feature.dtype in _PLAIN_DTYPES
    return False  # Image, Audio, Json, Array2D..., Translation: decoded or not modelled


def table_view(dataset: Any) -> tuple[list[str], list[Any], Any]:
    """(column names, Arrow columns, indices mapping) of a dataset whose rows Axolotl sees
    as plain dicts of Python values; otherwise Defer."""
    arrow_dataset = sys.modules.get("datasets.arrow_dataset")
    if arrow_dataset is None or type(dataset) is not arrow_dataset.Dataset:
        raise Defer  # IterableDataset, a subclass, None, a list: Axolotl's code decides
    if dataset._format_type is not None:
        raise Defer  # formatted rows hold tensors/arrays
    if getattr(dataset, "_indexes", None):
        raise Defer  # `select` refuses datasets with a search index: Axolotl's error, after its log
    table = dataset.data.table
    names = list(table.column_names)
    format_columns = dataset._format_columns
    if format_columns is not None and not set(names) <= set(format_columns):
        # Rows would hold only the listed columns. A list naming every column (what
        # concatenate_datasets and cast leave behind, so every merged dataset of Axolotl)
        # yields the same full rows, in table order, and stays on the fast path.
        raise Defer
    features = dataset._info.features
    if not names or features is None or list(features) != names:
        raise Defer  # no columns, or rows keyed in an order we would not follow
    if not all(_plain_feature(features[name]) for name in names):
        raise Defer
    mapping = dataset._indices
    indices = None if mapping is None else mapping.column("indices")
    return names, table.columns, indices


#: Lists shorter than this go through ``Dataset.select`` unchanged: hashing them is cheap.
_FINGERPRINT_MIN_ROWS = 2000
_fingerprint_check: list[bool] = []  # [result] once the self-check has run


def _select_fingerprint(dataset: Any, positions: list[int]) -> str:
    """The fingerprint ``dataset.select(positions)`` computes for itself.

    ``datasets`` hashes the list with a pure-Python pickler (dill), which takes longer than
    the deduplication itself; for a list of ints its bytes are those of the C pickler at
    protocol 4, so the same hash comes out in a fraction of the time. The other inputs are
    hashed by ``datasets``' own ``Hasher``, in the order of its ``update_fingerprint``.
    """
    import xxhash
    from datasets.fingerprint import Hasher

    hasher = Hasher()
    hasher.update(dataset._fingerprint)
    hasher.update("datasets.arrow_dataset.Dataset.select")
    hasher.update("fingerprint_name")
    hasher.update("new_fingerprint")
    hasher.update("indices")
    hasher.m.update(f"=={list}==".encode())
    hasher.m.update(xxhash.xxh64(pickle.dumps(positions, protocol=4)).hexdigest().encode())
    return hasher.hexdigest()


def _fingerprint_shortcut_holds() -> bool:
    """Once per process: does ``_select_fingerprint`` agree with ``datasets`` itself?"""
    if not _fingerprint_check:
        import datasets

        try:
            # Over 64 KiB of pickle, so protocol 4's framing is part of the check.
            probe = datasets.Dataset.from_dict({"x": list(range(1000))})
            positions = [(i * 7919) % 1000 for i in range(25_000)]
            expected = probe.select(positions)._fingerprint
            _fingerprint_check.append(_select_fingerprint(probe, positions) == expected)
        except Exception:
            _fingerprint_check.append(False)
    return _fingerprint_check[0]


def select(dataset: Any, positions: list[int]) -> Any:
    """``dataset.select(positions)``, as Axolotl calls it, with the same fingerprint."""
    if len(positions) >= _FINGERPRINT_MIN_ROWS and len(dataset) and _fingerprint_shortcut_holds():
        return dataset.select(positions, new_fingerprint=_select_fingerprint(dataset, positions))
    return dataset.select(positions)


def deduplicate_and_log_datasets(
    original: Callable[..., Any], variant: str | None
) -> Callable[..., Any]:
    """Mirrors ``axolotl.utils.data.utils.deduplicate_and_log_datasets`` (0.19).

    Keeps the same rows as Axolotl's ``sha256(str(row))`` loop (rows are equal when their
    reprs are), selects them with the same ``dataset.select(list_of_positions)`` calls, and
    logs the same four messages through Axolotl's own logger, in the same order. The row
    hashes are computed by the ``unique_rows`` kernel and never leave it. Defers to Axolotl
    for anything but plain ``datasets.Dataset`` inputs with no format set, for features
    whose Python values the kernel does not model (see ``_plain_feature``; the kernel also
    refuses Arrow types it does not model), and for datasets without columns.
    """
    scope = original.__globals__  # Axolotl's module: its LOG, looked up at each call

    def fast(
        dataset: Any,
        other_dataset: Any = None,
        dataset_name: str | None = "train",
        other_name: str | None = "eval",
    ) -> tuple[Any, Any]:
        views = [table_view(dataset)]
        if other_dataset is not None:
            views.append(table_view(other_dataset))
        keep = _native.unique_rows(views)
        log = scope["LOG"]
        # Everything that can fail has run: from here on, Axolotl's sequence of effects.
        log.info(
            f"Starting deduplication for {dataset_name} dataset. Original size: {len(dataset)}"
        )
        dataset = select(dataset, keep[0].tolist())
        log.info(f"Deduplication complete for {dataset_name} dataset. New size: {len(dataset)}")
        if other_dataset is not None:
            log.info(
                f"Starting deduplication for {other_name} dataset. "
                f"Original size: {len(other_dataset)}"
            )
            other_dataset = select(other_dataset, keep[1].tolist())
            log.info(
                f"Deduplication complete for {other_name} dataset. New size: {len(other_dataset)}"
            )
        return dataset, other_dataset

    # Log records name the function that logs: keep Axolotl's name there.
    fast.__name__ = fast.__qualname__ = "deduplicate_and_log_datasets"
    fast.__code__ = fast.__code__.replace(co_name="deduplicate_and_log_datasets")
    return replacement(original, fast)


_printable: list[bytes] = []


def printable_table() -> bytes:
    """``str.isprintable()`` of every code point, one byte each, built once per process
    (about 0.1 s) from this interpreter, so that string reprs follow its Unicode version."""
    if not _printable:
        _printable.append(bytes(map(str.isprintable, map(chr, range(sys.maxunicode + 1)))))
    return _printable[0]


#: Below this many rows, building the printable table (needed for non-ASCII text only)
#: costs more than Axolotl's loop; once the table exists every size takes the kernel.
SHA_MIN_ROWS_COLD = 2000


def _deduplicate_dataset(original: Callable[..., Any], variant: str | None) -> Callable[..., Any]:
    """Mirrors ``axolotl.utils.data.utils._deduplicate_dataset`` (0.19).

    Computes the same ``sha256(str(row))`` hex digests as Axolotl, in the kernel: ``str(row)``
    is written byte for byte as CPython does (see ``rust/src/dedup/repr.rs``), so
    ``seen_hashes`` holds exactly what Axolotl would put there, and a set filled by either
    implementation can be passed to the other. The set passed in is updated in place and
    returned, the kept positions go to ``dataset.select(list)``. Defers to Axolotl for the
    inputs ``deduplicate_and_log_datasets`` defers on, when ``seen_hashes`` is not ``None``
    or a plain ``set``, and for inputs of non-ASCII text under ``SHA_MIN_ROWS_COLD`` rows
    until the process has built its ``str.isprintable`` table.
    """

    def fast(dataset: Any, seen_hashes: set[str] | None = None) -> tuple[Any, set[str]]:
        view = table_view(dataset)
        if seen_hashes is not None and type(seen_hashes) is not set:
            raise Defer  # a set subclass or another container: its own add/contains decide
        found = _native.first_row_sha256(view, _printable[0] if _printable else b"")
        if found is None:  # non-ASCII text, and no table yet
            if len(dataset) < SHA_MIN_ROWS_COLD:
                raise Defer
            found = _native.first_row_sha256(view, printable_table())
        unique, digests = found
        del found
        if seen_hashes is None:
            seen_hashes = set()
        if not seen_hashes:
            seen_hashes.update(digests)
        else:
            kept = [p for p, d in zip(unique, digests, strict=True) if d not in seen_hashes]
            seen_hashes.update(digests)
            unique = kept
        del digests  # the set holds the strings it needs; free the list before `select`
        return select(dataset, unique), seen_hashes

    return replacement(original, fast)

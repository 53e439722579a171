"""Reading the Arrow data behind a ``datasets`` batch instead of its Python lists, and
writing batches back as Arrow.

``datasets.map``/``filter`` with ``batched=True`` hand the function a ``LazyBatch``: a dict
whose values are formatted (Arrow -> Python lists) on first access, built over the batch's
``pa_table``. A key still in ``keys_to_format`` has been neither read nor replaced, so its
``pa_table`` column is exactly what the function would have seen as lists.
"""

from __future__ import annotations

import itertools
import sys
from typing import Any

import numpy as np

from fast_axolotl import config
from fast_axolotl.patches._common import Defer, report_fault

#: Below these sizes (Arrow buffer bytes of the column a function reads) the call goes to
#: Axolotl's Python. Measured per function (docs/benchmarks-filters.md): handing a batch
#: back to Axolotl costs ~4 us (checks + Defer), about what the length, label and position
#: kernels cost on a batch of a few tokens, so those take the kernel from the first byte;
#: a truncation that cuts rows costs tens of us more than Axolotl on batches of a few dozen
#: tokens. The differential tests set them to 0 to exercise the kernels on every batch.
SMALL_BATCH_BYTES = {"length": 0, "labels": 0, "position_ids": 0, "truncate": 8192}

#: int64 bounds: thresholds outside them are left to Axolotl's Python comparison.
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def _lazy_batch_types() -> tuple[type, type] | None:
    formatting = sys.modules.get("datasets.formatting.formatting")
    if formatting is None:
        return None
    return formatting.LazyBatch, formatting.PythonFormatter


def pristine_column(sample: Any, key: str) -> Any:
    """The ``pa_table`` column behind ``sample[key]`` when ``sample`` is an untouched key of
    a plain-Python ``LazyBatch``; otherwise Defer (Axolotl's own code reads the lists)."""
    types = _lazy_batch_types()
    if types is None or type(sample) is not types[0]:
        raise Defer
    if type(sample.formatter) is not types[1]:
        raise Defer  # numpy/torch/... formats hand the function arrays, not lists
    if key not in sample.keys_to_format:
        raise Defer  # read, replaced or deleted already: the dict value is what counts
    table = sample.pa_table
    if key not in table.column_names:
        raise Defer
    return table.column(key)


def is_list_type(column: Any) -> bool:
    import pyarrow as pa

    t = column.type
    return bool(pa.types.is_list(t) or pa.types.is_large_list(t))


def int_arg(value: Any) -> int:
    """``value`` if it is a plain int within int64; otherwise Defer."""
    if type(value) is not int or not INT64_MIN <= value <= INT64_MAX:
        raise Defer
    return value


def split_rows(offsets: np.ndarray, values: np.ndarray) -> list[Any]:
    """One numpy view per row of an (offsets, values) list layout.

    When every row is empty the rows are empty Python lists: ``datasets`` infers a type
    from the first non-empty numpy row, and with none it must see what Axolotl's lists
    give (``list<null>`` for a new column).
    """
    if len(values) == 0:
        return [[] for _ in range(len(offsets) - 1)]
    bounds = offsets.tolist()
    return [values[a:b] for a, b in itertools.pairwise(bounds)]


def fresh_batch_table(sample: Any) -> Any:
    """The ``pa_table`` of a plain-Python ``LazyBatch`` none of whose keys was read, set or
    deleted (what ``datasets.map`` hands a function); otherwise Defer."""
    types = _lazy_batch_types()
    if types is None or type(sample) is not types[0] or type(sample.formatter) is not types[1]:
        raise Defer
    table = sample.pa_table
    if list(sample.data) != table.column_names or len(sample.keys_to_format) != len(sample.data):
        raise Defer
    return table


def as_written(table: Any, names: list[str], arrays: list[Any]) -> Any:
    """A batch table with the schema ``datasets``' writer gives a dict of columns (features
    inferred from the Arrow types, rendered back as a plain Arrow schema)."""
    import pyarrow as pa
    from datasets import Features

    plain = pa.Table.from_arrays(arrays, names=names)
    return pa.Table.from_arrays(
        arrays, schema=Features.from_arrow_schema(plain.schema).arrow_schema
    )


def list_array(like: Any, offsets: np.ndarray, values: np.ndarray) -> Any:
    """A list array of ``like``'s flavour (list / large_list) from offsets and values."""
    import pyarrow as pa

    if pa.types.is_large_list(like.type):
        return pa.LargeListArray.from_arrays(pa.array(offsets, pa.int64()), pa.array(values))
    return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), pa.array(values))


def list_columns_table(offsets: Any, columns: dict[str, Any]) -> Any:
    """A table of ``list`` columns sharing int32 ``offsets``, one per ``name: values``."""
    import pyarrow as pa

    bounds = pa.array(offsets, pa.int32())
    return pa.table(
        {
            name: pa.ListArray.from_arrays(bounds, pa.array(np.asarray(values)))
            for name, values in columns.items()
        }
    )


def report_fallback(name: str, exc: BaseException) -> None:
    """Logs once that a batch function of ours failed and Axolotl's code took the batch."""
    report_fault(name, exc)


def defer_if_small(column: Any, kind: str) -> None:
    """Defer when the column's buffers are smaller than where the kernel starts to win."""
    if column.get_total_buffer_size() < SMALL_BATCH_BYTES[kind] and not config.verify_mode():
        raise Defer  # shadow mode compares the kernel on every batch

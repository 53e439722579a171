"""Type stub of the Rust extension module (kept honest by `mypy.stubtest` in `nox -s lint`)."""

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "UnsupportedInput",
    "__version__",
    "integer_values",
    "length_range_mask",
    "list_last_plus_one",
    "list_lengths",
    "position_ids",
    "trainable_mask",
    "truncate_rows",
]

__version__: str

class UnsupportedInput(ValueError):
    """The input is valid but outside what a kernel reproduces exactly; callers defer to Axolotl."""

def list_lengths(column: Any, indices: Any | None = None) -> npt.NDArray[np.int64]:
    """`len(row)` of every row of an Arrow list column, in the order of `indices`."""

def list_last_plus_one(column: Any, indices: Any | None = None) -> npt.NDArray[np.int64]:
    """`row[-1] + 1` of every row of an Arrow list-of-integers column."""

def integer_values(column: Any, indices: Any | None = None) -> npt.NDArray[np.int64]:
    """The values of an Arrow integer column as int64."""

def length_range_mask(
    column: Any, min_len: int, max_len: int, indices: Any | None = None
) -> tuple[npt.NDArray[np.bool_], int | None]:
    """`min_len <= len(row) <= max_len` per row, and the first row longer than `max_len`."""

def trainable_mask(column: Any) -> npt.NDArray[np.bool_]:
    """`any(v != -100 for v in row)` per row of an Arrow list-of-integers column."""

def truncate_rows(
    column: Any, cut: npt.NDArray[np.bool_], max_len: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[Any]]:
    """The column with the rows marked in `cut` cut to `max_len` values: (offsets, values)."""

def position_ids(
    column: Any,
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """`range(len(row))` per row as (int32 list offsets, int64 values, int64 lengths)."""

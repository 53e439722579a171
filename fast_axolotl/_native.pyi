"""Type stub of the Rust extension module (kept honest by `mypy.stubtest` in `nox -s lint`)."""

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "UnsupportedInput",
    "__version__",
    "first_row_sha256",
    "integer_values",
    "list_last_plus_one",
    "list_lengths",
    "unique_rows",
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

def unique_rows(
    tables: list[tuple[list[str], list[Any], Any | None]],
) -> list[npt.NDArray[np.int64]]:
    """Per dataset `(column names, Arrow columns, indices mapping or None)`, the positions of
    the first row of each class of rows with equal Python repr, across the datasets in order."""

def first_row_sha256(
    table: tuple[list[str], list[Any], Any | None], printable: bytes
) -> tuple[list[int], list[str]] | None:
    """Positions of the first row of each distinct `sha256(str(row))` and their hex digests;
    `printable` holds `str.isprintable()` of every code point, one byte each, or is empty
    (then None when the table holds non-ASCII text)."""

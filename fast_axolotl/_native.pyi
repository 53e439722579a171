"""Type stub of the Rust extension module (kept honest by `mypy.stubtest` in `nox -s lint`)."""

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "UnsupportedInput",
    "__version__",
    "integer_values",
    "list_last_plus_one",
    "list_lengths",
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

"""Type stub of the Rust extension module (kept honest by `mypy.stubtest` in `nox -s lint`)."""

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "UnsupportedInput",
    "__version__",
    "integer_values",
    "list_last_plus_one",
    "list_lengths",
    "pad_batch",
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

def pad_batch(
    features: Any,
    layout: str,
    keys: list[str],
    alloc: Callable[[int, int], Any],
    *,
    right: bool,
    strategy: str,
    max_length: int | None,
    multiple: int | None,
    pad_token_id: int,
    pad_token_type_id: int,
    label_pad_token_id: int,
    scale_attention_mask: bool = False,
    squash_position_ids: bool = False,
    write_back_features: bool = False,
) -> list[Any]:
    """Pads one collator batch (layout "rows", "bins" or "columns") into the buffers
    `alloc(rows, width)` returns per key: an int64 C-contiguous numpy array, or the address
    of a fresh int64 buffer of rows * width values (private: fast_axolotl.patches.collators)."""

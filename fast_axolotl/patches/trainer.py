"""Replacements for ``axolotl.utils.trainer``: length filter and position ids."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from fast_axolotl import _native
from fast_axolotl.patches._batches import int_arg, is_list_type, pristine_column
from fast_axolotl.patches._common import Defer, replacement


def _too_long_message(length: int, sequence_len: Any) -> str:
    return f"Sequence encountered with {length} tokens, which exceeds the maximum {sequence_len}."


def filter_sequences_by_length(
    original: Callable[..., Any], variant: str | None
) -> Callable[..., Any]:
    """Mirrors ``axolotl.utils.trainer.filter_sequences_by_length`` (0.19).

    On a ``LazyBatch`` (``dataset.filter(..., batched=True)``) the lengths come from the
    Arrow list offsets of ``input_ids``; the mask is a list of Python bools, and with
    ``raise_on_drop`` the first row longer than ``sequence_len`` raises Axolotl's
    ValueError. Defers to Axolotl for single examples, plain dicts, an empty batch
    (Axolotl's scalar ``False``), a read or replaced ``input_ids``, non-list or null rows,
    and bounds that are not plain ints.
    """

    def fast(
        sample: Any, sequence_len: Any = 2048, min_sequence_len: Any = 2, raise_on_drop: Any = False
    ) -> list[bool]:
        column = pristine_column(sample, "input_ids")
        if len(column) == 0 or not is_list_type(column):
            raise Defer
        low = int_arg(min_sequence_len or 2)
        high = int_arg(sequence_len)
        mask, first_too_long = _native.length_range_mask(column, low, high)
        if raise_on_drop and first_too_long is not None:
            length = len(column[first_too_long])
            raise ValueError(_too_long_message(length, sequence_len))
        return mask.tolist()

    return replacement(original, fast)


def position_id_rows(lengths: np.ndarray) -> list[Any]:
    """``range(n)`` for each length, as int64 views of one shared ``arange`` (empty Python
    lists when every row is empty, see ``split_rows``)."""
    if len(lengths) == 0 or not lengths.any():
        return [[] for _ in range(len(lengths))]
    base = np.arange(int(lengths.max()), dtype=np.int64)
    return [base[:n] for n in lengths.tolist()]


def add_position_ids(original: Callable[..., Any], variant: str | None) -> Callable[..., Any]:
    """Mirrors ``axolotl.utils.trainer.add_position_ids`` (0.19).

    On a ``LazyBatch`` (``dataset.map(..., batched=True)``) the row lengths come from the
    Arrow offsets of ``input_ids``; ``position_ids`` is stored as one int64 numpy view per
    row and ``length`` as an int64 array, which ``datasets`` writes back as the same
    ``list<int64>`` / ``int64`` columns Axolotl's lists become. ``input_ids`` itself is not
    read into Python, so ``map`` keeps its Arrow column. Defers to Axolotl for single
    examples, plain dicts, an empty batch, a read or replaced ``input_ids`` and null or
    non-list rows.
    """

    def fast(sample: Any) -> Any:
        column = pristine_column(sample, "input_ids")
        if len(column) == 0 or not is_list_type(column):
            raise Defer
        lengths = _native.list_lengths(column)
        sample["position_ids"] = position_id_rows(lengths)
        sample["length"] = lengths
        return sample

    return replacement(original, fast)

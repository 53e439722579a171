"""Replacements for the length filters of ``axolotl.utils.data.utils``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fast_axolotl import _native
from fast_axolotl.patches._batches import (
    INT64_MAX,
    int_arg,
    is_list_type,
    pristine_column,
    split_rows,
)
from fast_axolotl.patches._common import Defer, replacement

#: The columns Axolotl's ``truncate_long_seq`` cuts, in the order it cuts them.
TRUNCATED_COLUMNS = ("input_ids", "attention_mask", "labels", "position_ids")


def keep_min_len(original: Callable[..., Any], variant: str | None) -> Callable[..., Any]:
    """Mirrors ``axolotl.utils.data.utils.keep_min_len`` (0.19).

    On a ``LazyBatch`` the lengths come from the Arrow offsets of ``input_ids`` and the
    result is a list of Python bools. Defers to Axolotl for plain dicts, an empty batch,
    a read or replaced ``input_ids``, non-list or null rows and a bound that is not a
    plain int.
    """

    def fast(sample: Any, min_sequence_len: Any = 2) -> list[bool]:
        column = pristine_column(sample, "input_ids")
        if len(column) == 0 or not is_list_type(column):
            raise Defer
        low = int_arg(min_sequence_len or 2)
        mask, _ = _native.length_range_mask(column, low, INT64_MAX)
        return mask.tolist()

    return replacement(original, fast)


def truncate_long_seq(original: Callable[..., Any], variant: str | None) -> Callable[..., Any]:
    """Mirrors ``axolotl.utils.data.utils.truncate_long_seq`` (0.19).

    On a ``LazyBatch``: rows whose ``input_ids`` are longer than ``sequence_len`` get
    ``input_ids``, ``attention_mask``, ``labels`` and ``position_ids`` (those present) cut
    to ``sequence_len`` values, cut in Arrow buffers and stored as one numpy view per row
    in the column's own integer dtype. A batch with nothing to cut is returned untouched
    (its columns stay Arrow; ``map`` writes the same values Axolotl's lists hold). Defers
    to Axolotl for plain dicts, an empty batch, a negative or non-int ``sequence_len``, a
    column that was read or replaced, non-list columns and null rows or values.
    """

    def fast(sample: Any, sequence_len: Any = 2048) -> Any:
        ids = pristine_column(sample, "input_ids")
        limit = int_arg(sequence_len)
        if len(ids) == 0 or limit < 0 or not is_list_type(ids):
            raise Defer
        lengths = _native.list_lengths(ids)
        cut = lengths > limit
        if not cut.any():
            return sample
        columns = {}
        for key in TRUNCATED_COLUMNS:
            if key in sample:
                column = pristine_column(sample, key)
                if not is_list_type(column):
                    raise Defer
                columns[key] = column
        # Compute every column before storing any, so a Defer leaves the batch untouched.
        cut_rows = {
            key: split_rows(*_native.truncate_rows(column, cut, limit))
            for key, column in columns.items()
        }
        for key, rows in cut_rows.items():
            sample[key] = rows
        return sample

    return replacement(original, fast)

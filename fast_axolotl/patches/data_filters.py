"""Replacements for ``axolotl.utils.data.utils``: length filters and truncation."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import Any

from fast_axolotl import _native
from fast_axolotl.patches._batches import (
    INT64_MAX,
    as_written,
    defer_if_small,
    fresh_batch_table,
    int_arg,
    is_list_type,
    list_array,
    pristine_column,
    report_fallback,
    split_rows,
)
from fast_axolotl.patches._common import Defer, replacement
from fast_axolotl.patches._propagate import Propagate, replacement_propagating

_DATA_UTILS = "axolotl.utils.data.utils"

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
        defer_if_small(column, "length")
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
        defer_if_small(ids, "truncate")
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


def truncate_table(sample: Any, sequence_len: int) -> Any:
    """Batch function behind the truncation ``map`` of ``handle_long_seq_in_dataset``: the
    whole batch as a ``pa.Table`` in which the rows whose ``input_ids`` are longer than
    ``sequence_len`` have ``input_ids``, ``attention_mask``, ``labels`` and
    ``position_ids`` cut (each column keeps its Arrow type), the table ``datasets`` writes
    for what Axolotl's ``truncate_long_seq`` returns. Batches it does not reproduce go to
    ``axolotl.utils.data.utils.truncate_long_seq``."""
    try:
        table = fresh_batch_table(sample)
        limit = int_arg(sequence_len)
        if limit < 0 or "input_ids" not in table.column_names:
            raise Defer
        ids = table.column("input_ids")
        if len(ids) == 0 or not is_list_type(ids):
            raise Defer
        defer_if_small(ids, "truncate")
        cut = _native.list_lengths(ids) > limit
        columns = list(table.columns)
        if cut.any():
            for i, name in enumerate(table.column_names):
                if name in TRUNCATED_COLUMNS:
                    if not is_list_type(columns[i]):
                        raise Defer
                    offsets, values = _native.truncate_rows(columns[i], cut, limit)
                    columns[i] = list_array(columns[i], offsets, values)
        return as_written(table, table.column_names, columns)
    except (Defer, _native.UnsupportedInput):
        fault = None
    except Exception as exc:  # the batch is untouched: Axolotl's code runs on it
        fault = exc
    utils = importlib.import_module(_DATA_UTILS)
    result = utils.truncate_long_seq(sample, sequence_len=sequence_len)
    if fault is not None:  # Axolotl's code took the batch: the fault was ours
        report_fallback("truncate_table", fault)
    return result


def handle_long_seq_in_dataset(
    original: Callable[..., Any], variant: str | None
) -> Callable[..., Any]:
    """Mirrors ``axolotl.utils.data.utils.handle_long_seq_in_dataset`` (0.19) for
    ``excess_length_strategy: truncate``.

    Axolotl's own helpers run the checks, the log lines and the short-sequence filter
    (with the patched ``keep_min_len``); the truncation ``map`` runs ``truncate_table``,
    which hands ``datasets`` whole Arrow batches instead of per-row lists. ``drop``,
    ``raise`` and unknown strategies (which act as drop) run Axolotl's function, whose
    ``filter`` already calls the patched ``filter_sequences_by_length``. Defers to Axolotl
    also for anything but a plain ``datasets.Dataset`` and when ``truncate_long_seq`` is
    not patched (disabled by configuration).
    """

    def fast(dataset: Any, sequence_len: int, cfg: Any) -> Any:
        import datasets

        if type(dataset) is not datasets.Dataset:
            raise Defer
        utils = importlib.import_module(_DATA_UTILS)
        if not getattr(utils.truncate_long_seq, "__fast_axolotl_target__", None):
            raise Defer
        strategy = cfg.excess_length_strategy or "drop"
        if type(strategy) is not str or strategy.lower() != "truncate":
            raise Defer
        try:
            return _truncate_steps(utils, dataset, sequence_len, cfg)
        except Exception as exc:
            raise Propagate(exc) from None  # Axolotl's steps fail the same way

    return replacement_propagating(original, fast)


def _truncate_steps(utils: Any, dataset: Any, sequence_len: int, cfg: Any) -> Any:
    if utils._should_skip_processing(dataset):
        return dataset
    utils._log_dataset_stats(dataset)
    kwargs = utils._build_filter_kwargs(dataset, cfg)
    dataset, _ = utils._filter_short_sequences(dataset, cfg.min_sample_len, kwargs)
    desc = {"desc": f"Truncating Sequences (target_len={sequence_len})"} if kwargs else {}
    dataset = dataset.map(
        functools.partial(truncate_table, sequence_len=sequence_len),
        batched=True,
        **kwargs,
        **desc,
    )
    utils.LOG.info(f"Truncated long sequences to max length {sequence_len}")
    return dataset

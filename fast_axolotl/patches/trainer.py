"""Replacements for ``axolotl.utils.trainer``: length filter, position ids, packing steps."""

from __future__ import annotations

import functools
import importlib
import types
from collections.abc import Callable
from typing import Any

import numpy as np

from fast_axolotl import _native
from fast_axolotl.patches._batches import (
    as_written,
    defer_if_small,
    fresh_batch_table,
    int_arg,
    is_list_type,
    pristine_column,
    report_fallback,
)
from fast_axolotl.patches._common import Defer, replacement
from fast_axolotl.patches._propagate import Propagate, replacement_propagating


def _too_long_message(length: int, sequence_len: Any) -> str:
    return f"Sequence encountered with {length} tokens, which exceeds the maximum {sequence_len}."


def filter_sequences_by_length(
    original: Callable[..., Any], variant: str | None
) -> Callable[..., Any]:
    """Mirrors ``axolotl.utils.trainer.filter_sequences_by_length`` (0.15-0.19), and its
    predecessor ``drop_long_seq`` (0.13.1-0.14.0 the same body; 0.12.x, variant
    ``range-no-raise``, without ``raise_on_drop``).

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
        defer_if_small(column, "length")
        low = int_arg(min_sequence_len or 2)
        high = int_arg(sequence_len)
        mask, first_too_long = _native.length_range_mask(column, low, high)
        if raise_on_drop and first_too_long is not None:
            length = len(column[first_too_long])
            raise Propagate(ValueError(_too_long_message(length, sequence_len)))
        return mask.tolist()

    if variant == "range-no-raise":
        # 0.12.x drop_long_seq: the same body without the raise_on_drop parameter.
        def fast_no_raise(sample: Any, sequence_len: Any = 2048, min_sequence_len: Any = 2) -> Any:
            return fast(sample, sequence_len, min_sequence_len)

        return replacement_propagating(original, fast_no_raise)
    return replacement_propagating(original, fast)


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
        defer_if_small(column, "position_ids")
        lengths = _native.list_lengths(column)
        sample["position_ids"] = position_id_rows(lengths)
        sample["length"] = lengths
        return sample

    return replacement(original, fast)


# --- process_datasets_for_packing -------------------------------------------------------

_TRAINER = "axolotl.utils.trainer"
_NO_TRAINABLE_LEFT = (
    "The dataset has no samples left after dropping samples with no "
    "trainable tokens. Every sample had all of its labels masked to "
    "-100, so there is nothing to train on. Check `train_on_inputs`, "
    "`roles_to_train`, and your prompt strategy / chat template."
)
_drop_impl: list[Callable[..., Any]] = []


def _nested_function(outer: Callable[..., Any], name: str) -> Callable[..., Any]:
    """Axolotl's own nested function ``name`` of ``outer`` (one that closes over nothing),
    rebuilt from its code object so the fallback runs Axolotl's code, not a copy."""
    for const in outer.__code__.co_consts:
        if isinstance(const, types.CodeType) and const.co_name == name:
            if const.co_freevars:
                raise LookupError(f"{outer.__qualname__}.{name} closes over {const.co_freevars}")
            return types.FunctionType(const, outer.__globals__, name)
    raise LookupError(f"{outer.__qualname__} defines no nested function {name}")


def _fast_drop(sample: Any) -> Any:
    column = pristine_column(sample, "labels")
    if len(column) == 0 or not is_list_type(column):
        raise Defer  # Axolotl's `True` for an empty batch; its own errors otherwise
    defer_if_small(column, "labels")
    return _native.trainable_mask(column).tolist()


def drop_no_trainable_tokens(sample: Any) -> Any:
    """Axolotl 0.19's ``drop_no_trainable_tokens`` (nested in ``process_datasets_for_packing``):
    on a ``LazyBatch`` the labels are scanned in their Arrow buffer; anything else (single
    examples, empty batches, non-list or null rows) runs Axolotl's nested function itself.

    Module-level, so ``datasets`` pickles it by reference for ``num_proc`` workers and
    hashes it the same way in every process.
    """
    if not _drop_impl:
        trainer = importlib.import_module(_TRAINER)
        packing = trainer.process_datasets_for_packing
        packing = getattr(packing, "__wrapped__", packing)
        _drop_impl.append(
            replacement(_nested_function(packing, "drop_no_trainable_tokens"), _fast_drop)
        )
    return _drop_impl[0](sample)


_keep_impl: list[Callable[..., Any]] = []


def _fast_keep(sample: Any) -> Any:
    column = pristine_column(sample, "labels")
    if len(column) == 0 or not is_list_type(column):
        raise Defer  # Axolotl's scalar `True` for an empty batch; its own errors otherwise
    # np.any(list != -100) is np.any(True): numpy's True, which shadow mode tells apart.
    return [np.True_] * len(column)


def keep_every_row(sample: Any) -> Any:
    """Axolotl 0.12-0.18's ``drop_no_trainable_tokens`` (nested in
    ``process_datasets_for_packing``), whose ``np.any(row_labels != -100)`` compares a list
    with an int and so is true for every row: on a ``LazyBatch`` with a list ``labels``
    column the mask is all true without reading the labels; anything else runs Axolotl's
    nested function. Module-level for the same reason as ``drop_no_trainable_tokens``."""
    if not _keep_impl:
        trainer = importlib.import_module(_TRAINER)
        packing = trainer.process_datasets_for_packing
        packing = getattr(packing, "__wrapped__", packing)
        _keep_impl.append(
            replacement(_nested_function(packing, "drop_no_trainable_tokens"), _fast_keep)
        )
    return _keep_impl[0](sample)


#: The variants whose zero-trainable-token filter keeps every row (0.12-0.18).
_NO_OP_FILTER = ("no-op-filter", "no-op-filter-dataset-processes")


def process_datasets_for_packing(
    original: Callable[..., Any], variant: str | None
) -> Callable[..., Any]:
    """Mirrors ``axolotl.utils.trainer.process_datasets_for_packing`` (0.19, variant
    ``drop-and-raise``: rows whose labels are all -100 are dropped, and an empty result
    raises ValueError).

    The steps, arguments, log lines and errors are Axolotl's; the zero-trainable-token
    filter is ``drop_no_trainable_tokens`` above (Axolotl's nested function cannot be
    replaced alone), and ``add_length`` / ``add_pose_position_ids`` / ``add_position_ids``
    are taken from ``axolotl.utils.trainer`` at call time (so the patched
    ``add_position_ids`` runs when enabled). Defers to Axolotl when a dataset is not a
    plain ``datasets.Dataset`` (streaming datasets).

    Older releases: ``no-op-filter`` (0.13.1-0.18.0) filters with ``keep_every_row`` (their
    filter keeps every row), names the train dataset in its log line and never raises;
    ``no-op-filter-dataset-processes`` (0.12.x) also takes ``num_proc`` from
    ``cfg.dataset_processes``.
    """
    _nested_function(original, "drop_no_trainable_tokens")  # no nested filter: no patch

    def fast(cfg: Any, train_dataset: Any, eval_dataset: Any) -> Any:
        import datasets

        if type(train_dataset) is not datasets.Dataset:
            raise Defer
        if eval_dataset is not None and type(eval_dataset) is not datasets.Dataset:
            raise Defer
        try:
            return _packing_steps(cfg, train_dataset, eval_dataset, variant)
        except Exception as exc:
            # Axolotl's steps ran (logged, filtered) up to here and fail the same way.
            raise Propagate(exc) from None

    return replacement_propagating(original, fast)


def _packing_steps(cfg: Any, train_dataset: Any, eval_dataset: Any, variant: str | None) -> Any:
    trainer = importlib.import_module(_TRAINER)
    log = trainer.LOG
    no_op_filter = variant in _NO_OP_FILTER
    drop = keep_every_row if no_op_filter else drop_no_trainable_tokens
    num_proc = (
        cfg.dataset_processes
        if variant == "no-op-filter-dataset-processes"
        else cfg.dataset_num_proc
    )

    if cfg.model_config_type in ["mamba", "gemma3"]:
        log.info("dropping attention_mask column")
        train_dataset = train_dataset.remove_columns("attention_mask")
        if eval_dataset:
            eval_dataset = eval_dataset.remove_columns("attention_mask")
    if cfg.model_config_type in ["falcon", "mistral"]:
        log.info("dropping token_type_ids column if it exists")
        if "token_type_ids" in train_dataset.column_names:
            train_dataset = train_dataset.remove_columns("token_type_ids")
        if eval_dataset and "token_type_ids" in eval_dataset.column_names:
            eval_dataset = eval_dataset.remove_columns("token_type_ids")

    common = {"num_proc": num_proc, "load_from_cache_file": not cfg.is_preprocess}
    drop_desc = {"desc": "Drop Samples with Zero Trainable Tokens"}

    prior = len(train_dataset)
    train_dataset = train_dataset.filter(drop, batched=True, **common, **drop_desc)
    if prior:
        dropped = prior - len(train_dataset)
        if dropped:
            where = " from train dataset" if no_op_filter else ""
            log.warning(f"Dropped {dropped} samples with no trainable tokens{where}")
        if len(train_dataset) == 0 and not no_op_filter:
            raise ValueError(_NO_TRAINABLE_LEFT)

    if eval_dataset:
        prior = len(eval_dataset)
        # Axolotl filters eval rows one at a time (its single-example semantics).
        eval_dataset = eval_dataset.filter(drop, **common, **drop_desc)
        if prior:
            dropped = prior - len(eval_dataset)
            if dropped:
                log.warning(f"Dropped {dropped} samples with no trainable tokens from eval dataset")
            if len(eval_dataset) == 0 and not no_op_filter:
                raise ValueError(_NO_TRAINABLE_LEFT)

    if cfg.group_by_length:
        train_dataset = train_dataset.map(
            trainer.add_length,
            num_proc=num_proc,
            load_from_cache_file=not cfg.is_preprocess,
            desc="Group By Length",
        )

    if cfg.use_pose:
        chunks = {} if cfg.pose_num_chunks is None else {"chunks": cfg.pose_num_chunks}
        pose = functools.partial(
            trainer.add_pose_position_ids,
            max_context_len=cfg.pose_max_context_len,
            split_on_token_ids=cfg.pose_split_on_token_ids,
            **chunks,
        )
        pose_kwargs = {
            "num_proc": num_proc,
            "load_from_cache_file": not cfg.is_preprocess,
            "desc": "Add position_id column (PoSE)",
        }
        train_dataset = train_dataset.map(pose, **pose_kwargs)
        train_dataset = train_dataset.sort("sequence_len")
        if cfg.eval_sample_packing is not False and eval_dataset:
            eval_dataset = eval_dataset.map(pose, **pose_kwargs)
    elif cfg.sample_packing:
        pos_desc = {"desc": "Add position_id column (Sample Packing)"}
        add = trainer.add_position_ids
        if getattr(add, "__fast_axolotl_target__", None):
            add = position_ids_table  # the patched add_position_ids is enabled: whole batches
        train_dataset = train_dataset.map(add, batched=True, **common, **pos_desc)
        if cfg.eval_sample_packing and eval_dataset:
            eval_dataset = eval_dataset.map(trainer.add_position_ids, **common, **pos_desc)

    return train_dataset, eval_dataset


def process_pretraining_datasets_for_packing(
    original: Callable[..., Any], variant: str | None
) -> Callable[..., Any]:
    """Mirrors ``axolotl.utils.trainer.process_pretraining_datasets_for_packing`` (0.15-0.19;
    0.12-0.14, variant ``per-row-drop-long-seq``, whose filter is ``drop_long_seq``).

    Axolotl drops rows outside ``[2, sequence_len]`` with a one-row-at-a-time filter; on an
    ``input_ids`` column of integer lists without null rows the batched form of
    ``filter_sequences_by_length`` keeps exactly the same rows, so it runs batched (on the
    Arrow offsets). Then position ids and the attention-mask drop as Axolotl does. Defers
    to Axolotl for anything but a plain ``datasets.Dataset`` with such a column.
    """

    def fast(
        train_dataset: Any,
        sequence_len: Any,
        skip_position_ids: Any = True,
        drop_attention_mask: Any = False,
    ) -> Any:
        import datasets
        import pyarrow as pa

        if type(train_dataset) is not datasets.Dataset or train_dataset._format_type is not None:
            raise Defer
        if "input_ids" not in train_dataset.column_names:
            raise Defer
        column = train_dataset.data.column("input_ids")
        if not (is_list_type(column) and pa.types.is_integer(column.type.value_type)):
            raise Defer
        if column.null_count:
            raise Defer  # one-at-a-time drops a null row; the batched form would raise
        try:
            return _pretraining_steps(
                train_dataset, sequence_len, skip_position_ids, drop_attention_mask, variant
            )
        except Exception as exc:
            raise Propagate(exc) from None  # Axolotl's steps fail the same way

    return replacement_propagating(original, fast)


def _pretraining_steps(
    train_dataset: Any,
    sequence_len: Any,
    skip_position_ids: Any,
    drop_attention_mask: Any,
    variant: str | None,
) -> Any:
    trainer = importlib.import_module(_TRAINER)
    # 0.12-0.14 (per-row-drop-long-seq) call the same filter under its old name.
    length_filter = (
        trainer.drop_long_seq
        if variant == "per-row-drop-long-seq"
        else trainer.filter_sequences_by_length
    )
    keep = functools.partial(length_filter, sequence_len=sequence_len)
    train_dataset = train_dataset.filter(
        keep, batched=True, desc="Dropping Long Sequences", load_from_cache_file=False
    )
    if not skip_position_ids:
        train_dataset = train_dataset.map(
            trainer.add_position_ids,
            batched=True,
            desc="Add position_id column (Pretraining Sample Packing)",
        )
    if drop_attention_mask:
        train_dataset = train_dataset.remove_columns("attention_mask")
    return train_dataset


def position_ids_table(sample: Any) -> Any:
    """Batch function behind the sample-packing ``map`` of ``process_datasets_for_packing``:
    the whole batch as a ``pa.Table`` with ``position_ids`` (``list<int64>``) and ``length``
    (int64) appended, what Axolotl's ``add_position_ids`` makes ``datasets`` write. Batches
    it does not reproduce (already holding those columns, all rows empty, null rows) go to
    ``axolotl.utils.trainer.add_position_ids``."""
    import pyarrow as pa

    try:
        table = fresh_batch_table(sample)
        names = table.column_names
        if "position_ids" in names or "length" in names or "input_ids" not in names:
            raise Defer
        column = table.column("input_ids")
        if len(column) == 0 or not is_list_type(column):
            raise Defer
        defer_if_small(column, "position_ids")
        offsets, values, lengths = _native.position_ids(column)
        if len(values) == 0:
            raise Defer  # Axolotl's all-empty lists become list<null>
        arrays = [*table.columns, pa.ListArray.from_arrays(pa.array(offsets), pa.array(values))]
        return as_written(table, [*names, "position_ids", "length"], [*arrays, pa.array(lengths)])
    except (Defer, _native.UnsupportedInput):
        fault = None
    except Exception as exc:  # the batch is untouched: Axolotl's code runs on it
        fault = exc
    result = importlib.import_module(_TRAINER).add_position_ids(sample)
    if fault is not None:  # Axolotl's code took the batch: the fault was ours
        report_fallback("position_ids_table", fault)
    return result

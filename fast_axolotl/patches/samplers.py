"""Replacements for ``axolotl.utils.samplers``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from fast_axolotl import _native
from fast_axolotl.patches._common import Defer, replacement


def plain_dataset(dataset: Any) -> Any:
    """The dataset if it is exactly a ``datasets.Dataset``; otherwise Defer."""
    arrow_dataset = sys.modules.get("datasets.arrow_dataset")
    if arrow_dataset is None or type(dataset) is not arrow_dataset.Dataset:
        raise Defer  # IterableDataset, a subclass, a dict, ...: Axolotl's code decides
    return dataset


def python_column(dataset: Any, column: str) -> Any:
    """Defer unless ``dataset[column]`` yields plain Python values.

    With a format type set (torch, numpy, arrow, ...) the values are tensors or arrays. With
    no format type but a column list that excludes ``column`` (``set_format(columns=...)``)
    ``datasets`` returns the raw Arrow column. ``concatenate_datasets`` and ``cast`` leave
    the list of *all* columns with no type: that is plain Python access and stays fast.
    """
    if dataset._format_type is not None:
        raise Defer
    columns = dataset._format_columns
    if columns is not None and column not in columns:
        raise Defer
    return dataset


def _indices(dataset: Any) -> Any:
    mapping = dataset._indices
    return None if mapping is None else mapping.column("indices")


def get_dataset_lengths(original: Callable[..., Any], variant: str | None) -> Callable[..., Any]:
    """Mirrors ``axolotl.utils.samplers.utils.get_dataset_lengths`` (0.19).

    The four branches read the Arrow data instead of Python lists: ``length`` values,
    ``position_ids[-1] + 1``, list lengths of ``input_ids`` through the indices mapping, and
    with ``from_arrow=True`` the list lengths of the underlying table (Axolotl ignores the
    indices mapping there). Defers to Axolotl for empty datasets (float64 / ValueError),
    null or empty rows (Axolotl's own exception), non-integer values, formatted datasets
    and anything that is not a plain ``datasets.Dataset``.
    """

    def fast(dataset: Any, from_arrow: bool = False) -> np.ndarray:
        ds = plain_dataset(dataset)
        names = ds.column_names
        table = ds.data
        if "length" in names:
            python_column(ds, "length")
            result = _native.integer_values(table.column("length"), _indices(ds))
        elif "position_ids" in names:
            python_column(ds, "position_ids")
            result = _native.list_last_plus_one(table.column("position_ids"), _indices(ds))
        elif "input_ids" not in names:
            raise Defer  # Axolotl raises its own KeyError
        elif from_arrow:  # reads the table itself: neither format nor indices apply
            result = _native.list_lengths(table.column("input_ids"))
        else:
            python_column(ds, "input_ids")
            result = _native.list_lengths(table.column("input_ids"), _indices(ds))
        if result.shape[0] == 0:
            raise Defer  # Axolotl returns float64 (or raises) on zero rows
        return result

    return replacement(original, fast)

"""What every replacement shares: the original's identity, the fallback, shadow mode."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from fast_axolotl import config
from fast_axolotl._native import UnsupportedInput

LOG = logging.getLogger("fast_axolotl")
_reported: set[str] = set()


class Defer(Exception):
    """Raised by a fast path to hand the call to Axolotl's original."""


def _report_once(key: str, msg: str, *args: Any) -> None:
    if key not in _reported:
        _reported.add(key)
        LOG.warning(msg, *args)


def same_result(a: Any, b: Any) -> bool:
    """Exact equality for shadow mode: types, dtypes, shapes and values."""
    if type(a) is not type(b):
        return False
    if type(a).__name__ == "Dataset" and type(a).__module__ == "datasets.arrow_dataset":
        # Datasets compare by identity; shadow mode compares what a caller reads.
        return (
            a.features == b.features
            and a.column_names == b.column_names
            and a.with_format("arrow")[:].equals(b.with_format("arrow")[:])
        )
    if isinstance(a, np.ndarray):
        return (
            a.dtype == b.dtype
            and a.shape == b.shape
            and bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
        )
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same_result(x, y) for x, y in zip(a, b, strict=False))
    if isinstance(a, (dict, Mapping)):  # Mapping: transformers' BatchEncoding (a UserDict)
        return list(a) == list(b) and all(same_result(a[k], b[k]) for k in a)
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(a, torch.Tensor):
        return (
            a.dtype == b.dtype
            and a.shape == b.shape
            and a.device == b.device
            and bool(torch.equal(a, b))
        )
    try:
        return bool(a == b)
    except Exception:
        return False


def replacement(original: Callable[..., Any], fast: Callable[..., Any]) -> Callable[..., Any]:
    """Wraps ``fast`` (same parameters as ``original``) into the object that is patched in.

    ``fast`` raises ``Defer`` (or ``UnsupportedInput`` from a kernel) for inputs it does not
    reproduce; the original then runs. Any other error in the fast path is a bug of ours:
    it is logged once and the original runs, so a training run never fails because of us.
    """
    name = getattr(original, "__qualname__", getattr(original, "__name__", "?"))

    def call_fast(*args: Any, **kwargs: Any) -> Any:
        try:
            return fast(*args, **kwargs)
        except (Defer, UnsupportedInput):
            pass
        except Exception as exc:
            _report_once(name, "fast-axolotl: %s failed (%r); using Axolotl's original", name, exc)
        # Outside the except block: the original's own exceptions then carry no chained
        # context of ours, and it runs as fast as when called directly.
        return original(*args, **kwargs)

    if config.verify_mode():

        @functools.wraps(original)
        def patched(*args: Any, **kwargs: Any) -> Any:
            expected = original(*args, **kwargs)
            try:
                got = call_fast(*args, **kwargs)
            except Exception as exc:  # pragma: no cover - reported, original result kept
                got = exc
            if not same_result(expected, got):
                LOG.error(
                    "fast-axolotl VERIFY: %s differs from Axolotl: %r != %r", name, got, expected
                )
            return expected

    else:

        @functools.wraps(original)
        def patched(*args: Any, **kwargs: Any) -> Any:
            return call_fast(*args, **kwargs)

    return patched

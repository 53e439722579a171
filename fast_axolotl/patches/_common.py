"""What every replacement shares: the original's identity, the fallback, errors, shadow mode.

A fast path (``fast``, with the original's parameters) ends in one of five ways:

- it returns: that is the result;
- ``Defer`` (or ``UnsupportedInput`` from a kernel): the input is outside what it
  reproduces, and it has run no user code; Axolotl's original runs;
- ``Replay(args, kwargs)``: it has already run user code (a tokenizer) and cannot finish;
  the original runs on arguments that replay what the user code returned, so user code
  runs once;
- ``Propagate(error)``: ``error`` is what Axolotl raises here (user code raised, or the
  fast path reproduced Axolotl's own check); it reaches the caller unchanged;
- any other exception: either the input makes Axolotl raise too (a missing argument, a
  ``dict`` where Axolotl wants its config object) or it is a bug of ours. The original
  runs; if it raises, that is Axolotl's error and reaches the caller with no word of ours;
  if it succeeds, the fault was ours and is logged once.

A fast path that calls user code must therefore decide to defer before calling it, or own
what follows (``Propagate`` for the user code's errors, ``Replay`` for everything after).
"""

from __future__ import annotations

import copy
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


class Replay(Defer):
    """Raised by a fast path after it ran user code: the original runs on ``args`` /
    ``kwargs`` (which replay the user code's results); ``cause`` is the fault of ours that
    made it give up (logged once when the original succeeds), None for a plain deferral."""

    def __init__(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], cause: BaseException | None = None
    ) -> None:
        super().__init__(cause)
        self.call_args = args
        self.call_kwargs = kwargs
        self.cause = cause


class Propagate(Exception):
    """Raised by a fast path: ``error`` is what Axolotl raises here; give it to the caller."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(error)
        self.error = error


def _report_once(key: str, msg: str, *args: Any) -> None:
    if key not in _reported:
        _reported.add(key)
        LOG.warning(msg, *args)


def report_fault(name: str, exc: BaseException, instead: str = "Axolotl's original") -> None:
    """Logs once that the fast path of ``name`` failed on an input Axolotl handles."""
    _report_once(name, "fast-axolotl: %s failed (%r); using %s", name, exc, instead)


# --- comparing results (shadow mode) ---------------------------------------------------


def _lazy_batch_type() -> type | None:
    formatting = sys.modules.get("datasets.formatting.formatting")
    return None if formatting is None else formatting.LazyBatch


def same_result(a: Any, b: Any) -> bool:
    """Exact equality for shadow mode: types, dtypes, shapes and values."""
    if type(a) is not type(b):
        return False
    if isinstance(a, BaseException):
        return str(a) == str(b) and a.args == b.args
    if type(a).__name__ == "Dataset" and type(a).__module__ == "datasets.arrow_dataset":
        # Datasets compare by identity; shadow mode compares what a caller reads.
        return (
            a.features == b.features
            and a.column_names == b.column_names
            and a.with_format("arrow")[:].equals(b.with_format("arrow")[:])
        )
    lazy = _lazy_batch_type()
    if lazy is not None and type(a) is lazy:
        return same_batch(a, b)
    if isinstance(a, np.ndarray):
        return (
            a.dtype == b.dtype
            and a.shape == b.shape
            and bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
        )
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same_result(x, y) for x, y in zip(a, b, strict=False))
    if isinstance(a, (set, frozenset)):
        return a == b
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


def _as_written(value: Any) -> Any:
    """A batch value as ``datasets`` writes it: numpy rows and scalars as Python values."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_as_written(v) for v in value]
    return value


def same_batch(a: Any, b: Any) -> bool:
    """Equality of two ``datasets`` batches (``LazyBatch``) as ``map`` writes them: the same
    keys in the same order, the same values whether a row is a list or a numpy array."""
    if list(a.keys()) != list(b.keys()):
        return False
    for key in a.keys():
        x, y = _as_written(a[key]), _as_written(b[key])
        if type(x) is not type(y) or x != y:
            return False
    return True


# --- inputs of their own (shadow mode) -------------------------------------------------


def own_view(value: Any) -> Any:
    """A copy of ``value`` that a call may consume or modify without the caller's copy
    noticing: ``datasets`` batches keep their Arrow table and what was already read or set,
    containers and arrays are copied; datasets (immutable) and other objects are shared."""
    lazy = _lazy_batch_type()
    if lazy is not None and type(value) is lazy:
        twin = lazy(value.pa_table, value.formatter)
        twin.data = {k: own_view(v) for k, v in value.data.items()}
        twin.keys_to_format = set(value.keys_to_format)
        return twin
    if type(value) in (list, tuple):
        return type(value)(own_view(v) for v in value)
    if type(value) is dict:
        return {k: own_view(v) for k, v in value.items()}
    if type(value) in (set, bytearray):
        return type(value)(value)
    if isinstance(value, np.ndarray):
        return value.copy()
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, Mapping):  # BatchEncoding, Axolotl's DictDefault, ...
        try:
            return copy.deepcopy(value)
        except Exception:
            return value
    return value


def _outcome(func: Callable[..., Any], args: Any, kwargs: Any) -> tuple[bool, Any]:
    try:
        return True, func(*args, **kwargs)
    except Exception as exc:
        return False, exc


class _Deferred:
    """The fast path handed the call to the original: nothing of its own to compare."""


def fast_outcome(fast: Callable[..., Any], args: Any, kwargs: Any) -> tuple[bool, Any]:
    """What the fast path alone does with these arguments (no fallback): (returned?, value);
    a ``_Deferred`` value when it deferred."""
    try:
        return True, fast(*args, **kwargs)
    except (Defer, UnsupportedInput):
        return True, _Deferred()
    except Propagate as p:
        return False, p.error
    except Exception as exc:
        return False, exc


def report_difference(name: str, what: str, got: Any, expected: Any) -> None:
    LOG.error(
        "fast-axolotl VERIFY: %s differs from Axolotl (%s): %r != %r", name, what, got, expected
    )


def shadow(
    name: str,
    original: Callable[..., Any],
    fast: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    """Shadow mode: the fast path on its own view of the inputs, then Axolotl's original on
    the caller's; compares the results (or exceptions) and what each left in its inputs;
    returns (or raises) what Axolotl did."""
    fast_args = tuple(own_view(a) for a in args)
    fast_kwargs = {k: own_view(v) for k, v in kwargs.items()}
    fast_ok, got = fast_outcome(fast, fast_args, fast_kwargs)
    ok, expected = _outcome(original, args, kwargs)
    if not isinstance(got, _Deferred):
        if fast_ok != ok or not same_result(expected, got):
            report_difference(name, "result" if ok else "exception", got, expected)
        else:
            for i, (mine, theirs) in enumerate(zip(fast_args, args, strict=True)):
                if mine is not theirs and not same_result(theirs, mine):
                    report_difference(name, f"argument {i} afterwards", mine, theirs)
            for k, theirs in kwargs.items():
                mine = fast_kwargs[k]
                if mine is not theirs and not same_result(theirs, mine):
                    report_difference(name, f"argument {k!r} afterwards", mine, theirs)
    if not ok:
        raise expected
    return expected


# --- the replacement -------------------------------------------------------------------


def qualname(original: Callable[..., Any]) -> str:
    return getattr(original, "__qualname__", getattr(original, "__name__", "?"))


def replacement(original: Callable[..., Any], fast: Callable[..., Any]) -> Callable[..., Any]:
    """Wraps ``fast`` (same parameters as ``original``) into the object that is patched in;
    see the module docstring for how a fast path hands a call back."""
    name = qualname(original)

    if config.verify_mode():

        @functools.wraps(original)
        def patched(*args: Any, **kwargs: Any) -> Any:
            return shadow(name, original, fast, args, kwargs)

        return patched

    @functools.wraps(original)
    def patched(*args: Any, **kwargs: Any) -> Any:
        try:
            return fast(*args, **kwargs)
        except Replay as r:
            args, kwargs, fault = r.call_args, r.call_kwargs, r.cause
        except (Defer, UnsupportedInput):
            fault = None
        except Propagate as p:
            fault = p  # raised below, outside this block: no context of ours attached
        except Exception as exc:
            fault = exc
        if type(fault) is Propagate:
            raise fault.error
        # Outside the except block: the original's own exceptions then carry no chained
        # context of ours, and it runs as fast as when called directly. When it raises, the
        # input was one Axolotl rejects: its error is the answer, with no word from us.
        result = original(*args, **kwargs)
        if fault is not None:
            report_fault(name, fault)
        return result

    return patched


def direct(original: Callable[..., Any], kernel: Callable[..., Any]) -> Callable[..., Any]:
    """``replacement`` for a kernel that takes the original's parameters and raises
    ``UnsupportedInput`` itself: one Python frame less for calls of a few microseconds."""
    if config.verify_mode():
        return replacement(original, kernel)
    name = qualname(original)

    @functools.wraps(original)
    def patched(*args: Any, **kwargs: Any) -> Any:
        try:
            return kernel(*args, **kwargs)
        except UnsupportedInput:
            return original(*args, **kwargs)
        except Exception as exc:
            fault = exc
        result = original(*args, **kwargs)  # raises: Axolotl's error (a missing argument)
        report_fault(name, fault)
        return result

    return patched

"""Replacements for ``axolotl.utils.data.streaming``."""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable
from typing import Any

from fast_axolotl import _native
from fast_axolotl.patches._common import Defer, Propagate, Replay, replacement


class _Replayed:
    """The user's tokenizer, whose next call returns the encoding it already made: Axolotl's
    ``encode_streaming`` calls it once, then reads ``eos_token_id`` / ``pad_token_id``."""

    def __init__(self, tokenizer: Any, encoding: Any) -> None:
        self.__dict__["_tokenizer"] = tokenizer
        self.__dict__["_encoding"] = [encoding]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        pending = self.__dict__["_encoding"]
        if pending:
            return pending.pop()
        return self.__dict__["_tokenizer"](*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["_tokenizer"], name)


def encode_streaming(original: Callable[..., Any], variant: str | None) -> Callable[..., Any]:
    """Mirrors ``axolotl.utils.data.streaming.encode_streaming`` (0.19) with
    ``concatenate=True``.

    Tokenization stays with the tokenizer, called exactly as Axolotl calls it; the packing
    after it (``[eos, pad]`` / ``[eos, -100]`` / ``[1, 0]`` appended to every row, rows
    concatenated into ``max_tokens`` buffers with Axolotl's flush rule, padding with
    ``pad`` / -100 / 0, Python ints out, the debug log line with the row count) runs in one
    kernel call instead of a dozen torch operations per row.

    Defers before tokenizing when ``concatenate`` is false, ``max_tokens`` is not a Python
    int of at least 3, or ``eos_token_id`` / ``pad_token_id`` are not Python ints (Axolotl's
    torch code raises on None). After tokenizing, Axolotl's code runs on the same encoding
    (a tokenizer that replays it: the user's tokenizer is called once either way) when a
    row tokenizes to nothing (Axolotl's buffers turn into float32 and its output into
    floats), when the encoding has no ``attention_mask`` or its rows differ in length from
    the tokens, and when a row longer than ``max_tokens`` would make torch raise. The
    tokenizer's own exceptions reach the caller as they are (Axolotl calls it first).
    """

    log = getattr(sys.modules.get(original.__module__), "LOG", None)

    def fast(
        examples: Any,
        tokenizer: Any,
        max_tokens: Any,
        text_column: str = "text",
        concatenate: bool = True,
    ) -> dict[str, list[Any]]:
        if not concatenate or type(max_tokens) is not int or max_tokens < 3:
            raise Defer
        eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
        if type(eos) is not int or type(pad) is not int:
            raise Defer
        try:
            res = tokenizer(
                examples[text_column],
                truncation=True,
                max_length=max_tokens - 2,
                add_special_tokens=True,
            )
        except Exception as exc:
            raise Propagate(exc) from None  # Axolotl's first step: it raises the same
        try:
            if "input_ids" not in res or "attention_mask" not in res:
                raise Defer
            input_ids, labels, attention_mask = _native.pack_token_stream(
                res["input_ids"], res["attention_mask"], eos, pad, max_tokens
            )
        except Exception as exc:
            # The tokenizer has run: Axolotl's code gets its encoding replayed, not a
            # second tokenizer call.
            cause = None if isinstance(exc, (Defer, _native.UnsupportedInput)) else exc
            raise Replay(
                (examples, _Replayed(tokenizer, res), max_tokens, text_column, concatenate),
                {},
                cause,
            ) from None
        ret = {"input_ids": input_ids, "labels": labels, "attention_mask": attention_mask}
        if log is not None:
            log.debug(len(input_ids))
        return ret

    return replacement(original, fast)


def encode_pretraining(original: Callable[..., Any], variant: str | None) -> Callable[..., Any]:
    """Mirrors ``axolotl.utils.data.pretraining.encode_pretraining`` (0.12.x), which is
    ``encode_streaming``'s body with ``tokenizer, max_tokens, examples`` in that order: the
    same fast path and deferrals as ``encode_streaming`` above, and the fallback is
    Axolotl's ``encode_pretraining`` itself."""

    def in_streaming_order(
        examples: Any,
        tokenizer: Any,
        max_tokens: Any,
        text_column: str = "text",
        concatenate: bool = True,
    ) -> Any:
        return original(tokenizer, max_tokens, examples, text_column, concatenate)

    # Log lines and fallback reports name Axolotl's function and module, not this adapter.
    in_streaming_order.__module__ = original.__module__
    in_streaming_order.__qualname__ = original.__qualname__
    in_streaming_order.__name__ = original.__name__
    streaming_order = encode_streaming(in_streaming_order, variant)

    signature = inspect.signature(original)

    @functools.wraps(original)
    def patched(*args: Any, **kwargs: Any) -> Any:
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError:
            return original(*args, **kwargs)  # Axolotl's own argument error, raised once
        bound.apply_defaults()
        a = bound.arguments
        return streaming_order(
            a["examples"], a["tokenizer"], a["max_tokens"], a["text_column"], a["concatenate"]
        )

    return patched

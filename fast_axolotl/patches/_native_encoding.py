"""The user's fast tokenizer, encoded inside the extension (``_native.NativeTokenizer``).

Its ``tokenizers`` configuration is serialized by the user's own ``tokenizers`` package
(``to_str()``) and loaded into the same release of the ``tokenizers`` crate the extension
is built with (``_native.TOKENIZERS_VERSION``): the same code on the same configuration,
without a Python object per text. Shared by the batched instruction path
(``tokenize_instruct``) and the batched ``chat_template`` path.

Per batch, the user's tokenizer object is still called once, on the batch's first text,
with exactly the arguments the batch call would get: it applies the same truncation and
special-token settings to the tokenizer (the state Axolotl's calls leave), raises what it
raises and warns what it warns, and its ids, mask (and char offsets, when asked for) for
that text must equal the extension's, or the batch (and every later one) goes through the
tokenizer object. Anything the extension refuses (another ``tokenizers`` release, custom
Python components, BPE dropout, padding, a text it cannot encode) takes the tokenizer
object too, which then raises whatever it raises.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from fast_axolotl import _native
from fast_axolotl.patches._common import report_fault

#: Rows per process from which the tokenizer is loaded into the extension, and per
#: vocabulary entry: loading takes ~10 ms for an 8k vocabulary and 0.2-0.5 s for 128k
#: (docs/benchmarks.md), about what the tokenizer object spends on 1,000 rows and on
#: 128k / 16 = 8,000 rows; below that the tokenizer object encodes.
NATIVE_MIN_ROWS = 1000
NATIVE_ROWS_PER_VOCAB = 1 / 16

#: The last tokenizer loaded in this process, by (pid, configuration, special-token mode):
#: the datasets of one ``axolotl preprocess`` share their tokenizer.
_LAST_LOADED: tuple[tuple[int, str, bool], Any] | None = None


@functools.lru_cache(maxsize=1)
def tokenizers_version() -> str | None:
    try:
        import tokenizers
    except ImportError:  # pragma: no cover - transformers' fast tokenizers need it
        return None
    return str(tokenizers.__version__)


class NativeEncoding:
    """Whether, and with which loaded tokenizer, this process encodes in the extension.

    ``rows`` are the rows this process will encode (or, counted with ``add_rows``, has
    seen so far); from ``max(NATIVE_MIN_ROWS, vocab_size * NATIVE_ROWS_PER_VOCAB)`` on the
    extension encodes. Pickled into ``num_proc`` workers without its loaded tokenizer,
    which each process loads once.
    """

    def __init__(self, rows: int, vocab_size: int) -> None:
        self._threshold = max(NATIVE_MIN_ROWS, vocab_size * NATIVE_ROWS_PER_VOCAB)
        self._rows = 0
        self._refused = tokenizers_version() != getattr(_native, "TOKENIZERS_VERSION", None)
        self.enabled = False
        self._loaded: Any = None
        self._pid = 0
        self.add_rows(rows)

    def add_rows(self, rows: int) -> None:
        self._rows += rows
        self.enabled = not self._refused and self._rows >= self._threshold

    def _refuse(self) -> None:
        self._refused, self.enabled = True, False

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_loaded": None, "_pid": 0}

    def _load(self, backend: Any) -> Any:
        global _LAST_LOADED
        if self._pid != os.getpid():
            self._pid, self._loaded = os.getpid(), None
            try:
                key = (os.getpid(), backend.to_str(), bool(backend.encode_special_tokens))
                if _LAST_LOADED is not None and _LAST_LOADED[0] == key:
                    self._loaded = _LAST_LOADED[1]
                else:
                    self._loaded = _native.NativeTokenizer(*key[1:])
                    _LAST_LOADED = (key, self._loaded)
            except Exception:  # custom Python components, dropout, padding, ...
                self._refuse()
        return self._loaded

    def encode(self, tok: Any, texts: list[str], max_length: int) -> Any:
        """``_tokenize``'s call: ``tok(texts, truncation=True, max_length=max_length,
        padding=False, return_tensors=None)``, as an ``_native.EncodedBatch``, or None: use
        ``tok``."""
        return self._encode(
            tok,
            texts,
            {
                "truncation": True,
                "max_length": max_length,
                "padding": False,
                "return_tensors": None,
            },
            add_special_tokens=True,
            char_offsets=False,
        )

    def encode_with_offsets(self, tok: Any, texts: list[str]) -> Any:
        """``tok(texts, add_special_tokens=False, return_offsets_mapping=True)`` (the chat
        template's encode), as an ``_native.EncodedBatch`` with char offsets, or None."""
        return self._encode(
            tok,
            texts,
            {"add_special_tokens": False, "return_offsets_mapping": True},
            add_special_tokens=False,
            char_offsets=True,
        )

    def _encode(
        self,
        tok: Any,
        texts: list[str],
        call: dict[str, Any],
        add_special_tokens: bool,
        char_offsets: bool,
    ) -> Any:
        if not self.enabled or not texts:
            return None
        first = tok(texts[:1], **call)  # the user's call: what it raises, the caller raises
        loaded = self._load(tok.backend_tokenizer)
        if loaded is None:
            return None
        try:
            batch = loaded.encode(texts, add_special_tokens, char_offsets)
            same = (
                batch.ids(0) == first["input_ids"][0]
                and batch.mask(0) == first["attention_mask"][0]
                and (
                    not char_offsets
                    or batch.char_offsets(0) == [tuple(o) for o in first["offset_mapping"][0]]
                )
            )
        except _native.UnsupportedInput:
            same = False
        except Exception as exc:  # a fault of ours, never the user's: say so, carry on
            report_fault("the extension's encoder", exc, "the tokenizer object")
            same = False
        if not same:
            self._refuse()
            return None
        return batch

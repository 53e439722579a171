"""Small fast tokenizers trained locally for the tokenization differential tests.

For the instruction strategies (``TOKENIZERS``), two kinds, because Axolotl's
``_tokenize`` treats them differently:

- ``bos_tokenizer``: byte-level BPE whose post-processor prepends ``<s>`` to every
  encoding (like Llama's), so every response encoding starts with BOS and gets it stripped;
- ``plain_tokenizer``: whitespace-split BPE with an ``<unk>`` token and no post-processor,
  so whitespace-only text encodes to nothing ("Tokenizer result is empty") and a BOS shows
  up only where the text itself contains ``<s>``.

For ``chat_template`` (``CHAT_TOKENIZERS``), the same two shapes, which the strategy also
treats differently: a byte-level BPE whose post-processor adds BOS (every character
survives pre-tokenization, so every character has a token) and a whitespace-split BPE
without a post-processor (whitespace has no token at all, so empty and whitespace-only
turns produce empty or inverted token spans); both know the chat markers of the chatml and
llama3 templates as added special tokens.

All are built with the test bed's support module (``fast_axolotl.demo.tokenizer``) from
an in-memory corpus in well under a second and cached per process.
"""

from __future__ import annotations

import functools
from typing import Any

from fast_axolotl.demo.tokenizer import CHAT_MARKERS, train_bpe, wrap

_CORPUS = [
    "Below is an instruction that describes a task, paired with an input that provides "
    "further context. Write a response that appropriately completes the request.",
    "### Instruction:\n### Input:\n### Response:\n### System:\nUSER: ASSISTANT: SYSTEM:",
    "Give three tips for staying healthy. Eat well, sleep, exercise.",
    "what is the capital of France? Paris. Summarize the following article as a TL;DR.",
    "Choose the answer that best answers the question. Explain your reasoning.",
    "The quick brown fox jumps over the lazy dog 0123456789 !?.,;:'\"()[]{}",
    "Über café naïve 日本語のテキスト 中文 Ελληνικά кириллица emoji 🙂",
]

SPECIALS = ("<unk>", "<s>", "</s>", "<pad>")


@functools.cache
def bos_tokenizer() -> Any:
    """Byte-level BPE; the post-processor adds ``<s>`` in front of every encoding."""
    tok = train_bpe(
        _CORPUS * 3, vocab_size=400, specials=SPECIALS, byte_level=True, bos_template="<s>"
    )
    return wrap(tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>")


@functools.cache
def plain_tokenizer() -> Any:
    """Whitespace BPE with ``<unk>``; no post-processor, so nothing is added."""
    tok = train_bpe(_CORPUS * 3, vocab_size=300, specials=SPECIALS)
    return wrap(tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>")


TOKENIZERS = {"bos": bos_tokenizer, "plain": plain_tokenizer}


# --- chat_template ---------------------------------------------------------------------


CORPUS_WORDS = (
    "the user asks and the assistant answers with a tool call about weather in paris "
    "system prompt you are helpful hello world question answer résumé naïve 日本語 テキスト "
    "calculate sum of numbers then reply briefly thanks good morning"
).split()


def _chat_corpus() -> list[str]:
    n = len(CORPUS_WORDS)
    return [" ".join(CORPUS_WORDS[i:] + CORPUS_WORDS[:i]) for i in range(n)] * 8


@functools.cache
def byte_level_bos_tokenizer():
    """Byte-level BPE; the post-processor prepends ``<s>``; eos ``<|im_end|>``."""
    tok = train_bpe(
        _chat_corpus(),
        vocab_size=400,
        specials=["<s>", "</s>", "<pad>", *CHAT_MARKERS],
        byte_level=True,
        bos_template="<s>",
    )
    return wrap(
        tok,
        bos_token="<s>",
        eos_token="<|im_end|>",
        pad_token="<pad>",
        name_or_path="local-bytelevel-bos",
    )


@functools.cache
def whitespace_tokenizer():
    """Whitespace-split BPE with ``<unk>``, no post-processor; eos ``</s>``."""
    tok = train_bpe(
        _chat_corpus(), vocab_size=300, specials=["<unk>", "<s>", "</s>", "<pad>", *CHAT_MARKERS]
    )
    return wrap(
        tok,
        unk_token="<unk>",
        bos_token="<|begin_of_text|>",
        eos_token="</s>",
        pad_token="<pad>",
        name_or_path="local-whitespace",
    )


CHAT_TOKENIZERS = {
    "bytelevel-bos": byte_level_bos_tokenizer,
    "whitespace": whitespace_tokenizer,
}


def install_skewed_native_tokenizer(monkeypatch: Any) -> None:
    """Makes the extension's loaded tokenizer encode every text with an ``x`` in front:
    ids that differ from the tokenizer object's, which the per-batch check must catch."""
    from fast_axolotl.patches import _native_encoding

    real = _native_encoding._native.NativeTokenizer

    class Skewed:
        def __init__(self, *args: Any) -> None:
            self._real = real(*args)

        def encode(self, texts: list[str], *args: Any) -> Any:
            return self._real.encode(["x" + t for t in texts], *args)

    monkeypatch.setattr(_native_encoding._native, "NativeTokenizer", Skewed)
    monkeypatch.setattr(_native_encoding, "_LAST_LOADED", None)

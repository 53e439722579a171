"""Small fast tokenizers trained locally for the tokenization differential tests.

Two kinds, because Axolotl's ``_tokenize`` treats them differently:

- ``bos_tokenizer``: byte-level BPE whose post-processor prepends ``<s>`` to every
  encoding (like Llama's), so every response encoding starts with BOS and gets it stripped;
- ``plain_tokenizer``: whitespace-split BPE with an ``<unk>`` token and no post-processor,
  so whitespace-only text encodes to nothing ("Tokenizer result is empty") and a BOS shows
  up only where the text itself contains ``<s>``.

Both are built with the test bed's support module (``fast_axolotl.demo.tokenizer``) from
an in-memory corpus in well under a second and cached per process.
"""

from __future__ import annotations

import functools
from typing import Any

from fast_axolotl.demo.tokenizer import train_bpe, wrap

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

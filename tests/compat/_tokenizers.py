"""Small fast tokenizers trained locally for the tokenization differential tests.

Two kinds, because Axolotl's ``_tokenize`` treats them differently:

- ``bos_tokenizer``: byte-level BPE whose post-processor prepends ``<s>`` to every
  encoding (like Llama's), so every response encoding starts with BOS and gets it stripped;
- ``plain_tokenizer``: whitespace-split BPE with an ``<unk>`` token and no post-processor,
  so whitespace-only text encodes to nothing ("Tokenizer result is empty") and a BOS shows
  up only where the text itself contains ``<s>``.

Both are built from an in-memory corpus in well under a second and cached per process.
Kept in one file so that other test modules (and later a shared support module) can use
them.
"""

from __future__ import annotations

import functools
from typing import Any

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

SPECIALS = ["<unk>", "<s>", "</s>", "<pad>"]


def _train(model: Any, trainer_cls: Any, pre_tokenizer: Any, vocab_size: int) -> Any:
    from tokenizers import Tokenizer

    tok = Tokenizer(model)
    tok.pre_tokenizer = pre_tokenizer
    trainer = trainer_cls(vocab_size=vocab_size, special_tokens=SPECIALS, show_progress=False)
    tok.train_from_iterator(_CORPUS * 3, trainer=trainer)
    return tok


def _wrap(backend: Any) -> Any:
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
    )


@functools.cache
def bos_tokenizer() -> Any:
    """Byte-level BPE; the post-processor adds ``<s>`` in front of every encoding."""
    from tokenizers import decoders, models, pre_tokenizers, processors, trainers

    tok = _train(
        models.BPE(),
        trainers.BpeTrainer,
        pre_tokenizers.ByteLevel(add_prefix_space=False),
        vocab_size=400,
    )
    tok.decoder = decoders.ByteLevel()
    bos = tok.token_to_id("<s>")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", bos)]
    )
    return _wrap(tok)


@functools.cache
def plain_tokenizer() -> Any:
    """Whitespace BPE with ``<unk>``; no post-processor, so nothing is added."""
    from tokenizers import models, pre_tokenizers, trainers

    tok = _train(
        models.BPE(unk_token="<unk>"),
        trainers.BpeTrainer,
        pre_tokenizers.Whitespace(),
        vocab_size=300,
    )
    return _wrap(tok)


TOKENIZERS = {"bos": bos_tokenizer, "plain": plain_tokenizer}

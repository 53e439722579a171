"""Small fast tokenizers trained locally, for the chat_template differential tests.

Two shapes the strategy treats differently: a byte-level BPE whose post-processor adds BOS
(every character survives pre-tokenization, so every character has a token) and a
whitespace-split BPE without a post-processor (whitespace has no token at all, so empty and
whitespace-only turns produce empty or inverted token spans). Both know the chat markers of
the chatml and llama3 templates as added special tokens.
"""

from __future__ import annotations

import functools

from fast_axolotl.demo.tokenizer import train_bpe, wrap

CHAT_MARKERS = [
    "<|im_start|>",
    "<|im_end|>",
    "<|begin_of_text|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
]

CORPUS_WORDS = (
    "the user asks and the assistant answers with a tool call about weather in paris "
    "system prompt you are helpful hello world question answer résumé naïve 日本語 テキスト "
    "calculate sum of numbers then reply briefly thanks good morning"
).split()


def _corpus() -> list[str]:
    n = len(CORPUS_WORDS)
    return [" ".join(CORPUS_WORDS[i:] + CORPUS_WORDS[:i]) for i in range(n)] * 8


@functools.cache
def byte_level_bos_tokenizer():
    """Byte-level BPE; the post-processor prepends ``<s>``; eos ``<|im_end|>``."""
    tok = train_bpe(
        _corpus(),
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
        _corpus(), vocab_size=300, specials=["<unk>", "<s>", "</s>", "<pad>", *CHAT_MARKERS]
    )
    return wrap(
        tok,
        unk_token="<unk>",
        bos_token="<|begin_of_text|>",
        eos_token="</s>",
        pad_token="<pad>",
        name_or_path="local-whitespace",
    )


TOKENIZER_BUILDERS = {
    "bytelevel-bos": byte_level_bos_tokenizer,
    "whitespace": whitespace_tokenizer,
}

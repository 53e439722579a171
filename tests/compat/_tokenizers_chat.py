"""Small fast tokenizers trained locally, for the chat_template differential tests.

Two shapes the strategy treats differently: a byte-level BPE whose post-processor adds BOS
(every character survives pre-tokenization, so every character has a token) and a
whitespace-split BPE without a post-processor (whitespace has no token at all, so empty and
whitespace-only turns produce empty or inverted token spans). Both know the chat markers of
the chatml and llama3 templates as added special tokens.
"""

from __future__ import annotations

import functools

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
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<s>", "</s>", "<pad>", *CHAT_MARKERS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(_corpus(), trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", tok.token_to_id("<s>"))]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="<|im_end|>",
        pad_token="<pad>",
        name_or_path="local-bytelevel-bos",
    )


@functools.cache
def whitespace_tokenizer():
    """Whitespace-split BPE with ``<unk>``, no post-processor; eos ``</s>``."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<unk>", "<s>", "</s>", "<pad>", *CHAT_MARKERS]
    )
    tok.train_from_iterator(_corpus(), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
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

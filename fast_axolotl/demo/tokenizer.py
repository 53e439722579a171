"""Tokenizers trained here, offline: the demo's model directory and the test bed's tokenizers.

``train_bpe`` trains a BPE model with the ``tokenizers`` library in a second or two;
``wrap`` turns it into the ``transformers.PreTrainedTokenizerFast`` that Axolotl calls.
``bos_adding_tokenizer`` and ``no_bos_tokenizer`` are the two kinds Axolotl's tokenizing
code distinguishes (a post-processor that prepends BOS, like Llama's, or none).
``build_model_dir`` writes the demo's model: tokenizer files and a tiny Llama config
without weights, which ``AutoTokenizer.from_pretrained`` loads offline.

``tokenizers`` and ``transformers`` are imported inside the functions: this package is
importable at interpreter start-up.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Iterable, Sequence
from typing import Any

BOS, EOS, UNK, PAD = "<s>", "</s>", "<unk>", "<pad>"
#: The special tokens of the chatml template, appended after training (see build_model_dir).
IM_START, IM_END = "<|im_start|>", "<|im_end|>"
#: The markers of the chatml and llama3 templates Axolotl ships (the chat_template tests'
#: and benchmark's tokenizers know them as added special tokens).
CHAT_MARKERS = (
    IM_START,
    IM_END,
    "<|begin_of_text|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
)
VOCAB_SIZE = 4096
#: The words the small test tokenizers are trained on.
WORDS = tuple(
    "the a packing of rows into buffers fast axolotl tokens eos pad streaming data".split()
)


def train_bpe(
    corpus: Iterable[str],
    *,
    vocab_size: int,
    specials: Sequence[str] = (UNK, BOS, EOS, PAD),
    byte_level: bool = False,
    bos_template: str | None = None,
) -> Any:
    """A ``tokenizers.Tokenizer`` with a BPE model trained on ``corpus``.

    ``specials`` get the first ids, in order. ``byte_level`` selects GPT-2 style byte-level
    pre-tokenization and decoding (every string encodes without unknowns), otherwise words
    are split on whitespace and punctuation. ``bos_template`` names a special token that a
    post-processor prepends to every encoding (``None``: nothing is added).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE(unk_token=UNK if UNK in specials else None))
    if byte_level:
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=list(specials),
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
    else:
        tok.pre_tokenizer = pre_tokenizers.Whitespace()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size, special_tokens=list(specials), show_progress=False
        )
    tok.train_from_iterator(corpus, trainer=trainer)
    if bos_template is not None:
        bos_id = tok.token_to_id(bos_template)
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos_template} $A",
            pair=f"{bos_template} $A {bos_template} $B",
            special_tokens=[(bos_template, bos_id)],
        )
    return tok


def wrap(tok: Any, *, padding_side: str = "right", **special_tokens: str | None) -> Any:
    """``tok`` as a ``transformers.PreTrainedTokenizerFast`` with the given special tokens
    (``bos_token="<s>"``, ``pad_token=None``, ...)."""
    from transformers import PreTrainedTokenizerFast

    fast = PreTrainedTokenizerFast(tokenizer_object=tok, **special_tokens)
    fast.padding_side = padding_side
    return fast


def bos_adding_tokenizer(
    corpus: Iterable[str] | None = None, *, vocab_size: int = 300, pad: bool = True
) -> Any:
    """A BPE tokenizer whose post-processor prepends ``<s>`` (like Llama's); eos ``</s>``,
    pad ``<pad>`` (or none), unk ``<unk>``; trained on ``corpus`` (default: rotations of
    ``WORDS``)."""
    from fast_axolotl.demo.data import rotations

    tok = train_bpe(
        rotations(WORDS, 20) if corpus is None else corpus,
        vocab_size=vocab_size,
        bos_template=BOS,
    )
    return wrap(tok, unk_token=UNK, bos_token=BOS, eos_token=EOS, pad_token=PAD if pad else None)


def no_bos_tokenizer(
    corpus: Iterable[str] | None = None, *, vocab_size: int = 300, pad: bool = True
) -> Any:
    """``bos_adding_tokenizer`` without the post-processor: ``<s>`` is known but never added."""
    from fast_axolotl.demo.data import rotations

    tok = train_bpe(rotations(WORDS, 20) if corpus is None else corpus, vocab_size=vocab_size)
    return wrap(tok, unk_token=UNK, bos_token=BOS, eos_token=EOS, pad_token=PAD if pad else None)


def _write_json(path: pathlib.Path, obj: object) -> None:
    path.write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8")


def build_model_dir(model_dir: pathlib.Path, corpus: Iterable[str]) -> int:
    """Train a byte-level BPE tokenizer on the texts of ``corpus``; write a model dir.

    The directory holds ``tokenizer.json``, ``tokenizer_config.json``,
    ``special_tokens_map.json`` and a tiny Llama ``config.json`` without weights;
    ``transformers.AutoTokenizer.from_pretrained(model_dir)`` loads it offline.
    The tokenizer prepends ``<s>`` like Llama's. The chatml markers are added as special
    tokens after training, with the last ids: the trained vocabulary, and so every text
    without them, encodes as if they were absent. Returns the vocabulary size.
    """
    from tokenizers import AddedToken

    model_dir.mkdir(parents=True, exist_ok=True)
    tok = train_bpe(corpus, vocab_size=VOCAB_SIZE, byte_level=True, bos_template=BOS)
    tok.add_special_tokens(
        [AddedToken(t, special=True, normalized=False) for t in (IM_START, IM_END)]
    )
    tok.save(str(model_dir / "tokenizer.json"))
    vocab_size = tok.get_vocab_size()

    special_map = {
        "bos_token": BOS,
        "eos_token": EOS,
        "unk_token": UNK,
        "pad_token": PAD,
        "additional_special_tokens": [IM_START, IM_END],
    }
    _write_json(model_dir / "special_tokens_map.json", special_map)
    _write_json(
        model_dir / "tokenizer_config.json",
        {
            "tokenizer_class": "PreTrainedTokenizerFast",
            **special_map,
            "add_bos_token": True,
            "add_eos_token": False,
            "model_max_length": 4096,
            "clean_up_tokenization_spaces": False,
            "padding_side": "right",
        },
    )
    _write_json(
        model_dir / "config.json",
        {
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "vocab_size": vocab_size,
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 4,
            "max_position_embeddings": 4096,
            "hidden_act": "silu",
            "rms_norm_eps": 1e-6,
            "rope_theta": 10000.0,
            "tie_word_embeddings": False,
            "torch_dtype": "float32",
            "bos_token_id": tok.token_to_id(BOS),
            "eos_token_id": tok.token_to_id(EOS),
            "pad_token_id": tok.token_to_id(PAD),
        },
    )
    return vocab_size

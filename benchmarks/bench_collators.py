"""``axolotl.utils.collators.batching``: the four Seq2Seq collators, 1 × 128 to 64 × 8192 tokens.

Features look like rows of a tokenized ``datasets.Dataset`` as the DataLoader hands them to
the collator (one case uses int64 numpy arrays instead): dicts of Python lists
(``input_ids`` random ids below the vocabulary size, ``attention_mask`` ones, ``labels``
with the first third masked to -100, ``position_ids`` ``0..len``, and ``length`` for the
packed collators). Collator settings follow Axolotl's trainer builder: ``padding=True``,
``pad_to_multiple_of=64``, ``return_tensors="pt"`` (``"np"`` where noted), right padding,
and a BPE tokenizer trained at setup, wrapped in transformers' ``PreTrainedTokenizerFast``
with a pad token.

- ``DataCollatorForSeq2Seq``: B rows, lengths U[L/2, L] (seeded);
- packed (V1, V2, V2 with ``squash_position_ids``): B bins, each filled with sequences of
  U[16, L/4] tokens up to L tokens;
- pretraining: one dict of the sequences of one bin of L tokens.

The packed collators call ``super().__call__`` — on a patched install, fast-axolotl's
``DataCollatorForSeq2Seq.__call__``. So that the "original" column is Axolotl all the way
down, their collators are instances of a subclass whose MRO puts Axolotl's own base
``__call__`` right after the packed class (the fast path never calls ``super()``).
"""

from __future__ import annotations

import numpy as np
from harness import Call, Case

MODULE = "axolotl.utils.collators.batching"
SEQ2SEQ = f"{MODULE}:DataCollatorForSeq2Seq.__call__"
V1 = f"{MODULE}:BatchSamplerDataCollatorForSeq2Seq.__call__"
V2 = f"{MODULE}:V2BatchSamplerDataCollatorForSeq2Seq.__call__"
PRETRAINING = f"{MODULE}:PretrainingBatchSamplerDataCollatorForSeq2Seq.__call__"

SHAPES = ((1, 128), (8, 512), (8, 2048), (64, 2048), (64, 8192))
QUICK = ((1, 128), (8, 2048))

NOTES = [
    "features: dicts of Python lists (input_ids, attention_mask, labels, position_ids; "
    "+ length for packed bins), or of int64 numpy arrays where noted; padding=True, "
    "pad_to_multiple_of=64, right padding",
    "packed bins: sequences of U[16, L/4] tokens up to L tokens per bin; Seq2Seq rows: "
    "U[L/2, L] tokens",
    "the packed collators' original runs with Axolotl's own base __call__ (see module doc)",
]

_TOKENIZER = None


def tokenizer():
    global _TOKENIZER
    if _TOKENIZER is None:
        from fast_axolotl.demo.tokenizer import UNK, train_bpe, wrap

        corpus = ["the quick brown fox jumps over the lazy dog and packs sequences"] * 50
        tk = train_bpe(corpus, vocab_size=200, specials=(UNK, "<pad>", "<eos>"))
        _TOKENIZER = wrap(tk, pad_token="<pad>", eos_token="<eos>", unk_token=UNK)
    return _TOKENIZER


def item(rng: np.random.Generator, n: int, length: bool) -> dict[str, object]:
    ids = rng.integers(3, 200, n).tolist()
    masked = n // 3
    d: dict[str, object] = {
        "input_ids": ids,
        "attention_mask": [1] * n,
        "labels": [-100] * masked + ids[masked:],
        "position_ids": list(range(n)),
    }
    if length:
        d["length"] = n
    return d


def packed_bin(rng: np.random.Generator, total: int) -> list[dict[str, object]]:
    items, used = [], 0
    while used < total:
        n = min(int(rng.integers(16, max(17, total // 4 + 1))), total - used)
        items.append(item(rng, n, length=True))
        used += n
    return items


def axolotl_all_the_way(cls):
    """A subclass of the packed collator ``cls`` whose ``super().__call__`` is Axolotl's
    original base ``__call__``, not fast-axolotl's."""
    from axolotl.utils.collators import batching

    base = batching.DataCollatorForSeq2Seq
    original_base = base.__dict__["__call__"].__wrapped__
    mid = type("AxolotlBase", (base,), {"__call__": original_base})
    return type(cls.__name__, (cls, mid), {})


def collator(kind: str, rt: str, **kwargs: object):
    from axolotl.utils.collators import batching

    cls = {
        "seq2seq": batching.DataCollatorForSeq2Seq,
        "v1": batching.BatchSamplerDataCollatorForSeq2Seq,
        "v2": batching.V2BatchSamplerDataCollatorForSeq2Seq,
        "pretraining": batching.PretrainingBatchSamplerDataCollatorForSeq2Seq,
    }[kind]
    if kind != "seq2seq":
        cls = axolotl_all_the_way(cls)
    return cls(tokenizer(), padding=True, pad_to_multiple_of=64, return_tensors=rt, **kwargs)


def setup(
    kind: str, batch: int, length: int, rt: str = "pt", arrays: bool = False, **kwargs: object
):
    def build() -> Call:
        rng = np.random.default_rng(batch * 100_003 + length)
        if kind == "seq2seq":
            features: object = [
                item(rng, int(rng.integers(length // 2, length + 1)), length=False)
                for _ in range(batch)
            ]
            if arrays:
                features = [{k: np.array(v) for k, v in f.items()} for f in features]
        elif kind == "pretraining":
            items = packed_bin(rng, length)
            features = {k: [it[k] for it in items] for k in items[0]}
        else:
            features = [packed_bin(rng, length) for _ in range(batch)]
        return Call((collator(kind, rt, **kwargs), features))

    return build


def cases() -> list[Case]:
    variants = [
        ("DataCollatorForSeq2Seq", SEQ2SEQ, "seq2seq", {}, SHAPES),
        ("DataCollatorForSeq2Seq np", SEQ2SEQ, "seq2seq", {"rt": "np"}, QUICK),
        ("DataCollatorForSeq2Seq int64 arrays", SEQ2SEQ, "seq2seq", {"arrays": True}, QUICK),
        ("BatchSampler (V1) packed", V1, "v1", {}, SHAPES),
        ("V2BatchSampler packed", V2, "v2", {}, SHAPES),
        ("V2BatchSampler packed np", V2, "v2", {"rt": "np"}, QUICK),
        ("V2BatchSampler squash", V2, "v2", {"squash_position_ids": True}, QUICK),
        ("Pretraining packed", PRETRAINING, "pretraining", {}, ((1, 128), (1, 2048), (1, 8192))),
    ]
    out: list[Case] = []
    for name, target, kind, kwargs, shapes in variants:
        for batch, length in shapes:
            out.append(
                Case(
                    name=name,
                    size=f"{batch} x {length}",
                    target=target,
                    setup=setup(kind, batch, length, **kwargs),
                    rows=batch,
                    memory=False,
                    quick=(batch, length) in QUICK,
                )
            )
    return out


CASES = cases()

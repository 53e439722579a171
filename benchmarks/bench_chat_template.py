"""``ChatTemplateStrategy.tokenize_prompt`` (chat_template): the tokenize step, 1 to 30k rows.

The strategy is the one Axolotl's ``load`` builds with its defaults (``roles_to_train:
[assistant]``, ``train_on_eos: turn``) for the ``chatml`` and ``llama3`` templates it ships.
The tokenizer is a byte-level BPE (vocabulary 4,000, chat markers as added tokens) trained
here on the benchmark's own words, with its Rust threads left as the user's would be.
Conversations are seeded: an optional system turn, then 1 to 3 user/assistant exchanges of
5 to 60 words each (about 190 tokens per conversation on average).

Cases:
- ``tokenize_prompt`` on one batch (what ``Dataset.map(batched=True, batch_size=1000)``
  hands it): 1 conversation (not a batch: both paths are Axolotl's), 100 and 1,000.
- the section: the whole tokenize step, ``TokenizedPromptDataset(strategy, dataset)`` (one
  process, ``Dataset.map`` with Axolotl's batch size of 1,000) at 100, 3k and 30k
  conversations, original and fast in the same process, the results compared table for
  table before anything is timed.
"""

from __future__ import annotations

import functools
import os
import random
import statistics
import time

from harness import Call, Case, Options, Section

TARGET = "axolotl.prompt_strategies.chat_template:ChatTemplateStrategy.tokenize_prompt"

WORDS = (
    "the user asks a question about data and the assistant answers it with care using "
    "python rust tokens arrow batches models training fine tune axolotl quickly because "
    "each conversation has several turns système café naïve 東京 データ"
).split()


NOTES = [
    "tokenizer: byte-level BPE (vocab 4,000) trained locally; load() defaults "
    "(roles_to_train [assistant], train_on_eos turn); ~190 tokens per conversation",
]


@functools.cache
def tokenizer():
    from fast_axolotl.demo.tokenizer import CHAT_MARKERS, train_bpe, wrap

    rng = random.Random(0)
    corpus = [" ".join(rng.choices(WORDS, k=40)) for _ in range(2000)]
    tok = train_bpe(
        corpus, vocab_size=4000, specials=["<s>", "</s>", *CHAT_MARKERS], byte_level=True
    )
    return wrap(tok, bos_token="<s>", eos_token="<|im_end|>", name_or_path="bench-bpe")


@functools.cache
def strategy(template: str):
    from axolotl.prompt_strategies.chat_template import load
    from axolotl.utils.dict import DictDefault

    cfg = DictDefault({"chat_template": template, "sequence_len": 4096, "train_on_inputs": False})
    return load(tokenizer(), cfg, {"chat_template": template})


def conversations(rows: int, seed: int = 0) -> list[list[dict[str, str]]]:
    rng = random.Random(seed)
    out = []
    for _ in range(rows):
        conv = []
        if rng.random() < 0.5:
            conv.append({"role": "system", "content": " ".join(rng.choices(WORDS, k=8))})
        for _ in range(rng.randint(1, 3)):
            for role in ("user", "assistant"):
                conv.append(
                    {"role": role, "content": " ".join(rng.choices(WORDS, k=rng.randint(5, 60)))}
                )
        out.append(conv)
    return out


def direct(rows: int, template: str):
    def build() -> Call:
        convs = conversations(rows)
        batch = convs[0] if rows == 1 else convs
        return Call((strategy(template), {"messages": batch}))

    return build


CASES = [
    Case(
        name=f"chat_template/tokenize_prompt/{template}",
        size=f"{rows} conv" if rows > 1 else "1 conv (single)",
        target=TARGET,
        setup=direct(rows, template),
        rows=rows,
        quick=template == "chatml",
    )
    for template in ("chatml", "llama3")
    for rows in (1, 100, 1000)
]


def _step(template: str, rows: int, use_original: bool):
    """One TokenizedPromptDataset build; the patched method swapped for the original when
    ``use_original`` (the same switch as monkeypatching the class attribute)."""
    import datasets
    from axolotl.datasets import TokenizedPromptDataset
    from axolotl.prompt_strategies.chat_template import ChatTemplateStrategy

    data = _dataset(rows)
    # A new strategy object per step, as each dataset of a preprocess run gets: the fast
    # path counts conversations per strategy before it loads the tokenizer into the
    # extension (which a process loads once; the benchmark's later steps reuse it).
    fresh = strategy.__wrapped__(template)
    patched = ChatTemplateStrategy.__dict__["tokenize_prompt"]
    if use_original:
        ChatTemplateStrategy.tokenize_prompt = patched.__wrapped__
    try:
        datasets.disable_caching()
        t = time.perf_counter()
        out = TokenizedPromptDataset(fresh, data, keep_in_memory=True)
        elapsed = time.perf_counter() - t
    finally:
        ChatTemplateStrategy.tokenize_prompt = patched
    return elapsed, out


@functools.cache
def _dataset(rows: int):
    import datasets

    datasets.disable_progress_bars()
    return datasets.Dataset.from_dict({"messages": conversations(rows, seed=rows)})


def run_section(options: Options) -> Section:
    sizes = (100, 3000) if options.quick else (100, 3000, 30_000)
    rows_out, losses, problems = [], [], []
    data: dict[str, dict[str, float]] = {}
    for template in ("chatml", "llama3"):
        for rows in sizes:
            _, slow = _step(template, rows, True)
            _, fast = _step(template, rows, False)
            if not (fast.features == slow.features and fast.data.table.equals(slow.data.table)):
                problems.append(f"chat_template {template} {rows} rows: results differ")
                continue
            repeats = 5 if rows <= 3000 else 2
            t_orig, t_fast = [], []
            for _ in range(repeats):  # interleaved, so load changes hit both paths alike
                t_orig.append(_step(template, rows, True)[0])
                t_fast.append(_step(template, rows, False)[0])
            o, f = min(t_orig), min(t_fast)
            ratio = o / f
            data[f"{template}/{rows}"] = {"original_s": o, "fast_s": f, "ratio": ratio}
            rows_out.append(
                [
                    f"TokenizedPromptDataset, {template}, best of {repeats}",
                    f"{rows:,}",
                    f"{o * 1e3:.1f} ms",
                    f"{f * 1e3:.1f} ms",
                    f"{ratio:.2f}x" + ("  << LOSS" if ratio < 1 else ""),
                    f"{statistics.median(t_orig) / statistics.median(t_fast):.2f}x",
                ]
            )
            if ratio < 1.0:
                losses.append(f"chat_template tokenize step {template} {rows} rows: {ratio:.2f}x")
    return Section(
        title="chat_template tokenize step (TokenizedPromptDataset, num_proc 1)",
        headers=["step", "conversations", "original", "fast", "ratio (best)", "ratio (median)"],
        rows=rows_out,
        notes=[
            *NOTES,
            f"TOKENIZERS_PARALLELISM={os.environ.get('TOKENIZERS_PARALLELISM', 'unset')}",
        ],
        problems=problems,
        losses=losses,
        data=data,
    )

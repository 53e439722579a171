"""Multipack packing (``axolotl.utils.samplers.multipack``): 10 items to 1M rows.

Lengths are int32 (what ``MultipackBatchSampler`` stores), seeded, U[1, 2048] tokens, packed
into bins of one sequence length (2048) as Axolotl's trainer does with
``multipack_real_batches`` off and micro batch size 1; group size 100k and bin size 200 are
Axolotl's defaults. ``generate_batches`` runs on a sampler as the trainer builds it (seeded
``RandomSampler``), re-seeded per pass so both paths pack the same permutation; its cache is
bypassed so each call is a full pass. Axolotl's numba functions are compiled during the
warm-up call: the timings below are without compile (it is listed separately).

``run_section`` measures a training start: ``calculate_total_num_steps`` (which builds a
``MultipackBatchSampler`` and takes ``len()`` of its DataLoader: 5 passes) and then the
trainer's sampler construction with ``len(sampler)`` (5 more passes), on 1M rows, in two
fresh interpreters: ``FAST_AXOLOTL_DISABLE=1`` (Axolotl, numba compile included) and with
fast-axolotl.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from harness import Call, Case, Options, Section

MODULE = "axolotl.utils.samplers.multipack"
SEQ_LEN = 2048
LABEL = {1: "1", 10: "10", 1_000: "1k", 10_000: "10k", 100_000: "100k", 1_000_000: "1M"}
NAMES = ("pack_group", "_process_group", "pack_parallel", "allocate_sequentially", "ffd_check")


@contextlib.contextmanager
def axolotl_originals() -> Iterator[None]:
    """Axolotl's own functions in the multipack module for the duration. Its
    ``pack_parallel`` calls the module's ``_process_group`` / ``pack_group`` and
    ``generate_batches`` calls ``pack_parallel`` / ``allocate_sequentially``: without this,
    "Axolotl's original" would run on fast-axolotl's replacements."""
    module = importlib.import_module(MODULE)
    saved = {name: getattr(module, name) for name in NAMES}
    for name, func in saved.items():
        setattr(module, name, getattr(func, "__wrapped__", func))
    try:
        yield
    finally:
        for name, func in saved.items():
            setattr(module, name, func)


def _pair(qualname: str) -> Callable[..., Any]:
    """The patched ``MODULE:qualname``, with a ``__wrapped__`` that runs Axolotl's original
    on Axolotl's own module functions: what the harness compares."""
    obj: Any = importlib.import_module(MODULE)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    patched, original = obj, obj.__wrapped__

    def fast(*args: Any, **kwargs: Any) -> Any:
        return patched(*args, **kwargs)

    @functools.wraps(original)
    def axolotl(*args: Any, **kwargs: Any) -> Any:
        with axolotl_originals():
            return original(*args, **kwargs)

    fast.__wrapped__ = axolotl  # type: ignore[attr-defined]
    return fast


def __getattr__(name: str) -> Any:
    # Case targets ``bench_packing:pair_<qualname with "-" for ".">``, resolved lazily so
    # that importing this module does not import Axolotl.
    if name.startswith("pair_"):
        return _pair(name[len("pair_") :].replace("-", "."))
    raise AttributeError(name)


def target(qualname: str) -> str:
    return f"bench_packing:pair_{qualname.replace('.', '-')}"


def lengths(rows: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(1, SEQ_LEN + 1, rows).astype(np.int32)


def plain(name: str, rows: int, *args: object) -> Case:
    def build() -> Call:
        return Call((lengths(rows), *args))

    return Case(
        name=name,
        size=LABEL[rows],
        target=target(name),
        setup=build,
        rows=rows,
        memory=rows >= 100_000,
        quick=rows <= 100_000,
    )


def sampler_case(rows: int, batch_size: int = 1, sequential: bool = False) -> Case:
    def build() -> Call:
        import torch
        from axolotl.utils.samplers.multipack import MultipackBatchSampler
        from torch.utils.data import RandomSampler

        class Reseeded(RandomSampler):
            """Draws the same permutation every pass (both paths pack the same input)."""

            def __iter__(self):  # type: ignore[no-untyped-def]
                self.generator.manual_seed(0)
                return super().__iter__()

        class Uncached(MultipackBatchSampler):
            """Every call is a full pass: the ``_batches`` cache never holds anything."""

            _batches = property(lambda self: None, lambda self, value: None)  # type: ignore[assignment]

        sampler = Uncached(
            Reseeded(range(rows), generator=torch.Generator()),
            batch_size=batch_size,
            batch_max_len=SEQ_LEN,
            lengths=lengths(rows),
            bin_size=200,
            group_size=100_000,
            sequential=sequential,
            drop_last=True,
        )
        return Call((sampler,), {"set_stats": True})

    name = "generate_batches" + (" (sequential)" if sequential else "")
    return Case(
        name=name,
        size=LABEL[rows],
        target=target("MultipackBatchSampler.generate_batches"),
        setup=build,
        rows=rows,
        memory=rows >= 100_000,
        quick=rows <= 100_000,
    )


CASES: list[Case] = []
for _rows in (10, 1_000, 100_000, 1_000_000):
    CASES += [
        plain("pack_parallel", _rows, SEQ_LEN, 100_000, 200),
        sampler_case(_rows),
        sampler_case(_rows, sequential=True),
    ]
for _rows in (10, 1_000, 100_000):
    CASES += [
        plain("pack_group", _rows, 0, SEQ_LEN, _rows, 200),
        plain("allocate_sequentially", _rows, 0, SEQ_LEN, 1),
        plain("ffd_check", _rows, SEQ_LEN, _rows // 2 + 1),
    ]

# ------------------------------------------------------------------ encode_streaming

STREAM_WORDS = (
    "the a of packing rows into buffers fast axolotl tokens streaming data model train "
    "learning rate batch sequence length attention mask label pad end begin text corpus"
).split()


def _bpe_tokenizer() -> Any:
    """A BPE tokenizer trained here on the benchmark's own word list (no download); its
    post-processor prepends BOS, as Llama's does."""
    from fast_axolotl.demo.data import word_corpus
    from fast_axolotl.demo.tokenizer import bos_adding_tokenizer

    return bos_adding_tokenizer(word_corpus(STREAM_WORDS, 2000, 50), vocab_size=400)


def _documents(docs: int) -> list[str]:
    rng = np.random.default_rng(1)
    return [" ".join(rng.choice(STREAM_WORDS, int(rng.integers(20, 600)))) for _ in range(docs)]


class PreTokenized:
    """A tokenizer stand-in returning a fixed encoding: isolates the packing that follows
    tokenization (neither path mutates the encoding)."""

    def __init__(self, tokenizer: Any, texts: list[str], max_tokens: int) -> None:
        enc = tokenizer(texts, truncation=True, max_length=max_tokens - 2, add_special_tokens=True)
        self.encoding = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}
        self.eos_token_id = tokenizer.eos_token_id
        self.pad_token_id = tokenizer.pad_token_id

    def __call__(self, texts: Any, **kwargs: Any) -> dict[str, Any]:
        return self.encoding


def streaming_case(docs: int, pretokenized: bool) -> Case:
    def build() -> Call:
        tokenizer = _bpe_tokenizer()
        texts = _documents(docs)
        if pretokenized:
            tokenizer = PreTokenized(tokenizer, texts, SEQ_LEN)
        return Call(({"text": texts}, tokenizer, SEQ_LEN))

    return Case(
        name="encode_streaming" + (" (packing only)" if pretokenized else ""),
        size=LABEL[docs],
        target="axolotl.utils.data.streaming:encode_streaming",
        setup=build,
        rows=docs,
        memory=docs >= 10_000,
        quick=docs <= 1_000,
    )


for _docs in (1, 10, 1_000, 10_000):
    CASES += [streaming_case(_docs, pretokenized=True), streaming_case(_docs, pretokenized=False)]

NOTES = [
    "lengths int32 U[1,2048], bins of 2048 tokens, bin size 200, group size 100k",
    "Axolotl's side runs with Axolotl's own module functions (its pack_parallel on its "
    "numba pack_group, its process pool), not on fast-axolotl's replacements",
    "encode_streaming: documents of U[20,600) words, a BPE tokenizer trained in the "
    "benchmark (BOS template), max_tokens 2048; '(packing only)' replays a fixed encoding "
    "so that only the packing after tokenization is timed",
    "numba compiled before timing (warm-up call); a fresh process also pays the compile: "
    "see the training-start table",
]

# ------------------------------------------------------------------ training start

_START = textwrap.dedent(
    """
    import json, os, sys, time
    t0 = time.perf_counter()
    import numpy as np, pyarrow as pa, datasets
    from axolotl.utils.dict import DictDefault
    from axolotl.utils.trainer import calculate_total_num_steps
    from axolotl.utils.samplers import MultipackBatchSampler, get_dataset_lengths
    from torch.utils.data import RandomSampler
    import torch
    datasets.disable_progress_bars()
    rows = int(sys.argv[1])
    lengths = np.random.default_rng(0).integers(1, 2049, rows)
    ds = datasets.Dataset(pa.table({
        "length": pa.array(lengths),
        "input_ids": pa.array(np.zeros(rows, dtype=np.int64)),
    }))
    cfg = DictDefault(
        sample_packing=True, sequence_len=2048, micro_batch_size=1, batch_size=1,
        num_epochs=1, total_num_tokens=int(lengths.sum()), total_supervised_tokens=1,
        sample_packing_group_size=100_000, sample_packing_bin_size=200,
        attn_supports_packing=True, dataset_num_proc=1,
    )
    torch.manual_seed(0)
    t1 = time.perf_counter()
    steps = calculate_total_num_steps(cfg, ds)
    t2 = time.perf_counter()
    sampler = MultipackBatchSampler(
        RandomSampler(ds), lengths=get_dataset_lengths(ds), batch_size=1,
        batch_max_len=2048, group_size=100_000, bin_size=200, drop_last=True,
        num_processes=1,
    )
    n = len(sampler)
    t3 = time.perf_counter()
    print(json.dumps({"steps": steps, "eff": cfg.sample_packing_eff_est, "len": n,
                      "import": t1 - t0, "total_num_steps": t2 - t1, "sampler": t3 - t2}))
    """
)


def _start_run(rows: int, disable: bool) -> dict[str, float]:
    env = dict(os.environ)
    env.pop("FAST_AXOLOTL_DISABLE", None)
    if disable:
        env["FAST_AXOLOTL_DISABLE"] = "1"
    out = subprocess.run(
        [sys.executable, "-c", _START, str(rows)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_section(options: Options) -> Section:
    rows = 100_000 if options.quick else 1_000_000
    before = _start_run(rows, disable=True)
    after = _start_run(rows, disable=False)
    problems = []
    for key in ("steps", "eff", "len"):
        if before[key] != after[key]:
            problems.append(f"training start: {key} differs: {before[key]} != {after[key]}")
    table = []
    for key, label in (
        ("total_num_steps", "calculate_total_num_steps (incl. numba compile before)"),
        ("sampler", "MultipackBatchSampler + len(sampler)"),
    ):
        table.append(
            [
                label,
                f"{before[key]:.2f} s",
                f"{after[key]:.2f} s",
                f"{before[key] / after[key]:.1f}x",
            ]
        )
    total_b = before["total_num_steps"] + before["sampler"]
    total_a = after["total_num_steps"] + after["sampler"]
    table.append(["both", f"{total_b:.2f} s", f"{total_a:.2f} s", f"{total_b / total_a:.1f}x"])
    return Section(
        title=f"Training start, {LABEL[rows]} rows (fresh interpreters)",
        headers=["step", "Axolotl", "fast-axolotl", "ratio"],
        rows=table,
        notes=[
            f"same results: total_num_steps={after['steps']}, sample_packing_eff_est="
            f"{after['eff']}, len(sampler)={after['len']}",
        ],
        problems=problems,
        data={"before": before, "after": after},
    )

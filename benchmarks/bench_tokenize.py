"""The tokenize step of Axolotl's alpaca family: ``TokenizedPromptDataset.process`` with
fast-axolotl vs Axolotl's original (``__wrapped__``), same dataset, same strategy object.

Data: alpaca rows (instruction 3-30 words, input empty on 60% of rows else 3-40 words,
output 5-200 words) drawn from a 3,000-word vocabulary with some non-ASCII words, seeded;
an in-memory ``datasets.Dataset`` (no cache files, so every run tokenizes). Tokenizer: a
byte-level BPE (8,000 tokens) trained locally, whose post-processor prepends BOS (as
Llama's does), wrapped in ``transformers.PreTrainedTokenizerFast``; the benchmark runs
with its own threads as ``TOKENIZERS_PARALLELISM`` leaves them (unset: on). Strategy:
``AlpacaPromptTokenizingStrategy(AlpacaPrompter("instruct"))``, train_on_inputs false,
sequence_len 2048, ``process_count`` None (one process). Each size runs both paths
alternately; best time of the repeats; the results are checked identical (features, Arrow
data, fingerprint) before timing.
"""

from __future__ import annotations

import os
import time
from typing import Any

try:
    from harness import Section
except ImportError:  # pragma: no cover - imported outside the runner
    Section = None  # type: ignore[assignment,misc]

CASES: list[Any] = []  # see run_section: the result is a Dataset, compared here
SIZES = (1, 100, 10_000, 100_000)
LABEL = {1: "1", 100: "100", 10_000: "10k", 100_000: "100k"}
REPEATS = {1: 60, 100: 15, 10_000: 3, 100_000: 1}
QUICK_SIZES = (1, 100, 10_000)


def _words(rng: Any, k: int) -> list[str]:
    base = [f"w{i}{'abcdefgh'[i % 8]}" for i in range(2900)]
    base += ["Über", "naïve", "日本語", "café", "Ελληνικά", "🙂"] * 16
    return [base[int(i)] for i in rng.integers(0, len(base), k)]


def make_rows(rows: int, seed: int = 0) -> dict[str, list[str]]:
    import numpy as np

    rng = np.random.default_rng(seed)
    out: dict[str, list[str]] = {"instruction": [], "input": [], "output": []}
    for _ in range(rows):
        out["instruction"].append(" ".join(_words(rng, int(rng.integers(3, 31)))))
        has_input = rng.random() >= 0.6
        out["input"].append(" ".join(_words(rng, int(rng.integers(3, 41)))) if has_input else "")
        out["output"].append(" ".join(_words(rng, int(rng.integers(5, 201)))))
    return out


def make_tokenizer() -> Any:
    from fast_axolotl.demo.tokenizer import train_bpe, wrap

    corpus = make_rows(3000, seed=1)
    tok = train_bpe(
        corpus["instruction"] + corpus["input"] + corpus["output"],
        vocab_size=8000,
        byte_level=True,
        bos_template="<s>",
    )
    return wrap(tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>")


def _holder(strategy: Any) -> Any:
    from axolotl.datasets import TokenizedPromptDataset

    obj = TokenizedPromptDataset.__new__(TokenizedPromptDataset)
    obj.prompt_tokenizer = strategy
    obj.process_count = None
    obj.keep_in_memory = False
    return obj


def _same(a: Any, b: Any) -> str | None:
    if a.features != b.features:
        return f"features {a.features} != {b.features}"
    if not a.data.table.equals(b.data.table):
        return "Arrow data differ"
    if a._fingerprint != b._fingerprint:
        return f"fingerprint {a._fingerprint} != {b._fingerprint}"
    return None


def run_section(options: Any) -> Any:
    import datasets
    from axolotl.datasets import TokenizedPromptDataset
    from axolotl.prompt_tokenizers import AlpacaPromptTokenizingStrategy
    from axolotl.prompters import AlpacaPrompter

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    fast = TokenizedPromptDataset.process
    original = getattr(fast, "__wrapped__", None)
    title = "Tokenize, instruction strategies (alpaca, TokenizedPromptDataset.process)"
    headers = ["rows", "original", "fast", "ratio", "CPU ratio", "repeats"]
    if original is None:
        return Section(title, headers, [], problems=["process is not patched by fast-axolotl"])
    tok = make_tokenizer()
    strategy = AlpacaPromptTokenizingStrategy(AlpacaPrompter("instruct"), tok, False, 2048)
    holder = _holder(strategy)
    rows_out: list[list[str]] = []
    problems: list[str] = []
    losses: list[str] = []
    data: dict[str, Any] = {}
    for size in QUICK_SIZES if options.quick else SIZES:
        ds = datasets.Dataset.from_dict(make_rows(size))
        expected, got = original(holder, ds), fast(holder, ds)
        diff = _same(expected, got)
        if diff:
            problems.append(f"{LABEL[size]} rows: results differ: {diff}")
            continue
        # Wall time, and the process's CPU time (all threads, the tokenizer's included),
        # which other processes on a shared machine disturb less.
        times: dict[str, list[float]] = {"original": [], "fast": []}
        cpu: dict[str, list[float]] = {"original": [], "fast": []}
        for _ in range(REPEATS[size]):
            for name, fn in (("original", original), ("fast", fast)):
                c0, t0 = time.process_time(), time.perf_counter()
                fn(holder, ds)
                times[name].append(time.perf_counter() - t0)
                cpu[name].append(time.process_time() - c0)
        best_o, best_f = min(times["original"]), min(times["fast"])
        ratio = best_o / best_f
        cpu_ratio = min(cpu["original"]) / max(min(cpu["fast"]), 1e-9)
        rows_out.append(
            [
                LABEL[size],
                f"{best_o:.4f} s",
                f"{best_f:.4f} s",
                f"{ratio:.2f}x",
                f"{cpu_ratio:.2f}x",
                str(REPEATS[size]),
            ]
        )
        data[LABEL[size]] = {
            "original_s": best_o,
            "fast_s": best_f,
            "ratio": ratio,
            "cpu_ratio": cpu_ratio,
        }
        if ratio < 1.0:
            losses.append(f"tokenize alpaca {LABEL[size]} rows: {ratio:.2f}x")
    notes = [
        f"TOKENIZERS_PARALLELISM={os.environ.get('TOKENIZERS_PARALLELISM', '(unset)')}, "
        f"{os.cpu_count()} CPUs; identical features, Arrow data and fingerprint checked."
    ]
    return Section(
        title, headers, rows_out, notes=notes, problems=problems, losses=losses, data=data
    )


def small_sizes(rows: tuple[int, ...] = (1, 2, 5, 10), calls: int = 150) -> None:
    """Paired loop at tiny sizes: ``calls`` alternating calls of each path per size, best
    and median wall time (``python benchmarks/bench_tokenize.py --small``)."""
    import statistics

    import datasets
    from axolotl.datasets import TokenizedPromptDataset
    from axolotl.prompt_tokenizers import AlpacaPromptTokenizingStrategy
    from axolotl.prompters import AlpacaPrompter

    datasets.disable_progress_bars()
    fast = TokenizedPromptDataset.process
    original = fast.__wrapped__
    strategy = AlpacaPromptTokenizingStrategy(
        AlpacaPrompter("instruct"), make_tokenizer(), False, 2048
    )
    holder = _holder(strategy)
    print(f"load average {os.getloadavg()[0]:.1f}")
    for size in rows:
        ds = datasets.Dataset.from_dict(make_rows(size))
        times: dict[str, list[float]] = {"original": [], "fast": []}
        for _ in range(calls):
            for name, fn in (("original", original), ("fast", fast)):
                t0 = time.perf_counter()
                fn(holder, ds)
                times[name].append(time.perf_counter() - t0)
        o, f = times["original"], times["fast"]
        print(
            f"{size:>3} rows: best {min(o) * 1e3:.2f} / {min(f) * 1e3:.2f} ms "
            f"= {min(o) / min(f):.2f}x, median {statistics.median(o) * 1e3:.2f} / "
            f"{statistics.median(f) * 1e3:.2f} ms = "
            f"{statistics.median(o) / statistics.median(f):.2f}x"
        )


if __name__ == "__main__":
    import sys

    if "--small" in sys.argv:
        small_sizes()

"""The demo's data: English-like text, an alpaca dataset and a chat dataset.

Everything here is deterministic for a seed and uses only the standard library, so the
tests and benchmarks that need realistic text (tokenizer training corpora, datasets with
duplicates and overlong rows) build it from here rather than each keeping a copy.
"""

from __future__ import annotations

import json
import pathlib
import random
from collections.abc import Iterator
from dataclasses import dataclass

DEFAULT_SEED = 1234
DUPLICATE_FRACTION = 0.05  # share of rows that are exact copies of earlier rows
OVERLONG_FRACTION = 0.005  # share of rows far longer than the sequence length in tokens

_NOUNS = (
    "river garden engine window teacher market signal harbor letter forest "
    "bridge picture theory kitchen island village number message planet "
    "circuit journey winter pattern mountain library student question answer "
    "problem system method network budget weather history museum painter "
    "farmer doctor recipe station language program battery camera ticket "
    "orchard lantern canvas compass meadow valley harvest record surface "
    "channel shadow mirror engineer council report segment vector"
).split()
_VERBS = (
    "builds explains carries measures describes repairs follows changes "
    "protects compares collects finds sends paints studies improves covers "
    "organizes predicts divides connects watches prepares records tests "
    "shapes moves counts sorts reads writes"
).split()
_ADJECTIVES = (
    "quiet bright careful ancient modern simple narrow wide heavy gentle "
    "sudden clever patient rapid golden hidden empty crowded distant local "
    "formal useful honest curious steady fragile silent ordinary rare"
).split()
_FUNCTION_WORDS = "the a an this that every each some many few our their its".split()
_LINKS = "and but because while although so then after before when since".split()
_ADVERBS = "slowly quickly often rarely always carefully openly quietly".split()
_PREPOSITIONS = "near under over behind across beside through without".split()
_TASKS = (
    "Explain why {np} {verb} {np}.",
    "Write a short story about {np}.",
    "Summarize the following passage.",
    "Give three reasons why {np} matters to {np}.",
    "Describe how {np} {verb} {np} in winter.",
    "Translate the text below into plain language.",
    "List the steps a {noun} follows to fix {np}.",
    "Compare {np} with {np}.",
    "What would happen if {np} {verb} {np}?",
    "Classify the sentence below as formal or informal.",
)
_SYSTEM_PROMPTS = (
    "You are a patient tutor.",
    "Answer briefly and plainly.",
    "You are a helpful assistant who explains each step.",
)
_SYLLABLES = "ka lo mi ra ten vel dor sun pa ri mon tas bel qui zor an et ul fen gar".split()


class TextGen:
    """Deterministic generator of English-like sentences."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        # A few hundred invented words widen the vocabulary so that the BPE
        # tokenizer has to split some words into several pieces.
        invented = {
            "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))) for _ in range(400)
        }
        self.nouns = list(_NOUNS) + sorted(invented)

    def noun(self) -> str:
        return self.rng.choice(self.nouns)

    def noun_phrase(self) -> str:
        rng = self.rng
        words = [rng.choice(_FUNCTION_WORDS)]
        if rng.random() < 0.6:
            words.append(rng.choice(_ADJECTIVES))
        words.append(self.noun())
        if rng.random() < 0.2:
            words += [rng.choice(_PREPOSITIONS), "the", self.noun()]
        return " ".join(words)

    def sentence(self) -> str:
        rng = self.rng
        parts = [self.noun_phrase()]
        if rng.random() < 0.3:
            parts.append(rng.choice(_ADVERBS))
        parts += [rng.choice(_VERBS), self.noun_phrase()]
        if rng.random() < 0.35:
            parts += [
                rng.choice(_LINKS),
                self.noun_phrase(),
                rng.choice(_VERBS),
                self.noun_phrase(),
            ]
        text = " ".join(parts)
        end = "?" if rng.random() < 0.08 else "."
        if rng.random() < 0.1:
            text += f", {rng.randint(2, 1999)} times"
        return text[0].upper() + text[1:] + end

    def paragraph(self, n_sentences: int) -> str:
        return " ".join(self.sentence() for _ in range(n_sentences))

    def task(self) -> str:
        template = self.rng.choice(_TASKS)
        out = []
        for piece in template.split(" "):
            while "{np}" in piece:
                piece = piece.replace("{np}", self.noun_phrase(), 1)
            piece = piece.replace("{verb}", self.rng.choice(_VERBS))
            piece = piece.replace("{noun}", self.noun())
            out.append(piece)
        return " ".join(out)

    def answer(self) -> str:
        # Mostly short answers with a long tail, so that packing has work to do.
        return self.paragraph(min(int(self.rng.expovariate(1 / 4.0)) + 1, 22))

    def long_text(self) -> str:
        """Several times longer than the demo's sequence length in tokens."""
        return self.paragraph(self.rng.randint(60, 90))


@dataclass
class DatasetStats:
    """What went into a generated JSONL file."""

    rows: int
    unique_rows: int
    duplicate_rows: int
    overlong_rows: int
    path: pathlib.Path


def _plan(rng: random.Random, rows: int) -> tuple[int, set[int]]:
    """How many rows are duplicates, and which of the unique rows are overlong."""
    if rows < 1:
        raise ValueError("rows must be at least 1")
    n_dup = int(rows * DUPLICATE_FRACTION) if rows >= 20 else 0
    n_long = max(1, int(rows * OVERLONG_FRACTION))
    n_unique = rows - n_dup
    return n_dup, set(rng.sample(range(n_unique), min(n_long, n_unique)))


def _write_with_duplicates(
    path: pathlib.Path, rng: random.Random, records: list, n_dup: int, n_long: int
) -> DatasetStats:
    for _ in range(n_dup):
        pos = rng.randrange(len(records) + 1)
        records.insert(pos, json.loads(json.dumps(records[rng.randrange(len(records))])))
    with path.open("w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False))
            fh.write("\n")
    unique = len({json.dumps(r, sort_keys=True) for r in records})
    return DatasetStats(
        rows=len(records),
        unique_rows=unique,
        duplicate_rows=len(records) - unique,
        overlong_rows=n_long,
        path=path,
    )


def generate_dataset(path: pathlib.Path, rows: int, seed: int = DEFAULT_SEED) -> DatasetStats:
    """Write ``rows`` alpaca records (instruction/input/output) as JSONL.

    About 5% of the rows repeat an earlier row exactly, and about 0.5% (at
    least one) are several times longer than the sequence length in tokens:
    some with an overlong answer, some with an overlong prompt.
    """
    rng = random.Random(seed)
    gen = TextGen(rng)
    n_dup, long_positions = _plan(rng, rows)
    records: list[dict[str, str]] = []
    for i in range(rows - n_dup):
        instruction = gen.task()
        has_input = rng.random() < 0.4
        input_text = gen.paragraph(rng.randint(1, 4)) if has_input else ""
        if i in long_positions:
            if rng.random() < 0.5:
                output = gen.long_text()
            else:
                input_text = gen.long_text()
                output = gen.paragraph(rng.randint(1, 3))
        else:
            output = gen.answer()
        records.append({"instruction": instruction, "input": input_text, "output": output})
    return _write_with_duplicates(path, rng, records, n_dup, len(long_positions))


def generate_chat_dataset(path: pathlib.Path, rows: int, seed: int = DEFAULT_SEED) -> DatasetStats:
    """Write ``rows`` multi-turn conversations (``{"messages": [{role, content}]}``) as JSONL.

    One to four user/assistant exchanges, a third of them after a system message; the
    same shares of exact duplicates and overlong conversations as ``generate_dataset``.
    """
    rng = random.Random(seed + 7)
    gen = TextGen(rng)
    n_dup, long_positions = _plan(rng, rows)
    records: list[dict[str, list[dict[str, str]]]] = []
    for i in range(rows - n_dup):
        messages = []
        if rng.random() < 0.33:
            messages.append({"role": "system", "content": rng.choice(_SYSTEM_PROMPTS)})
        turns = rng.randint(1, 4)
        for turn in range(turns):
            question = gen.task()
            if rng.random() < 0.3:
                question += "\n\n" + gen.paragraph(rng.randint(1, 3))
            messages.append({"role": "user", "content": question})
            long = i in long_positions and turn == turns - 1
            messages.append(
                {"role": "assistant", "content": gen.long_text() if long else gen.answer()}
            )
        records.append({"messages": messages})
    return _write_with_duplicates(path, rng, records, n_dup, len(long_positions))


def tokenizer_corpus(seed: int = DEFAULT_SEED, paragraphs: int = 4000) -> Iterator[str]:
    """Training text for the demo's tokenizer: same generator, own seed, fixed size.

    Independent of the number of dataset rows, so every demo size uses the
    same tokenizer.
    """
    gen = TextGen(random.Random(seed + 1))
    for _ in range(paragraphs):
        yield gen.task() + " " + gen.paragraph(gen.rng.randint(1, 6))


def word_corpus(words: list[str] | tuple[str, ...], docs: int, words_per_doc: int, seed: int = 0):
    """``docs`` strings of ``words_per_doc`` words drawn (numpy, seeded) from ``words``."""
    import numpy as np

    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(words, words_per_doc)) for _ in range(docs)]


def rotations(words: list[str] | tuple[str, ...], repeat: int = 1) -> list[str]:
    """Every rotation of ``words`` joined by spaces, ``repeat`` times: a tiny, even corpus."""
    words = list(words)
    return [" ".join(words[i:] + words[:i]) for i in range(len(words))] * repeat

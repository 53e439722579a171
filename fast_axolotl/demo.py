"""End-to-end demo: real ``axolotl preprocess``, with and without fast-axolotl.

Run as ``python -m fast_axolotl demo [--rows N] [--workdir DIR] [--keep]``.

The demo works fully offline inside a work directory:

1. trains a small byte-level BPE tokenizer on generated English-like text and
   saves it, next to a tiny Llama model config (no weights), as a local
   Hugging Face model directory;
2. writes an alpaca-style JSONL dataset with some exact duplicates and some
   rows that are longer than the sequence length;
3. writes one Axolotl YAML config per run (sample packing and exact
   deduplication switched on);
4. runs ``python -m axolotl.cli.preprocess <config>`` twice in fresh
   subprocesses: once with ``FAST_AXOLOTL_DISABLE=1`` (plain Axolotl) and once
   with fast-axolotl allowed to activate itself;
5. loads both prepared datasets from disk and checks that they are identical
   (splits, features, row counts and every column value);
6. prints fast-axolotl's status and a summary table with both timings.

Only the standard library is imported at module level: this module may be
imported at interpreter start-up, so ``tokenizers``, ``datasets`` and friends
are imported inside the functions that need them.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import random
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

DEFAULT_ROWS = 20_000
DEFAULT_SEED = 1234
SEQUENCE_LEN = 512
VOCAB_SIZE = 4096
DUPLICATE_FRACTION = 0.05  # share of rows that are exact copies of earlier rows
OVERLONG_FRACTION = 0.005  # share of rows far longer than SEQUENCE_LEN tokens
LOG_TAIL_LINES = 40

PLAIN = "plain"
FAST = "fast"
MODE_TITLES = {PLAIN: "plain Axolotl", FAST: "with fast-axolotl"}

# Environment shared by both runs: no network, no telemetry, no prompts.
_OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "AXOLOTL_DO_NOT_TRACK": "1",  # Axolotl's opt-out for its PostHog telemetry
    "DO_NOT_TRACK": "1",
    "WANDB_MODE": "disabled",
    "PYTHONUNBUFFERED": "1",
}

# Variables that would make one run differ from the other, or reach outside the
# work directory; removed from the inherited environment of both runs.
_SCRUBBED_ENV = (
    "FAST_AXOLOTL_DISABLE",
    "FAST_AXOLOTL_CONFIG",
    "FAST_AXOLOTL_VERIFY",
    "AXOLOTL_DATASET_NUM_PROC",
    "AXOLOTL_DATASET_PROCESSES",
    "RUNPOD_CPU_COUNT",
    "HF_DATASETS_CACHE",
    "HF_HOME",
)


# --------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------


@dataclass
class DatasetStats:
    """What went into the generated JSONL file."""

    rows: int
    unique_rows: int
    duplicate_rows: int
    overlong_rows: int
    path: pathlib.Path


@dataclass
class RunResult:
    """The ``axolotl preprocess`` subprocesses of one mode (one per repetition)."""

    mode: str
    returncode: int
    times: list[float]  # wall-clock seconds of each successful repetition
    log_path: pathlib.Path  # log of the last repetition
    prepared_root: pathlib.Path
    fast_axolotl_loaded: bool | None = None

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def seconds(self) -> float:
        """Best (smallest) wall-clock time: the least disturbed by other load."""
        return min(self.times) if self.times else float("nan")


@dataclass
class Comparison:
    """Outcome of comparing the two prepared datasets."""

    identical: bool
    differences: list[str] = field(default_factory=list)
    splits: dict[str, int] = field(default_factory=dict)  # split name -> rows
    columns: list[str] = field(default_factory=list)
    # The saved Arrow data files, compared byte for byte (state.json is not: it records the
    # datasets fingerprint, which differs where a whole step is replaced).
    data_files: int = 0
    data_files_identical: bool = True


@dataclass
class DemoResult:
    rows: int
    workdir: pathlib.Path
    dataset: DatasetStats | None = None
    plain: RunResult | None = None
    fast: RunResult | None = None
    comparison: Comparison | None = None
    status_output: str | None = None
    error: str | None = None

    @property
    def both_succeeded(self) -> bool:
        return bool(self.plain and self.plain.ok and self.fast and self.fast.ok)

    @property
    def identical(self) -> bool:
        return bool(self.comparison and self.comparison.identical)

    @property
    def speedup(self) -> float | None:
        if not self.both_succeeded or self.fast.seconds <= 0:  # type: ignore[union-attr]
            return None
        return self.plain.seconds / self.fast.seconds  # type: ignore[union-attr]

    @property
    def exit_code(self) -> int:
        if self.error or not self.both_succeeded:
            return 2
        return 0 if self.identical else 1


def _say(msg: str = "") -> None:
    print(msg, flush=True)


# --------------------------------------------------------------------------
# 1. Synthetic English-like text
# --------------------------------------------------------------------------

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
_SYLLABLES = "ka lo mi ra ten vel dor sun pa ri mon tas bel qui zor an et ul fen gar".split()


class _TextGen:
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


# --------------------------------------------------------------------------
# 2. Dataset
# --------------------------------------------------------------------------


def generate_dataset(path: pathlib.Path, rows: int, seed: int = DEFAULT_SEED) -> DatasetStats:
    """Write ``rows`` alpaca records (instruction/input/output) as JSONL.

    About 5% of the rows repeat an earlier row exactly, and about 0.5% (at
    least one) are several times longer than ``SEQUENCE_LEN`` tokens: some with
    an overlong answer, some with an overlong prompt.
    """
    if rows < 1:
        raise ValueError("rows must be at least 1")
    rng = random.Random(seed)
    gen = _TextGen(rng)
    n_dup = int(rows * DUPLICATE_FRACTION) if rows >= 20 else 0
    n_long = max(1, int(rows * OVERLONG_FRACTION))
    n_unique = rows - n_dup
    long_positions = set(rng.sample(range(n_unique), min(n_long, n_unique)))

    records: list[dict[str, str]] = []
    for i in range(n_unique):
        instruction = gen.task()
        has_input = rng.random() < 0.4
        input_text = gen.paragraph(rng.randint(1, 4)) if has_input else ""
        if i in long_positions:
            if rng.random() < 0.5:
                output = gen.paragraph(rng.randint(60, 90))
            else:
                input_text = gen.paragraph(rng.randint(60, 90))
                output = gen.paragraph(rng.randint(1, 3))
        else:
            # mostly short answers, with a long tail, so packing has work to do
            n = min(int(rng.expovariate(1 / 4.0)) + 1, 22)
            output = gen.paragraph(n)
        records.append({"instruction": instruction, "input": input_text, "output": output})

    for _ in range(n_dup):
        pos = rng.randrange(len(records) + 1)
        records.insert(pos, dict(records[rng.randrange(len(records))]))

    with path.open("w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False))
            fh.write("\n")
    unique = len({json.dumps(r, sort_keys=True) for r in records})
    return DatasetStats(
        rows=len(records),
        unique_rows=unique,
        duplicate_rows=len(records) - unique,
        overlong_rows=len(long_positions),
        path=path,
    )


def tokenizer_corpus(seed: int = DEFAULT_SEED, paragraphs: int = 4000):
    """Training text for the tokenizer: same generator, own seed, fixed size.

    Independent of the number of dataset rows, so every demo size uses the
    same tokenizer.
    """
    gen = _TextGen(random.Random(seed + 1))
    for _ in range(paragraphs):
        yield gen.task() + " " + gen.paragraph(gen.rng.randint(1, 6))


# --------------------------------------------------------------------------
# 1b. Tokenizer and model config
# --------------------------------------------------------------------------

BOS, EOS, UNK, PAD = "<s>", "</s>", "<unk>", "<pad>"


def build_model_dir(model_dir: pathlib.Path, corpus) -> int:
    """Train a byte-level BPE tokenizer on the texts of ``corpus``; write a model dir.

    The directory holds ``tokenizer.json``, ``tokenizer_config.json``,
    ``special_tokens_map.json`` and a tiny Llama ``config.json`` without weights;
    ``transformers.AutoTokenizer.from_pretrained(model_dir)`` loads it offline.
    The tokenizer prepends ``<s>`` like Llama's. Returns the vocabulary size.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    model_dir.mkdir(parents=True, exist_ok=True)
    specials = [UNK, BOS, EOS, PAD]  # ids 0..3
    tok = Tokenizer(models.BPE(unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer=trainer)
    bos_id = tok.token_to_id(BOS)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A",
        pair=f"{BOS} $A {BOS} $B",
        special_tokens=[(BOS, bos_id)],
    )
    tok.save(str(model_dir / "tokenizer.json"))
    vocab_size = tok.get_vocab_size()

    special_map = {"bos_token": BOS, "eos_token": EOS, "unk_token": UNK, "pad_token": PAD}
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
            "bos_token_id": bos_id,
            "eos_token_id": tok.token_to_id(EOS),
            "pad_token_id": tok.token_to_id(PAD),
        },
    )
    return vocab_size


def _write_json(path: pathlib.Path, obj: object) -> None:
    path.write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------
# 3. Axolotl config
# --------------------------------------------------------------------------


def write_axolotl_config(
    path: pathlib.Path,
    *,
    model_dir: pathlib.Path,
    data_path: pathlib.Path,
    prepared_path: pathlib.Path,
    output_dir: pathlib.Path,
    num_proc: int,
    val_set_size: float,
) -> None:
    """Write an Axolotl YAML config for CPU-only preprocessing.

    JSON is valid YAML, so no YAML library is needed here.
    """
    cfg = {
        "base_model": str(model_dir),
        "tokenizer_config": str(model_dir),
        "model_type": "LlamaForCausalLM",
        "tokenizer_type": "AutoTokenizer",
        "datasets": [{"path": str(data_path), "ds_type": "json", "type": "alpaca"}],
        "dataset_prepared_path": str(prepared_path),
        "dataset_num_proc": num_proc,
        "dataset_exact_deduplication": True,
        "val_set_size": val_set_size,
        "sequence_len": SEQUENCE_LEN,
        "sample_packing": True,
        "eval_sample_packing": False,
        "pad_to_sequence_len": True,
        "train_on_inputs": False,
        "micro_batch_size": 2,
        "gradient_accumulation_steps": 1,
        "num_epochs": 1,
        "learning_rate": 0.0001,
        "optimizer": "adamw_torch",
        "lr_scheduler": "cosine",
        "output_dir": str(output_dir),
        "seed": DEFAULT_SEED,
        "bf16": False,
        "fp16": False,
        "tf32": False,
        "use_tensorboard": False,
        "save_safetensors": True,
    }
    path.write_text(json.dumps(cfg, indent=2) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------
# 4. Running preprocess
# --------------------------------------------------------------------------


def _base_env(workdir: pathlib.Path, mode: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
    env.update(_OFFLINE_ENV)
    # A separate, empty Hugging Face cache per run: otherwise the second run
    # would reuse the JSON->Arrow conversion cached by the first one.
    hf_home = workdir / "hf-home" / mode
    env["HF_HOME"] = str(hf_home)
    env["HF_DATASETS_CACHE"] = str(hf_home / "datasets")
    if mode == PLAIN:
        env["FAST_AXOLOTL_DISABLE"] = "1"
    return env


def _probe_fast_axolotl(env: dict[str, str]) -> bool | None:
    """Whether fast-axolotl loads itself at start-up of an interpreter with ``env``."""
    code = "import sys; print(int('fast_axolotl' in sys.modules))"
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    return proc.stdout.strip().endswith("1")


def preprocess_command(config_path: pathlib.Path) -> list[str]:
    # Equivalent to `axolotl preprocess <config>`; skips the model download
    # step (there are no weights, only a config).
    return [sys.executable, "-m", "axolotl.cli.preprocess", str(config_path), "--download=False"]


def _clean_run_dirs(workdir: pathlib.Path, mode: str) -> None:
    """Remove what an earlier run of ``mode`` left behind.

    ``axolotl preprocess`` loads an existing prepared dataset instead of
    preparing it again, and the datasets cache would skip the JSON parsing.
    """
    for d in (workdir / f"prepared-{mode}", workdir / f"output-{mode}", workdir / "hf-home" / mode):
        shutil.rmtree(d, ignore_errors=True)


def run_preprocess(
    mode: str,
    config_path: pathlib.Path,
    prepared_root: pathlib.Path,
    workdir: pathlib.Path,
    log_path: pathlib.Path | None = None,
) -> RunResult:
    """Run ``axolotl preprocess`` once, from clean output dirs, and time it."""
    _clean_run_dirs(workdir, mode)
    env = _base_env(workdir, mode)
    log_path = log_path or workdir / f"preprocess-{mode}.log"
    loaded = _probe_fast_axolotl(env)
    cmd = preprocess_command(config_path)
    with log_path.open("w", encoding="utf-8") as log:
        log.write("$ " + shlex.join(cmd) + "\n\n")
        log.flush()
        start = time.perf_counter()
        proc = subprocess.run(
            cmd,
            env=env,
            cwd=str(workdir),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        seconds = time.perf_counter() - start
    return RunResult(
        mode=mode,
        returncode=proc.returncode,
        times=[seconds] if proc.returncode == 0 else [],
        log_path=log_path,
        prepared_root=prepared_root,
        fast_axolotl_loaded=loaded,
    )


def _tail(path: pathlib.Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"(cannot read {path}: {exc})"
    return "\n".join(text.splitlines()[-lines:])


# --------------------------------------------------------------------------
# 5. Comparing the prepared datasets
# --------------------------------------------------------------------------


def find_prepared_datasets(root: pathlib.Path) -> dict[str, pathlib.Path]:
    """Datasets saved with ``save_to_disk`` under ``root``, keyed by relative path.

    Axolotl saves the prepared (tokenized, filtered, deduplicated) training set
    to ``<dataset_prepared_path>/<hash of the dataset config>/``.
    """
    found: dict[str, pathlib.Path] = {}
    if not root.is_dir():
        return found
    for marker in ("dataset_dict.json", "state.json"):
        for hit in sorted(root.rglob(marker)):
            d = hit.parent
            # the splits of a DatasetDict are found through dataset_dict.json
            if any(p in found.values() for p in d.parents):
                continue
            found[d.relative_to(root).as_posix()] = d
    return found


def _as_split_dict(obj) -> dict:
    from datasets import DatasetDict

    if isinstance(obj, DatasetDict):
        return dict(obj)
    return {"(dataset)": obj}


def _first_difference(a, b) -> str:
    """Describe the first row/column where two equally shaped tables differ."""
    for name in a.column_names:
        col_a, col_b = a.column(name), b.column(name)
        if col_a.equals(col_b):
            continue
        step = 1024
        for start in range(0, len(col_a), step):
            va = col_a.slice(start, step).to_pylist()
            vb = col_b.slice(start, step).to_pylist()
            for i, (x, y) in enumerate(zip(va, vb, strict=True)):
                if x != y:
                    return f"column {name!r}, row {start + i}: {_short(x)} != {_short(y)}"
        return f"column {name!r} differs (types {col_a.type} vs {col_b.type})"
    return "tables differ in schema metadata"


def _short(value: object, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def compare_prepared(root_a: pathlib.Path, root_b: pathlib.Path) -> Comparison:
    """Compare everything ``axolotl preprocess`` saved under two prepared paths."""
    from datasets import load_from_disk

    cmp = Comparison(identical=True)
    found_a, found_b = find_prepared_datasets(root_a), find_prepared_datasets(root_b)
    if not found_a or not found_b:
        cmp.identical = False
        cmp.differences.append(f"no saved dataset found under {root_a if not found_a else root_b}")
        return cmp
    if sorted(found_a) != sorted(found_b):
        cmp.identical = False
        cmp.differences.append(f"different dataset dirs: {sorted(found_a)} vs {sorted(found_b)}")
        return cmp

    for rel in sorted(found_a):
        files_a = sorted(p.relative_to(found_a[rel]) for p in found_a[rel].rglob("*.arrow"))
        files_b = sorted(p.relative_to(found_b[rel]) for p in found_b[rel].rglob("*.arrow"))
        cmp.data_files += len(files_a)
        if files_a != files_b or any(
            (found_a[rel] / f).read_bytes() != (found_b[rel] / f).read_bytes() for f in files_a
        ):
            cmp.data_files_identical = False
            cmp.identical = False
            cmp.differences.append(f"{rel}: the saved .arrow files are not byte-identical")
        splits_a = _as_split_dict(load_from_disk(str(found_a[rel])))
        splits_b = _as_split_dict(load_from_disk(str(found_b[rel])))
        if sorted(splits_a) != sorted(splits_b):
            cmp.identical = False
            cmp.differences.append(f"{rel}: splits {sorted(splits_a)} vs {sorted(splits_b)}")
            continue
        for split in sorted(splits_a):
            ds_a, ds_b = splits_a[split], splits_b[split]
            where = f"{rel} [{split}]" if split != "(dataset)" else rel
            cmp.splits[where] = ds_a.num_rows
            cmp.columns = list(ds_a.column_names)
            if ds_a.features != ds_b.features:
                cmp.identical = False
                cmp.differences.append(f"{where}: features {ds_a.features} vs {ds_b.features}")
                continue
            if ds_a.num_rows != ds_b.num_rows:
                cmp.identical = False
                cmp.differences.append(f"{where}: {ds_a.num_rows} rows vs {ds_b.num_rows} rows")
                continue
            # the Arrow tables as seen through any indices mapping
            tbl_a = ds_a.with_format("arrow")[:]
            tbl_b = ds_b.with_format("arrow")[:]
            if not tbl_a.equals(tbl_b):
                cmp.identical = False
                cmp.differences.append(f"{where}: {_first_difference(tbl_a, tbl_b)}")
    return cmp


# --------------------------------------------------------------------------
# 6. fast-axolotl status
# --------------------------------------------------------------------------


def fast_axolotl_status(workdir: pathlib.Path) -> str:
    env = _base_env(workdir, FAST)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "fast_axolotl", "status"],
            env=env,
            cwd=str(workdir),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"(could not run `python -m fast_axolotl status`: {exc})"
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or proc.stdout.strip().splitlines() or [""])[-1]
        return f"(`python -m fast_axolotl status` is not available: {last})"
    return proc.stdout.rstrip()


# --------------------------------------------------------------------------
# Orchestration
# --------------------------------------------------------------------------


def run_demo(
    rows: int = DEFAULT_ROWS,
    workdir: pathlib.Path | str | None = None,
    *,
    num_proc: int = 1,
    repeat: int = 1,
    val_set_size: float = 0.05,
    seed: int = DEFAULT_SEED,
    show_status: bool = True,
    verbose: bool = True,
) -> DemoResult:
    """Run the whole demo in ``workdir`` and return the outcome.

    ``workdir`` is created if missing and never removed here (``main`` removes
    the temporary one it creates); ``None`` makes a new temporary directory.
    Nothing is printed about the outcome: see ``print_summary``.
    """
    say = _say if verbose else (lambda msg="": None)
    if workdir is None:
        workdir = tempfile.mkdtemp(prefix="fast-axolotl-demo-")
    workdir = pathlib.Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    result = DemoResult(rows=rows, workdir=workdir)

    say(f"fast-axolotl demo: real `axolotl preprocess`, {rows} rows, work dir {workdir}")
    data_path = workdir / "alpaca.jsonl"
    t0 = time.perf_counter()
    result.dataset = stats = generate_dataset(data_path, rows, seed)
    say(
        f"[1/5] dataset: {stats.rows} alpaca rows ({stats.duplicate_rows} exact duplicates, "
        f"{stats.overlong_rows} overlong) -> {data_path.name}  [{time.perf_counter() - t0:.1f}s]"
    )

    t0 = time.perf_counter()
    model_dir = workdir / "tiny-llama"
    vocab = build_model_dir(model_dir, tokenizer_corpus(seed))
    say(
        f"[2/5] tokenizer: byte-level BPE, {vocab} tokens, tiny Llama config -> "
        f"{model_dir.name}/  [{time.perf_counter() - t0:.1f}s]"
    )

    configs = {}
    for mode in (PLAIN, FAST):
        configs[mode] = workdir / f"config-{mode}.yml"
        write_axolotl_config(
            configs[mode],
            model_dir=model_dir,
            data_path=data_path,
            prepared_path=workdir / f"prepared-{mode}",
            output_dir=workdir / f"output-{mode}",
            num_proc=num_proc,
            val_set_size=val_set_size,
        )
    say(
        f"[3/5] axolotl configs: {configs[PLAIN].name}, {configs[FAST].name} "
        f"(sequence_len {SEQUENCE_LEN}, sample_packing, dataset_exact_deduplication)"
    )

    # Plain first, then fast-axolotl; with repetitions the two alternate, so
    # that both see the same share of whatever else the machine is doing.
    for rep in range(1, repeat + 1):
        for step, mode in ((4, PLAIN), (5, FAST)):
            suffix = f" (repetition {rep}/{repeat})" if repeat > 1 else ""
            say(f"[{step}/5] axolotl preprocess, {MODE_TITLES[mode]}{suffix} ...")
            log_path = workdir / (
                f"preprocess-{mode}-{rep}.log" if repeat > 1 else f"preprocess-{mode}.log"
            )
            run = run_preprocess(
                mode, configs[mode], workdir / f"prepared-{mode}", workdir, log_path
            )
            previous: RunResult | None = getattr(result, mode)
            if previous is not None:
                run.times = previous.times + run.times
            setattr(result, mode, run)
            if run.ok:
                say(f"      ok in {run.times[-1]:.2f}s, log: {run.log_path}")
            else:
                say(f"      FAILED (exit code {run.returncode}), log: {run.log_path}")
                say(f"----- last {LOG_TAIL_LINES} lines of {run.log_path.name} -----")
                say(_tail(run.log_path))
                say("-----")
                result.error = f"axolotl preprocess failed ({MODE_TITLES[mode]})"
                return result

    if show_status:
        result.status_output = fast_axolotl_status(workdir)

    say("comparing the prepared datasets ...")
    result.comparison = compare_prepared(
        workdir / f"prepared-{PLAIN}", workdir / f"prepared-{FAST}"
    )
    return result


def print_summary(result: DemoResult) -> None:
    say = _say
    if result.status_output is not None:
        say("")
        say("fast-axolotl status (in the accelerated environment):")
        for line in result.status_output.splitlines():
            say("  " + line)

    cmp = result.comparison
    if cmp is not None:
        say("")
        for where, n in cmp.splits.items():
            say(f"prepared dataset {where}: {n} rows, columns {', '.join(cmp.columns)}")
        for diff in cmp.differences:
            say(f"  DIFFERENCE: {diff}")

    plain, fast = result.plain, result.fast

    def secs(run: RunResult | None) -> str:
        if run is None:
            return "not run"
        if not run.ok:
            return "failed"
        if len(run.times) > 1:
            return f"{run.seconds:.2f} s (best of {len(run.times)})"
        return f"{run.seconds:.2f} s"

    speedup = result.speedup
    rows = [
        ("input rows", str(result.rows)),
        ("axolotl preprocess, plain Axolotl", secs(plain)),
        ("axolotl preprocess, with fast-axolotl", secs(fast)),
        ("speedup (plain / fast-axolotl)", f"{speedup:.2f}x" if speedup else "n/a"),
        ("prepared data identical", "n/a" if cmp is None else ("yes" if cmp.identical else "NO")),
        (
            "saved .arrow files byte-identical",
            "n/a"
            if cmp is None
            else f"{'yes' if cmp.data_files_identical else 'NO'} ({cmp.data_files} files)",
        ),
    ]
    width = max(len(k) for k, _ in rows)
    vwidth = max(len(v) for _, v in rows)
    say("")
    say("+-" + "-" * width + "-+-" + "-" * vwidth + "-+")
    for k, v in rows:
        say(f"| {k:<{width}} | {v:>{vwidth}} |")
    say("+-" + "-" * width + "-+-" + "-" * vwidth + "-+")

    if fast is not None and fast.fast_axolotl_loaded is False:
        say(
            "note: fast-axolotl did not activate in the accelerated run (is it installed in "
            f"{sys.executable}'s environment?), so both runs used plain Axolotl."
        )
    if plain is not None and plain.fast_axolotl_loaded:
        say("note: fast-axolotl was loaded despite FAST_AXOLOTL_DISABLE=1.")
    if result.error:
        say(f"error: {result.error}")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fast-axolotl demo",
        description=(
            "Run real `axolotl preprocess` on generated data twice, with plain Axolotl "
            "and with fast-axolotl, compare the prepared datasets and the times."
        ),
    )
    parser.add_argument(
        "--rows",
        type=_positive_int,
        default=DEFAULT_ROWS,
        help=f"rows of the generated alpaca dataset (default {DEFAULT_ROWS})",
    )
    parser.add_argument(
        "--workdir",
        type=pathlib.Path,
        default=None,
        help="work directory (default: a new temporary directory)",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the temporary work directory (a --workdir is always kept)",
    )
    parser.add_argument(
        "--num-proc",
        type=_positive_int,
        default=1,
        help="Axolotl's dataset_num_proc for both runs (default 1)",
    )
    parser.add_argument(
        "--repeat",
        type=_positive_int,
        default=1,
        help="run each mode this many times, alternating, and report the "
        "best time of each (default 1)",
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help="seed of the generated dataset"
    )
    parser.add_argument(
        "--no-status", action="store_true", help="do not run `python -m fast_axolotl status`"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    temporary = args.workdir is None
    workdir = (
        pathlib.Path(tempfile.mkdtemp(prefix="fast-axolotl-demo-")) if temporary else args.workdir
    )
    result: DemoResult | None = None
    try:
        result = run_demo(
            args.rows,
            workdir,
            num_proc=args.num_proc,
            repeat=args.repeat,
            seed=args.seed,
            show_status=not args.no_status,
        )
    except KeyboardInterrupt:
        _say("interrupted")
        return 130
    finally:
        if result is not None:
            print_summary(result)
        failed = result is None or result.exit_code != 0
        if temporary and not args.keep and not failed:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            _say(f"work dir kept: {workdir}")
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())

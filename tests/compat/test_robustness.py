"""Robustness of every registry entry: shadow mode, Axolotl's errors, owned arrays, status.

``CASES`` holds, for each entry of the registry, an input on which its fast path runs and
the native kernel that path calls. With it:

- shadow mode (``FAST_AXOLOTL_VERIFY=1``) must report a deliberately wrong kernel result
  (the first call of the kernel returns a corrupted value) and report nothing with the
  real kernel, which must have run: so shadow mode compares the fast path, not Axolotl's
  function against itself;
- a call that makes Axolotl's function raise (an argument missing) raises Axolotl's
  exception, once, with no warning of ours;
- numpy arrays in a result own their memory wherever Axolotl's do.

A new registry entry fails ``test_every_registry_entry_has_a_case`` until it gets a case.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

pytestmark = pytest.mark.axolotl

np = pytest.importorskip("numpy")
datasets = pytest.importorskip("datasets")
torch = pytest.importorskip("torch")
from axolotl.utils.dict import DictDefault  # noqa: E402
from datasets.formatting import PythonFormatter  # noqa: E402
from datasets.formatting.formatting import LazyBatch  # noqa: E402

from fast_axolotl import _native, registry  # noqa: E402
from fast_axolotl.demo.tokenizer import bos_adding_tokenizer, no_bos_tokenizer  # noqa: E402

# Imported (and patched) now, outside shadow mode: a module first imported inside a test
# that sets FAST_AXOLOTL_VERIFY would be patched in shadow mode for the whole session.
for _module in registry.MODULES:
    try:
        importlib.import_module(_module)
    except ModuleNotFoundError:  # an older release's module this Axolotl does not have
        pass

sys.path.insert(0, os.path.dirname(__file__))  # the test bed's _tokenizers

TOKENIZER = no_bos_tokenizer()
BOS_TOKENIZER = bos_adding_tokenizer()


def resolve(target: str) -> Any:
    module, _, qualname = target.partition(":")
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = obj.__dict__[part] if isinstance(obj, type) else getattr(obj, part)
    return obj


def original_of(entry: registry.Entry) -> Callable[..., Any]:
    patched = resolve(entry.target)
    assert hasattr(patched, "__wrapped__"), f"{entry.target} is not patched"
    return patched.__wrapped__


def build_replacement(entry: registry.Entry) -> Callable[..., Any]:
    """A fresh replacement of ``entry``, built under the current environment (so shadow
    mode is on when FAST_AXOLOTL_VERIFY is set) with the kernels as currently bound."""
    module, _, name = entry.replacement.partition(":")
    factory = getattr(importlib.import_module(module), name)
    variant = next(iter(entry.fingerprints.values())) if entry.fingerprints else None
    return factory(original_of(entry), variant)


# --- inputs ------------------------------------------------------------------------------


def batch(columns: dict[str, list[Any]]) -> Any:
    """What ``Dataset.map(..., batched=True)`` hands a function: an untouched LazyBatch."""
    return LazyBatch(datasets.Dataset.from_dict(columns).data.table, PythonFormatter())


def rows(n: int = 6) -> dict[str, list[Any]]:
    ids = [list(range(3, 3 + k)) for k in (1, 5, 2, 9, 4, 7)[:n]]
    return {
        "input_ids": ids,
        "attention_mask": [[1] * len(r) for r in ids],
        "labels": [[-100] * (len(r) // 2) + r[len(r) // 2 :] for r in ids],
    }


def features() -> list[dict[str, list[int]]]:
    return [
        {"input_ids": r, "attention_mask": [1] * len(r), "labels": r}
        for r in rows()["input_ids"][:3]
    ]


def collator(name: str) -> Any:
    from axolotl.utils.collators import batching

    return getattr(batching, name)(tokenizer=TOKENIZER, padding=True, return_tensors="np")


def sampler() -> Any:
    from axolotl.utils.samplers.multipack import MultipackBatchSampler

    lengths = np.array([5, 3, 8, 2, 7, 4, 6, 1, 9, 3], dtype=np.int64)
    return MultipackBatchSampler(
        torch.utils.data.SequentialSampler(range(len(lengths))),
        lengths=lengths,
        batch_size=2,
        batch_max_len=12,
        bin_size=4,
        drop_last=True,
    )


LENGTHS = np.array([5, 3, 8, 2, 7, 4, 6, 1, 9, 3], dtype=np.int64)


def bump_first(values: Any) -> Any:
    values = values.copy()
    values[0] += 1
    return values


def corrupt_bins(bins: Any) -> Any:
    return [*bins, [0]]


def corrupt_pad(arrays: Any) -> Any:
    arrays[0].flat[0] += 1  # the output buffer the collator returns
    return arrays


@dataclass
class Case:
    args: Callable[[], tuple[Any, ...]]  # fresh positional arguments for each call
    kernel: str  # the _native function the fast path calls
    corrupt: Callable[[Any], Any]  # a wrong result made from the right one
    kwargs: Callable[[], dict[str, Any]] = dict


CASES: dict[str, Case] = {
    "axolotl.utils.samplers.utils:get_dataset_lengths": Case(
        lambda: (datasets.Dataset.from_dict(rows()),), "list_lengths", bump_first
    ),
    "axolotl.utils.collators.batching:DataCollatorForSeq2Seq.__call__": Case(
        lambda: (collator("DataCollatorForSeq2Seq"), features()), "pad_batch", corrupt_pad
    ),
    "axolotl.utils.collators.batching:BatchSamplerDataCollatorForSeq2Seq.__call__": Case(
        lambda: (collator("BatchSamplerDataCollatorForSeq2Seq"), [features()[:2], features()[2:]]),
        "pad_batch",
        corrupt_pad,
    ),
    "axolotl.utils.collators.batching:V2BatchSamplerDataCollatorForSeq2Seq.__call__": Case(
        lambda: (
            collator("V2BatchSamplerDataCollatorForSeq2Seq"),
            [features()[:2], features()[2:]],
        ),
        "pad_batch",
        corrupt_pad,
    ),
    "axolotl.utils.collators.batching:PretrainingBatchSamplerDataCollatorForSeq2Seq.__call__": (
        Case(
            lambda: (
                collator("PretrainingBatchSamplerDataCollatorForSeq2Seq"),
                {k: [f[k] for f in features()] for k in features()[0]},  # one packed row
            ),
            "pad_batch",
            corrupt_pad,
        )
    ),
    "axolotl.utils.samplers.multipack:ffd_check": Case(
        lambda: (LENGTHS.copy(), 12, 5), "ffd_fits", lambda fits: not fits
    ),
    "axolotl.utils.samplers.multipack:pack_group": Case(
        lambda: (LENGTHS.copy(), 0, 12, 10, 4), "pack_first_fit", corrupt_bins
    ),
    "axolotl.utils.samplers.multipack:_process_group": Case(
        lambda: ((LENGTHS.copy(), 0, 12, 10, 4, True),), "pack_first_fit", corrupt_bins
    ),
    "axolotl.utils.samplers.multipack:pack_parallel": Case(
        lambda: (LENGTHS.copy(), 12, 4, 4), "pack_first_fit_groups", corrupt_bins
    ),
    "axolotl.utils.samplers.multipack:allocate_sequentially": Case(
        lambda: (LENGTHS.copy(), 0, 12, 1),
        "pack_next_fit",
        lambda r: (r[0], r[1] + 1, r[2]),
    ),
    "axolotl.utils.samplers.multipack:MultipackBatchSampler.generate_batches": Case(
        lambda: (sampler(), True), "multipack_batches", lambda r: (r[0][1:], *r[1:])
    ),
    "axolotl.utils.data.streaming:encode_streaming": Case(
        lambda: ({"text": ["the a packing of rows", "fast axolotl tokens"]}, BOS_TOKENIZER, 16),
        "pack_token_stream",
        lambda r: (r[0], [[7, *row[1:]] for row in r[1]], r[2]),
    ),
    "axolotl.utils.data.utils:deduplicate_and_log_datasets": Case(
        lambda: (datasets.Dataset.from_dict({"x": [1, 1, 2, 3]}), None),
        "unique_rows",
        lambda keep: [k[:-1] for k in keep],
    ),
    "axolotl.utils.data.utils:_deduplicate_dataset": Case(
        lambda: (datasets.Dataset.from_dict({"x": [1, 1, 2, 3]}), {"not a digest"}),
        "first_row_sha256",
        lambda found: (found[0][:-1], found[1][:-1]),
    ),
    "axolotl.utils.trainer:filter_sequences_by_length": Case(
        lambda: (batch(rows()), 6), "length_range_mask", lambda r: (~r[0], r[1])
    ),
    "axolotl.utils.data.utils:keep_min_len": Case(
        lambda: (batch(rows()), 3), "length_range_mask", lambda r: (~r[0], r[1])
    ),
    "axolotl.utils.trainer:add_position_ids": Case(
        lambda: (batch(rows()),), "list_lengths", bump_first
    ),
    "axolotl.utils.data.utils:truncate_long_seq": Case(
        lambda: (batch(rows()), 4), "truncate_rows", lambda r: (r[0], r[1] + 1)
    ),
    "axolotl.utils.trainer:process_datasets_for_packing": Case(
        lambda: (
            DictDefault({"sample_packing": True}),
            datasets.Dataset.from_dict(rows()),
            None,
        ),
        "trainable_mask",
        lambda mask: np.concatenate([~mask[:1], mask[1:]]),
    ),
    "axolotl.utils.trainer:process_pretraining_datasets_for_packing": Case(
        lambda: (datasets.Dataset.from_dict(rows()), 6),
        "length_range_mask",
        lambda r: (~r[0], r[1]),
    ),
    "axolotl.utils.data.utils:handle_long_seq_in_dataset": Case(
        lambda: (
            datasets.Dataset.from_dict(rows()),
            4,
            DictDefault({"excess_length_strategy": "truncate"}),
        ),
        "truncate_rows",
        lambda r: (r[0], r[1] + 1),
    ),
}


def instruct_holder() -> Any:
    """A TokenizedPromptDataset as ``process`` sees it (its __init__ would run process)."""
    from axolotl.datasets import TokenizedPromptDataset
    from axolotl.prompt_tokenizers import AlpacaPromptTokenizingStrategy
    from axolotl.prompters import AlpacaPrompter

    holder = TokenizedPromptDataset.__new__(TokenizedPromptDataset)
    holder.prompt_tokenizer = AlpacaPromptTokenizingStrategy(
        AlpacaPrompter("instruct"), BOS_TOKENIZER, False, 64
    )
    holder.process_count = None
    holder.keep_in_memory = False
    return holder


def alpaca_rows() -> Any:
    return datasets.Dataset.from_dict(
        {
            "instruction": ["the a packing", "fast axolotl tokens"],
            "input": ["", "of rows"],
            "output": ["streaming data", "eos pad buffers"],
        }
    )


def chat_strategy() -> Any:
    from _tokenizers import byte_level_bos_tokenizer
    from axolotl.prompt_strategies import chat_template

    cfg = DictDefault({"chat_template": "chatml", "sequence_len": 256, "train_on_inputs": False})
    return chat_template.load(byte_level_bos_tokenizer(), cfg, {"chat_template": "chatml"})


def conversations() -> dict[str, list[Any]]:
    turns = [
        {"role": "user", "content": "hello world"},
        {"role": "assistant", "content": "the assistant answers"},
    ]
    return {"messages": [turns, [*turns[:1], {"role": "assistant", "content": "thanks"}]]}


def corrupt_chat_labels(rows: Any) -> Any:
    labels, warnings = rows[0]
    return [([*labels[:-1], labels[-1] + 1], warnings), *rows[1:]]


CASES.update(
    {
        "axolotl.datasets:TokenizedPromptDataset.process": Case(
            lambda: (instruct_holder(), alpaca_rows()),
            "instruct_columns",
            lambda r: (r[0], r[1], r[2], bump_first(r[3])),
        ),
        "axolotl.prompt_strategies.chat_template:ChatTemplateStrategy.tokenize_prompt": Case(
            lambda: (chat_strategy(), conversations()),
            "chat_template_labels",
            corrupt_chat_labels,
        ),
    }
)

ENTRIES = {e.target: e for e in registry.ENTRIES}

#: Entries shadow mode does not cover, and why (docs/compatibility.md says the same).
NOT_SHADOWED = {
    # Running both would write the prepared directory twice; its bytes are proven equal
    # by tests/compat/test_save_differential.py instead.
    "axolotl.utils.data.shared:save_preprocessed_dataset",
}


def _present(target: str) -> bool:
    """The entry's symbol exists in the installed Axolotl (older releases' entries don't)."""
    try:
        resolve(target)
    except (ImportError, AttributeError, KeyError):
        return False
    return True


def test_every_registry_entry_has_a_case():
    expected = [t for t in ENTRIES if _present(t) and t not in NOT_SHADOWED]
    assert sorted(CASES) == sorted(expected)


@pytest.fixture(autouse=True)
def _fresh_nested_filter(monkeypatch):
    # process_datasets_for_packing builds its nested filter's replacement on first use:
    # one built under shadow mode must not outlive the test.
    from fast_axolotl.patches import trainer

    monkeypatch.setattr(trainer, "_drop_impl", [])


def spy_kernel(monkeypatch, name: str, corrupt: Callable[[Any], Any] | None) -> list[int]:
    """Counts the calls of ``_native.<name>``; the first returns ``corrupt(result)``."""
    real = getattr(_native, name)
    calls: list[int] = []

    def spy(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        calls.append(1)
        if corrupt is not None and len(calls) == 1:
            return corrupt(result)
        return result

    monkeypatch.setattr(_native, name, spy)
    return calls


def verify_errors(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "fast_axolotl" and "VERIFY" in r.getMessage()
    ]


def typed(value: Any) -> Any:
    """A comparable picture of a result: types, dtypes and values, datasets as tables."""
    if isinstance(value, datasets.Dataset):
        return ("Dataset", value.features, value.with_format("arrow")[:].to_pydict())
    if isinstance(value, np.ndarray):
        return ("ndarray", value.dtype.str, value.tolist())
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [typed(v) for v in value])
    if isinstance(value, dict) or hasattr(value, "keys"):
        return (type(value).__name__, [(k, typed(value[k])) for k in value.keys()])
    if isinstance(value, set):
        return ("set", sorted(value))
    return (type(value).__name__, value)


@pytest.mark.parametrize("target", sorted(CASES))
def test_shadow_mode_reports_a_wrong_kernel_result(target, monkeypatch, caplog):
    case, entry = CASES[target], ENTRIES[target]
    expected = typed(original_of(entry)(*case.args(), **case.kwargs()))
    monkeypatch.setenv("FAST_AXOLOTL_VERIFY", "1")
    calls = spy_kernel(monkeypatch, case.kernel, case.corrupt)
    patched = build_replacement(entry)
    with caplog.at_level(logging.ERROR, logger="fast_axolotl"):
        got = patched(*case.args(), **case.kwargs())
    assert calls, f"the fast path of {target} did not call {case.kernel} in shadow mode"
    errors = verify_errors(caplog)
    assert errors, f"shadow mode did not report the corrupted {case.kernel} of {target}"
    assert any(entry.qualname in e for e in errors), errors
    assert typed(got) == expected, "shadow mode must return Axolotl's result"


@pytest.mark.parametrize("target", sorted(CASES))
def test_shadow_mode_runs_the_fast_path_and_finds_no_difference(target, monkeypatch, caplog):
    case, entry = CASES[target], ENTRIES[target]
    monkeypatch.setenv("FAST_AXOLOTL_VERIFY", "1")
    calls = spy_kernel(monkeypatch, case.kernel, None)
    patched = build_replacement(entry)
    with caplog.at_level(logging.ERROR, logger="fast_axolotl"):
        patched(*case.args(), **case.kwargs())
    assert calls, f"the fast path of {target} did not call {case.kernel} in shadow mode"
    assert verify_errors(caplog) == []


@pytest.mark.parametrize("target", sorted(CASES))
def test_fast_path_takes_the_case_without_shadow_mode(target, monkeypatch, caplog):
    # The cases exercise the fast paths themselves (not a deferral) in normal mode too.
    case, entry = CASES[target], ENTRIES[target]
    monkeypatch.delenv("FAST_AXOLOTL_VERIFY", raising=False)
    monkeypatch.setattr(
        "fast_axolotl.patches._batches.SMALL_BATCH_BYTES",
        dict.fromkeys(("length", "labels", "position_ids", "truncate"), 0),
    )
    calls = spy_kernel(monkeypatch, case.kernel, None)
    patched = build_replacement(entry)
    expected = typed(original_of(entry)(*case.args(), **case.kwargs()))
    calls.clear()
    with caplog.at_level(logging.WARNING, logger="fast_axolotl"):
        got = typed(patched(*case.args(), **case.kwargs()))
    assert calls
    assert not [r for r in caplog.records if r.name == "fast_axolotl"]
    if target.endswith(("add_position_ids", "truncate_long_seq")):
        return  # numpy rows where Axolotl has lists: datasets writes the same columns
    if "collators" in target:
        return  # a BatchEncoding of arrays: compared by the collator differential tests
    assert got == expected


# --- Axolotl's own errors ----------------------------------------------------------------


def outcome(func: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, ...]:
    try:
        func(*args, **kwargs)
    except Exception as exc:
        return (type(exc), str(exc))
    return ("returned",)


@pytest.mark.parametrize("target", sorted(CASES))
def test_a_missing_argument_raises_axolotls_error_once_without_a_warning(
    target, monkeypatch, caplog
):
    case, entry = CASES[target], ENTRIES[target]
    monkeypatch.delenv("FAST_AXOLOTL_VERIFY", raising=False)
    original = original_of(entry)
    required = [
        p
        for p in inspect.signature(original).parameters.values()
        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    args = case.args()[: len(required) - 1]
    expected = outcome(original, *args)
    assert expected[0] is TypeError
    with caplog.at_level(logging.WARNING, logger="fast_axolotl"):
        got = outcome(build_replacement(entry), *args)
        got_installed = outcome(resolve(entry.target), *case.args()[: len(required) - 1])
    assert got == expected == got_installed
    assert not [r for r in caplog.records if r.name == "fast_axolotl"]


class CountingTokenizer:
    """The user's tokenizer, counting its calls; ``fail`` makes each call raise."""

    def __init__(self, tokenizer: Any, fail: Exception | None = None) -> None:
        self.tokenizer, self.fail, self.calls = tokenizer, fail, 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.fail is not None:
            raise self.fail
        return self.tokenizer(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tokenizer, name)


@pytest.mark.parametrize(
    ("examples", "tokenizer", "fail"),
    [
        ({"text": []}, BOS_TOKENIZER, None),  # Axolotl's IndexError on an empty batch
        ({"text": ["fast data"]}, BOS_TOKENIZER, RuntimeError("the user's tokenizer")),
        # Rows that tokenize to nothing: the fast path gives up after the tokenizer ran.
        ({"text": ["", "the a"]}, TOKENIZER, None),
    ],
)
def test_encode_streaming_calls_the_tokenizer_once(examples, tokenizer, fail, caplog):
    from axolotl.utils.data import streaming

    patched = streaming.encode_streaming
    theirs = CountingTokenizer(tokenizer, fail)
    expected = outcome(patched.__wrapped__, examples, theirs, 8)
    assert theirs.calls == 1
    ours = CountingTokenizer(tokenizer, fail)
    with caplog.at_level(logging.WARNING, logger="fast_axolotl"):
        got = outcome(patched, examples, ours, 8)
    assert ours.calls == 1
    assert got == expected
    assert not [r for r in caplog.records if r.name == "fast_axolotl"]


def test_encode_streaming_replay_returns_axolotls_result():
    from axolotl.utils.data import streaming

    examples = {"text": ["", "the a", "packing"]}
    ours = CountingTokenizer(TOKENIZER)
    got = streaming.encode_streaming(examples, ours, 8)
    assert ours.calls == 1
    assert typed(got) == typed(streaming.encode_streaming.__wrapped__(examples, TOKENIZER, 8))


def test_pack_group_with_a_missing_argument_raises_numbas_error_without_a_warning(caplog):
    from axolotl.utils.samplers import multipack

    with caplog.at_level(logging.WARNING, logger="fast_axolotl"):
        got = outcome(multipack.pack_group, LENGTHS, 0, 12, 10)
    assert got == outcome(multipack.pack_group.__wrapped__, LENGTHS, 0, 12, 10)
    assert got[0] is TypeError
    assert not caplog.records


def test_handle_long_seq_with_a_dict_cfg_raises_axolotls_error_without_a_warning(caplog):
    from axolotl.utils.data import utils

    ds = datasets.Dataset.from_dict(rows())
    cfg = {"excess_length_strategy": "truncate"}
    with caplog.at_level(logging.INFO):
        got = outcome(utils.handle_long_seq_in_dataset, ds, 4, cfg)
    ours = [r.getMessage() for r in caplog.records]
    caplog.clear()
    with caplog.at_level(logging.INFO):
        expected = outcome(utils.handle_long_seq_in_dataset.__wrapped__, ds, 4, cfg)
    assert got == expected and got[0] is AttributeError
    assert ours == [r.getMessage() for r in caplog.records]  # Axolotl's log lines, once


def test_an_error_of_the_fast_path_on_valid_input_is_still_reported(monkeypatch, caplog):
    from fast_axolotl.patches import _common

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug of ours")

    monkeypatch.setattr(_native, "list_lengths", broken)
    monkeypatch.setattr(_common, "_reported", set())
    entry = ENTRIES["axolotl.utils.samplers.utils:get_dataset_lengths"]
    ds = datasets.Dataset.from_dict(rows())
    with caplog.at_level(logging.WARNING, logger="fast_axolotl"):
        got = build_replacement(entry)(ds)
    assert got.tolist() == [len(r) for r in rows()["input_ids"]]
    assert any("a bug of ours" in r.getMessage() for r in caplog.records)


# --- arrays that own their memory --------------------------------------------------------


def arrays(value: Any) -> list[Any]:
    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, (list, tuple)):
        return [a for v in value for a in arrays(v)]
    if isinstance(value, dict) or (hasattr(value, "keys") and hasattr(value, "__getitem__")):
        return [a for k in value.keys() for a in arrays(value[k])]
    return []


@pytest.mark.parametrize("target", sorted(CASES))
def test_numpy_arrays_returned_own_their_memory_where_axolotls_do(target, monkeypatch):
    case, entry = CASES[target], ENTRIES[target]
    monkeypatch.delenv("FAST_AXOLOTL_VERIFY", raising=False)
    theirs = arrays(original_of(entry)(*case.args(), **case.kwargs()))
    ours = arrays(build_replacement(entry)(*case.args(), **case.kwargs()))
    owned = [a.flags.owndata for a in theirs]
    assert [a.flags.owndata for a in ours][: len(owned)] == owned or not any(owned)
    for mine, their in zip(ours, theirs, strict=False):
        if their.flags.owndata:
            mine.resize(mine.size + 1, refcheck=False)
            their.resize(their.size + 1, refcheck=False)


@pytest.mark.parametrize("column", ["input_ids", "position_ids", "length"])
def test_get_dataset_lengths_result_resizes_like_axolotls(column):
    from axolotl.utils.samplers import utils

    data = rows()
    if column == "position_ids":
        data["position_ids"] = [list(range(len(r))) for r in data["input_ids"]]
    if column == "length":
        data["length"] = [len(r) for r in data["input_ids"]]
    ds = datasets.Dataset.from_dict(data)
    ours = utils.get_dataset_lengths(ds)
    ours.resize(4)  # no other reference: numpy's refcheck passes, as on Axolotl's result
    theirs = utils.get_dataset_lengths.__wrapped__(ds)
    theirs.resize(4)
    assert ours.tolist() == theirs.tolist() == [1, 5, 2, 9]


# --- status ------------------------------------------------------------------------------


def test_status_prints_no_warning_of_axolotls_dependencies():
    env = {k: v for k, v in os.environ.items() if k != "TRL_EXPERIMENTAL_SILENCE"}
    run = subprocess.run(
        [sys.executable, "-m", "fast_axolotl", "status"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "trl.experimental" not in run.stdout + run.stderr
    assert "warning" not in run.stdout.lower()
    assert "patched" in run.stdout


SHADOW_MAP_SCRIPT = """
import functools, logging, sys
logging.basicConfig(level=logging.ERROR, stream=sys.stdout)
import datasets
from fast_axolotl import _native
calls = []
for name in ("length_range_mask", "list_lengths", "truncate_rows"):
    real = getattr(_native, name)
    def spy(*a, _real=real, _name=name, **k):
        calls.append(_name)
        return _real(*a, **k)
    setattr(_native, name, spy)
from axolotl.utils import trainer
from axolotl.utils.data import utils
rows = [list(range(1 + i % 40)) for i in range(3000)]
ds = datasets.Dataset.from_dict({"input_ids": rows, "labels": rows})
kept = ds.filter(functools.partial(trainer.filter_sequences_by_length, sequence_len=30),
                 batched=True)
mapped = ds.map(trainer.add_position_ids, batched=True)
cut = ds.map(functools.partial(utils.truncate_long_seq, sequence_len=16), batched=True)
print("ROWS", len(kept), sum(mapped["length"]), max(len(r) for r in cut["input_ids"]))
print("CALLS", sorted(set(calls)), len(calls))
"""


def test_shadow_mode_runs_the_kernels_inside_datasets_filter_and_map():
    env = dict(os.environ, FAST_AXOLOTL_VERIFY="1", HF_DATASETS_DISABLE_PROGRESS_BARS="1")
    run = subprocess.run(
        [sys.executable, "-c", SHADOW_MAP_SCRIPT],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "VERIFY" not in run.stdout + run.stderr
    lines = dict(line.split(" ", 1) for line in run.stdout.splitlines() if " " in line)
    expected_rows = sum(2 <= 1 + i % 40 <= 30 for i in range(3000))
    length_sum = sum(1 + i % 40 for i in range(3000))
    assert lines["ROWS"] == f"{expected_rows} {length_sum} 16"
    kernels, count = lines["CALLS"].rsplit(" ", 1)
    assert kernels == "['length_range_mask', 'list_lengths', 'truncate_rows']"
    assert int(count) >= 9  # three batches of 1000 rows for each of the three maps

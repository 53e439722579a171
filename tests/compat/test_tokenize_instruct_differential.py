"""Batched tokenization of Axolotl's instruction strategies against Axolotl's own path.

Hypothesis builds rows (empty, whitespace-only, non-ASCII, special-token and long texts,
nulls) for every instruction strategy family and prompt style, with a tokenizer whose
post-processor adds BOS and one that adds nothing; the patched
``TokenizedPromptDataset.process`` and Axolotl's original (``__wrapped__``) run on the same
dataset. The mapped datasets must agree on rows, order, columns, features, Arrow schema
(metadata included), record-batch layout and fingerprint; the log records of
``axolotl.*`` loggers must agree (message, caller function, line); exceptions must agree on
type and message, and the tokenizer must have been called the same number of times when
it raises.
"""

from __future__ import annotations

import contextlib
import logging
from unittest import mock

import pytest

pytestmark = [pytest.mark.axolotl]

datasets = pytest.importorskip("datasets")
pa = pytest.importorskip("pyarrow")

import axolotl.prompt_strategies.alpaca_chat as alpaca_chat  # noqa: E402
import axolotl.prompt_strategies.alpaca_w_system as alpaca_w_system  # noqa: E402
import axolotl.prompt_tokenizers as pt  # noqa: E402
import axolotl.prompters as prompters  # noqa: E402
from _dataset_identity import assert_same_dataset  # noqa: E402
from _tokenizers import TOKENIZERS, install_skewed_native_tokenizer  # noqa: E402
from axolotl.datasets import TokenizedPromptDataset  # noqa: E402
from axolotl.utils.dict import DictDefault  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from fast_axolotl.patches import _native_encoding as native_encoding  # noqa: E402
from fast_axolotl.patches import tokenize_instruct  # noqa: E402

STYLES = ["instruct", "chat", "chatml", "phi"]


def _cfg(train, seq):
    return DictDefault({"train_on_inputs": train, "sequence_len": seq})


# name -> (columns the rows need, builder(tokenizer, train_on_inputs, sequence_len, style))
STRATEGIES = {
    "alpaca": (
        ("instruction", "input", "output"),
        lambda t, tr, sq, sty: pt.AlpacaPromptTokenizingStrategy(
            prompters.AlpacaPrompter(sty), t, tr, sq
        ),
    ),
    "alpaca_no_input_column": (
        ("instruction", "output"),
        lambda t, tr, sq, sty: pt.AlpacaPromptTokenizingStrategy(
            prompters.AlpacaPrompter(sty), t, tr, sq
        ),
    ),
    "alpaca_unprompted": (
        ("instruction", "input", "output"),
        lambda t, tr, sq, sty: pt.AlpacaPromptTokenizingStrategy(
            prompters.UnpromptedPrompter(sty), t, tr, sq
        ),
    ),
    "alpaca_no_system_prompter": (
        ("instruction", "input", "output"),
        lambda t, tr, sq, sty: pt.AlpacaPromptTokenizingStrategy(
            alpaca_chat.NoSystemPrompter(), t, tr, sq
        ),
    ),
    "alpaca_chat": (
        ("instruction", "input", "output"),
        lambda t, tr, sq, sty: alpaca_chat.load(t, _cfg(tr, sq)),
    ),
    "alpaca_chat_concise": (
        ("instruction", "input", "output"),
        lambda t, tr, sq, sty: alpaca_chat.load_concise(t, _cfg(tr, sq)),
    ),
    "alpaca_chat_qa": (
        ("question", "answer"),
        lambda t, tr, sq, sty: alpaca_chat.load_qa(t, _cfg(tr, sq)),
    ),
    "alpaca_chat_camel_ai": (
        ("message_1", "message_2"),
        lambda t, tr, sq, sty: alpaca_chat.load_camel_ai(t, _cfg(tr, sq)),
    ),
    "alpaca_w_system_instruct": (
        ("instruction", "input", "output", "system"),
        lambda t, tr, sq, sty: alpaca_w_system.load_instruct(t, _cfg(tr, sq)),
    ),
    "alpaca_w_system_chat": (
        ("instruction", "input", "output", "system"),
        lambda t, tr, sq, sty: alpaca_w_system.load_chat(t, _cfg(tr, sq)),
    ),
    "open_orca": (
        ("question", "response", "system_prompt"),
        lambda t, tr, sq, sty: alpaca_w_system.load_open_orca(t, _cfg(tr, sq)),
    ),
    "open_orca_chatml": (
        ("question", "response", "system_prompt"),
        lambda t, tr, sq, sty: alpaca_w_system.load_open_orca_chatml(t, _cfg(tr, sq)),
    ),
    "jeopardy": (
        ("question", "category", "answer"),
        lambda t, tr, sq, sty: pt.JeopardyPromptTokenizingStrategy(
            prompters.JeopardyPrompter(sty), t, tr, sq
        ),
    ),
    "oasst": (
        ("INSTRUCTION", "RESPONSE"),
        lambda t, tr, sq, sty: pt.OpenAssistantPromptTokenizingStrategy(
            prompters.AlpacaPrompter(sty), t, tr, sq
        ),
    ),
    "gpteacher": (
        ("instruction", "input", "response"),
        lambda t, tr, sq, sty: pt.GPTeacherPromptTokenizingStrategy(
            prompters.GPTeacherPrompter(sty), t, tr, sq
        ),
    ),
    "summarizetldr": (
        ("article", "summary"),
        lambda t, tr, sq, sty: pt.SummarizeTLDRPromptTokenizingStrategy(
            prompters.SummarizeTLDRPrompter(sty), t, tr, sq
        ),
    ),
    "nomic": (
        ("prompt", "response"),
        lambda t, tr, sq, sty: pt.NomicGPT4AllPromptTokenizingStrategy(
            prompters.NomicGPT4AllPrompter(sty), t, tr, sq
        ),
    ),
    "explainchoice": (
        ("question", "choices", "solution"),
        lambda t, tr, sq, sty: pt.AlpacaMultipleChoicePromptTokenizingStrategy(
            prompters.MultipleChoiceExplainPrompter(sty), t, tr, sq
        ),
    ),
    "concisechoice": (
        ("question", "choices", "explanation"),
        lambda t, tr, sq, sty: pt.AlpacaMultipleChoicePromptTokenizingStrategy(
            prompters.MultipleChoiceConcisePrompter(sty), t, tr, sq
        ),
    ),
}

_PIECES = st.sampled_from(
    [
        " ",
        "  ",
        "\n",
        "\t",
        "a",
        "the",
        "quick",
        "fox",
        "Über",
        "日本語",
        "🙂",
        "<s>",
        "</s>",
        "<pad>",
        "### Response:",
        "ASSISTANT:",
        ".",
        "0123",
        "é",
        "\u00a0",
    ]
)
TEXT = st.one_of(
    st.just(""),
    st.lists(_PIECES, max_size=12).map("".join),
    st.text(max_size=30),
    st.lists(_PIECES, min_size=20, max_size=60).map("".join),  # long: truncated
)
MAYBE_NULL_TEXT = st.one_of(TEXT, st.none())


@st.composite
def datasets_for(draw, columns, rows=None):
    n = rows if rows is not None else draw(st.integers(1, 12))
    data = {}
    for col in columns:
        if col == "choices":
            data[col] = [draw(st.lists(TEXT, max_size=3)) for _ in range(n)]
        else:
            text = MAYBE_NULL_TEXT if draw(st.integers(0, 4)) == 0 else TEXT
            data[col] = [draw(text) for _ in range(n)]
    features = datasets.Features(
        {
            c: datasets.List(datasets.Value("string"))
            if c == "choices"
            else datasets.Value("string")
            for c in columns
        }
    )
    return datasets.Dataset.from_dict(data, features=features)


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)

    def seen(self, prefix):
        return [
            (r.name, r.levelname, r.funcName, r.lineno, r.pathname, r.getMessage())
            for r in self.records
            if r.name.startswith(prefix)
        ]


def _holder(strategy, num_proc=None, keep_in_memory=False):
    obj = TokenizedPromptDataset.__new__(TokenizedPromptDataset)
    obj.prompt_tokenizer = strategy
    obj.process_count = num_proc
    obj.keep_in_memory = keep_in_memory
    return obj


def _warning_once_cache_clear():
    # Axolotl's warning_once is an lru_cache on the adapter: each run must start fresh.
    type(pt.LOG).warning_once.cache_clear()


def _run(process, strategy, ds, num_proc=None):
    handler = _Records()
    loggers = [logging.getLogger("axolotl"), logging.getLogger("fast_axolotl")]
    for lg in loggers:
        lg.addHandler(handler)
    _warning_once_cache_clear()
    try:
        out = process(_holder(strategy, num_proc), ds)
        return ("ok", out), handler
    except Exception as exc:
        return ("raised", exc), handler
    finally:
        for lg in loggers:
            lg.removeHandler(handler)


def _patched():
    process = TokenizedPromptDataset.process
    assert hasattr(process, "__wrapped__"), "process is not patched: is fast-axolotl installed?"
    return process


def _assert_same(expected, got):
    (kind_e, e), (kind_g, g) = expected, got
    assert kind_g == kind_e, (e, g)
    if kind_e == "raised":
        assert type(g) is type(e) and str(g) == str(e)
        return
    assert_same_dataset(g, e)


@pytest.fixture(autouse=True)
def _every_size(monkeypatch):
    monkeypatch.setattr(tokenize_instruct, "MIN_ROWS", 0)
    # The tokenizer loaded into the extension from the first row on (see NativeEncoding);
    # the hypothesis test draws which of the two encoders runs.
    monkeypatch.setattr(native_encoding, "NATIVE_MIN_ROWS", 0)
    monkeypatch.setattr(native_encoding, "NATIVE_ROWS_PER_VOCAB", 0)


#: Whether the installed ``tokenizers`` is the release the extension's encoder is built from.
NATIVE_AVAILABLE = native_encoding.tokenizers_version() == getattr(
    tokenize_instruct._native, "TOKENIZERS_VERSION", None
)


@contextlib.contextmanager
def _native_used():
    """Records, per batch with text to encode, whether the extension's encodings were used."""
    used: list[bool] = []
    real = native_encoding.NativeEncoding.encode

    def encode(self, tok, texts, max_length):
        out = real(self, tok, texts, max_length)
        used.append(out is not None)
        return out

    with mock.patch.object(native_encoding.NativeEncoding, "encode", encode):
        yield used


def test_process_is_patched_and_guard_accepts_the_reproduced_bodies():
    _patched()
    strategies, prompter_classes = tokenize_instruct._known()
    assert pt.AlpacaPromptTokenizingStrategy in strategies
    assert prompters.AlpacaPrompter in prompter_classes


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_rows_features_fingerprint_logs_and_errors_match_axolotl(data):
    name = data.draw(st.sampled_from(sorted(STRATEGIES)), label="strategy")
    columns, build = STRATEGIES[name]
    tok_name = data.draw(st.sampled_from(sorted(TOKENIZERS)), label="tokenizer")
    train = data.draw(st.sampled_from([True, False, None]), label="train_on_inputs")
    seq = data.draw(st.sampled_from([1, 2, 5, 16, 64, 2048]), label="sequence_len")
    style = data.draw(st.sampled_from(STYLES), label="prompt_style")
    ds = data.draw(datasets_for(columns), label="dataset")
    native = data.draw(st.booleans(), label="native encoder")
    strategy = build(TOKENIZERS[tok_name](), train, seq, style)
    process = _patched()
    expected, log_e = _run(process.__wrapped__, strategy, ds)
    with (
        mock.patch.object(
            tokenize_instruct, "tokenize_batch", wraps=tokenize_instruct.tokenize_batch
        ) as spy,
        mock.patch.object(native_encoding, "NATIVE_MIN_ROWS", 0 if native else 10**12),
        _native_used() as used,
    ):
        got, log_g = _run(process, strategy, ds)
    # Every batch with text to encode used the extension's encodings, or none did.
    assert used == [native and NATIVE_AVAILABLE] * len(used)
    _assert_same(expected, got)
    assert log_g.seen("axolotl") == log_e.seen("axolotl")
    assert log_g.seen("fast_axolotl") == []
    # Every generated column is a string column: the fast path, not a deferral, ran.
    assert spy.call_count == 1


def _count_batches(monkeypatch):
    calls = []
    real = tokenize_instruct.tokenize_batch

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(tokenize_instruct, "tokenize_batch", counting)
    return calls


@pytest.mark.parametrize("tok_name", sorted(TOKENIZERS))
def test_multi_batch_dataset_takes_fast_path_and_matches(tok_name, monkeypatch):
    calls = _count_batches(monkeypatch)
    ds = datasets.Dataset.from_dict(
        {
            "instruction": [f"task {i} Über" * (i % 7) for i in range(2500)],
            "input": ["" if i % 3 else f"ctx {i}" for i in range(2500)],
            "output": [("answer " * (i % 40)) if i % 11 else "" for i in range(2500)],
        }
    )
    strategy = STRATEGIES["alpaca"][1](TOKENIZERS[tok_name](), False, 48, "instruct")
    process = _patched()
    expected, _ = _run(process.__wrapped__, strategy, ds)
    with _native_used() as used:
        got, _ = _run(process, strategy, ds)
    _assert_same(expected, got)
    assert len(calls) == 3
    assert used == [NATIVE_AVAILABLE] * 3


@pytest.mark.parametrize("train", [True, False])
def test_num_proc_2_matches_axolotl(train):
    ds = datasets.Dataset.from_dict(
        {
            "instruction": [f"q{i} 日本語" for i in range(1200)],
            "input": ["", " x"] * 600,
            "output": [f"a{i} " * (i % 9) for i in range(1200)],
        }
    )
    strategy = STRATEGIES["alpaca"][1](TOKENIZERS["bos"](), train, 24, "chat")
    process = _patched()
    expected, _ = _run(process.__wrapped__, strategy, ds, num_proc=2)
    got, _ = _run(process, strategy, ds, num_proc=2)
    _assert_same(expected, got)


def test_whole_tokenized_prompt_dataset_has_axolotl_fingerprint_and_data(monkeypatch):
    ds = datasets.Dataset.from_dict(
        {"instruction": ["a", "b c", ""], "input": ["", "x", " "], "output": ["o", "", "p q"]}
    )
    strategy = STRATEGIES["alpaca"][1](TOKENIZERS["plain"](), False, 16, "instruct")
    got = TokenizedPromptDataset(strategy, ds, process_count=None, keep_in_memory=False)
    monkeypatch.setattr(
        TokenizedPromptDataset, "process", TokenizedPromptDataset.process.__wrapped__
    )
    expected = TokenizedPromptDataset(strategy, ds, process_count=None, keep_in_memory=False)
    _assert_same(("ok", expected), ("ok", got))


def test_empty_prompt_encoding_with_train_on_inputs_raises_axolotls_key_error():
    ds = datasets.Dataset.from_dict(
        {"instruction": ["a", " "], "input": ["", ""], "output": ["b", "c"]}
    )
    strategy = STRATEGIES["alpaca_no_system_prompter"][1](
        TOKENIZERS["plain"](), True, 16, "instruct"
    )
    process = _patched()
    expected, log_e = _run(process.__wrapped__, strategy, ds)
    got, log_g = _run(process, strategy, ds)
    assert expected[0] == "raised" and isinstance(expected[1], KeyError)
    _assert_same(expected, got)
    assert log_g.seen("axolotl") == log_e.seen("axolotl")


def test_parse_error_on_a_row_raises_axolotls_error_after_the_rows_before_it():
    ds = datasets.Dataset.from_dict(
        {"question": ["q", "r"], "category": ["c", "d"], "answer": ["  ", None]}
    )
    strategy = STRATEGIES["jeopardy"][1](TOKENIZERS["plain"](), False, 16, "instruct")
    process = _patched()
    expected, log_e = _run(process.__wrapped__, strategy, ds)
    got, log_g = _run(process, strategy, ds)
    assert expected[0] == "raised" and isinstance(expected[1], TypeError)
    _assert_same(expected, got)
    assert log_g.seen("axolotl") == log_e.seen("axolotl")


class _RaisingBackend:
    """Delegates to a real ``tokenizers.Tokenizer`` but fails in ``encode_batch``."""

    def __init__(self, real):
        object.__setattr__(self, "_real", real)
        object.__setattr__(self, "calls", 0)

    def __getattr__(self, name):
        return getattr(self._real, name)

    def __setattr__(self, name, value):
        setattr(self._real, name, value)

    def encode_batch(self, *args, **kwargs):
        object.__setattr__(self, "calls", self.calls + 1)
        raise ValueError("tokenizer exploded")


def test_a_raising_tokenizer_raises_once_unchanged_without_our_warning():
    import copy

    ds = datasets.Dataset.from_dict(
        {"instruction": ["a", "b"], "input": ["", ""], "output": ["c", "d"]}
    )
    outcomes = []
    for use_original in (True, False):
        tok = copy.deepcopy(TOKENIZERS["bos"]())
        backend = _RaisingBackend(tok._tokenizer)
        tok._tokenizer = backend
        strategy = STRATEGIES["alpaca"][1](tok, False, 16, "instruct")
        process = _patched()
        outcome, log = _run(process.__wrapped__ if use_original else process, strategy, ds)
        outcomes.append((outcome, backend.calls, log.seen("fast_axolotl")))
    (e, e_calls, _), (g, g_calls, g_log) = outcomes
    assert e[0] == g[0] == "raised"
    assert type(g[1]) is type(e[1]) and str(g[1]) == str(e[1]) == "tokenizer exploded"
    assert e_calls == g_calls == 1
    assert g_log == []


def test_strategy_subclass_takes_axolotls_path(monkeypatch):
    calls = _count_batches(monkeypatch)

    class Custom(pt.AlpacaPromptTokenizingStrategy):
        pass

    ds = datasets.Dataset.from_dict({"instruction": ["a"], "input": [""], "output": ["b"]})
    strategy = Custom(prompters.AlpacaPrompter("instruct"), TOKENIZERS["bos"](), False, 16)
    process = _patched()
    expected, _ = _run(process.__wrapped__, strategy, ds)
    got, _ = _run(process, strategy, ds)
    _assert_same(expected, got)
    assert calls == []


def test_filter_rows_takes_axolotls_path(monkeypatch):
    calls = _count_batches(monkeypatch)
    ds = datasets.Dataset.from_dict(
        {"instruction": ["a", "b"], "input": ["", ""], "output": ["b", "c"]}
    )
    strategy = STRATEGIES["alpaca"][1](TOKENIZERS["bos"](), False, 16, "instruct")
    strategy.filter_rows = lambda row: row["instruction"] == "a"
    process = _patched()
    expected, _ = _run(process.__wrapped__, strategy, ds)
    got, _ = _run(process, strategy, ds)
    _assert_same(expected, got)
    assert calls == []


def test_non_string_column_takes_axolotls_path(monkeypatch):
    calls = _count_batches(monkeypatch)
    ds = datasets.Dataset.from_dict(
        {"instruction": [1, 2], "input": ["", ""], "output": ["b", "c"]}
    )
    strategy = STRATEGIES["alpaca"][1](TOKENIZERS["bos"](), False, 16, "instruct")
    process = _patched()
    expected, _ = _run(process.__wrapped__, strategy, ds)
    got, _ = _run(process, strategy, ds)
    _assert_same(expected, got)
    assert calls == []


# --- the tokenizer loaded into the extension (NativeEncoding) ------------------------------

needs_native = pytest.mark.skipif(
    not NATIVE_AVAILABLE, reason="installed tokenizers differs from the extension's release"
)

_PIECES = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12) | (
    st.sampled_from(
        ["<s>", "</s>", "<unk>", " ", "\n", "\t", "  ", "Über", "日本語", "🙂", "### Response:"]
    )
)
_TEXT = st.lists(_PIECES, max_size=30).map("".join)


@needs_native
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    texts=st.lists(_TEXT, min_size=1, max_size=40),
    tok_name=st.sampled_from(sorted(TOKENIZERS)),
    max_length=st.sampled_from([1, 2, 3, 8, 64, 2048]),
    side=st.sampled_from(["right", "left"]),
    split_special=st.booleans(),
)
def test_native_encodings_equal_the_tokenizer_call(
    texts, tok_name, max_length, side, split_special
):
    import copy

    tok = copy.deepcopy(TOKENIZERS[tok_name]())
    tok.truncation_side = side
    tok.split_special_tokens = split_special
    expected = tok(texts, truncation=True, max_length=max_length, padding=False)
    encoding = native_encoding.NativeEncoding(rows=10**6, vocab_size=400)
    batch = encoding.encode(tok, texts, max_length)
    assert batch is not None and encoding.enabled
    assert [batch.ids(i) for i in range(len(texts))] == expected["input_ids"]
    assert [batch.mask(i) for i in range(len(texts))] == expected["attention_mask"]
    assert batch.lengths().tolist() == [len(x) for x in expected["input_ids"]]


@needs_native
def test_native_path_leaves_the_tokenizer_in_axolotls_state():
    import copy

    ds = datasets.Dataset.from_dict(
        {"instruction": ["a", "b c"], "input": ["", "x"], "output": ["o", "p q"]}
    )
    states = []
    for use_original in (True, False):
        tok = copy.deepcopy(TOKENIZERS["bos"]())
        tok.backend_tokenizer.enable_truncation(999, direction="left")
        strategy = STRATEGIES["alpaca"][1](tok, False, 16, "instruct")
        process = _patched()
        with _native_used() as used:
            _run(process.__wrapped__ if use_original else process, strategy, ds)
        backend = tok.backend_tokenizer
        states.append((backend.truncation, backend.padding, backend.encode_special_tokens))
        assert used == ([] if use_original else [True])
    assert states[0] == states[1]


def _dropout_tokenizer():
    import copy
    import json

    tok = copy.deepcopy(TOKENIZERS["bos"]())
    config = json.loads(tok.backend_tokenizer.to_str())
    config["model"]["dropout"] = 0.5
    from tokenizers import Tokenizer

    tok._tokenizer = Tokenizer.from_str(json.dumps(config))
    return tok


@pytest.mark.parametrize("case", ["other tokenizers release", "bpe dropout"])
def test_what_the_extension_does_not_load_uses_the_tokenizer_object(case, monkeypatch):
    import copy

    tok = copy.deepcopy(TOKENIZERS["plain"]())
    if case == "other tokenizers release":
        monkeypatch.setattr(native_encoding, "tokenizers_version", lambda: "0.0.1")
    else:
        tok = _dropout_tokenizer()
    ds = datasets.Dataset.from_dict(
        {"instruction": ["a b", "c"], "input": ["", "d"], "output": ["e f g", "h"]}
    )
    strategy = STRATEGIES["alpaca"][1](tok, False, 16, "instruct")
    process = _patched()
    with _native_used() as used:
        got, _ = _run(process, strategy, ds)
    assert used == [False]
    if case != "bpe dropout":  # dropout makes both paths random
        expected, _ = _run(process.__wrapped__, strategy, ds)
        _assert_same(expected, got)


@needs_native
def test_ids_differing_on_the_checked_text_switch_to_the_tokenizer_object(monkeypatch):
    install_skewed_native_tokenizer(monkeypatch)
    ds = datasets.Dataset.from_dict(
        {"instruction": ["a b", "c"], "input": ["", "d"], "output": ["e f g", "h"]}
    )
    strategy = STRATEGIES["alpaca"][1](TOKENIZERS["bos"](), False, 16, "instruct")
    process = _patched()
    expected, _ = _run(process.__wrapped__, strategy, ds)
    with _native_used() as used:
        got, _ = _run(process, strategy, ds)
    assert used == [False]
    _assert_same(expected, got)


@needs_native
@pytest.mark.parametrize(
    "rows, vocab_size, loaded",
    [(999, 400, False), (1000, 400, True), (1000, 128_000, False), (8000, 128_000, True)],
)
def test_the_extension_loads_the_tokenizer_from_enough_rows_per_vocabulary(
    rows, vocab_size, loaded, monkeypatch
):
    monkeypatch.setattr(native_encoding, "NATIVE_MIN_ROWS", 1000)
    monkeypatch.setattr(native_encoding, "NATIVE_ROWS_PER_VOCAB", 1 / 16)
    assert native_encoding.NativeEncoding(rows, vocab_size).enabled is loaded

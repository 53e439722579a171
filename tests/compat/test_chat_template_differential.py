"""ChatTemplateStrategy.tokenize_prompt: the patched batch path against Axolotl's real one.

Both run on the same strategy object built by Axolotl's own ``load``; the original is the
patched function's ``__wrapped__``. Results, key order, warnings (with the call site
Axolotl's logger records) and raised exceptions must agree, and the fast path must not
have called Axolotl's per-row ``build_prompt`` (one render and one batched encode instead).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from unittest import mock

import pytest

pytestmark = pytest.mark.axolotl

datasets = pytest.importorskip("datasets")
chat_template = pytest.importorskip("axolotl.prompt_strategies.chat_template")
from axolotl.datasets import TokenizedPromptDataset  # noqa: E402
from axolotl.utils.dict import DictDefault  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from _dataset_identity import assert_same_dataset  # noqa: E402
from _tokenizers import CHAT_TOKENIZERS, install_skewed_native_tokenizer  # noqa: E402

from fast_axolotl.patches import _native_encoding as native_encoding  # noqa: E402

STRATEGY = chat_template.ChatTemplateStrategy
PATCHED = STRATEGY.__dict__["tokenize_prompt"]
ORIGINAL = getattr(PATCHED, "__wrapped__", None)
LOGGER = "axolotl.prompt_strategies.chat_template"
EXAMPLES = int(os.environ.get("FAST_AXOLOTL_CHAT_EXAMPLES", "60"))


def test_fast_axolotl_patches_chat_template_tokenize_prompt():
    assert ORIGINAL is not None, "tokenize_prompt is not patched: is fast-axolotl active?"


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seen: list[tuple] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append(
            (record.levelname, record.getMessage(), record.pathname, record.lineno, record.funcName)
        )


class Encodes:
    """Counts calls into the tokenizer's Rust backend (a forwarding proxy in its place)."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        self.real = tokenizer._tokenizer
        self.count = 0

    def __enter__(self) -> Encodes:
        outer = self

        class Proxy:
            def __getattr__(self, name):
                attr = getattr(outer.real, name)
                if name in ("encode", "encode_batch", "encode_batch_fast"):

                    def counted(*args, **kwargs):
                        outer.count += 1
                        return attr(*args, **kwargs)

                    return counted
                return attr

        self.tokenizer._tokenizer = Proxy()
        return self

    def __exit__(self, *exc) -> None:
        self.tokenizer._tokenizer = self.real


def run(func, strategy, batch):
    logger = logging.getLogger(LOGGER)
    handler = Records()
    logger.addHandler(handler)
    try:
        try:
            out = ("ok", func(strategy, batch))
        except Exception as exc:  # the exception itself is part of the result
            out = ("raised", type(exc), str(exc))
    finally:
        logger.removeHandler(handler)
    return out, handler.seen


def make_strategy(tokenizer: str, template: str, **ds_cfg):
    cfg = DictDefault(
        {
            "chat_template": template,
            "sequence_len": 2048,
            "train_on_inputs": ds_cfg.pop("tio", False),
        }
    )
    ds = {"chat_template": template, **ds_cfg}
    return chat_template.load(CHAT_TOKENIZERS[tokenizer](), cfg, ds)


# Text with what stresses the span logic: empty, whitespace-only, leading/trailing blanks
# (llama3 trims), non-ASCII, the sentinels' edge characters, template markers in content.
TEXT = st.one_of(
    st.just(""),
    st.sampled_from([" ", "  \n", "\t", "\n\n"]),
    st.lists(
        st.sampled_from(
            [
                *"the user answer 日本語 résumé naïve [ ] z zz hello world <|im_end|> <|eot_id|> "
                "dummy message \n , . ! 🙂".split(" "),
                " ",
                "\n",
                "zzdummymessagezz",
                "[[dummy_message]]",
            ]
        ),
        max_size=12,
    ).map("".join),
)
ROLE = st.sampled_from(["system", "user", "assistant", "tool", "human", "gpt"])
MESSAGE = st.fixed_dictionaries({"role": ROLE, "content": TEXT})
CONVERSATION = st.lists(MESSAGE, min_size=1, max_size=6)
BATCH = st.lists(CONVERSATION, min_size=1, max_size=6)
EOS = st.sampled_from(["turn", "all", "last", "none"])
OPTIONS = st.fixed_dictionaries(
    {
        "tokenizer": st.sampled_from(sorted(CHAT_TOKENIZERS)),
        "template": st.sampled_from(["chatml", "llama3"]),
        "train_on_eos": EOS,
        "train_on_eot": st.one_of(st.none(), EOS),
        "roles_to_train": st.sampled_from(
            [None, ["assistant"], ["user", "assistant"], ["gpt"], ["tool"]]
        ),
        "tio": st.booleans(),
        "drop_system_message": st.booleans(),
        # which encoder serves the batch: the tokenizer object, or the same tokenizer
        # loaded into the extension (from the first conversation on)
        "native": st.booleans(),
    }
)

#: Whether the installed ``tokenizers`` is the release the extension's encoder is built from.
NATIVE_AVAILABLE = native_encoding.tokenizers_version() == getattr(
    native_encoding._native, "TOKENIZERS_VERSION", None
)
needs_native = pytest.mark.skipif(
    not NATIVE_AVAILABLE, reason="installed tokenizers differs from the extension's release"
)


class Used(list):
    """Per batched encode, whether the extension's encodings were used; the batches of
    ``datasets``' forked workers (``num_proc`` 1 runs one too) are read back from a file."""

    def __init__(self) -> None:
        super().__init__()
        fd, self.path = tempfile.mkstemp(prefix="fast-axolotl-used-")
        os.close(fd)

    def record(self, native: bool) -> None:
        with open(self.path, "a") as f:
            f.write("1" if native else "0")

    def collect(self) -> None:
        with open(self.path) as f:
            self[:] = [c == "1" for c in f.read()]
        os.unlink(self.path)


@contextlib.contextmanager
def native_from(rows: int | None):
    """The extension encodes from ``rows`` conversations per strategy on (None: never);
    yields, per batched encode in this process or its forked workers, whether the
    extension's encodings were used (filled in on exit)."""
    used = Used()
    real = native_encoding.NativeEncoding.encode_with_offsets

    def encode(self, tok, texts):
        out = real(self, tok, texts)
        used.record(out is not None)
        return out

    try:
        with (
            mock.patch.object(native_encoding, "NATIVE_MIN_ROWS", 10**12 if rows is None else rows),
            mock.patch.object(native_encoding, "NATIVE_ROWS_PER_VOCAB", 0),
            mock.patch.object(native_encoding.NativeEncoding, "encode_with_offsets", encode),
        ):
            yield used
    finally:
        used.collect()


def build(options):
    ds = {
        k: v
        for k, v in options.items()
        if v is not None and k not in ("tokenizer", "template", "native")
    }
    try:
        return make_strategy(options["tokenizer"], options["template"], **ds)
    except ValueError:
        return None  # train_on_eos / train_on_eot conflict: Axolotl refuses the config


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(options=OPTIONS, conversations=BATCH, system=st.one_of(st.none(), TEXT))
def test_batch_labels_ids_masks_and_warnings_equal_axolotls(options, conversations, system):
    strategy = build(options)
    if strategy is None:
        return
    batch = {"messages": conversations}
    if system is not None:
        batch["system"] = [system] * len(conversations)
    expected = run(ORIGINAL, strategy, batch)
    native = options["native"] and NATIVE_AVAILABLE
    with Encodes(strategy.tokenizer) as encodes, native_from(0 if native else None) as used:
        got = run(PATCHED, strategy, batch)
    assert got == expected
    if got[0][0] == "ok":
        assert list(got[0][1]) == list(expected[0][1])
        assert encodes.count == 1, "not one batched encode: the fast path deferred"
        assert used in ([], [native])


@settings(max_examples=max(EXAMPLES // 3, 5), deadline=None)
@given(conversations=BATCH)
def test_field_messages_and_property_mappings_equal_axolotls(conversations):
    strategy = make_strategy(
        "bytelevel-bos",
        "chatml",
        field_messages="conversations",
        message_property_mappings={"role": "from", "content": "value"},
        roles={"user": ["human", "user"], "assistant": ["gpt", "assistant"]},
    )
    renamed = [[{"from": m["role"], "value": m["content"]} for m in conv] for conv in conversations]
    batch = {"conversations": renamed}
    assert run(PATCHED, strategy, batch) == run(ORIGINAL, strategy, batch)


@pytest.mark.parametrize("template", ["chatml", "llama3"])
def test_empty_span_and_untrained_last_turn_warnings_carry_axolotls_call_sites(template):
    strategy = make_strategy("whitespace", template)
    batch = {
        "messages": [
            [{"role": "user", "content": "q"}, {"role": "assistant", "content": " \n "}],
            [{"role": "assistant", "content": "a"}, {"role": "user", "content": "tail"}],
        ]
    }
    got, expected = run(PATCHED, strategy, batch), run(ORIGINAL, strategy, batch)
    assert got == expected
    messages = [record[1] for record in expected[1]]
    assert any("Last turn is not trainable" in m for m in messages)
    if template == "chatml":  # llama3 trims the blank content away before the diff
        assert any("same as start boundary for turn 1" in m for m in messages)


def test_single_conversation_is_axolotls_path():
    strategy = make_strategy("bytelevel-bos", "chatml")
    prompt = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    with Encodes(strategy.tokenizer) as encodes:
        got = run(PATCHED, strategy, prompt)
    assert got == run(ORIGINAL, strategy, prompt)
    assert encodes.count == 2


def test_list_content_parts_and_none_values_equal_axolotls():
    strategy = make_strategy("whitespace", "llama3")
    batch = {
        "messages": [
            [
                {"role": "user", "content": [{"text": "hello"}, {"text": " world"}], "x": None},
                {"role": "assistant", "content": "the answer", "tool_calls": None},
            ],
            [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
        ]
    }
    assert run(PATCHED, strategy, batch) == run(ORIGINAL, strategy, batch)


def test_per_part_training_flags_defer_with_axolotls_result():
    strategy = make_strategy("bytelevel-bos", "chatml")
    batch = {
        "messages": [
            [
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": [{"text": "a", "train": False}, {"text": " b"}]},
            ]
        ]
    }
    assert run(PATCHED, strategy, batch) == run(ORIGINAL, strategy, batch)


def test_mistral_named_tokenizer_skips_first_system_turn_like_axolotl():
    tokenizer = CHAT_TOKENIZERS["bytelevel-bos"]()
    saved = tokenizer.name_or_path
    tokenizer.name_or_path = "local-Mistral-like"
    try:
        strategy = make_strategy("bytelevel-bos", "chatml", roles_to_train=["system", "assistant"])
        batch = {
            "messages": [
                [
                    {"role": "system", "content": "sys"},
                    {"role": "user", "content": "q"},
                    {"role": "assistant", "content": "a"},
                ]
            ]
        }
        got, expected = run(PATCHED, strategy, batch), run(ORIGINAL, strategy, batch)
    finally:
        tokenizer.name_or_path = saved
    assert got == expected


def test_unknown_template_defers_and_results_equal_axolotls():
    strategy = make_strategy("bytelevel-bos", "chatml")
    strategy.prompter.chat_template = strategy.prompter.chat_template.replace("\n'", "\n\n'")
    batch = {
        "messages": [[{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]]
    }
    with Encodes(strategy.tokenizer) as encodes:
        got = run(PATCHED, strategy, batch)
    assert got == run(ORIGINAL, strategy, batch)
    assert encodes.count == 2  # Axolotl's two encodes of the row: it deferred


def test_template_error_raises_once_unchanged_without_fast_axolotl_warning(caplog):
    strategy = make_strategy("bytelevel-bos", "chatml")
    renders = []
    real = strategy.prompter.build_prompt_text

    class TemplateBoom(RuntimeError):
        pass

    def failing(turns, tools=None):
        renders.append(1)
        if len(renders) == 2:
            raise TemplateBoom("row 2")
        return real(turns, tools=tools)

    strategy.prompter.build_prompt_text = failing
    batch = {
        "messages": [[{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]] * 3
    }
    with caplog.at_level(logging.WARNING, logger="fast_axolotl"):
        with pytest.raises(TemplateBoom, match="row 2") as info:
            PATCHED(strategy, batch)
    assert len(renders) == 2, "the template ran again after it raised"
    assert info.value.__context__ is None and info.value.__cause__ is None
    assert not [r for r in caplog.records if r.name == "fast_axolotl"]


def test_tokenizer_error_raises_once_unchanged(monkeypatch, caplog):
    strategy = make_strategy("whitespace", "chatml")
    tokenizer = strategy.tokenizer
    calls = []

    class EncodeBoom(ValueError):
        pass

    def boom(self, *args, **kwargs):
        calls.append(1)
        raise EncodeBoom("bad text")

    backend = type(tokenizer)
    monkeypatch.setattr(backend, "_batch_encode_plus", boom, raising=False)
    monkeypatch.setattr(backend, "_encode_plus", boom, raising=False)
    batch = {
        "messages": [[{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]] * 2
    }
    with caplog.at_level(logging.WARNING, logger="fast_axolotl"):
        with pytest.raises(EncodeBoom):
            PATCHED(strategy, batch)
    # whichever path takes the call, the failing encode runs once
    assert len(calls) == 1
    assert not [r for r in caplog.records if r.name == "fast_axolotl"]


def _dataset_rows(n: int):
    import random

    rng = random.Random(n)
    words = "the user asks hello world 日本語 résumé answer tool".split()
    rows = []
    for i in range(n):
        conv = []
        for t in range(rng.randint(1, 5)):
            role = ["user", "assistant", "system", "tool"][(t + i) % 4 if t else 0]
            conv.append(
                {"role": role, "content": " ".join(rng.choices(words, k=rng.randint(0, 8)))}
            )
        rows.append({"messages": conv})
    return datasets.Dataset.from_list(rows)


@pytest.mark.parametrize(
    "num_proc, rows, native_batches",
    # From 1,000 conversations per strategy and process the extension encodes: num_proc 1
    # from its first batch on; with num_proc 2, workers of 600 conversations keep the
    # tokenizer object and workers of 1,200 load the tokenizer in the forked process.
    [(1, 1200, [True, True]), (2, 1200, [False, False]), (2, 2400, [True] * 4)],
)
@pytest.mark.parametrize("template", ["chatml", "llama3"])
def test_tokenized_prompt_dataset_identical_to_axolotls(
    monkeypatch, num_proc, rows, native_batches, template
):
    data = _dataset_rows(rows)
    strategy = make_strategy("bytelevel-bos", template)
    with native_from(native_encoding.NATIVE_MIN_ROWS) as used:
        fast = TokenizedPromptDataset(strategy, data, process_count=num_proc)
    assert sorted(used) == [native and NATIVE_AVAILABLE for native in native_batches]
    monkeypatch.setattr(STRATEGY, "tokenize_prompt", ORIGINAL)
    slow = TokenizedPromptDataset(strategy, data, process_count=num_proc)
    assert_same_dataset(fast, slow)


def _patched_process():
    return TokenizedPromptDataset.__dict__["process"]


@needs_native
@settings(
    max_examples=max(EXAMPLES // 3, 5),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(options=OPTIONS, conversations=st.lists(CONVERSATION, min_size=1, max_size=40))
def test_dataset_written_as_arrow_tables_equals_axolotls(options, conversations):
    """``TokenizedPromptDataset.process`` writes the chat batches as Arrow tables (with the
    extension's encoder): the dataset, its warnings and exceptions equal Axolotl's."""
    strategy = build(options)
    if strategy is None:
        return
    data = datasets.Dataset.from_dict({"messages": conversations})
    process = _patched_process()

    def run_process(func):
        holder = TokenizedPromptDataset.__new__(TokenizedPromptDataset)
        holder.prompt_tokenizer, holder.process_count, holder.keep_in_memory = strategy, None, False
        return run(lambda _strategy, dataset: func(holder, dataset), strategy, data)

    with mock.patch.object(STRATEGY, "tokenize_prompt", ORIGINAL):
        expected, expected_logs = run_process(process.__wrapped__)
    native = options["native"] and NATIVE_AVAILABLE
    with native_from(0 if native else None) as used:
        got, logs = run_process(process)
    assert logs == expected_logs
    assert got[0] == expected[0], (got, expected)
    if got[0] == "ok":
        assert_same_dataset(got[1], expected[1])
        assert set(used) <= {native}
    else:
        assert got == expected


def test_denied_chat_entry_leaves_process_to_axolotl(monkeypatch):
    from fast_axolotl.patches import chat_template as fast_chat

    strategy = make_strategy("bytelevel-bos", "chatml")
    assert fast_chat.table_batches(strategy) is not None
    monkeypatch.setattr(STRATEGY, "tokenize_prompt", ORIGINAL)  # the entry denied
    assert fast_chat.table_batches(strategy) is None


# --- the tokenizer loaded into the extension (``_native_encoding``) ----------------------

_PIECES = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12) | (
    st.sampled_from(
        ["<|im_start|>", "<|im_end|>", "<|eot_id|>", "<s>", " ", "\n", "\t", "  ", "日本語", "🙂"]
    )
)


@needs_native
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    texts=st.lists(st.lists(_PIECES, max_size=30).map("".join), min_size=1, max_size=30),
    tokenizer=st.sampled_from(sorted(CHAT_TOKENIZERS)),
    split_special=st.booleans(),
)
def test_native_ids_and_char_offsets_equal_the_tokenizer_call(texts, tokenizer, split_special):
    import copy

    tok = copy.deepcopy(CHAT_TOKENIZERS[tokenizer]())
    tok.split_special_tokens = split_special
    expected = tok(texts, add_special_tokens=False, return_offsets_mapping=True)
    encoding = native_encoding.NativeEncoding(rows=10**6, vocab_size=400)
    batch = encoding.encode_with_offsets(tok, texts)
    assert batch is not None and encoding.enabled
    assert batch.id_lists() == expected["input_ids"]
    assert [batch.mask(i) for i in range(len(texts))] == expected["attention_mask"]
    assert [batch.char_offsets(i) for i in range(len(texts))] == [
        [tuple(o) for o in row] for row in expected["offset_mapping"]
    ]


def test_small_datasets_keep_the_tokenizer_object():
    data = _dataset_rows(300)
    strategy = make_strategy("bytelevel-bos", "chatml")
    with native_from(native_encoding.NATIVE_MIN_ROWS) as used:
        TokenizedPromptDataset(strategy, data, process_count=1)
    assert used == [False]


@needs_native
def test_ids_differing_on_the_checked_text_switch_to_the_tokenizer_object(monkeypatch):
    install_skewed_native_tokenizer(monkeypatch)
    strategy = make_strategy("bytelevel-bos", "chatml")
    batch = {
        "messages": [[{"role": "user", "content": "q"}, {"role": "assistant", "content": "a b"}]]
        * 3
    }
    expected = run(ORIGINAL, strategy, batch)
    with native_from(0) as used:
        first = run(PATCHED, strategy, batch)
        second = run(PATCHED, strategy, batch)
    assert first == second == expected
    assert used == [False, False]  # refused for the strategy's later batches too


@needs_native
def test_a_fault_of_the_extensions_encoder_is_reported_as_ours_and_the_object_encodes(
    monkeypatch, caplog
):
    class Broken:
        def __init__(self, *args):
            pass

        def encode(self, texts, *args):
            raise RuntimeError("internal error in fast_axolotl kernel (simulated)")

    monkeypatch.setattr(native_encoding._native, "NativeTokenizer", Broken)
    monkeypatch.setattr(native_encoding, "_LAST_LOADED", None)
    from fast_axolotl.patches import _common

    monkeypatch.setattr(_common, "_reported", set())
    strategy = make_strategy("bytelevel-bos", "chatml")
    batch = {
        "messages": [[{"role": "user", "content": "q"}, {"role": "assistant", "content": "a b"}]]
        * 3
    }
    expected = run(ORIGINAL, strategy, batch)
    with caplog.at_level(logging.WARNING, logger="fast_axolotl"), native_from(0) as used:
        got = run(PATCHED, strategy, batch)
    assert got == expected
    assert used == [False]
    ours = [r.getMessage() for r in caplog.records if r.name == "fast_axolotl"]
    assert len(ours) == 1 and "the extension's encoder failed" in ours[0]
    assert "the tokenizer object" in ours[0]

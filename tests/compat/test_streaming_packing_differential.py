"""encode_streaming: the patched function against Axolotl's real one.

A small BPE tokenizer is trained here with the ``tokenizers`` library and wrapped in a
``transformers.PreTrainedTokenizerFast`` with eos/pad tokens (optionally a BOS template);
hypothesis draws batches of texts (empty ones included) and ``max_tokens``. Both
functions must return the same dict (keys, list types, Python int vs float values) or
raise the same exception.
"""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.axolotl, pytest.mark.releases]

tokenizers = pytest.importorskip("tokenizers")
transformers = pytest.importorskip("transformers")
import _release  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from fast_axolotl.demo import tokenizer as tokenizer_support  # noqa: E402

if _release.module_exists("axolotl.utils.data.streaming"):
    from axolotl.utils.data import streaming

    PATCHED = streaming.encode_streaming
    ORIGINAL = getattr(PATCHED, "__wrapped__", None)
    ORIGINAL_CODE = getattr(ORIGINAL, "__code__", None)
else:
    # 0.12: encode_pretraining, the same body with tokenizer and max_tokens first; called
    # here in encode_streaming's order so that every test below applies unchanged.
    from axolotl.utils.data import pretraining

    def _streaming_order(f):
        def call(examples, tokenizer, max_tokens, *args, **kwargs):
            return f(tokenizer, max_tokens, examples, *args, **kwargs)

        return call

    _raw = getattr(pretraining.encode_pretraining, "__wrapped__", None)
    PATCHED = _streaming_order(pretraining.encode_pretraining)
    ORIGINAL = _streaming_order(_raw) if _raw is not None else None
    ORIGINAL_CODE = getattr(_raw, "__code__", None)

WORDS = list(tokenizer_support.WORDS)


def test_fast_axolotl_patches_encode_streaming():
    assert ORIGINAL is not None, "encode_streaming is not patched: is fast-axolotl active?"


def train_tokenizer(bos: bool, pad: bool):
    # WORDS is the support module's word list: the rotated-word corpus it trains on.
    make = tokenizer_support.bos_adding_tokenizer if bos else tokenizer_support.no_bos_tokenizer
    return make(pad=pad)


TOKENIZERS = {
    (bos, pad): train_tokenizer(bos, pad) for bos in (False, True) for pad in (False, True)
}


def typed(value):
    if isinstance(value, dict):
        return ("dict", [(k, typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [typed(v) for v in value])
    return (type(value).__name__, value)


def outcome(func, *args, **kwargs):
    try:
        return ("returned", typed(func(*args, **kwargs)))
    except Exception as exc:
        return ("raised", type(exc).__name__, str(exc))


def assert_same(*args, **kwargs):
    expected = outcome(ORIGINAL, *args, **kwargs)
    got = outcome(PATCHED, *args, **kwargs)
    assert got == expected


texts = st.lists(
    st.one_of(
        st.lists(st.sampled_from(WORDS), min_size=1, max_size=40).map(" ".join),
        st.just(""),
        st.text(alphabet="abcxyz ", max_size=30),
    ),
    max_size=30,
)


@settings(max_examples=40)
@given(texts=texts, max_tokens=st.integers(3, 64), bos=st.booleans())
def test_encode_streaming_packs_like_axolotl(texts, max_tokens, bos):
    tokenizer = TOKENIZERS[(bos, True)]
    assert_same({"text": texts}, tokenizer, max_tokens)


@settings(max_examples=15)
@given(texts=texts, max_tokens=st.integers(3, 64))
def test_encode_streaming_without_concatenation_or_pad_token_like_axolotl(texts, max_tokens):
    assert_same({"text": texts}, TOKENIZERS[(False, True)], max_tokens, concatenate=False)
    assert_same({"body": texts}, TOKENIZERS[(True, False)], max_tokens, text_column="body")


def test_encode_streaming_empty_tokenization_turns_rows_into_floats_like_axolotl():
    tokenizer = TOKENIZERS[(False, True)]
    examples = {"text": ["the a packing", "", "rows into buffers"]}
    expected = ORIGINAL(examples, tokenizer, 16)
    assert any(isinstance(v, float) for row in expected["input_ids"] for v in row)
    assert typed(PATCHED(examples, tokenizer, 16)) == typed(expected)


def test_encode_streaming_logs_the_row_count(caplog):
    import logging

    tokenizer = TOKENIZERS[(True, True)]
    module = (
        "streaming" if _release.module_exists("axolotl.utils.data.streaming") else "pretraining"
    )
    with caplog.at_level(logging.DEBUG, logger=f"axolotl.utils.data.{module}"):
        result = PATCHED({"text": ["the a packing of rows"] * 10}, tokenizer, 8)
    assert str(len(result["input_ids"])) in [r.getMessage() for r in caplog.records]


def test_encode_streaming_rows_are_max_tokens_long_with_eos_pad_appended():
    tokenizer = TOKENIZERS[(True, True)]
    result = PATCHED({"text": [" ".join(WORDS)] * 50}, tokenizer, 32)
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    for ids, labels, mask in zip(
        result["input_ids"], result["labels"], result["attention_mask"], strict=True
    ):
        assert len(ids) == len(labels) == len(mask) == 32
        assert all(type(v) is int for v in ids + labels + mask)
        assert eos in ids and (pad in ids)
        for i, v in enumerate(ids):
            if v == pad:
                assert labels[i] == -100 and mask[i] == 0


def entered_original(func, *args, **kwargs):
    import sys

    seen = []

    def hook(frame, event, arg):
        if event == "call" and frame.f_code is ORIGINAL_CODE:
            seen.append(1)

    sys.setprofile(hook)
    try:
        func(*args, **kwargs)
    except Exception:
        pass  # Axolotl's own exception (no pad token): what matters is who raised it
    finally:
        sys.setprofile(None)
    return bool(seen)


def test_encode_streaming_takes_the_kernel_path_for_ordinary_text_and_defers_on_empty():
    tokenizer = TOKENIZERS[(False, True)]
    assert not entered_original(PATCHED, {"text": ["the a packing"] * 5}, tokenizer, 16)
    assert entered_original(PATCHED, {"text": ["the a packing", ""]}, tokenizer, 16)
    assert entered_original(PATCHED, {"text": ["the"]}, TOKENIZERS[(False, False)], 16)

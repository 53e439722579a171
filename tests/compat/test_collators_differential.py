"""Axolotl's Seq2Seq collators: the patched ``__call__``s against the real ones.

Hypothesis builds batches (lists or numpy arrays, with and without attention masks, labels,
position ids, token type ids, in any key order, some malformed) and collator settings
(``padding`` True / "longest" / "max_length" / False with and without ``max_length``,
``pad_to_multiple_of``, both padding sides, "pt" and "np"), with a BPE tokenizer trained
here and wrapped in transformers' ``PreTrainedTokenizerFast``. Both paths get a deep copy
of the same features; they must agree on the result (type, keys in order, each value's type,
dtype, shape, strides, values) or on the exception (type and message), and on what they
left in the caller's features. The reference runs with all four originals in place, so a
packed collator's ``super().__call__`` is Axolotl's too.
"""

from __future__ import annotations

import contextlib
import copy
import warnings

import pytest

pytestmark = [pytest.mark.axolotl, pytest.mark.releases]

np = pytest.importorskip("numpy")
torch = pytest.importorskip("torch")
from axolotl.utils.collators import batching  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from transformers import PreTrainedTokenizerFast  # noqa: E402
from transformers.utils import PaddingStrategy  # noqa: E402

import fast_axolotl.patches.collators as patch_module  # noqa: E402
from fast_axolotl.demo.tokenizer import UNK, train_bpe, wrap  # noqa: E402

CLASSES = (
    batching.DataCollatorForSeq2Seq,
    batching.BatchSamplerDataCollatorForSeq2Seq,
    batching.V2BatchSamplerDataCollatorForSeq2Seq,
    batching.PretrainingBatchSamplerDataCollatorForSeq2Seq,
)
PATCHED = {cls: cls.__dict__["__call__"] for cls in CLASSES}
ORIGINAL = {cls: getattr(f, "__wrapped__", None) for cls, f in PATCHED.items()}

CORPUS = [
    "the quick brown fox jumps over the lazy dog",
    "packing sequences into bins keeps the accelerator busy",
    "labels are padded with minus one hundred and position ids with a range",
] * 20


def make_tokenizer(side: str) -> PreTrainedTokenizerFast:
    # No BOS: the collators see token ids only; pad and eos get ids 1 and 2.
    tk = train_bpe(CORPUS, vocab_size=120, specials=(UNK, "<pad>", "<eos>"))
    return wrap(tk, padding_side=side, pad_token="<pad>", eos_token="<eos>", unk_token=UNK)


TOKENIZERS = {side: make_tokenizer(side) for side in ("left", "right")}
#: A model_max_length that `padding="max_length"` without `max_length` pads to.
TOKENIZERS["left, model_max_length 16"] = make_tokenizer("left")
TOKENIZERS["left, model_max_length 16"].model_max_length = 16
VOCAB = len(TOKENIZERS["right"])


def needs_reproduced_padding():
    """The native path runs only over the transformers padding code it reproduces (that of
    0.19's pin); under an older release's transformers the collators defer to Axolotl,
    which the differential tests still check."""
    if not patch_module._Transformers.load():
        import transformers

        pytest.skip(
            f"transformers {transformers.__version__}'s padding code is not the reproduced "
            "one: the collators defer to Axolotl (docs/compatibility.md)"
        )


def test_collators_are_patched_by_fast_axolotl():
    for cls in CLASSES:
        assert ORIGINAL[cls] is not None, f"{cls.__name__}.__call__ is not patched"
    needs_reproduced_padding()


def test_transformers_code_digest_shortcut_agrees_with_source_fingerprints():
    import sys

    needs_reproduced_padding()

    from fast_axolotl.guards import fingerprint

    tub = sys.modules["transformers.tokenization_utils_base"]
    generic = sys.modules["transformers.utils.generic"]
    funcs = patch_module._Transformers.functions(tub, generic)
    found = {name: fingerprint(f) for name, f in funcs.items()}
    assert found == patch_module._TRANSFORMERS_FINGERPRINTS
    digest = patch_module._code_digest(list(funcs.values()))
    known = patch_module._CODE_DIGESTS.get(sys.version_info[:2])
    assert known in (None, digest), "a stale bytecode digest for this Python version"


@contextlib.contextmanager
def originals():
    """All four classes with Axolotl's own ``__call__`` (so ``super()`` reaches it too)."""
    for cls in CLASSES:
        cls.__call__ = ORIGINAL[cls]
    try:
        yield
    finally:
        for cls in CLASSES:
            cls.__call__ = PATCHED[cls]


def describe(value):
    """Everything a caller can see of a value, as plain data."""
    if isinstance(value, torch.Tensor):
        return (
            "tensor",
            str(value.dtype),
            tuple(value.shape),
            value.stride(),
            value.requires_grad,
            value.untyped_storage().resizable(),
            value.tolist(),
        )
    if isinstance(value, np.ndarray):
        return (
            "ndarray",
            str(value.dtype),
            value.shape,
            value.strides,
            value.flags.c_contiguous,
            value.flags.writeable,
            value.flags.owndata,
            value.tolist() if value.dtype != object else [describe(v) for v in value],
        )
    if isinstance(value, dict):
        return (type(value).__name__, [(k, describe(v)) for k, v in value.items()])
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [describe(v) for v in value])
    if hasattr(value, "data") and hasattr(value, "_encodings"):  # BatchEncoding
        return (
            type(value).__name__,
            value.__dict__.get("_encodings"),
            value.__dict__.get("_n_sequences"),
            [(k, describe(v)) for k, v in value.data.items()],
        )
    return (type(value).__name__, value)


def outcome(call):
    """The result or the exception, and the warnings emitted on the way."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = ("returned", describe(call()))
        except Exception as exc:
            result = ("raised", type(exc), str(exc))
    return (*result, [(w.category, str(w.message)) for w in caught])


def assert_same(cls, collator, features, return_tensors):
    kwargs = {} if return_tensors is None else {"return_tensors": return_tensors}
    ref_features = copy.deepcopy(features)
    with originals():
        expected = outcome(lambda: cls.__call__(collator, ref_features, **kwargs))
    fast_features = copy.deepcopy(features)
    got = outcome(lambda: cls.__call__(collator, fast_features, **kwargs))
    assert got == expected
    assert describe(fast_features) == describe(ref_features), "features left differently"


# ------------------------------------------------------------------------ strategies

PADDINGS = [True, True, "longest", "max_length", False, "do_not_pad", PaddingStrategy.MAX_LENGTH]


#: True one time in `n`; hypothesis favours the bounds of `integers`, so draw a flag.
def rarely(n=12):
    return st.sampled_from([False] * (n - 1) + [True])


@st.composite
def settings_(draw, cls=batching.DataCollatorForSeq2Seq, **extra):
    side = draw(st.sampled_from(sorted(TOKENIZERS)))
    padding = draw(st.sampled_from(PADDINGS))
    if padding in ("max_length",) and draw(st.integers(0, 3)):
        max_length = draw(st.integers(10, 24))  # mostly long enough to pad every row
    else:
        max_length = draw(st.one_of(st.none(), st.none(), st.integers(0, 24)))
    kwargs = dict(
        padding=padding,
        max_length=max_length,
        pad_to_multiple_of=draw(st.sampled_from([None, None, 1, 3, 8])),
        label_pad_token_id=draw(st.sampled_from([-100, -100, 0])),
        return_tensors=draw(st.sampled_from(["pt", "np"])),
    )
    kwargs.update(extra)
    collator = cls(TOKENIZERS[side], **kwargs)
    call_rt = draw(st.sampled_from([None, "pt", "np"]))
    return collator, call_rt


def ints(n, lo=0, hi=None):
    return st.lists(st.integers(lo, VOCAB - 1 if hi is None else hi), min_size=n, max_size=n)


def as_kind(values, kind):
    if kind == "list":
        return list(values)
    return np.array(values, dtype=kind)


@st.composite
def sequence_item(draw, keys, n, kind_of):
    item = {}
    for key in keys:
        if key == "input_ids":
            vals = draw(ints(n))
        elif key == "attention_mask":
            vals = draw(st.lists(st.sampled_from([1, 1, 1, 0]), min_size=n, max_size=n))
        elif key == "labels":
            m = draw(st.integers(min(n, 1), 12)) if draw(rarely(6)) else n
            vals = [v if v % 3 else -100 for v in draw(ints(m))]
        elif key == "position_ids":
            vals = list(range(n)) if draw(st.booleans()) else draw(ints(n, 0, 30))
        elif key == "token_type_ids":
            vals = draw(ints(n, 0, 1))
        elif key == "length":
            item[key] = n
            continue
        else:
            vals = draw(ints(n))
        item[key] = as_kind(vals, kind_of(key))
    return item


KEY_SETS = st.sampled_from(
    [
        ["input_ids", "attention_mask", "labels"],
        ["input_ids", "attention_mask", "labels", "position_ids"],
        ["input_ids", "labels"],
        ["input_ids", "labels", "position_ids"],
        ["input_ids", "attention_mask", "token_type_ids", "labels"],
        ["input_ids", "attention_mask"],
        ["input_ids", "attention_mask", "labels", "position_ids", "length"],
        ["attention_mask", "labels"],  # no input_ids: transformers raises
        ["input_ids", "labels", "special_tokens_mask"],  # a key that is deferred
    ]
)
KINDS = st.sampled_from(["list", "list", "int64", "int32"])


@st.composite
def kind_chooser(draw):
    """One representation for every value, or a mix per key (lists with arrays)."""
    if not draw(rarely(4)):
        kind = draw(KINDS)
        return lambda key: kind
    per_key = {
        k: draw(KINDS)
        for k in ["input_ids", "attention_mask", "labels", "position_ids", "token_type_ids"]
    }
    return lambda key: per_key.get(key, "list")


@st.composite
def row_batch(draw):
    keys = draw(st.permutations(draw(KEY_SETS)))
    kind_of = draw(kind_chooser())
    lens = draw(st.lists(st.integers(0, 12), min_size=1, max_size=5))
    if draw(rarely(3)):
        lens = [lens[0]] * len(lens)  # equal lengths: no padding needed, nothing ragged
    return [draw(sequence_item(keys, n, kind_of)) for n in lens]


@st.composite
def bins_batch(draw):
    keys = draw(st.permutations(draw(KEY_SETS)))
    kind_of = draw(kind_chooser())
    bins = []
    for _ in range(draw(st.integers(1, 4))):
        items = []
        for j in range(draw(st.integers(1, 4))):
            n = draw(st.integers(0 if draw(rarely(20)) else 1, 10))
            own = keys
            if j > 0 and "attention_mask" in keys and draw(rarely(8)):
                own = [k for k in keys if k != "attention_mask"]  # an item without a mask
            items.append(draw(sequence_item(own, n, kind_of)))
        bins.append(items)
    if len(bins) == 1 and draw(st.booleans()):
        return bins[0]  # a single bin given as a flat list of items
    return bins


@st.composite
def pretraining_batch(draw):
    keys = draw(st.permutations(draw(KEY_SETS)))
    kind_of = draw(kind_chooser())
    lens = draw(st.lists(st.integers(1, 10), min_size=1, max_size=5))
    items = [draw(sequence_item(keys, n, kind_of)) for n in lens]
    return {k: [item[k] for item in items] for k in keys}


# ------------------------------------------------------------------------ tests


@settings(max_examples=300)
@given(batch=row_batch(), setup=settings_())
def test_seq2seq_collator_matches_axolotl_on_random_batches(batch, setup):
    collator, rt = setup
    assert_same(batching.DataCollatorForSeq2Seq, collator, batch, rt)


@settings(max_examples=200)
@given(
    batch=bins_batch(),
    setup=settings_(cls=batching.V2BatchSamplerDataCollatorForSeq2Seq),
    squash=st.booleans(),
)
def test_v2_batch_sampler_collator_matches_axolotl(batch, setup, squash):
    collator, rt = setup
    collator.squash_position_ids = squash
    assert_same(batching.V2BatchSamplerDataCollatorForSeq2Seq, collator, batch, rt)


@settings(max_examples=150)
@given(batch=bins_batch(), setup=settings_(cls=batching.BatchSamplerDataCollatorForSeq2Seq))
def test_batch_sampler_collator_matches_axolotl(batch, setup):
    collator, rt = setup
    assert_same(batching.BatchSamplerDataCollatorForSeq2Seq, collator, batch, rt)


@settings(max_examples=150)
@given(batch=pretraining_batch(), setup=settings_(), multipack=st.booleans())
def test_pretraining_collator_matches_axolotl(batch, setup, multipack):
    base, rt = setup
    cls = batching.PretrainingBatchSamplerDataCollatorForSeq2Seq
    collator = cls(
        base.tokenizer,
        padding=base.padding,
        max_length=base.max_length,
        pad_to_multiple_of=base.pad_to_multiple_of,
        label_pad_token_id=base.label_pad_token_id,
        return_tensors=base.return_tensors,
        multipack_attn=multipack,
    )
    assert_same(cls, collator, batch, rt)


class Spy:
    def __init__(self, real):
        self.real, self.calls = real, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.real(*args, **kwargs)


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("rt", ["pt", "np"])
def test_typical_batches_take_the_native_path_and_match(monkeypatch, side, rt):
    needs_reproduced_padding()
    spy = Spy(patch_module._native.pad_batch)
    monkeypatch.setattr(patch_module._native, "pad_batch", spy)
    rng = np.random.default_rng(0)
    tok = TOKENIZERS[side]

    def item(n, kind):
        ids = rng.integers(3, VOCAB, n).tolist()
        d = {
            "input_ids": ids,
            "attention_mask": [1] * n,
            "labels": [-100] * (n // 2) + ids[n // 2 :],
            "position_ids": list(range(n)),
            "length": n,
        }
        return {k: v if kind == "list" or k == "length" else np.array(v) for k, v in d.items()}

    rows = [{k: v for k, v in item(n, "list").items() if k != "length"} for n in (5, 9, 2)]
    arrays = [{k: v for k, v in item(n, "arr").items() if k != "length"} for n in (5, 9, 2)]
    bins = [[item(n, "list") for n in (4, 3, 6)], [item(n, "arr") for n in (7, 1)]]
    cases = [
        (batching.DataCollatorForSeq2Seq(tok, pad_to_multiple_of=8), rows),
        (batching.DataCollatorForSeq2Seq(tok, padding="max_length", max_length=16), arrays),
        (batching.BatchSamplerDataCollatorForSeq2Seq(tok, pad_to_multiple_of=16), bins),
        (
            batching.V2BatchSamplerDataCollatorForSeq2Seq(
                tok, pad_to_multiple_of=16, squash_position_ids=True
            ),
            bins,
        ),
        (
            batching.PretrainingBatchSamplerDataCollatorForSeq2Seq(
                tok, padding=True, pad_to_multiple_of=32, multipack_attn=True
            ),
            {k: [it[k] for it in bins[0]] for k in bins[0][0]},
        ),
    ]
    for collator, features in cases:
        collator.return_tensors = rt
        before = spy.calls
        assert_same(type(collator), collator, features, None)
        # once, by the fast path: the reference runs with every original in place
        assert spy.calls == before + 1, type(collator).__name__


def test_unusual_tokenizer_defers_to_axolotl(monkeypatch):
    class OwnPad(PreTrainedTokenizerFast):
        def pad(self, *args, **kwargs):
            out = super().pad(*args, **kwargs)
            out["input_ids"] = out["input_ids"] + 1
            return out

    base = TOKENIZERS["right"]
    tok = OwnPad(tokenizer_object=base.backend_tokenizer, pad_token="<pad>", eos_token="<eos>")
    spy = Spy(patch_module._native.pad_batch)
    monkeypatch.setattr(patch_module._native, "pad_batch", spy)
    collator = batching.DataCollatorForSeq2Seq(tok)
    assert_same(batching.DataCollatorForSeq2Seq, collator, [{"input_ids": [4, 5]}], None)
    assert spy.calls == 0


def test_model_with_decoder_input_preparation_defers_to_axolotl():
    class Model:
        def prepare_decoder_input_ids_from_labels(self, labels):
            return labels * 2

    collator = batching.DataCollatorForSeq2Seq(TOKENIZERS["right"], model=Model())
    features = [{"input_ids": [4, 5, 6], "labels": [4, 5, 6]}, {"input_ids": [7], "labels": [7]}]
    assert_same(batching.DataCollatorForSeq2Seq, collator, features, None)


def test_tensor_features_defer_to_axolotl():
    collator = batching.DataCollatorForSeq2Seq(TOKENIZERS["left"])
    features = [{"input_ids": torch.tensor([4, 5, 6]), "labels": torch.tensor([4, 5, 6])}]
    assert_same(batching.DataCollatorForSeq2Seq, collator, features, None)


@pytest.mark.parametrize("rt", ["pt", "np"])
def test_masked_array_features_match_axolotl(rt):
    collator = batching.DataCollatorForSeq2Seq(TOKENIZERS["right"], return_tensors=rt)
    features = [
        {"input_ids": np.ma.array([4, 5, 6], mask=[0, 1, 0]), "labels": np.ma.array([4, 5, 6])},
        {"input_ids": np.ma.array([7]), "labels": np.ma.array([7], mask=[1])},
    ]
    assert_same(batching.DataCollatorForSeq2Seq, collator, features, None)


def test_the_same_feature_dict_twice_matches_axolotl():
    collator = batching.DataCollatorForSeq2Seq(TOKENIZERS["right"], return_tensors="np")
    shared = {"input_ids": np.array([4, 5]), "labels": np.array([2**53 + 1, 7])}
    features = [shared, {"input_ids": np.array([4, 5, 6]), "labels": np.array([1, 2, 3])}, shared]
    assert_same(batching.DataCollatorForSeq2Seq, collator, features, None)


def test_large_values_in_unpadded_array_labels_round_trip_through_float64():
    collator = batching.DataCollatorForSeq2Seq(TOKENIZERS["right"], return_tensors="np")
    big = 2**53 + 1
    features = [{"input_ids": np.array([4, 5]), "labels": np.array([big, 2**63 - 1])}]
    assert_same(batching.DataCollatorForSeq2Seq, collator, features, None)


# ------------------------------------------------------------------------ DataLoader


class BinDataset(torch.utils.data.Dataset):
    def __init__(self, n):
        rng = np.random.default_rng(1)
        self.items = []
        for _ in range(n):
            bin_ = []
            for _ in range(int(rng.integers(1, 5))):
                k = int(rng.integers(1, 40))
                ids = rng.integers(3, VOCAB, k).tolist()
                bin_.append(
                    {
                        "input_ids": ids,
                        "attention_mask": [1] * k,
                        "labels": ids,
                        "position_ids": list(range(k)),
                        "length": k,
                    }
                )
            self.items.append(bin_)

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return copy.deepcopy(self.items[i])


class ReferenceCollate:
    """Axolotl's collator with every original in place (in the worker process too)."""

    def __init__(self, collator):
        self.collator = collator

    def __call__(self, features):
        with originals():
            return type(self.collator).__call__(self.collator, features)


class RowDataset(BinDataset):
    """One feature dict per index (the non-packed path), without ``length``."""

    def __init__(self, n):
        super().__init__(n)
        self.items = [
            {k: v for k, v in item.items() if k != "length"} for b in self.items for item in b
        ]


@pytest.mark.parametrize("num_workers", [0, 2])
@pytest.mark.parametrize(
    ("cls", "dataset"),
    [
        (batching.V2BatchSamplerDataCollatorForSeq2Seq, BinDataset),
        (batching.DataCollatorForSeq2Seq, RowDataset),
    ],
)
def test_dataloader_batches_identical_with_patched_and_original_collator(num_workers, cls, dataset):
    collator = cls(TOKENIZERS["left"], pad_to_multiple_of=64, return_tensors="pt")
    ds = dataset(24)

    def batches(collate_fn):
        loader = torch.utils.data.DataLoader(
            ds, batch_size=4, collate_fn=collate_fn, num_workers=num_workers
        )
        return [describe(b) for b in loader]

    assert batches(collator) == batches(ReferenceCollate(collator))


@pytest.mark.parametrize("num_workers", [0, 2])
def test_multipack_dataloader_over_a_datasets_table_matches_axolotl(num_workers, monkeypatch):
    """Axolotl's packed training input: a tokenized `datasets.Dataset`, its
    MultipackBatchSampler and its patched DataLoader fetcher (bins of rows fetched with
    `__getitems__`), through the V2 collator."""
    datasets = pytest.importorskip("datasets")
    from axolotl.monkeypatch.data import batch_dataset_fetcher

    if not hasattr(batch_dataset_fetcher, "remove_multipack_dataloader_patch"):
        # 0.12's patch_fetchers() patches torch for the rest of the process, undoably.
        pytest.skip("this Axolotl release cannot remove its multipack DataLoader patch")
    apply_multipack_dataloader_patch = batch_dataset_fetcher.apply_multipack_dataloader_patch
    remove_multipack_dataloader_patch = batch_dataset_fetcher.remove_multipack_dataloader_patch
    from axolotl.utils.samplers import MultipackBatchSampler, get_dataset_lengths

    tok = TOKENIZERS["right"]
    rng = np.random.default_rng(3)
    rows = []
    for _ in range(60):
        text = " ".join(rng.choice(CORPUS[0].split() + CORPUS[1].split(), rng.integers(3, 60)))
        ids = tok(text)["input_ids"] + [tok.eos_token_id]
        rows.append(
            {
                "input_ids": ids,
                "attention_mask": [1] * len(ids),
                "labels": [-100] * (len(ids) // 3) + ids[len(ids) // 3 :],
                "position_ids": list(range(len(ids))),
            }
        )
    ds = datasets.Dataset.from_list(rows)
    sampler = MultipackBatchSampler(
        sampler=torch.utils.data.SequentialSampler(ds),
        lengths=get_dataset_lengths(ds),
        batch_size=2,
        batch_max_len=128,
        group_size=100_000,
        bin_size=200,
        sequential=True,
        drop_last=False,
    )
    collator = batching.V2BatchSamplerDataCollatorForSeq2Seq(
        tokenizer=tok, padding=True, pad_to_multiple_of=128, return_tensors="pt"
    )

    def batches(collate_fn):
        loader = torch.utils.data.DataLoader(
            ds, batch_sampler=sampler, collate_fn=collate_fn, num_workers=num_workers
        )
        return [describe(b) for b in loader]

    spy = Spy(patch_module._native.pad_batch)
    monkeypatch.setattr(patch_module._native, "pad_batch", spy)
    apply_multipack_dataloader_patch()
    try:
        fast = batches(collator)
        reference = batches(ReferenceCollate(collator))
    finally:
        remove_multipack_dataloader_patch()
    assert len(fast) > 3
    assert fast == reference
    if num_workers == 0:  # in this process: every batch took the native path, unless this
        # release's transformers pads with code the native path does not reproduce (defers)
        assert spy.calls == (len(fast) if patch_module._Transformers.load() else 0)

"""Multipack packing: the patched functions against Axolotl's real (numba) ones.

Hypothesis draws length arrays (zeros, oversized and negative items, int32/int64,
non-contiguous views, empty) and the scalar arguments; the patched and the original
function must return the same value with the same Python types, or raise the same
exception. ``MultipackBatchSampler`` is compared end to end as Axolotl's trainer builds it,
with seeded torch samplers: batches, ``len()``, ``efficiency()`` and the statistics.
"""

from __future__ import annotations

import contextlib
import os

import pytest

pytestmark = [pytest.mark.axolotl, pytest.mark.releases]

np = pytest.importorskip("numpy")
torch = pytest.importorskip("torch")
from axolotl.utils.samplers import multipack  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from torch.utils.data import DataLoader, RandomSampler, SequentialSampler  # noqa: E402

NAMES = ["pack_group", "_process_group", "pack_parallel", "allocate_sequentially", "ffd_check"]
MBS = multipack.MultipackBatchSampler


def test_fast_axolotl_patches_every_packing_symbol():
    for name in NAMES:
        assert hasattr(getattr(multipack, name), "__wrapped__"), name
    assert hasattr(MBS.generate_batches, "__wrapped__")


def test_comparisons_run_axolotls_own_numba_functions():
    with axolotl_originals():
        assert type(multipack.pack_group).__name__ == "CPUDispatcher"
        assert not hasattr(multipack.pack_parallel, "__wrapped__")
    assert hasattr(multipack.pack_parallel, "__wrapped__")


@contextlib.contextmanager
def axolotl_originals():
    """Axolotl's own functions in the module for the duration: its ``pack_parallel`` calls
    the module's ``_process_group`` and ``pack_group``, and ``generate_batches`` calls
    ``pack_parallel`` / ``allocate_sequentially``, which are otherwise the replacements."""
    saved = {name: getattr(multipack, name) for name in NAMES}
    for name, func in saved.items():
        setattr(multipack, name, func.__wrapped__)
    try:
        yield
    finally:
        for name, func in saved.items():
            setattr(multipack, name, func)


def typed(value):
    """A value with the exact types of every element (ints vs numpy ints vs bools)."""
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [typed(v) for v in value])
    return (type(value).__name__, value if not isinstance(value, np.ndarray) else value.tolist())


def outcome(func, *args, **kwargs):
    try:
        return ("returned", typed(func(*args, **kwargs)))
    except Exception as exc:
        return ("raised", type(exc), str(exc))


def assert_same(name, *args, **kwargs):
    patched = getattr(multipack, name)
    with axolotl_originals():
        expected = outcome(patched.__wrapped__, *args, **kwargs)
    got = outcome(patched, *args, **kwargs)
    assert got == expected


@st.composite
def length_arrays(draw, allow_negative=True):
    dtype = draw(st.sampled_from([np.int32, np.int64]))
    lo = -50 if allow_negative and draw(st.booleans()) else 0
    values = draw(
        st.lists(
            st.one_of(st.integers(lo, 64), st.integers(0, 300), st.just(0)),
            max_size=120,
        )
    )
    arr = np.array(values, dtype=dtype)
    if draw(st.booleans()) and arr.size > 1:
        arr = np.repeat(arr, 2)[::2]  # a strided, non-contiguous view of the same values
        assert not arr.flags["C_CONTIGUOUS"] or arr.size <= 1
    return arr


small = st.integers(-3, 12)
capacity = st.integers(-10, 200)


@given(length_arrays(), st.integers(0, 10_000), capacity, small, small, st.booleans())
def test_pack_group_is_first_fit_in_order_like_numba(
    lengths, offset, cap, max_bins, bin_size, safe
):
    assert_same("pack_group", lengths, offset, cap, max_bins, bin_size, safe)
    assert_same(
        "pack_group",
        sequence_lengths=lengths,
        group_offset=offset,
        bin_capacity=cap,
        max_bins=max_bins,
        bin_size=bin_size,
    )


@given(length_arrays(), st.integers(0, 1000), capacity, small, small, st.booleans())
def test_process_group_unpacks_its_tuple_like_axolotl(
    lengths, offset, cap, max_bins, bin_size, safe
):
    assert_same("_process_group", (lengths, offset, cap, max_bins, bin_size, safe))


@settings(max_examples=30)
@given(
    length_arrays(),
    capacity,
    st.integers(1, 50),
    small,
    st.sampled_from([None, 1, 2]),
    st.booleans(),
)
def test_pack_parallel_concatenates_group_bins_like_axolotl(
    lengths, cap, group_size, bin_size, num_processes, safe
):
    # num_processes > 1 runs Axolotl's real process pool: few examples.
    if num_processes != 1 and lengths.size > 2 * group_size:
        num_processes = 1
    assert_same("pack_parallel", lengths, cap, group_size, bin_size, num_processes, safe)


@given(length_arrays(), st.integers(0, 4), capacity, st.integers(1, 4))
def test_allocate_sequentially_is_next_fit_with_rank_striding(lengths, rank, cap, ranks):
    assert_same("allocate_sequentially", lengths, rank, cap, ranks)


@given(length_arrays(), capacity, st.integers(0, 40))
def test_ffd_check_agrees_with_numba(lengths, cap, num_bins):
    assert_same("ffd_check", lengths, cap, num_bins)


@pytest.mark.parametrize(
    "args",
    [
        (np.array([1.5, 2.0]), 0, 10, 5, 3, True),  # float lengths: numba's own float path
        (np.array([3, 4], dtype=np.int16), 0, 10, 5, 3, True),
        (np.array([[3, 4]], dtype=np.int64), 0, 10, 5, 3, True),
        (np.array([3, 4], dtype=np.int64), 0, 10.0, 5, 3, True),
        (np.array([3, 4], dtype=np.int64), 0, 10, 5, 3, 1),
        (np.array([3, 4], dtype=np.int64), 0, np.int64(10), 5, 3, True),
        (np.array([2**61, 2**61], dtype=np.int64), 0, 10, 5, 3, True),
        ([3, 4], 0, 10, 5, 3, True),
        (np.array([6, 6, 6, 1], dtype=np.int32), 0, 8, 2, 10, None),  # None: numba's False
    ],
)
def test_pack_group_defers_to_numba_outside_the_kernel(args):
    assert_same("pack_group", *args)


def test_pack_group_safe_mode_by_keyword_and_bad_keywords_like_numba():
    lengths = np.array([6, 6, 6, 1], dtype=np.int32)
    assert_same("pack_group", lengths, 0, 8, 2, 10, safe_mode=False)
    assert_same("pack_group", lengths, 0, 8, 2, 10, safe_mode=None)
    assert_same("pack_group", lengths, 0, 8, 2, 10, unknown=True)
    assert_same("pack_group", lengths, 0, 8, 2, 10, True, True)
    assert_same("pack_parallel", lengths, 8, 2, 10, None, None)


def test_pack_parallel_defers_on_bad_pool_arguments():
    lengths = np.array([3, 4, 5], dtype=np.int32)
    assert_same("pack_parallel", lengths, 10, 0, 3)  # ZeroDivisionError in Axolotl
    assert_same("pack_parallel", lengths, 10, 2, 3, num_processes=0)
    assert_same("pack_parallel", lengths, 10, 2, 3, 1, True, "no-such-method")


def test_ffd_check_defers_where_int32_bins_could_wrap():
    assert_same("ffd_check", np.array([5, -3], dtype=np.int32), 2**31 - 2, 1)
    assert_same("ffd_check", np.array([5], dtype=np.int32), 2**40, 1)
    assert_same("ffd_check", np.array([5], dtype=np.int32), 10, -1)


def test_kernels_need_no_numba_compile_on_a_fresh_call():
    # A new dtype/argument combination: numba would compile; the patched call must not.
    lengths = np.arange(1000, dtype=np.int64)[::3]
    dispatcher = multipack.pack_group.__wrapped__
    before = len(dispatcher.signatures)
    multipack.pack_group(lengths, 7, 512, 10_000, 9, False)
    multipack.pack_parallel(lengths, 512, 100, 9)
    assert len(dispatcher.signatures) == before


# ---------------------------------------------------------------- MultipackBatchSampler


def build(lengths, *, random_sampler, seed, batch_size, batch_max_len, **kwargs):
    dataset = range(len(lengths))
    if random_sampler:
        gen = torch.Generator()
        gen.manual_seed(seed)
        sampler = RandomSampler(dataset, generator=gen)
    else:
        sampler = SequentialSampler(dataset)
    return MBS(
        sampler,
        lengths=lengths,
        batch_size=batch_size,
        batch_max_len=batch_max_len,
        drop_last=kwargs.pop("drop_last", True),
        **kwargs,
    )


def run_sampler(sampler, passes):
    out = [("len", len(sampler))]
    for epoch in range(passes):
        sampler.set_epoch(epoch)
        out.append(("iter", list(iter(sampler))))
    out.append(("efficiency", sampler.efficiency()))
    out.append(
        (
            "stats",
            typed(sampler.total_tokens_used),
            typed(sampler.total_token_slots),
        )
    )
    out.append(("cached", sampler.generate_batches() is sampler._batches))
    return out


def sampler_outcome(patched_class_method, lengths, passes, **kwargs):
    saved = MBS.generate_batches
    MBS.generate_batches = patched_class_method
    try:
        return run_sampler(build(lengths, **kwargs), passes)
    except Exception as exc:
        return ("raised", type(exc), str(exc))
    finally:
        MBS.generate_batches = saved


def assert_same_sampler(lengths, passes=2, **kwargs):
    patched = MBS.generate_batches
    with axolotl_originals():
        expected = sampler_outcome(patched.__wrapped__, lengths, passes, **kwargs)
    got = sampler_outcome(patched, lengths, passes, **kwargs)
    assert got == expected


@settings(max_examples=40)
@given(
    lengths=st.lists(st.integers(0, 300), max_size=150),
    random_sampler=st.booleans(),
    seed=st.integers(0, 2**32),
    batch_size=st.integers(1, 4),
    batch_max_len=st.integers(1, 400),
    bin_size=st.one_of(st.none(), st.integers(1, 8)),
    sequential=st.booleans(),
    group_size=st.integers(1, 60),
    safe_mode=st.booleans(),
    drop_last=st.booleans(),
    num_processes=st.sampled_from([None, 1]),
)
def test_multipack_sampler_batches_len_and_efficiency_match_axolotl(
    lengths, random_sampler, seed, batch_size, batch_max_len, **kwargs
):
    assert_same_sampler(
        np.array(lengths, dtype=np.int64),
        random_sampler=random_sampler,
        seed=seed,
        batch_size=batch_size,
        batch_max_len=batch_max_len,
        **kwargs,
    )


@pytest.mark.parametrize("world_size", ["1", "8"])
def test_multipack_sampler_with_world_size(monkeypatch, world_size):
    monkeypatch.setenv("WORLD_SIZE", world_size)
    rng = np.random.default_rng(3)
    assert_same_sampler(
        rng.integers(1, 512, 5000),
        random_sampler=True,
        seed=11,
        batch_size=2,
        batch_max_len=1024,
        bin_size=200,
        group_size=1000,
    )


def test_drop_last_statistics_follow_the_installed_releases_variant():
    import _release

    # Five bins of 9 tokens, two bins a batch: drop_last drops the third batch's one bin.
    lengths = np.full(5, 9, dtype=np.int64)
    kwargs = {"random_sampler": False, "seed": 0, "batch_size": 2, "batch_max_len": 10}
    kwargs.update(bin_size=1, group_size=100, drop_last=True, num_processes=1)
    assert_same_sampler(lengths, passes=1, **kwargs)
    sampler = build(lengths, **kwargs)
    sampler.generate_batches(set_stats=True)
    stats = (int(sampler.total_tokens_used), int(sampler.total_token_slots))
    variant = _release.variant(
        "axolotl.utils.samplers.multipack:MultipackBatchSampler.generate_batches"
    )
    if variant == "cached-drop-last":
        assert stats == (36, 40)  # the dropped bin leaves the statistics
    else:
        assert variant.startswith("stats-before-drop-last")
        assert stats == (45, 50)


def test_multipack_sampler_sequential_drop_last_overflow_behaves_like_axolotl():
    # The sequential path's total_used is a Python int; the dropped batch's lengths are
    # numpy int32: NumPy 2 refuses the subtraction when the total exceeds int32.
    lengths = np.full(2_200_000, 1000, dtype=np.int32)
    lengths[-1] = 1500

    def one_pass(generate_batches):
        sampler = MBS(
            SequentialSampler(range(len(lengths))),
            batch_size=2,
            batch_max_len=2048,
            lengths=lengths,
            bin_size=200,
            sequential=True,
        )
        try:
            batches = generate_batches(sampler, set_stats=True)
        except Exception as exc:
            return ("raised", type(exc), str(exc), sampler.total_tokens_used)
        return (len(batches), typed(sampler.total_tokens_used), sampler._batches is batches)

    patched = MBS.generate_batches
    with axolotl_originals():
        expected = one_pass(patched.__wrapped__)
    assert one_pass(patched) == expected


def test_multipack_sampler_defers_after_drawing_for_foreign_index_types():
    lengths = np.array([5, 7, 9, 11], dtype=np.int32)

    class NumpyIndexSampler(SequentialSampler):
        def __iter__(self):
            return iter(np.arange(len(self.data_source)))

    def make():
        return MBS(
            NumpyIndexSampler(range(4)), batch_size=1, batch_max_len=16, lengths=lengths, bin_size=4
        )

    saved = MBS.generate_batches
    try:
        MBS.generate_batches = saved.__wrapped__
        with axolotl_originals():
            expected = typed(make().generate_batches(set_stats=True))
    finally:
        MBS.generate_batches = saved
    got = typed(make().generate_batches(set_stats=True))
    assert got == expected


def test_multipack_sampler_draws_the_sampler_once_per_pass():
    draws = []

    class Counting(SequentialSampler):
        def __iter__(self):
            draws.append(1)
            return super().__iter__()

    sampler = MBS(
        Counting(range(10)), batch_size=1, batch_max_len=16, lengths=np.arange(10), bin_size=4
    )
    sampler.generate_batches()
    sampler._batches = None
    sampler.lengths = sampler.lengths.astype(np.int16)  # not reproduced: Axolotl runs it
    sampler.generate_batches()
    assert len(draws) == 2


# ---------------------------------------------------------------- DataLoader end to end


class IndexDataset(torch.utils.data.Dataset):
    def __init__(self, lengths):
        self.lengths = lengths

    def __len__(self):
        return len(self.lengths)

    def __getitem__(self, idx):
        # A batch sampler hands over one bin (a list of indices) at a time.
        return [{"idx": i, "length": int(self.lengths[i])} for i in idx]


def loader_batches(generate_batches, num_workers):
    saved = MBS.generate_batches
    MBS.generate_batches = generate_batches
    try:
        rng = np.random.default_rng(0)
        lengths = rng.integers(1, 64, 2000)
        gen = torch.Generator()
        gen.manual_seed(1234)
        sampler = MBS(
            RandomSampler(range(len(lengths)), generator=gen),
            batch_size=4,
            batch_max_len=256,
            lengths=lengths,
            bin_size=32,
            group_size=500,
        )
        loader = DataLoader(
            IndexDataset(lengths),
            batch_sampler=sampler,
            collate_fn=lambda b: b,
            num_workers=num_workers,
            multiprocessing_context="fork" if num_workers else None,
        )
        out = []
        for batch in loader:
            out.append([[(item["idx"], item["length"]) for item in pack] for pack in batch])
        return len(loader), out, sampler.efficiency()
    finally:
        MBS.generate_batches = saved


@pytest.mark.parametrize("num_workers", [0, 2])
def test_dataloader_batches_identical_with_and_without_fast_axolotl(num_workers):
    from axolotl.monkeypatch.data import batch_dataset_fetcher

    if not hasattr(batch_dataset_fetcher, "remove_multipack_dataloader_patch"):
        # 0.12's bins reach a plain DataLoader only through its undoable fetcher patch.
        pytest.skip("this Axolotl release needs its irreversible multipack DataLoader patch")
    if num_workers and not hasattr(os, "fork"):
        pytest.skip("needs fork")
    patched = MBS.generate_batches
    with axolotl_originals():
        expected = loader_batches(patched.__wrapped__, num_workers)
    got = loader_batches(patched, num_workers)
    assert got == expected
    n, batches, _ = got
    assert n == len(batches) > 0
    for batch in batches:
        assert len(batch) == 4
        for pack in batch:
            assert 0 < len(pack) <= 32
            assert sum(length for _, length in pack) <= 256


def test_generate_batches_takes_the_kernel_path_for_a_trainer_sampler():
    import sys

    original_code = MBS.generate_batches.__wrapped__.__code__
    seen = []

    def hook(frame, event, arg):
        if event == "call" and frame.f_code is original_code:
            seen.append(1)

    sampler = build(
        np.arange(1, 500),
        random_sampler=True,
        seed=0,
        batch_size=1,
        batch_max_len=512,
        bin_size=200,
        group_size=100,
    )
    sys.setprofile(hook)
    try:
        len(sampler)
        list(iter(sampler))
    finally:
        sys.setprofile(None)
    assert not seen


def test_deferred_pack_parallel_pickles_the_patched_process_group_into_its_pool():
    # int16 lengths are left to Axolotl; its process pool then pickles the module's
    # _process_group (the replacement) by reference into fork workers.
    lengths = np.arange(1, 40, dtype=np.int16)
    assert_same("pack_parallel", lengths, 30, 10, 4, 2)
    assert_same("pack_parallel", lengths, 30, 10, 4, 2, True, "spawn")


def local_tokenizer():
    """A word-level tokenizer built here (no download), with pad/eos tokens."""
    import transformers
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {"<unk>": 0, "<pad>": 1, "</s>": 2, **{f"w{i}": i + 3 for i in range(500)}}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>", eos_token="</s>"
    )


def axolotl_loader_batches(generate_batches, num_workers, batch_size, seq_len, sequential):
    """Axolotl's packed-batch pipeline: a tokenized `datasets.Dataset`, its lengths, the
    multipack DataLoader patch and the V2 batch-sampler collator."""
    import datasets
    from axolotl.monkeypatch.data import batch_dataset_fetcher

    if not hasattr(batch_dataset_fetcher, "remove_multipack_dataloader_patch"):
        # 0.12's patch_fetchers() patches torch for the rest of the process, undoably.
        pytest.skip("this Axolotl release cannot remove its multipack DataLoader patch")
    apply_multipack_dataloader_patch = batch_dataset_fetcher.apply_multipack_dataloader_patch
    remove_multipack_dataloader_patch = batch_dataset_fetcher.remove_multipack_dataloader_patch
    from axolotl.utils.collators import V2BatchSamplerDataCollatorForSeq2Seq
    from axolotl.utils.samplers import get_dataset_lengths

    rng = np.random.default_rng(7)
    rows = [rng.integers(3, 500, int(rng.integers(5, 300))).tolist() for _ in range(120)]
    ds = datasets.Dataset.from_dict(
        {"input_ids": rows, "labels": rows, "attention_mask": [[1] * len(r) for r in rows]}
    )
    tokenizer = local_tokenizer()
    saved = MBS.generate_batches
    MBS.generate_batches = generate_batches
    apply_multipack_dataloader_patch()
    try:
        gen = torch.Generator()
        gen.manual_seed(99)
        sampler = MBS(
            sampler=RandomSampler(ds, generator=gen),
            lengths=get_dataset_lengths(ds),
            batch_size=batch_size,
            batch_max_len=seq_len,
            group_size=100_000,
            bin_size=200,
            sequential=sequential,
            drop_last=False,
        )
        loader = DataLoader(
            ds,
            batch_sampler=sampler,
            collate_fn=V2BatchSamplerDataCollatorForSeq2Seq(
                tokenizer=tokenizer, padding=True, pad_to_multiple_of=seq_len, return_tensors="pt"
            ),
            num_workers=num_workers,
            multiprocessing_context="fork" if num_workers else None,
        )
        out = []
        for batch in loader:
            assert batch["input_ids"].shape[1] == seq_len
            assert batch["input_ids"].numel() <= batch_size * seq_len
            out.append({k: (v.dtype, v.tolist()) for k, v in batch.items()})
        return out, sampler.efficiency()
    finally:
        remove_multipack_dataloader_patch()
        MBS.generate_batches = saved


@pytest.mark.parametrize("num_workers", [0, 2])
@pytest.mark.parametrize("batch_size", [1, 2])
@pytest.mark.parametrize("sequential", [False, True])
def test_axolotl_packed_dataloader_batches_identical_with_and_without_fast_axolotl(
    num_workers, batch_size, sequential
):
    patched = MBS.generate_batches
    with axolotl_originals():
        expected = axolotl_loader_batches(
            patched.__wrapped__, num_workers, batch_size, 512, sequential
        )
    got = axolotl_loader_batches(patched, num_workers, batch_size, 512, sequential)
    assert got == expected
    assert len(got[0]) > 0

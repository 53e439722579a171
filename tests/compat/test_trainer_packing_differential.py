"""process_datasets_for_packing / process_pretraining_datasets_for_packing against Axolotl.

Both are whole steps (filter + map over a dataset). Hypothesis builds tokenized datasets
(labels partly or fully masked with -100, empty rows, int widths, indices mappings) and
configurations; the patched step and Axolotl's original must return datasets with the
same rows, columns, features and order, log the same lines, or raise the same error.
"""

from __future__ import annotations

import logging

import pytest

pytestmark = [
    pytest.mark.axolotl,
    pytest.mark.releases,
    pytest.mark.usefixtures("kernels_on_every_batch"),
]

np = pytest.importorskip("numpy")
pa = pytest.importorskip("pyarrow")
datasets = pytest.importorskip("datasets")
import _release  # noqa: E402
import axolotl.utils.trainer as trainer  # noqa: E402
from axolotl.utils.dict import DictDefault  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

PACKING = trainer.process_datasets_for_packing
PRETRAINING = trainer.process_pretraining_datasets_for_packing


def test_both_steps_are_patched_and_rebound():
    import importlib

    import axolotl.utils.data.sft as sft

    # The pretraining path lived in axolotl.utils.data.pretraining up to 0.12.
    streaming = importlib.import_module(
        "axolotl.utils.data.streaming"
        if _release.module_exists("axolotl.utils.data.streaming")
        else "axolotl.utils.data.pretraining"
    )

    # Looked up now: other tests may reinstall fast-axolotl, which builds new replacements.
    assert hasattr(trainer.process_datasets_for_packing, "__wrapped__"), "not active"
    assert hasattr(trainer.process_pretraining_datasets_for_packing, "__wrapped__")
    assert sft.process_datasets_for_packing is trainer.process_datasets_for_packing
    assert (
        streaming.process_pretraining_datasets_for_packing
        is trainer.process_pretraining_datasets_for_packing
    )


@st.composite
def packing_tables(draw, max_rows=25):
    n = draw(st.integers(0, max_rows))
    lengths = draw(st.lists(st.integers(0, 10), min_size=n, max_size=n))
    ids_type = draw(st.sampled_from([pa.int64(), pa.int32(), pa.uint16()]))
    list_of = draw(st.sampled_from([pa.list_, pa.large_list]))
    ids = [list(range(1, k + 1)) for k in lengths]
    mode = draw(st.sampled_from(["mixed", "all-masked", "none-masked"]))
    labels = []
    for row in ids:
        if mode == "all-masked":
            labels.append([-100] * len(row))
        elif mode == "none-masked":
            labels.append(list(row))
        else:
            labels.append([v if draw(st.booleans()) else -100 for v in row])
    columns = {
        "input_ids": pa.array(ids, list_of(ids_type)),
        "attention_mask": pa.array([[1] * k for k in lengths], pa.list_(pa.int64())),
        "labels": pa.array(labels, pa.list_(draw(st.sampled_from([pa.int64(), pa.int32()])))),
    }
    if draw(st.booleans()):
        columns["token_type_ids"] = pa.array([[0] * k for k in lengths], pa.list_(pa.int8()))
    table = pa.table(columns)
    chunk = draw(st.integers(1, max(n, 1)))
    table = pa.Table.from_batches(table.to_batches(max_chunksize=chunk), schema=table.schema)
    ds = datasets.Dataset(datasets.table.InMemoryTable(table))
    if draw(st.booleans()) and n:
        ds = ds.shuffle(seed=draw(st.integers(0, 100)))
    return ds


configs = st.fixed_dictionaries(
    {
        "model_config_type": st.sampled_from(["llama", "mamba", "gemma3", "mistral", "falcon"]),
        "sample_packing": st.booleans(),
        "eval_sample_packing": st.sampled_from([None, True, False]),
        "group_by_length": st.booleans(),
        "dataset_num_proc": st.sampled_from([None, 1]),
        # What 0.12 reads instead of dataset_num_proc.
        "dataset_processes": st.sampled_from([None, 1]),
        "is_preprocess": st.booleans(),
    }
)


def summary(ds):
    if ds is None:
        return None
    table = ds.with_format("arrow")[:]
    return (ds.features, ds.column_names, table.schema, table.to_pylist())


def run(func, caplog, *args):
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        try:
            result = func(*args)
        except Exception as exc:
            outcome = ("raised", type(exc), str(exc))
        else:
            if isinstance(result, tuple):
                outcome = ("ok", *[summary(d) for d in result])
            else:
                outcome = ("ok", summary(result))
    logs = [
        # fast_axolotl: a fast path that failed and fell back logs there: a difference.
        (r.levelname, r.getMessage())
        for r in caplog.records
        if r.name in ("axolotl.utils.trainer", "fast_axolotl")
    ]
    return outcome, logs


@given(packing_tables(), st.one_of(st.none(), packing_tables(max_rows=8)), configs)
@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_process_datasets_for_packing_matches_axolotl(caplog, train, eval_ds, cfg):
    cfg = DictDefault(cfg)
    got = run(PACKING, caplog, cfg, train, eval_ds)
    expected = run(PACKING.__wrapped__, caplog, cfg, train, eval_ds)
    assert got == expected


def test_all_masked_labels_raise_in_0_19_and_are_kept_by_the_no_op_filter_before(caplog):
    ds = datasets.Dataset.from_dict({"input_ids": [[1, 2]], "labels": [[-100, -100]]})
    cfg = DictDefault({"sample_packing": True})
    got = run(PACKING, caplog, cfg, ds, None)
    assert got == run(PACKING.__wrapped__, caplog, cfg, ds, None)
    variant = _release.variant("axolotl.utils.trainer:process_datasets_for_packing")
    if variant == "drop-and-raise":
        assert got[0][0] == "raised" and "no samples left after dropping" in got[0][2]
    else:
        assert variant in ("no-op-filter", "no-op-filter-dataset-processes")
        assert got[0][0] == "ok" and len(got[0][1][3]) == 1  # the row is kept


def test_num_proc_2_gives_the_same_datasets(caplog):
    rng = np.random.default_rng(0)
    ids = [list(range(1, int(k) + 1)) for k in rng.integers(0, 30, size=80)]
    labels = [
        [v if v % 3 else -100 for v in r] if i % 4 else [-100] * len(r) for i, r in enumerate(ids)
    ]
    ds = datasets.Dataset.from_dict(
        {"input_ids": ids, "attention_mask": [[1] * len(r) for r in ids], "labels": labels}
    )
    cfg = DictDefault({"sample_packing": True, "dataset_num_proc": 2, "is_preprocess": True})
    assert run(PACKING, caplog, cfg, ds, None) == run(PACKING.__wrapped__, caplog, cfg, ds, None)


@given(
    packing_tables(),
    st.integers(0, 12),
    st.booleans(),
    st.booleans(),
)
@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_process_pretraining_datasets_for_packing_matches_axolotl(
    caplog, ds, sequence_len, skip_position_ids, drop_attention_mask
):
    args = (ds, sequence_len, skip_position_ids, drop_attention_mask)
    assert run(PRETRAINING, caplog, *args) == run(PRETRAINING.__wrapped__, caplog, *args)


def test_pretraining_null_rows_defer_to_axolotls_one_at_a_time_filter(caplog):
    table = pa.table({"input_ids": pa.array([[1, 2], None, [1, 2, 3]], pa.list_(pa.int64()))})
    ds = datasets.Dataset(datasets.table.InMemoryTable(table))
    assert run(PRETRAINING, caplog, ds, 2) == run(PRETRAINING.__wrapped__, caplog, ds, 2)


FINGERPRINT_SCRIPT = """
import datasets
from axolotl.utils.dict import DictDefault
from axolotl.utils.trainer import process_datasets_for_packing
ds = datasets.Dataset.from_dict({"input_ids": [[1, 2], [3]], "labels": [[1, -100], [-100]]})
out, _ = process_datasets_for_packing(DictDefault({"sample_packing": True}), ds, None)
print(out._fingerprint)
try:
    from axolotl.utils.data.utils import handle_long_seq_in_dataset
except ImportError:  # 0.12.0-0.12.1
    pass
else:
    cfg = DictDefault({"excess_length_strategy": "truncate"})
    print(handle_long_seq_in_dataset(ds, 1, cfg)._fingerprint)
"""


def test_fingerprints_of_replaced_steps_are_the_same_in_two_fresh_processes():
    import os
    import subprocess
    import sys

    env = dict(os.environ, HF_DATASETS_DISABLE_PROGRESS_BARS="1")
    prints = [
        subprocess.run(
            [sys.executable, "-c", FINGERPRINT_SCRIPT],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        ).stdout.strip()
        for _ in range(2)
    ]
    assert prints[0] and prints[0] == prints[1]


def test_shadow_mode_reports_no_difference_for_the_replaced_steps():
    import os
    import subprocess
    import sys

    env = dict(os.environ, HF_DATASETS_DISABLE_PROGRESS_BARS="1", FAST_AXOLOTL_VERIFY="1")
    run = subprocess.run(
        [sys.executable, "-c", FINGERPRINT_SCRIPT], capture_output=True, text=True, env=env
    )
    assert run.returncode == 0, run.stderr
    assert "VERIFY" not in run.stderr + run.stdout

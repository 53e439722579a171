"""The demo end to end: real ``axolotl preprocess`` twice, prepared data identical.

Timings are printed by the demo but never asserted: a test machine is no benchmark.
"""

from __future__ import annotations

import json

import pytest

from fast_axolotl import demo

pytestmark = pytest.mark.axolotl

ROWS = 2000


def test_generated_dataset_is_deterministic(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    stats = demo.generate_dataset(a, 400, seed=7)
    demo.generate_dataset(b, 400, seed=7)
    assert a.read_bytes() == b.read_bytes()
    records = [json.loads(line) for line in a.read_text(encoding="utf-8").splitlines()]
    assert len(records) == stats.rows == 400
    assert all(set(r) == {"instruction", "input", "output"} for r in records)
    assert stats.duplicate_rows > 0
    assert stats.overlong_rows >= 1


def test_model_dir_loads_offline(tmp_path, monkeypatch):
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.setenv(var, "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    model_dir = tmp_path / "model"
    vocab = demo.build_model_dir(model_dir, demo.tokenizer_corpus(paragraphs=500))

    from transformers import AutoConfig, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir))
    assert len(tok) == vocab
    for name in ("bos", "eos", "pad", "unk"):
        assert getattr(tok, f"{name}_token_id") is not None
    ids = tok("The quiet river builds a bridge.")["input_ids"]
    assert ids[0] == tok.bos_token_id and len(ids) > 2
    config = AutoConfig.from_pretrained(str(model_dir))
    assert config.model_type == "llama" and config.vocab_size == vocab


def test_demo_prepared_data_identical(tmp_path, capsys):
    result = demo.run_demo(ROWS, tmp_path, show_status=False)
    demo.print_summary(result)
    out = capsys.readouterr().out

    for run in (result.plain, result.fast):
        assert run is not None
        assert run.ok, f"{run.mode} run failed:\n{demo._tail(run.log_path)}"
        assert run.times and all(t > 0 for t in run.times)
    assert result.error is None
    # FAST_AXOLOTL_DISABLE=1 must keep fast-axolotl out of the plain run
    assert result.plain.fast_axolotl_loaded is not True

    cmp = result.comparison
    assert cmp is not None
    assert cmp.identical, cmp.differences
    assert cmp.differences == []
    assert cmp.data_files >= 1 and cmp.data_files_identical, "saved .arrow files differ"
    assert len(cmp.splits) == 1
    (prepared_rows,) = cmp.splits.values()
    # duplicates and overlong rows were removed, the rest kept
    assert 0 < prepared_rows < ROWS
    assert prepared_rows <= result.dataset.unique_rows
    assert {"input_ids", "labels", "position_ids"} <= set(cmp.columns)
    assert result.exit_code == 0
    assert "identical" in out


def test_cli_arguments(tmp_path):
    args = demo.build_parser().parse_args(["--rows", "300", "--workdir", str(tmp_path), "--keep"])
    assert (args.rows, args.workdir, args.keep, args.repeat) == (300, tmp_path, True, 1)
    assert demo.build_parser().parse_args([]).rows == demo.DEFAULT_ROWS
    with pytest.raises(SystemExit):
        demo.build_parser().parse_args(["--rows", "0"])

"""The demo end to end: real ``axolotl preprocess`` twice per dataset, prepared data identical.

Timings are printed by the demo but never asserted: a test machine is no benchmark.
"""

from __future__ import annotations

import json

import pytest

from fast_axolotl import demo

pytestmark = pytest.mark.axolotl

ROWS = 2000


def test_generated_alpaca_dataset_is_deterministic(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    stats = demo.generate_dataset(a, 400, seed=7)
    demo.generate_dataset(b, 400, seed=7)
    assert a.read_bytes() == b.read_bytes()
    records = [json.loads(line) for line in a.read_text(encoding="utf-8").splitlines()]
    assert len(records) == stats.rows == 400
    assert all(set(r) == {"instruction", "input", "output"} for r in records)
    assert stats.duplicate_rows > 0
    assert stats.overlong_rows >= 1


def test_generated_chat_dataset_is_deterministic_multi_turn_conversations(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    stats = demo.generate_chat_dataset(a, 400, seed=7)
    demo.generate_chat_dataset(b, 400, seed=7)
    assert a.read_bytes() == b.read_bytes()
    records = [json.loads(line) for line in a.read_text(encoding="utf-8").splitlines()]
    assert len(records) == stats.rows == 400
    assert all(set(r) == {"messages"} for r in records)
    roles = [[m["role"] for m in r["messages"]] for r in records]
    for r in roles:
        body = r[1:] if r[0] == "system" else r
        assert body and body == ["user", "assistant"] * (len(body) // 2)
    assert any(r[0] == "system" for r in roles) and any(len(r) >= 6 for r in roles)
    assert stats.duplicate_rows > 0
    assert stats.overlong_rows >= 1


def test_model_dir_loads_offline_with_chatml_markers_as_single_tokens(tmp_path, monkeypatch):
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
    marked = tok("<|im_start|>user\nhi<|im_end|>", add_special_tokens=False)["input_ids"]
    assert marked[0] == vocab - 2 and marked[-1] == vocab - 1
    config = AutoConfig.from_pretrained(str(model_dir))
    assert config.model_type == "llama" and config.vocab_size == vocab


def test_demo_saves_byte_identical_arrow_files_for_alpaca_and_chat_template(tmp_path, capsys):
    result = demo.run_demo(ROWS, tmp_path, show_status=False)
    demo.print_summary(result)
    out = capsys.readouterr().out

    assert result.error is None
    assert sorted(result.datasets) == ["alpaca", "chat_template"]
    for name, run in result.datasets.items():
        for mode_run in (run.plain, run.fast):
            assert mode_run is not None
            assert mode_run.ok, f"{name} {mode_run.mode} failed:\n{demo.tail(mode_run.log_path)}"
            assert mode_run.times and all(t > 0 for t in mode_run.times)
        # FAST_AXOLOTL_DISABLE=1 must keep fast-axolotl out of the plain run
        assert run.plain.fast_axolotl_loaded is not True
        cmp = run.comparison
        assert cmp is not None
        assert cmp.identical, (name, cmp.differences)
        assert cmp.differences == []
        assert cmp.data_files >= 1 and cmp.data_files_identical, f"{name}: .arrow files differ"
        assert len(cmp.splits) == 1
        (prepared_rows,) = cmp.splits.values()
        # duplicates and overlong rows were removed, the rest kept
        assert 0 < prepared_rows < ROWS
        assert prepared_rows <= run.dataset.unique_rows
        assert {"input_ids", "labels", "position_ids"} <= set(cmp.columns)
        assert f"{name}: speedup (plain / fast-axolotl)" in out
    assert result.exit_code == 0
    assert "identical" in out


def test_cli_arguments(tmp_path):
    args = demo.build_parser().parse_args(["--rows", "300", "--workdir", str(tmp_path), "--keep"])
    assert (args.rows, args.workdir, args.keep, args.repeat) == (300, tmp_path, True, 1)
    assert args.datasets == ("alpaca", "chat_template")
    assert demo.build_parser().parse_args([]).rows == demo.DEFAULT_ROWS
    assert demo.build_parser().parse_args(["--datasets", "chat_template"]).datasets == (
        "chat_template",
    )
    for bad in (["--rows", "0"], ["--datasets", "sharegpt"]):
        with pytest.raises(SystemExit):
            demo.build_parser().parse_args(bad)

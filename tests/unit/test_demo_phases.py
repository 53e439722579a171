"""benchmarks/demo_phases.py: the breakdown of a demo run from its log."""

from __future__ import annotations

import importlib.util
import pathlib

import pytest

from fast_axolotl.demo.run import RUN_BOUNDS

SCRIPT = pathlib.Path(__file__).parents[2] / "benchmarks" / "demo_phases.py"


@pytest.fixture(scope="module")
def demo_phases():
    if not SCRIPT.exists():
        pytest.skip("benchmarks/ is not next to the tests (installed test run)")
    spec = importlib.util.spec_from_file_location("demo_phases", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


LOG = """$ python -m axolotl.cli.preprocess config.yml

[2026-11-30 11:00:10,000] [INFO] [axolotl.utils.data.sft] Loading raw datasets...
Tokenizing Prompts: 100%
[2026-11-30 11:00:16,500] [INFO] [axolotl.utils.data.utils] min_input_len: 89
[2026-11-30 11:00:17,000] [INFO] [axolotl.utils.data.utils] Dropped 693 sequences
[2026-11-30 11:00:19,000] [INFO] [axolotl.utils.data.utils] Starting deduplication for train
[2026-11-30 11:00:19,500] [INFO] [axolotl.utils.data.utils] Starting deduplication for train
[2026-11-30 11:00:20,250] [INFO] [axolotl.common.datasets] check_dataset_labels...

{bounds} started [2026-11-30 11:00:00,000] exit {code} after 21.000 s
"""


def test_phases_split_the_run_at_axolotls_log_lines(demo_phases, tmp_path):
    log = tmp_path / "preprocess-fast.log"
    log.write_text(LOG.format(bounds=RUN_BOUNDS, code=0))
    got = demo_phases.phases(log)
    assert list(got.values()) == [10.0, 6.5, 0.5, 2.0, 1.25, 0.75, 21.0]
    assert sum(list(got.values())[:-1]) == pytest.approx(got["total"])


def test_failed_runs_and_logs_without_bounds_are_left_out(demo_phases, tmp_path, capsys):
    (tmp_path / "preprocess-plain.log").write_text(LOG.format(bounds=RUN_BOUNDS, code=1))
    (tmp_path / "preprocess-old.log").write_text(LOG.format(bounds="# other", code=0))
    assert demo_phases.main([str(tmp_path)]) == 1
    (tmp_path / "preprocess-fast.log").write_text(LOG.format(bounds=RUN_BOUNDS, code=0))
    assert demo_phases.main([str(tmp_path)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0] == f"| step | {tmp_path.name}/fast |"
    assert table[-1] == "| **total** | 21.0 s |"

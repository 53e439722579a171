"""conftest.py for Axolotl's own tests, run offline by tests/compat/test_axolotl_suite.py.

This file is a template. The outer test copies it to ``<run dir>/tests/conftest.py``, next to
test files taken from Axolotl's source distribution, and runs pytest on that tree in a
subprocess. It replaces Axolotl's tests/conftest.py, which downloads models and datasets
from the Hugging Face hub at session start. Its name is not ``conftest.py`` so that pytest
never loads it while it runs fast-axolotl's own tests.

It does four things:

* Isolation: a private, empty ``HF_HOME``, hub/datasets offline, Axolotl telemetry off.
  This runs at import, before any test module imports huggingface_hub or datasets.
* Activation check: with ``FAST_AXOLOTL_EXPECT_ACTIVE=1``, the session stops with an error
  unless fast-axolotl has patched ``axolotl.utils.samplers.utils.get_dataset_lengths``.
* Offline fixtures: ``tokenizer_huggyllama``. The private hub cache gets a stand-in for
  the repository ``huggyllama/llama-7b``: a small byte-level BPE tokenizer trained here
  with the ``tokenizers`` library, wrapped in ``PreTrainedTokenizerFast``, and a tiny
  Llama ``config.json`` (no weights). ``AutoTokenizer``/``AutoConfig`` resolve that name
  from the cache with the hub offline, as in Axolotl's CI after its conftest downloaded
  the real files. It is not the real tokenizer: only tests that do not depend on its
  exact token ids may use it (the deduplication tests only count rows).
* Selection and report: node ids listed in the JSON file named by
  ``FAST_AXOLOTL_COMPAT_DESELECT`` (``{node id or prefix: reason}``) are deselected, and an
  id that matches nothing in a collected file is an error, so the list cannot go stale
  silently. With ``FAST_AXOLOTL_COMPAT_REPORT`` set, a JSON report of every test outcome
  is written there at the end of the session.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

_TRUE = {"1", "true", "yes", "on"}


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


# --------------------------------------------------------------------------- isolation


def _isolate_environment() -> None:
    hf_home = os.environ.get("FAST_AXOLOTL_COMPAT_HF_HOME")
    if not hf_home:
        hf_home = tempfile.mkdtemp(prefix="fast-axolotl-compat-hf-")
        atexit.register(shutil.rmtree, hf_home, ignore_errors=True)
    os.environ["HF_HOME"] = hf_home
    # Every cache location derives from HF_HOME; drop overrides pointing at a real cache.
    for name in (
        "HF_HUB_CACHE",
        "HUGGINGFACE_HUB_CACHE",
        "HF_DATASETS_CACHE",
        "HF_ASSETS_CACHE",
        "HF_XET_CACHE",
        "TRANSFORMERS_CACHE",
        "HF_TOKEN",
        "HF_TOKEN_PATH",
        "HUGGING_FACE_HUB_TOKEN",
    ):
        os.environ.pop(name, None)
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["HF_DATASETS_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    os.environ["AXOLOTL_DO_NOT_TRACK"] = "1"
    os.environ["DO_NOT_TRACK"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # If a plugin imported these already, their path/offline constants are stale.
    import importlib

    for mod_name in ("huggingface_hub.constants", "datasets.config"):
        module = sys.modules.get(mod_name)
        if module is not None:
            importlib.reload(module)


_isolate_environment()


# ------------------------------------------------------------------ activation check

_ACTIVATION: dict = {}


def _check_fast_axolotl_active() -> dict:
    """Describe how get_dataset_lengths looks once Axolotl imported it."""
    import axolotl.utils.samplers.utils as samplers_utils

    func = samplers_utils.get_dataset_lengths
    # A replacement keeps the original's __module__ (so pickling by reference still finds
    # it) and carries fast-axolotl's marker naming the registry target it implements.
    marker = getattr(func, "__fast_axolotl_target__", None) or ""
    info = {
        "expected": _env_flag("FAST_AXOLOTL_EXPECT_ACTIVE"),
        "marker": marker,
        "has_wrapped": hasattr(func, "__wrapped__"),
        "fast_axolotl_imported": "fast_axolotl" in sys.modules,
    }
    info["active"] = (
        info["has_wrapped"]
        and info["fast_axolotl_imported"]
        and marker == "axolotl.utils.samplers.utils:get_dataset_lengths"
    )
    return info


# ------------------------------------------------------------ offline hub stand-ins

STAND_IN_REPO = "huggyllama/llama-7b"
_SPECIAL_TOKENS = ["<unk>", "<s>", "</s>"]  # ids 0, 1, 2 as in the Llama tokenizer


def _training_corpus() -> list[str]:
    words = (
        "the a an of to in is are was be for on with as by at from this that it "
        "which what who how why when where option options best better good bad "
        "example examples answer answers question questions concise useful useless "
        "has have no not yes user assistant system role content message messages "
        "conversation chosen rejected prompt completion instruction input output "
        "response you your we our they model data set train test sample samples "
        "hello world please thank thanks sure here there one two three four five"
    ).split()
    lines = []
    for i in range(600):
        sentence = " ".join(words[(i * 7 + j * 13) % len(words)] for j in range(14))
        lines.append(f"{sentence.capitalize()} {i}? <|{words[i % len(words)]}|>\n")
    return lines


def _build_stand_in_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=1024,
        min_frequency=1,
        special_tokens=_SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_training_corpus(), trainer=trainer)
    bos_id = tok.token_to_id("<s>")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s>:1 $B:1", special_tokens=[("<s>", bos_id)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )


def _seed_hub_cache() -> Path:
    """Write the stand-in repository into the private hub cache; return its snapshot."""
    import huggingface_hub.constants as hf_constants
    from transformers import LlamaConfig

    cache = Path(hf_constants.HF_HUB_CACHE).resolve()
    if not cache.is_relative_to(Path(os.environ["HF_HOME"]).resolve()):
        raise pytest.UsageError(f"refusing to seed a hub cache outside HF_HOME: {cache}")
    repo_dir = cache / ("models--" + STAND_IN_REPO.replace("/", "--"))
    revision = hashlib.sha1(b"fast-axolotl offline stand-in, not the real repo").hexdigest()
    snapshot = repo_dir / "snapshots" / revision
    if (snapshot / "config.json").is_file():
        return snapshot
    tokenizer = _build_stand_in_tokenizer()
    tokenizer.save_pretrained(snapshot)
    LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    ).save_pretrained(snapshot)
    (repo_dir / "refs").mkdir(parents=True, exist_ok=True)
    (repo_dir / "refs" / "main").write_text(revision)
    return snapshot


@pytest.fixture(scope="session")
def _hub_stand_ins() -> Path:
    return _seed_hub_cache()


@pytest.fixture
def tokenizer_huggyllama(_hub_stand_ins):
    """Offline replacement for Axolotl's fixture of the same name (see module docstring)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(STAND_IN_REPO)
    tokenizer.pad_token = "</s>"
    return tokenizer


# ------------------------------------------------------------- deselection, report

_REPORT: dict = {"tests": {}, "collect_errors": {}, "deselected": {}}


def _load_deselect() -> dict[str, str]:
    path = os.environ.get("FAST_AXOLOTL_COMPAT_DESELECT")
    if not path:
        return {}
    with open(path, encoding="utf-8") as fh:
        return dict(json.load(fh))


def pytest_configure(config):
    info = _check_fast_axolotl_active()
    _ACTIVATION.update(info)
    if info["expected"] and not info["active"]:
        hint = (
            "Is fast-axolotl installed in this environment with its .pth file, "
            "and FAST_AXOLOTL_DISABLE unset? (`fast-axolotl status` tells why not.)"
        )
        raise pytest.UsageError(
            "FAST-AXOLOTL IS NOT ACTIVE in this interpreter, but "
            "FAST_AXOLOTL_EXPECT_ACTIVE=1: "
            "axolotl.utils.samplers.utils.get_dataset_lengths has "
            f"marker={info['marker']!r}, "
            f"__wrapped__ {'present' if info['has_wrapped'] else 'missing'} "
            f"(fast_axolotl imported: {info['fast_axolotl_imported']}). {hint}"
        )


def pytest_report_header(config):
    state = "ACTIVE" if _ACTIVATION.get("active") else "not active"
    return (
        f"fast-axolotl: {state} (get_dataset_lengths from "
        f"{_ACTIVATION.get('function_module')!r}); HF_HOME={os.environ['HF_HOME']} (offline)"
    )


def pytest_collection_modifyitems(session, config, items):
    deselect = _load_deselect()
    if not deselect:
        return
    matched: set[str] = set()
    kept, dropped = [], []
    for item in items:
        hit = next(
            (nid for nid in deselect if item.nodeid == nid or item.nodeid.startswith(nid + "::")),
            None,
        )
        if hit is None:
            kept.append(item)
        else:
            matched.add(hit)
            dropped.append(item)
            _REPORT["deselected"][item.nodeid] = deselect[hit]
    collected_files = {item.nodeid.split("::", 1)[0] for item in items}
    stale = sorted(
        nid for nid in deselect if nid not in matched and nid.split("::", 1)[0] in collected_files
    )
    if stale:
        raise pytest.UsageError(
            "deselect list names tests that do not exist (update the list in "
            "tests/compat/test_axolotl_suite.py): " + ", ".join(stale)
        )
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_collectreport(report):
    if report.failed:
        _REPORT["collect_errors"][report.nodeid] = str(report.longrepr)


def pytest_runtest_logreport(report):
    entry = _REPORT["tests"].setdefault(report.nodeid, {"outcome": None, "longrepr": ""})
    xfail = hasattr(report, "wasxfail")
    if report.failed:
        # A failure in setup/teardown is an error; in the call, a failure.
        entry["outcome"] = "failed" if report.when == "call" else "error"
        entry["longrepr"] += f"[{report.when}]\n{report.longrepr}\n"
    elif report.skipped and entry["outcome"] is None:
        entry["outcome"] = "xfailed" if xfail else "skipped"
        entry["longrepr"] = str(report.longrepr)
    elif report.when == "call" and report.passed and entry["outcome"] is None:
        entry["outcome"] = "xpassed" if xfail else "passed"


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("FAST_AXOLOTL_COMPAT_REPORT")
    if not path:
        return
    payload = dict(_REPORT, exitstatus=int(exitstatus), activation=_ACTIVATION)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(payload, fh, indent=1, sort_keys=True)

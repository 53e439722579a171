"""The Axolotl YAML config of one demo run: CPU-only preprocessing of one dataset.

Both runs of a dataset (plain Axolotl, fast-axolotl) get configs that differ only in
their output paths.
"""

from __future__ import annotations

import json
import pathlib

from fast_axolotl.demo.data import DEFAULT_SEED
from fast_axolotl.demo.tokenizer import IM_END

SEQUENCE_LEN = 512

#: The ``datasets:`` entry of each demo dataset, without its ``path``.
DATASET_TYPES: dict[str, dict[str, object]] = {
    "alpaca": {"ds_type": "json", "type": "alpaca"},
    # Axolotl 0.19's chat strategy with its defaults (field_messages "messages", role and
    # content properties, assistant turns trained) and the chatml template that Axolotl
    # ships, so that nothing is fetched.
    "chat_template": {"ds_type": "json", "type": "chat_template", "chat_template": "chatml"},
}


def write_axolotl_config(
    path: pathlib.Path,
    *,
    model_dir: pathlib.Path,
    data_path: pathlib.Path,
    prepared_path: pathlib.Path,
    output_dir: pathlib.Path,
    num_proc: int,
    val_set_size: float,
    dataset_type: str = "alpaca",
) -> None:
    """Write an Axolotl YAML config for CPU-only preprocessing of one dataset.

    JSON is valid YAML, so no YAML library is needed here.
    """
    cfg: dict[str, object] = {
        "base_model": str(model_dir),
        "tokenizer_config": str(model_dir),
        "model_type": "LlamaForCausalLM",
        "tokenizer_type": "AutoTokenizer",
        "datasets": [{"path": str(data_path), **DATASET_TYPES[dataset_type]}],
        "dataset_prepared_path": str(prepared_path),
        "dataset_num_proc": num_proc,
        "dataset_exact_deduplication": True,
        "val_set_size": val_set_size,
        "sequence_len": SEQUENCE_LEN,
        "sample_packing": True,
        "eval_sample_packing": False,
        "pad_to_sequence_len": True,
        "train_on_inputs": False,
        "micro_batch_size": 2,
        "gradient_accumulation_steps": 1,
        "num_epochs": 1,
        "learning_rate": 0.0001,
        "optimizer": "adamw_torch",
        "lr_scheduler": "cosine",
        "output_dir": str(output_dir),
        "seed": DEFAULT_SEED,
        "bf16": False,
        "fp16": False,
        "tf32": False,
        "use_tensorboard": False,
        "save_safetensors": True,
    }
    if dataset_type == "chat_template":
        cfg["chat_template"] = "chatml"
        # chatml ends each turn with <|im_end|>, not the tokenizer's EOS: trained as the
        # turn terminator, as Axolotl's docs advise for such templates.
        cfg["eot_tokens"] = [IM_END]
    path.write_text(json.dumps(cfg, indent=2) + "\n", encoding="utf-8")

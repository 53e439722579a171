"""Replacement for ``axolotl.utils.data.shared.save_preprocessed_dataset``.

Axolotl saves with ``Dataset.save_to_disk(num_proc=n)``, ``n >= 1``. For any ``num_proc >= 1``
``datasets`` starts a *spawned* pool (and a spawned ``Manager`` for its progress queue);
every one of those processes re-imports the parent's main module (in ``axolotl
preprocess``: torch, transformers, Axolotl) and receives its shard pickled. That costs
seconds to tens of seconds; the write itself is a fraction of a second per 100k rows.

The replacement writes the same shards in the current process: it calls the same
``save_to_disk`` with ``num_proc=None`` (its serial loop over the same
``_save_to_disk_single`` jobs) and passes the shard count that ``save_to_disk`` would have
derived from Axolotl's ``num_proc``, so the directory (shard names, ``.arrow`` bytes,
``state.json``, ``dataset_info.json``) is the one Axolotl writes.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

LOG = logging.getLogger("fast_axolotl")
_reported: set[str] = set()

# guards.fingerprint() of the ``datasets.Dataset.save_to_disk`` bodies whose shard-count
# rule (``_estimate_nbytes`` / ``MAX_SHARD_SIZE`` / ``max(.., num_proc or 1)`` /
# ``min(len(self.data), ..)``) and serial branch this module relies on.
KNOWN_SAVE_TO_DISK = {"a118da385c5a44c2": "datasets-4.8"}

_checked: dict[int, tuple[Any, bool]] = {}


def _save_to_disk_is_known(func: Any) -> bool:
    """Whether ``func`` is a ``save_to_disk`` body listed above (cached per object)."""
    cached = _checked.get(id(func))
    if cached is not None and cached[0] is func:
        return cached[1]
    from fast_axolotl import guards

    try:
        known = guards.fingerprint(func) in KNOWN_SAVE_TO_DISK
    except Exception:
        known = False
    _checked[id(func)] = (func, known)
    return known


def shard_count(dataset: Any, num_proc: int | None, num_shards: int | None) -> int:
    """The shard count ``Dataset.save_to_disk`` derives (datasets 4.8's rule)."""
    if num_shards is not None:
        return num_shards
    from datasets import config
    from datasets.utils.py_utils import convert_file_size_to_int

    dataset_nbytes = dataset._estimate_nbytes()
    max_shard_size = convert_file_size_to_int(config.MAX_SHARD_SIZE)
    count = int(dataset_nbytes / max_shard_size) + 1
    count = max(count, num_proc or 1)
    return min(len(dataset.data), count)


def save_preprocessed_dataset(
    original: Callable[..., Any], variant: str | None
) -> Callable[..., Any]:
    """Mirrors ``axolotl.utils.data.shared.save_preprocessed_dataset`` (0.19) for a plain
    ``datasets.Dataset``: same directory creation, same ``save_to_disk`` arguments except
    that the shards are written in this process, then the same optional hub push.

    More shards than rows (``num_dataset_shards_to_save``, or a small selection of a large
    table) make ``Dataset.shard`` raise: that case makes Axolotl's own pooled call.
    Defers to Axolotl for an ``IterableDataset`` (``Dataset.from_generator`` path), a
    ``Dataset`` subclass or another object, a dataset with search indexes (``save_to_disk``
    raises), and a ``datasets`` whose ``save_to_disk`` is not a known body.
    """
    scope = original.__globals__  # Axolotl's module: its helpers, its LOG, its patches
    signature = inspect.signature(original)

    def eligible(dataset: Any) -> bool:
        arrow_dataset = sys.modules.get("datasets.arrow_dataset")
        if arrow_dataset is None or type(dataset) is not arrow_dataset.Dataset:
            return False  # IterableDataset, DatasetDict, subclasses: Axolotl's path
        if not _save_to_disk_is_known(arrow_dataset.Dataset.__dict__.get("save_to_disk")):
            return False
        return not dataset.list_indexes()  # with indexes save_to_disk raises its own error

    def in_process(cfg: Any, dataset: Any, dataset_hash: str, split: str) -> None:
        # Axolotl's body, in its order, so that its errors surface from the same calls;
        # only save_to_disk's num_proc differs (its shard count is passed explicitly).
        prepared_ds_path = scope["get_prepared_dataset_path"](cfg, dataset_hash)
        num_workers = cfg.dataset_num_proc or scope["get_default_process_count"]()
        min_rows_per_proc = 256
        os.makedirs(prepared_ds_path, exist_ok=True)
        num_proc = min(max(1, len(dataset) // min_rows_per_proc), num_workers)
        num_shards = shard_count(dataset, num_proc, cfg.num_dataset_shards_to_save)
        if 0 < len(dataset) < num_shards:
            # An empty shard past the last row makes Dataset.shard raise, and the pool path
            # fails in its own way (building every job first, then tearing the pool down):
            # make Axolotl's exact call so that the same error surfaces.
            dataset.save_to_disk(
                str(prepared_ds_path),
                num_proc=num_proc,
                max_shard_size=None,
                num_shards=cfg.num_dataset_shards_to_save,
            )
        else:
            dataset.save_to_disk(
                str(prepared_ds_path),
                num_proc=None,
                max_shard_size=None,
                num_shards=num_shards,
            )
        if cfg.push_dataset_to_hub:
            scope["LOG"].info(
                "Pushing merged prepared dataset to Huggingface hub at "
                f"{cfg.push_dataset_to_hub} (version {dataset_hash})...",
                main_process_only=False,
            )
            dataset.push_to_hub(
                cfg.push_dataset_to_hub,
                dataset_hash,
                private=True,
            )

    # Not _common.replacement(): once the in-process path starts it runs Axolotl's own
    # calls (user-visible, with side effects on disk), so their exceptions must surface
    # unchanged instead of triggering a second run through the original. The decision to
    # defer is taken before any of them.
    @functools.wraps(original)
    def patched(*args: Any, **kwargs: Any) -> None:
        try:
            arguments = signature.bind(*args, **kwargs).arguments
            ok = eligible(arguments["dataset"])
        except TypeError:
            ok = False  # a wrong call: Axolotl's own TypeError
        except Exception as exc:
            if "eligible" not in _reported:
                _reported.add("eligible")
                LOG.warning(
                    "fast-axolotl: save_preprocessed_dataset check failed (%r); "
                    "using Axolotl's original",
                    exc,
                )
            ok = False
        if not ok:
            return original(*args, **kwargs)
        return in_process(**arguments)

    return patched

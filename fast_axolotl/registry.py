"""What fast-axolotl replaces in Axolotl, as data.

This module is read by the import hook at interpreter start, so it imports nothing.
Each entry names the Axolotl symbol (``module:qualname``), the factory in
``fast_axolotl.patches`` that builds its replacement around the original, the group users
allow or deny it by, and the guard the original must pass: its exact signature (or one of
several, where releases added a parameter) and,
where Axolotl's body changed between versions, the accepted code fingerprints (see
``fast_axolotl.guards``), each naming the behaviour variant the replacement reproduces.
"""


class Entry:
    """One replaced symbol."""

    __slots__ = ("fingerprints", "group", "replacement", "signature", "target")

    def __init__(
        self,
        target: str,
        replacement: str,
        group: str,
        signature: str | tuple[str, ...],
        fingerprints: dict[str, str] | None = None,
    ) -> None:
        self.target = target
        self.replacement = replacement
        self.group = group
        self.signature = signature
        self.fingerprints = fingerprints

    @property
    def module(self) -> str:
        return self.target.partition(":")[0]

    @property
    def qualname(self) -> str:
        return self.target.partition(":")[2]

    def __repr__(self) -> str:
        return f"Entry({self.target!r}, group={self.group!r})"


ENTRIES: tuple[Entry, ...] = (
    Entry(
        target="axolotl.utils.samplers.utils:get_dataset_lengths",
        replacement="fast_axolotl.patches.samplers:get_dataset_lengths",
        group="lengths",
        signature="(dataset, from_arrow=False)",
        # The body with the `length` / `position_ids` / `from_arrow` / `input_ids` branches.
        fingerprints={"df376fb725a0a3a2": "four-branches"},
    ),
    Entry(
        target="axolotl.utils.collators.batching:DataCollatorForSeq2Seq.__call__",
        replacement="fast_axolotl.patches.collators:data_collator_call",
        group="collators",
        signature="(self, features, return_tensors=None)",
        fingerprints={"9520ecbf81e6d737": "pre-pad-labels-position-ids"},
    ),
    Entry(
        target="axolotl.utils.collators.batching:BatchSamplerDataCollatorForSeq2Seq.__call__",
        replacement="fast_axolotl.patches.collators:batch_sampler_call",
        group="collators",
        signature="(self, features, return_tensors=None)",
        fingerprints={"00e0185378cf67ea": "concat-bins"},
    ),
    Entry(
        target="axolotl.utils.collators.batching:V2BatchSamplerDataCollatorForSeq2Seq.__call__",
        replacement="fast_axolotl.patches.collators:v2_batch_sampler_call",
        group="collators",
        signature="(self, features, return_tensors=None)",
        fingerprints={"83a6bc22c4c35944": "segment-ids-squash"},
    ),
    Entry(
        target=(
            "axolotl.utils.collators.batching:PretrainingBatchSamplerDataCollatorForSeq2Seq.__call__"
        ),
        replacement="fast_axolotl.patches.collators:pretraining_batch_sampler_call",
        group="collators",
        signature="(self, features, return_tensors=None)",
        fingerprints={"c533e6bf255a57fa": "multipack-attn"},
    ),
    Entry(
        target="axolotl.utils.samplers.multipack:ffd_check",
        replacement="fast_axolotl.patches.multipack:ffd_check",
        group="packing",
        signature="(sequence_lengths: numpy.ndarray, bin_capacity: int, num_bins: int) -> bool",
        fingerprints={"cf22b4202b52add6": "numba-first-fit-decreasing"},
    ),
    Entry(
        target="axolotl.utils.samplers.multipack:pack_group",
        replacement="fast_axolotl.patches.multipack:pack_group",
        group="packing",
        signature=(
            "(sequence_lengths: numpy.ndarray, group_offset: int, bin_capacity: int, "
            "max_bins: int, bin_size: int, safe_mode: bool = True) -> list[list[int]]"
        ),
        fingerprints={"f3801f5f9f07725f": "numba-first-fit"},
    ),
    Entry(
        target="axolotl.utils.samplers.multipack:_process_group",
        replacement="fast_axolotl.patches.multipack:_process_group",
        group="packing",
        signature="(args: tuple[numpy.ndarray, int, int, int, int, bool]) -> list[list[int]]",
        fingerprints={"5effa8f63af17ae5": "six-tuple"},
    ),
    Entry(
        target="axolotl.utils.samplers.multipack:pack_parallel",
        replacement="fast_axolotl.patches.multipack:pack_parallel",
        group="packing",
        signature=(
            "(sequence_lengths: numpy.ndarray, bin_capacity: int, group_size: int, "
            "bin_size: int, num_processes: int | None = None, safe_mode: bool = True, "
            "mp_start_method: str | None = 'fork') -> list[list[int]]"
        ),
        fingerprints={"556722030d74ade2": "process-pool-groups"},
    ),
    Entry(
        target="axolotl.utils.samplers.multipack:allocate_sequentially",
        replacement="fast_axolotl.patches.multipack:allocate_sequentially",
        group="packing",
        signature=(
            "(sequence_lengths: numpy.ndarray, rank: int, bin_capacity: int, num_ranks: int)"
            " -> tuple[list[list[int]], int, int]"
        ),
        fingerprints={"a2d59fd55aeecc15": "numba-next-fit"},
    ),
    Entry(
        target="axolotl.utils.samplers.multipack:MultipackBatchSampler.generate_batches",
        replacement="fast_axolotl.patches.multipack:generate_batches",
        group="packing",
        signature="(self, set_stats: bool = False) -> list[list[list[int]]]",
        # The body with sequential/parallel packing, drop_last statistics and gc.collect().
        fingerprints={
            "e053ee98e6902749": "cached-drop-last",
            # 0.13.1-0.18.0: drop_last leaves the dropped bins in the statistics and
            # indexes batches[-1] unguarded (IndexError when nothing is left).
            "95d8ad8903d88cb6": "stats-before-drop-last",
            # 0.12.x: as above, and bin_size is passed on as given (no batch_max_len default).
            "ecb3e16a67d42fab": "stats-before-drop-last-raw-bin-size",
        },
    ),
    Entry(
        target="axolotl.utils.data.streaming:encode_streaming",
        replacement="fast_axolotl.patches.streaming:encode_streaming",
        group="streaming_packing",
        signature=(
            "(examples: Dict[str, List], tokenizer: transformers.tokenization_utils_base."
            "PreTrainedTokenizerBase, max_tokens: int, text_column: str = 'text', "
            "concatenate: bool = True) -> Dict[str, List]"
        ),
        # The torch.cat body: [eos, pad] appended, full-buffer flush, padding to max_tokens.
        fingerprints={"3d281d45018761b5": "torch-cat-buffers"},
    ),
    Entry(
        target="axolotl.utils.data.utils:deduplicate_and_log_datasets",
        replacement="fast_axolotl.patches.dedup:deduplicate_and_log_datasets",
        group="dedup",
        signature="(dataset: datasets.arrow_dataset.Dataset, other_dataset: "
        "datasets.arrow_dataset.Dataset | None = None, dataset_name: str | None = 'train', "
        "other_name: str | None = 'eval') -> tuple[datasets.arrow_dataset.Dataset, "
        "datasets.arrow_dataset.Dataset | None]",
        # Four log lines around two `_deduplicate_dataset` calls sharing the seen set.
        fingerprints={"3ade1d1f2bcc1429": "train-then-other"},
    ),
    Entry(
        target="axolotl.utils.data.utils:_deduplicate_dataset",
        replacement="fast_axolotl.patches.dedup:_deduplicate_dataset",
        group="dedup",
        signature="(dataset: datasets.arrow_dataset.Dataset, seen_hashes: set[str] | None = None)"
        " -> tuple[datasets.arrow_dataset.Dataset, set[str]]",
        # First row of each sha256(str(row)) not yet in seen_hashes.
        fingerprints={"2ae21f07f00693ce": "sha256-of-str-row"},
    ),
    Entry(
        target="axolotl.utils.trainer:filter_sequences_by_length",
        replacement="fast_axolotl.patches.trainer:filter_sequences_by_length",
        group="filters",
        signature="(sample, sequence_len=2048, min_sequence_len=2, raise_on_drop=False)",
        # `min_sequence_len or 2`, scalar False on empty input, single/batched branches.
        fingerprints={"29a5783c9259f9ff": "range-or-raise"},
    ),
    Entry(
        target="axolotl.utils.data.utils:keep_min_len",
        replacement="fast_axolotl.patches.data_filters:keep_min_len",
        group="filters",
        signature="(sample, min_sequence_len=2)",
        fingerprints={"42dbfe96f6e9992f": "batched-min-len"},
    ),
    Entry(
        target="axolotl.utils.trainer:add_position_ids",
        replacement="fast_axolotl.patches.trainer:add_position_ids",
        group="position_ids",
        signature="(sample)",
        fingerprints={"884bf8e2aa8d775e": "single-or-batched"},
    ),
    Entry(
        target="axolotl.utils.data.utils:truncate_long_seq",
        replacement="fast_axolotl.patches.data_filters:truncate_long_seq",
        group="truncate",
        signature="(sample, sequence_len=2048)",
        # Cuts input_ids, attention_mask, labels, position_ids of rows with long input_ids.
        fingerprints={"2c1a98ff5c1dcaac": "four-columns"},
    ),
    Entry(
        target="axolotl.utils.trainer:process_datasets_for_packing",
        replacement="fast_axolotl.patches.trainer:process_datasets_for_packing",
        group="filters",
        signature="(cfg, train_dataset, eval_dataset)",
        # 0.19 drops rows whose labels are all -100 and raises when none is left
        # (up to 0.18 the nested filter kept every row: a different fingerprint, not patched).
        fingerprints={
            "3e2db3299efea4e4": "drop-and-raise",
            # 0.13.1-0.18.0: `np.any(list != -100)` is always true, so the filter keeps
            # every row and nothing raises.
            "73a39d8dcd752227": "no-op-filter",
            # 0.12.x: the same, with num_proc read from cfg.dataset_processes.
            "ca1077a2d481f643": "no-op-filter-dataset-processes",
        },
    ),
    Entry(
        target="axolotl.utils.trainer:process_pretraining_datasets_for_packing",
        replacement="fast_axolotl.patches.trainer:process_pretraining_datasets_for_packing",
        group="filters",
        signature=(
            "(train_dataset, sequence_len, skip_position_ids=True, drop_attention_mask=False)"
        ),
        fingerprints={
            "d9cfa001b7fc36c6": "per-row-length-filter",
            # 0.12.0-0.14.0: the same steps with the filter under its old name drop_long_seq.
            "dc09ccdf2c793a31": "per-row-drop-long-seq",
        },
    ),
    Entry(
        target="axolotl.utils.data.utils:handle_long_seq_in_dataset",
        replacement="fast_axolotl.patches.data_filters:handle_long_seq_in_dataset",
        group="truncate",
        signature=(
            "(dataset: datasets.arrow_dataset.Dataset, sequence_len: int, "
            "cfg: axolotl.utils.dict.DictDefault) -> datasets.arrow_dataset.Dataset"
        ),
        fingerprints={"3bd437b3a067b54e": "drop-raise-truncate"},
    ),
    # chat_template
    Entry(
        target="axolotl.prompt_strategies.chat_template:ChatTemplateStrategy.tokenize_prompt",
        replacement="fast_axolotl.patches.chat_template:tokenize_prompt",
        group="tokenize",
        signature="(self, prompt: dict[str, typing.Any])",
        # The batched loop over _tokenize_single_prompt after remove_none_values; the
        # helpers the fast path reproduces are fingerprinted in the patch module.
        fingerprints={"fa5c033d3aa38b56": "per-row-loop"},
    ),
    # tokenize: Axolotl's instruction strategies (alpaca family), batched.
    Entry(
        target="axolotl.datasets:TokenizedPromptDataset.process",
        replacement="fast_axolotl.patches.tokenize_instruct:process",
        group="tokenize",
        signature="(self, dataset)",
        # Optional filter_rows, then one per-row (or batched) map of tokenize_prompt.
        fingerprints={"f8ea98afaccd9ca7": "filter-then-map"},
    ),
    # --- save: the prepared dataset written in-process (no spawned pool) ---
    Entry(
        target="axolotl.utils.data.shared:save_preprocessed_dataset",
        replacement="fast_axolotl.patches.save:save_preprocessed_dataset",
        group="save",
        signature=(
            "(cfg: 'DictDefault', dataset: 'Dataset', dataset_hash: 'str', split: 'str') -> 'None'"
        ),
        # makedirs, save_to_disk(num_proc=min(max(1, len // 256), workers)), optional push.
        fingerprints={"2e0f4a06b73f5217": "spawned-pool-save"},
    ),
    # older Axolotl releases: predecessors under other names (see docs/compatibility.md)
    Entry(
        target="axolotl.utils.trainer:drop_long_seq",
        replacement="fast_axolotl.patches.trainer:filter_sequences_by_length",
        group="filters",
        # 0.12.x has no raise_on_drop parameter.
        signature=(
            "(sample, sequence_len=2048, min_sequence_len=2, raise_on_drop=False)",
            "(sample, sequence_len=2048, min_sequence_len=2)",
        ),
        fingerprints={
            # 0.13.1-0.14.0: filter_sequences_by_length's body under its old name.
            "9d80affa87d3823c": "range-or-raise",
            "728e2fb2ca3bc909": "range-no-raise",
        },
    ),
    Entry(
        target="axolotl.utils.data.pretraining:encode_pretraining",
        replacement="fast_axolotl.patches.streaming:encode_pretraining",
        group="streaming_packing",
        signature=(
            "(tokenizer: transformers.tokenization_utils_base.PreTrainedTokenizerBase, "
            "max_tokens: int, examples: Dict[str, List], text_column: str = 'text', "
            "concatenate: bool = True) -> Dict[str, List]"
        ),
        # 0.12.x: encode_streaming's torch.cat body with the tokenizer first.
        fingerprints={"4ec7f0df8a6f204a": "torch-cat-buffers"},
    ),
)

#: Every module the import hook intercepts; the finder's only test is membership here.
MODULES: frozenset[str] = frozenset(e.module for e in ENTRIES)

#: Group names in registry order.
GROUPS: tuple[str, ...] = tuple(dict.fromkeys(e.group for e in ENTRIES))


def entries_for(module: str) -> list[Entry]:
    return [e for e in ENTRIES if e.module == module]


# Served modules (issue 8, the streaming reader): modules Axolotl does not have that the
# hook creates, as {module name: fast_axolotl module whose ``__served__`` names it exports}.
# Each is served only when its parent package is Axolotl's real one and no real module of
# that name exists.
SERVED: dict[str, str] = {
    "axolotl.utils.data.rust_streaming": "fast_axolotl.streaming",
}

#: Every module name the finder answers for: its whole per-import cost is this lookup.
HOOKED: frozenset[str] = MODULES | frozenset(SERVED)

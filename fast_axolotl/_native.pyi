"""Type stub of the Rust extension module (kept honest by `mypy.stubtest` in `nox -s lint`)."""

from collections.abc import Callable, Sequence
from typing import Any, final

import numpy as np
import numpy.typing as npt

__all__ = [
    "TOKENIZERS_VERSION",
    "ArrowBatch",
    "EncodedBatch",
    "NativeTokenizer",
    "StreamReader",
    "UnsupportedInput",
    "__version__",
    "chat_template_columns",
    "chat_template_labels",
    # fast-axolotl 0.2.0's public API (issue 8)
    "concatenate_and_pack",
    "create_padding_mask",
    "deduplicate_indices",
    "detect_format",
    "ffd_fits",
    "first_row_sha256",
    "instruct_columns",
    "integer_values",
    "length_range_mask",
    "list_last_plus_one",
    "list_lengths",
    "list_supported_formats",
    "multipack_batches",
    "pack_first_fit",
    "pack_first_fit_groups",
    "pack_next_fit",
    "pack_sequences",
    "pack_token_stream",
    "pad_batch",
    "pad_sequences",
    "parallel_hash_rows",
    "position_ids",
    "trainable_mask",
    "truncate_rows",
    "unique_rows",
]

__version__: str

class UnsupportedInput(ValueError):
    """The input is valid but outside what a kernel reproduces exactly; callers defer to Axolotl."""

def list_lengths(column: Any, indices: Any | None = None) -> npt.NDArray[np.int64]:
    """`len(row)` of every row of an Arrow list column, in the order of `indices`."""

def list_last_plus_one(column: Any, indices: Any | None = None) -> npt.NDArray[np.int64]:
    """`row[-1] + 1` of every row of an Arrow list-of-integers column."""

def integer_values(column: Any, indices: Any | None = None) -> npt.NDArray[np.int64]:
    """The values of an Arrow integer column as int64."""

def pad_batch(
    features: Any,
    layout: str,
    keys: list[str],
    alloc: Callable[[int, int], Any],
    *,
    right: bool,
    strategy: str,
    max_length: int | None,
    multiple: int | None,
    pad_token_id: int,
    pad_token_type_id: int,
    label_pad_token_id: int,
    scale_attention_mask: bool = False,
    squash_position_ids: bool = False,
    write_back_features: bool = False,
) -> list[Any]:
    """Pads one collator batch (layout "rows", "bins" or "columns") into the buffers
    `alloc(rows, width)` returns per key: an int64 C-contiguous numpy array, or the address
    of a fresh int64 buffer of rows * width values (private: fast_axolotl.patches.collators)."""

def pack_first_fit(
    sequence_lengths: Any,
    group_offset: Any,
    bin_capacity: Any,
    max_bins: Any,
    bin_size: Any,
    *rest: Any,
    **kwargs: Any,
) -> list[list[int]]:
    """First fit in order (Axolotl's `pack_group`): bins of `group_offset + i`."""

def pack_first_fit_groups(
    sequence_lengths: Any, bin_capacity: Any, group_size: Any, bin_size: Any, safe_mode: Any
) -> list[list[int]]:
    """Groups packed by first fit on the thread pool (Axolotl's `pack_parallel`)."""

def pack_next_fit(
    sequence_lengths: Any, rank: Any, bin_capacity: Any, num_ranks: Any
) -> tuple[list[list[int]], int, int]:
    """Next fit with rank striding and totals (Axolotl's `allocate_sequentially`)."""

def ffd_fits(sequence_lengths: Any, bin_capacity: Any, num_bins: Any) -> bool:
    """Whether first fit decreasing fits `num_bins` bins (Axolotl's `ffd_check`)."""

def multipack_batches(
    indices: list[int],
    lengths: npt.NDArray[np.integer[Any]],
    batch_size: int,
    bin_capacity: int,
    sequential: bool,
    group_size: int,
    bin_size: int,
    safe_mode: bool,
) -> tuple[list[list[list[int]]], int, int]:
    """One pass of `MultipackBatchSampler.generate_batches` after the sampler was drawn."""

def pack_token_stream(
    input_ids: Any, attention_mask: Any, eos_token_id: Any, pad_token_id: Any, max_tokens: Any
) -> tuple[list[list[int]], list[list[int]], list[list[int]]]:
    """The packing of Axolotl's `encode_streaming` after tokenization."""

def unique_rows(
    tables: list[tuple[list[str], list[Any], Any | None]],
) -> list[npt.NDArray[np.int64]]:
    """Per dataset `(column names, Arrow columns, indices mapping or None)`, the positions of
    the first row of each class of rows with equal Python repr, across the datasets in order."""

def first_row_sha256(
    table: tuple[list[str], list[Any], Any | None], printable: bytes
) -> tuple[list[int], list[str]] | None:
    """Positions of the first row of each distinct `sha256(str(row))` and their hex digests;
    `printable` holds `str.isprintable()` of every code point, one byte each, or is empty
    (then None when the table holds non-ASCII text)."""

def length_range_mask(
    column: Any, min_len: int, max_len: int, indices: Any | None = None
) -> tuple[npt.NDArray[np.bool_], int | None]:
    """`min_len <= len(row) <= max_len` per row, and the first row longer than `max_len`."""

def trainable_mask(column: Any) -> npt.NDArray[np.bool_]:
    """`any(v != -100 for v in row)` per row of an Arrow list-of-integers column."""

def truncate_rows(
    column: Any, cut: npt.NDArray[np.bool_], max_len: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[Any]]:
    """The column with the rows marked in `cut` cut to `max_len` values: (offsets, values)."""

def position_ids(
    column: Any,
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """`range(len(row))` per row as (int32 list offsets, int64 values, int64 lengths)."""

#: (sentinels, eos ids, eot ids, train_on_eos, train_on_eot, ignore id); train options are
#: 0 all, 1 turn, 2 last, 3 never.
_ChatRules = tuple[list[str], list[int], list[int], int, int, int]

def chat_template_labels(
    texts: list[str],
    turns: list[list[tuple[int, int, bool, bool]]],
    tokens: EncodedBatch | tuple[list[list[int]], list[list[tuple[int, int]]]],
    rules: _ChatRules,
) -> list[tuple[list[int], list[tuple[int, int]]] | None]:
    """Labels of a batch of chat_template conversations: per row `(labels, warnings)`, with
    warnings as `(kind, turn)` (0 last turn untrained, 1 end before start, 2 empty span), or
    None where Axolotl would leave the char-span path. Turns are `(content start, content
    end, should_train, unlocatable)`; `tokens` are the rows' encodings with char offsets
    (an `EncodedBatch`, or a tokenizer call's `input_ids` and `offset_mapping`)."""

def chat_template_columns(
    texts: list[str],
    turns: list[list[tuple[int, int, bool, bool]]],
    tokens: EncodedBatch,
    rules: _ChatRules,
) -> (
    tuple[
        npt.NDArray[np.int32],
        npt.NDArray[Any],
        npt.NDArray[np.int64],
        list[tuple[int, int, int]],
    ]
    | None
):
    """`chat_template_labels` on the extension's encodings as Arrow-ready columns: (int32
    list offsets, input_ids values (int32, or int64 if an id does not fit), int64 labels
    values, warnings as `(row, kind, turn)`), or None when a row leaves the char-span path
    or the tokens exceed int32 offsets."""

#: (eos_token_id, bos_token_id, max_length, train_on_inputs): `_tokenize`'s rules.
_InstructRules = tuple[int, int | None, int, bool]
#: (int32 offsets, input_ids values, attention_mask values, int64 labels values).
_InstructColumns = tuple[
    npt.NDArray[np.int32], npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[np.int64]
]

def instruct_columns(
    input_ids: list[list[int]],
    attention_mask: list[list[int]],
    prompt: list[int],
    response: list[int],
    rules: _InstructRules,
) -> _InstructColumns:
    """Rows of Axolotl's instruction strategies from one batched tokenizer call: (int32
    offsets, input_ids values, attention_mask values, int64 labels values); `prompt` and
    `response` give each row's text index in the call, -1 for an empty text."""

TOKENIZERS_VERSION: str
"""The `tokenizers` release `NativeTokenizer` is built from."""

@final
class NativeTokenizer:
    """A tokenizer loaded from `tokenizers.Tokenizer.to_str()`; raises UnsupportedInput for
    BPE dropout, padding, or JSON this `tokenizers` release cannot load."""

    def __new__(cls, json: str, encode_special_tokens: bool) -> NativeTokenizer: ...
    def encode(
        self, texts: list[str], add_special_tokens: bool = True, char_offsets: bool = False
    ) -> EncodedBatch:
        """`encode_batch(texts, add_special_tokens)` with the tokenizer's truncation, with
        each token's char offsets if asked for."""

@final
class EncodedBatch:
    """The encodings of one `NativeTokenizer.encode` call."""

    def __len__(self) -> int: ...
    def lengths(self) -> npt.NDArray[np.int64]: ...
    def ids(self, t: int) -> list[int]: ...
    def mask(self, t: int) -> list[int]: ...
    def char_offsets(self, t: int) -> list[tuple[int, int]]: ...
    def id_lists(self) -> list[list[int]]: ...
    def instruct_columns(
        self,
        prompt: list[int],
        response: list[int],
        rules: _InstructRules,
    ) -> _InstructColumns:
        """`instruct_columns` on these encodings."""

# fast-axolotl 0.2.0's public API (issue 8), re-exported by fast_axolotl.sequences and
# fast_axolotl.row_hashing

def pack_sequences(
    sequences: Sequence[Sequence[int]],
    max_length: int,
    pad_token_id: int,
    eos_token_id: int,
    label_pad_id: int = -100,
) -> dict[str, list[list[int]]]:
    """Rows + eos + pad, packed in order into rows of exactly `max_length` (0.2.0's layout)."""

def concatenate_and_pack(
    input_ids: Sequence[Sequence[int]],
    labels: Sequence[Sequence[int]],
    attention_masks: Sequence[Sequence[int]],
    max_length: int,
    pad_token_id: int,
    label_pad_id: int = -100,
) -> dict[str, list[list[int]]]:
    """Pre-tokenized rows packed in order into rows of exactly `max_length`."""

def pad_sequences(
    sequences: Sequence[Sequence[int]],
    target_length: int | None = None,
    pad_value: int = 0,
    padding_side: str = "right",
    pad_to_multiple_of: int | None = None,
) -> list[list[int]]:
    """Every row padded to one length (ValueError for a row longer than it)."""

def create_padding_mask(current_length: int, target_length: int) -> list[int]:
    """`list(range(max(target_length - current_length, 0)))`."""

def parallel_hash_rows(rows: Sequence[str], num_threads: int = 0) -> list[str]:
    """`hashlib.sha256(row.encode()).hexdigest()` of every row, in order."""

def deduplicate_indices(
    rows: Sequence[str], existing_hashes: Sequence[str] | None = None, num_threads: int = 0
) -> tuple[list[int], list[str]]:
    """Positions and hex digests of the rows whose digest was not seen before."""

# streaming reader (issue 8)
@final
class StreamReader:
    def __new__(
        cls,
        path: str,
        dataset_type: str | None = None,
        batch_size: int = 1000,
        split: str | None = None,
        prefetch: bool = True,
    ) -> StreamReader: ...
    def __iter__(self) -> StreamReader: ...
    def __next__(self) -> ArrowBatch: ...
    def close(self) -> None: ...

@final
class ArrowBatch:
    @property
    def num_rows(self) -> int: ...
    def __arrow_c_array__(
        self, requested_schema: object | None = None
    ) -> tuple[object, object]: ...

def detect_format(path: str) -> tuple[str, str | None]: ...
def list_supported_formats() -> list[str]: ...

"""fast-axolotl 0.2.0's public API as plain Python, written from its documented behaviour
(its Rust source: the buffer logic of `pack_sequences`/`concatenate_and_pack`, the target
rule of `pad_sequences`), with 0.3.0's errors where 0.2.0 panicked or lost tokens.

Values are read with `operator.index`, as 0.2.0's int64 extraction did (bool -> int,
numpy ints -> int, float -> TypeError), but without its int64 limit.
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Iterable, Sequence

__all__ = [
    "concatenate_and_pack",
    "create_padding_mask",
    "deduplicate_indices",
    "pack_sequences",
    "pad_sequences",
    "parallel_hash_rows",
]


def _rows(seqs: Iterable[Iterable[object]]) -> list[list[int]]:
    return [[operator.index(v) for v in row] for row in seqs]  # type: ignore[call-overload]


def _pack(
    ids_rows: list[list[int]],
    label_rows: list[list[int]],
    mask_rows: list[list[int]],
    max_length: int,
    pad: int,
    label_pad: int,
) -> dict[str, list[list[int]]]:
    out: dict[str, list[list[int]]] = {"input_ids": [], "labels": [], "attention_mask": []}
    ids: list[int] = []
    labels: list[int] = []
    mask: list[int] = []

    def flush() -> None:
        k = max_length - len(ids)
        out["input_ids"].append(ids + [pad] * k)
        out["labels"].append(labels + [label_pad] * k)
        out["attention_mask"].append(mask + [0] * k)
        ids.clear()
        labels.clear()
        mask.clear()

    for a, b, c in zip(ids_rows, label_rows, mask_rows, strict=True):
        if len(ids) == max_length:  # a full buffer goes when the next row arrives
            flush()
        if len(ids) + len(a) > max_length:
            flush()
        ids += a
        labels += b
        mask += c
    if ids:
        flush()
    return out


def pack_sequences(
    sequences: Sequence[Sequence[int]],
    max_length: int,
    pad_token_id: int,
    eos_token_id: int,
    label_pad_id: int = -100,
) -> dict[str, list[list[int]]]:
    rows = _rows(sequences)
    for i, r in enumerate(rows):
        if len(r) + 2 > max_length:
            raise ValueError(f"sequences[{i}] ... max_length={max_length}")
    return _pack(
        [[*r, eos_token_id, pad_token_id] for r in rows],
        [[*r, eos_token_id, label_pad_id] for r in rows],
        [[1] * (len(r) + 1) + [0] for r in rows],
        max_length,
        pad_token_id,
        label_pad_id,
    )


def concatenate_and_pack(
    input_ids: Sequence[Sequence[int]],
    labels: Sequence[Sequence[int]],
    attention_masks: Sequence[Sequence[int]],
    max_length: int,
    pad_token_id: int,
    label_pad_id: int = -100,
) -> dict[str, list[list[int]]]:
    a, b, c = _rows(input_ids), _rows(labels), _rows(attention_masks)
    if not len(a) == len(b) == len(c):
        raise ValueError("input_ids, labels and attention_masks differ in rows")
    for i, (x, y, z) in enumerate(zip(a, b, c, strict=True)):
        if not len(x) == len(y) == len(z):
            raise ValueError(f"row {i} differs in length")
        if len(x) > max_length:
            raise ValueError(f"input_ids[{i}] ... max_length={max_length}")
    return _pack(a, b, c, max_length, pad_token_id, label_pad_id)


def pad_sequences(
    sequences: Sequence[Sequence[int]],
    target_length: int | None = None,
    pad_value: int = 0,
    padding_side: str = "right",
    pad_to_multiple_of: int | None = None,
) -> list[list[int]]:
    rows = _rows(sequences)
    if padding_side not in ("right", "left"):
        raise ValueError("padding_side must be 'right' or 'left'")
    if not rows:
        return []
    target = max(len(r) for r in rows) if target_length is None else target_length
    if pad_to_multiple_of:
        target = -(-target // pad_to_multiple_of) * pad_to_multiple_of
    if any(len(r) > target for r in rows):
        raise ValueError(f"a row is longer than target_length={target}")
    if padding_side == "right":
        return [r + [pad_value] * (target - len(r)) for r in rows]
    return [[pad_value] * (target - len(r)) + r for r in rows]


def create_padding_mask(current_length: int, target_length: int) -> list[int]:
    return list(range(max(target_length - current_length, 0)))


def parallel_hash_rows(rows: Sequence[str], num_threads: int = 0) -> list[str]:
    return [hashlib.sha256(r.encode()).hexdigest() for r in rows]


def deduplicate_indices(
    rows: Sequence[str], existing_hashes: Sequence[str] | None = None, num_threads: int = 0
) -> tuple[list[int], list[str]]:
    seen = set(existing_hashes or ())
    indices, hashes = [], []
    for i, h in enumerate(parallel_hash_rows(rows)):
        if h not in seen:
            seen.add(h)
            indices.append(i)
            hashes.append(h)
    return indices, hashes

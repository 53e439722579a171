"""fast-axolotl 0.2.0's public API (`pack_sequences`, `concatenate_and_pack`,
`pad_sequences`, `create_padding_mask`, `parallel_hash_rows`, `deduplicate_indices`)
against the plain Python a user would write instead, same input, one process.

    python benchmarks/run.py --only api

These functions replace no Axolotl symbol, so this family is a section, not paired
`CASES`: the "original" is the plain-Python equivalent below (same results, checked
before timing). Sizes are rows per call (positions for `create_padding_mask`): 1, 10,
1k and 100k, plus 1M rows for `parallel_hash_rows` (0.2.0 lost there to a hashlib loop:
1.38 s vs 1.19 s). Token rows: U[16, 512] random token ids below 32000 up to 1k rows,
U[16, 128] at 100k rows (memory), as lists and, for one padding case, as int64 numpy
arrays; packing at max_length 2048; hashed rows are 0.2.0's own benchmark rows
(`json.dumps` of a small dict, ~70 characters).
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable
from typing import Any

import harness
import numpy as np

SIZES = (1, 10, 1_000, 100_000)
QUICK_SIZES = (1, 10, 1_000)
MAX_LENGTH = 2048


# ---------------------------------------------------------------------------- plain Python


def py_pack_sequences(sequences, max_length, pad_token_id, eos_token_id, label_pad_id=-100):
    ids_out, labels_out, mask_out = [], [], []
    ids, labels, mask = [], [], []
    for seq in sequences:
        n = len(seq) + 2
        if len(ids) + n > max_length:
            k = max_length - len(ids)
            ids += [pad_token_id] * k
            labels += [label_pad_id] * k
            mask += [0] * k
            ids_out.append(ids)
            labels_out.append(labels)
            mask_out.append(mask)
            ids, labels, mask = [], [], []
        ids += seq
        ids.append(eos_token_id)
        ids.append(pad_token_id)
        labels += seq
        labels.append(eos_token_id)
        labels.append(label_pad_id)
        mask += [1] * (n - 1)
        mask.append(0)
    if ids:
        k = max_length - len(ids)
        ids += [pad_token_id] * k
        labels += [label_pad_id] * k
        mask += [0] * k
        ids_out.append(ids)
        labels_out.append(labels)
        mask_out.append(mask)
    return {"input_ids": ids_out, "labels": labels_out, "attention_mask": mask_out}


def py_concatenate_and_pack(input_ids, labels, attention_masks, max_length, pad, label_pad=-100):
    ids_out, labels_out, mask_out = [], [], []
    ids, lab, mask = [], [], []
    for a, b, c in zip(input_ids, labels, attention_masks, strict=True):
        if len(ids) + len(a) > max_length:
            k = max_length - len(ids)
            ids += [pad] * k
            lab += [label_pad] * k
            mask += [0] * k
            ids_out.append(ids)
            labels_out.append(lab)
            mask_out.append(mask)
            ids, lab, mask = [], [], []
        ids += a
        lab += b
        mask += c
    if ids:
        k = max_length - len(ids)
        ids += [pad] * k
        lab += [label_pad] * k
        mask += [0] * k
        ids_out.append(ids)
        labels_out.append(lab)
        mask_out.append(mask)
    return {"input_ids": ids_out, "labels": labels_out, "attention_mask": mask_out}


def py_pad_sequences(
    sequences, target_length=None, pad_value=0, padding_side="right", pad_to_multiple_of=None
):
    if not sequences:
        return []
    target = max(len(s) for s in sequences) if target_length is None else target_length
    if pad_to_multiple_of:
        target = -(-target // pad_to_multiple_of) * pad_to_multiple_of
    if padding_side == "right":
        return [s + [pad_value] * (target - len(s)) for s in sequences]
    return [[pad_value] * (target - len(s)) + s for s in sequences]


def py_pad_numpy_rows(rows, target_length=None, pad_value=0):
    # numpy rows: what a user would write is tolist() per row, then the list padding
    return py_pad_sequences([r.tolist() for r in rows], target_length, pad_value)


def py_create_padding_mask(current_length, target_length):
    return list(range(max(target_length - current_length, 0)))


def py_parallel_hash_rows(rows, num_threads=0):
    return [hashlib.sha256(r.encode()).hexdigest() for r in rows]


def py_deduplicate_indices(rows, existing_hashes=None, num_threads=0):
    seen = set(existing_hashes or ())
    indices, hashes = [], []
    for i, r in enumerate(rows):
        h = hashlib.sha256(r.encode()).hexdigest()
        if h not in seen:
            seen.add(h)
            indices.append(i)
            hashes.append(h)
    return indices, hashes


# ---------------------------------------------------------------------------- inputs


def token_rows(n: int, seed: int = 0) -> list[list[int]]:
    rng = random.Random(seed)
    hi = 512 if n <= 1_000 else 128
    return [[rng.randrange(32_000) for _ in range(rng.randint(16, hi))] for _ in range(n)]


def text_rows(n: int) -> list[str]:
    # 0.2.0's benchmark rows; every tenth row repeats an earlier one (for deduplication)
    return [
        json.dumps({"id": j, "text": f"Sample text content {j}", "value": j * 1.5})
        for j in (i - i % 10 if i % 10 == 9 else i for i in range(n))
    ]


def cases(quick: bool) -> list[tuple[str, int, Callable[..., Any], Callable[..., Any], tuple]]:
    import fast_axolotl as fa

    sizes = QUICK_SIZES if quick else SIZES
    out = []
    for n in sizes:
        rows = token_rows(n)
        labels = [[t if t % 3 else -100 for t in r] for r in rows]
        masks = [[1] * len(r) for r in rows]
        out += [
            (
                "pack_sequences",
                n,
                py_pack_sequences,
                fa.pack_sequences,
                (rows, MAX_LENGTH, 0, 2),
            ),
            (
                "concatenate_and_pack",
                n,
                py_concatenate_and_pack,
                fa.concatenate_and_pack,
                (rows, labels, masks, MAX_LENGTH, 0),
            ),
            ("pad_sequences", n, py_pad_sequences, fa.pad_sequences, (rows,)),
            (
                "pad_sequences (left, multiple of 64)",
                n,
                py_pad_sequences,
                fa.pad_sequences,
                (rows, None, 7, "left", 64),
            ),
            (
                "pad_sequences (numpy int64 rows)",
                n,
                py_pad_numpy_rows,
                fa.pad_sequences,
                ([np.array(r, dtype=np.int64) for r in rows],),
            ),
            (
                "create_padding_mask",
                n,
                py_create_padding_mask,
                fa.create_padding_mask,
                (100, 100 + n),
            ),
        ]
    for n in sizes + (() if quick else (1_000_000,)):
        texts = text_rows(n)
        out += [
            ("parallel_hash_rows", n, py_parallel_hash_rows, fa.parallel_hash_rows, (texts,)),
            (
                "deduplicate_indices",
                n,
                py_deduplicate_indices,
                fa.deduplicate_indices,
                (texts, py_parallel_hash_rows(texts[:3])),
            ),
        ]
    return out


def label(n: int) -> str:
    return {1_000: "1k", 100_000: "100k", 1_000_000: "1M"}.get(n, str(n))


def run_section(options: harness.Options) -> harness.Section:
    rows, problems, losses, data = [], [], [], []
    for name, n, plain, fast, args in cases(options.quick):
        call = harness.Call(args)
        t = time.perf_counter_ns()
        expected = plain(*args)
        est_p = time.perf_counter_ns() - t
        t = time.perf_counter_ns()
        got = fast(*args)
        est_f = time.perf_counter_ns() - t
        diff = harness.difference(expected, got)
        del expected, got
        if diff:
            problems.append(f"MISMATCH api/{name} [{label(n)}]: {diff}")
            continue
        paths = [
            harness.path_plan(plain, est_p, est_p, False, options),
            harness.path_plan(fast, est_f, est_f, False, options),
        ]
        harness.time_pair(paths, call)
        tp = harness._summary(paths[0].samples, paths[0].inner)
        tf = harness._summary(paths[1].samples, paths[1].inner)
        ratio = tp.best_ns / tf.best_ns
        rows.append(
            [
                name,
                label(n),
                f"{tp.samples}/{tf.samples}",
                _fmt(tp.best_ns),
                _fmt(tf.best_ns),
                f"{ratio:.2f}x" + ("  << LOSS" if ratio < 1.0 else ""),
            ]
        )
        data.append({"function": name, "rows": n, "python_ns": tp.best_ns, "fast_ns": tf.best_ns})
        if ratio < 1.0:
            losses.append(
                f"api/{name} [{label(n)}]: {ratio:.2f}x (python {_fmt(tp.best_ns)}, "
                f"fast {_fmt(tf.best_ns)})"
            )
    return harness.Section(
        title="api (fast-axolotl 0.2.0's public API vs plain Python)",
        headers=["function", "rows", "n", "plain Python", "fast-axolotl", "ratio"],
        rows=rows,
        notes=[
            "plain Python = the equivalent a user would write (benchmarks/bench_api.py), "
            "same results checked before timing; best per-call time over n samples",
            "token rows U[16,512] up to 1k rows, U[16,128] at 100k; packing at max_length "
            f"{MAX_LENGTH}; hashed rows ~70 characters, every tenth a duplicate",
        ],
        problems=problems,
        losses=losses,
        data={"results": data},
    )


def _fmt(ns: float) -> str:
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.0f} ns"

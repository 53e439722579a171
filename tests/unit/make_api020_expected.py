"""Records what fast-axolotl 0.2.0 returns on a fixed, varied corpus of inputs, into
tests/unit/data/api020_expected.json, for tests/unit/test_api020.py.

0.2.0 (the package on PyPI under this project's name) cannot be installed beside this
package, so it runs in its own virtual environment:

    uv venv -p 3.11 /work/venvs/fa020
    VIRTUAL_ENV=/work/venvs/fa020 uv pip install --no-deps fast-axolotl==0.2.0 numpy
    /work/venvs/fa020/bin/python tests/unit/make_api020_expected.py

The corpus is drawn from a seeded RNG, so running this again writes the same file. Every
case stores its inputs (encoded with `encode`: tuples, ranges, bytes, bools and numpy
arrays keep their type) and 0.2.0's result, or the name of the exception it raised
("PanicException" where its Rust code panicked). The test decides per case which of
0.2.0's behaviours the 0.3.0 API keeps (see docs/compatibility.md).
"""

from __future__ import annotations

import json
import os
import random
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "data" / "api020_expected.json"


def encode(v: Any) -> Any:
    """JSON for an input value; `decode` in the test turns it back into the same object."""
    import numpy as np

    if isinstance(v, bool):
        return {"kind": "bool", "value": v}
    if isinstance(v, np.ndarray):
        return {"kind": "ndarray", "dtype": str(v.dtype), "items": v.tolist()}
    if isinstance(v, np.integer):
        return {"kind": "npint", "dtype": str(v.dtype), "value": int(v)}
    if isinstance(v, float):
        return {"kind": "float", "value": v}
    if isinstance(v, tuple):
        return {"kind": "tuple", "items": [encode(x) for x in v]}
    if isinstance(v, range):
        return {"kind": "range", "args": [v.start, v.stop, v.step]}
    if isinstance(v, bytes):
        return {"kind": "bytes", "hex": v.hex()}
    if isinstance(v, list):
        return [encode(x) for x in v]
    return v  # int, str, None


def rows(rng: random.Random, n: int, max_len: int, lo: int = -5, hi: int = 40_000) -> list:
    return [[rng.randint(lo, hi) for _ in range(rng.randint(0, max_len))] for _ in range(n)]


def text(rng: random.Random) -> str:
    alphabet = 'ab c{}":,0123456789\n\té😀中\x00'
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))


def corpus() -> list[dict[str, Any]]:
    import numpy as np

    rng = random.Random(20260)
    cases: list[dict[str, Any]] = []

    def add(fn: str, *args: Any, **kwargs: Any) -> None:
        cases.append({"fn": fn, "args": list(args), "kwargs": kwargs})

    # pack_sequences: mostly rows that fit, some that do not (0.2.0 panics on those)
    for i in range(80):
        n = rng.choice([0, 1, 2, 3, 5, 10, 30])
        seqs = rows(rng, n, rng.choice([3, 8, 20]))
        longest = max((len(s) for s in seqs), default=0)
        max_length = longest + 2 + rng.choice([0, 0, 1, 3, 10, 40]) if i % 9 else longest + 1
        kw = {} if i % 3 else {"label_pad_id": rng.randint(-200, 5)}
        add("pack_sequences", seqs, max_length, rng.randint(0, 9), rng.randint(0, 9), **kw)
    add("pack_sequences", [], 0, 0, 2)
    add("pack_sequences", [[]], 2, 0, 2)
    add("pack_sequences", [[], [], [1]], 3, 7, 8)
    add("pack_sequences", ((1, 2), range(3), b"ab"), 6, 0, 2)
    add("pack_sequences", [[True, np.int64(7)], np.array([1, 2], dtype=np.int32)], 6, 0, 2)
    add("pack_sequences", np.array([[1, 2], [3, 4]], dtype=np.int64), 4, 0, 2)
    add("pack_sequences", [[1.0]], 5, 0, 2)
    add("pack_sequences", [None], 5, 0, 2)
    add("pack_sequences", ["ab"], 5, 0, 2)
    add("pack_sequences", "ab", 5, 0, 2)
    add("pack_sequences", [[1]], -1, 0, 2)
    add("pack_sequences", [[1]], 5, 2**63, 2)

    # concatenate_and_pack: equal-length triples; some rows too long or misaligned
    for i in range(80):
        n = rng.choice([0, 1, 2, 3, 5, 10, 30])
        ids = rows(rng, n, rng.choice([3, 8, 20]))
        labels = [[rng.choice([-100, x]) for x in r] for r in ids]
        masks = [[rng.choice([0, 1, 1]) for _ in r] for r in ids]
        longest = max((len(s) for s in ids), default=0)
        max_length = longest + rng.choice([0, 0, 1, 3, 10, 40]) if i % 9 else max(longest - 1, 0)
        if i % 13 == 5 and ids:
            labels = labels[:-1]
        if i % 17 == 6 and ids and ids[0]:
            masks[0] = masks[0][:-1]
        kw = {} if i % 3 else {"label_pad_id": rng.randint(-200, 5)}
        add("concatenate_and_pack", ids, labels, masks, max_length, rng.randint(0, 9), **kw)
    add("concatenate_and_pack", [[]], [[]], [[]], 0, 0)
    add("concatenate_and_pack", [[], []], [[], []], [[], []], 0, 0)
    add("concatenate_and_pack", [[1, 2, 3], [4]], [[1, 2, 3], [4]], [[1, 1, 1], [1]], 3, 0)
    add("concatenate_and_pack", [(1, 2)], [range(2)], [np.array([1, 1])], 4, 0)
    add("concatenate_and_pack", [[1]], [[1.5]], [[1]], 4, 0)

    # pad_sequences
    for i in range(80):
        n = rng.choice([0, 1, 2, 3, 5, 10, 30])
        seqs = rows(rng, n, rng.choice([3, 8, 20]))
        longest = max((len(s) for s in seqs), default=0)
        target = rng.choice([None, None, longest, longest + rng.randint(0, 9), max(longest - 1, 0)])
        kwargs: dict[str, Any] = {"target_length": target}
        if i % 2:
            kwargs["pad_value"] = rng.randint(-100, 50_000)
        if i % 3:
            kwargs["padding_side"] = rng.choice(["right", "left"])
        if i % 4 == 1:
            kwargs["pad_to_multiple_of"] = rng.choice([None, 0, 1, 3, 8])
        add("pad_sequences", seqs, **kwargs)
    add("pad_sequences", [[1, 2, 3]], 2, padding_side="middle")
    add("pad_sequences", [], 5, padding_side="middle")
    add("pad_sequences", [], 5)
    add("pad_sequences", [[], []])
    add("pad_sequences", [[1, 2, 3], [1]], 2, 7, "left", 4)
    add("pad_sequences", [[1]], True)
    add("pad_sequences", [[1]], -1)
    add("pad_sequences", [[1]], 2.0)
    add("pad_sequences", [[1]], 3, 0, None)
    add("pad_sequences", [(1, 2), range(1), b"\x05", np.array([9], dtype=np.int16)], 3)
    add("pad_sequences", [[True, False, np.uint8(200)]], 4, -1, "left")

    # create_padding_mask
    for _ in range(40):
        add("create_padding_mask", rng.randint(0, 600), rng.randint(0, 600))
    add("create_padding_mask", 0, 0)
    add("create_padding_mask", 5, 5)
    add("create_padding_mask", False, True)
    add("create_padding_mask", -1, 3)
    add("create_padding_mask", 0.0, 3)

    # parallel_hash_rows / deduplicate_indices
    for i in range(40):
        texts = [text(rng) for _ in range(rng.choice([0, 1, 2, 5, 20]))]
        texts += rng.sample(texts, k=min(len(texts), rng.randint(0, 3)))
        add("parallel_hash_rows", texts, rng.choice([0, 1, 3]))
        existing = None
        if i % 2:
            import hashlib

            existing = [hashlib.sha256(t.encode()).hexdigest() for t in texts[:2]]
            existing += ["not a digest", "ABCDEF" * 10 + "ABCD", ""]
            if i % 4 == 1 and existing[0:1]:
                existing.append(existing[0].upper())
        add("deduplicate_indices", texts, existing, rng.choice([0, 1, 3]))
    add("parallel_hash_rows", ("a", "b"))
    add("parallel_hash_rows", "abc")
    add("parallel_hash_rows", [b"abc"])
    add("parallel_hash_rows", [1])
    add("parallel_hash_rows", ["\ud800"])
    add("parallel_hash_rows", ["a"], -1)
    add("deduplicate_indices", [])
    add("deduplicate_indices", ["b"], "abc")
    add("deduplicate_indices", ["b"], [1])
    add("deduplicate_indices", ["b"], ("x",))
    return cases


def run(case: dict[str, Any]) -> dict[str, Any]:
    import fast_axolotl

    fn = getattr(fast_axolotl, case["fn"])
    try:
        result = fn(*case["args"], **case["kwargs"])
    except BaseException as exc:  # 0.2.0's panics arrive as pyo3's PanicException
        return {"raises": type(exc).__name__}
    return {"returns": json.loads(json.dumps(result))}


def main() -> int:
    import fast_axolotl

    if not fast_axolotl.__version__.startswith("0.2."):
        print(f"run this with fast-axolotl 0.2.0, not {fast_axolotl.__version__}", file=sys.stderr)
        return 1
    # 0.2.0's panics print a message to stderr: keep the console readable
    devnull = os.open(os.devnull, os.O_WRONLY)
    saved = os.dup(2)
    os.dup2(devnull, 2)
    try:
        records = []
        for case in corpus():
            records.append(
                {
                    "fn": case["fn"],
                    "args": encode(case["args"]),
                    "kwargs": {k: encode(v) for k, v in case["kwargs"].items()},
                    **run(case),
                }
            )
    finally:
        os.dup2(saved, 2)
    payload = {"fast_axolotl": fast_axolotl.get_version(), "cases": records}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(payload, ensure_ascii=True, separators=(",", ":")) + "\n")
    print(f"{len(records)} cases -> {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Fuzz: mutated files of every format and compression (flipped, inserted and deleted
bytes, truncations) either read or raise ValueError/OSError naming the file — never a
crash, a panic (RuntimeError), another exception type, or a hang. Runs in a child
interpreter so that a crash or a hang fails the test instead of killing the suite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

CHILD = textwrap.dedent(
    """
    import json, random, sys, tempfile
    from pathlib import Path
    sys.path.insert(0, sys.argv[1])
    import stream_files
    from fast_axolotl.streaming import streaming_dataset_reader

    rng = random.Random(int(sys.argv[2]))
    per_case = int(sys.argv[3])
    rows = [{"a": i, "b": "x\\u00e9" * (i % 3), "c": [i, i + 1], "d": {"e": i / 2}}
            for i in range(40)]
    text_rows = [{"text": "line \\u00e9 %d" % i} for i in range(40)]
    flat = [{"a": i, "b": "s%d" % i, "c": i / 3} for i in range(40)]
    failures, outcomes = [], {"ok": 0, "error": 0}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for fmt in stream_files.FORMATS:
            src = text_rows if fmt == "text" else flat if fmt == "csv" else rows
            for comp in stream_files.COMPRESSIONS:
                base = stream_files.compress(stream_files.encode(src, fmt), comp)
                for k in range(per_case):
                    data = bytearray(base)
                    for _ in range(rng.randint(1, 4)):
                        op = rng.choice("flip insert delete truncate".split())
                        if not data:
                            break
                        i = rng.randrange(len(data))
                        if op == "flip":
                            data[i] = rng.randrange(256)
                        elif op == "insert":
                            data[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
                        elif op == "delete":
                            del data[i:i + rng.randint(1, 8)]
                        else:
                            del data[i:]
                    name = "m%d.%s%s" % (k, stream_files.extension(fmt), "." + comp if comp else "")
                    path = tmp / name
                    path.write_bytes(bytes(data))
                    try:
                        for _ in streaming_dataset_reader(str(path), batch_size=7):
                            pass
                        outcomes["ok"] += 1
                    except (ValueError, OSError) as e:
                        outcomes["error"] += 1
                        if name not in str(e):
                            failures.append([name, "message does not name the file", str(e)])
                    except Exception as e:
                        failures.append([name, type(e).__name__, str(e)[:300]])
    print("RESULT " + json.dumps({"failures": failures[:20], "outcomes": outcomes}))
    """
)


def test_mutated_files_of_every_format_and_compression_never_crash_or_hang(tmp_path):
    per_case = int(os.environ.get("FAST_AXOLOTL_FUZZ_CASES", "12"))
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(Path(__file__).parent), "20261130", str(per_case)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    result = json.loads(line[len("RESULT ") :])
    assert result["failures"] == [], result
    # Both outcomes occur: mutations that keep the file valid, and ones that break it.
    assert result["outcomes"]["error"] > 0 and result["outcomes"]["ok"] > 0, result

"""The streaming reader against `datasets` streaming, pyarrow's own readers and
fast-axolotl 0.2.0 (when ``FAST_AXOLOTL_V020_PYTHON`` names a Python with the 0.2.0 wheel),
on generated JSONL, CSV and parquet files: total time of a full pass, time to the first
batch, and peak RSS above the interpreter's, batch_size 1000.

Each reader runs in a fresh child interpreter so that its peak RSS is its own. The files are
generated under ``FAST_AXOLOTL_BENCH_DIR`` (default: the system temp dir) and reused;
``FAST_AXOLOTL_BENCH_MB`` sets their size (default 100). Run on its own:

    python benchmarks/bench_streaming.py [--mb 100] [--formats jsonl csv parquet]
        [--readers fast fast_arrow datasets pyarrow v020] [--repeat 3] [--delete]
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

try:
    from harness import Section
except ImportError:  # run as a script from elsewhere
    sys.path.insert(0, str(Path(__file__).parent))
    from harness import Section

BATCH = 1000
WORDS = "the of and to in is was for on that with as by at from his her an are were it".split()

CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    kind, path, fmt = sys.argv[1], sys.argv[2], sys.argv[3]
    def peak_kb():
        # VmHWM: this process image's own peak. ru_maxrss is not: Linux carries it over
        # exec from the forked parent, whose RSS (the generated files) would hide ours.
        try:
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    def batches():
        if kind in ("fast", "fast_arrow"):
            from fast_axolotl.streaming import streaming_dataset_reader
            return streaming_dataset_reader(path, batch_size=1000,
                                            format="arrow" if kind == "fast_arrow" else "python")
        if kind == "v020":
            import fast_axolotl
            return fast_axolotl.streaming_dataset_reader(path, fmt, 1000, 4)
        if kind == "datasets":
            import datasets
            builder = {"jsonl": "json", "csv": "csv", "parquet": "parquet"}[fmt]
            ds = datasets.load_dataset(builder, data_files=path, split="train", streaming=True)
            return ds.iter(batch_size=1000)
        if kind == "pyarrow":
            import pyarrow as pa
            if fmt == "parquet":
                import pyarrow.parquet as pq
                return pq.ParquetFile(path).iter_batches(batch_size=1000)
            if fmt == "csv":
                import pyarrow.csv as pc
                return pc.open_csv(path)
            import pyarrow.json as pj
            return pj.open_json(path)
        raise SystemExit(kind)
    # imports are part of the interpreter, not of the read
    if kind == "datasets":
        import datasets
    import pyarrow
    base_kb = peak_kb()
    t0 = time.perf_counter()
    it = iter(batches())
    first = None
    rows = 0
    for b in it:
        if first is None:
            first = time.perf_counter() - t0
        rows += b.num_rows if hasattr(b, "num_rows") else len(next(iter(b.values())))
    total = time.perf_counter() - t0
    print("RESULT " + json.dumps({"rows": rows, "first_s": first, "total_s": total,
                                  "rss_mb": (peak_kb() - base_kb) / 1024}))
    """
)


def _row(i: int, rng: random.Random) -> dict:
    text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 60)))
    return {"id": i, "text": text, "score": rng.random(), "label": rng.choice(["a", "bb", "ccc"])}


def make_files(directory: Path, mb: int, formats: list[str]) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = {f: directory / f"bench_{mb}mb.{f}" for f in formats}
    jsonl = directory / f"bench_{mb}mb.jsonl"
    if not jsonl.exists():
        rng = random.Random(0)
        target = mb << 20
        with open(jsonl.with_suffix(".tmp"), "w") as f:
            i = 0
            written = 0
            while written < target:
                line = json.dumps(_row(i, rng)) + "\n"
                f.write(line)
                written += len(line)
                i += 1
        jsonl.with_suffix(".tmp").rename(jsonl)
    need = [f for f in formats if f != "jsonl" and not paths[f].exists()]
    if need:
        import pyarrow.json as pj

        table = pj.read_json(jsonl)
        for f in need:
            if f == "csv":
                import pyarrow.csv as pc

                pc.write_csv(table, paths[f])
            elif f == "parquet":
                import pyarrow.parquet as pq

                pq.write_table(table, paths[f])
    return paths


def run_child(python: str, kind: str, path: Path, fmt: str) -> dict | str:
    env = {k: v for k, v in os.environ.items() if k != "FAST_AXOLOTL_DISABLE"}
    env.update({"HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"})
    proc = subprocess.run(
        [python, "-c", CHILD, kind, str(path), fmt],
        capture_output=True,
        text=True,
        timeout=1800,
        env=env,
        cwd=tempfile.gettempdir(),
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        return (proc.stderr.strip().splitlines() or ["failed"])[-1][:120]
    return json.loads(lines[-1][len("RESULT ") :])


READERS = ("fast", "fast_arrow", "datasets", "pyarrow", "v020")


def _median_run(runs: list) -> dict | str:
    ok = sorted((r for r in runs if isinstance(r, dict)), key=lambda r: r["total_s"])
    if not ok:
        return runs[-1]
    best = dict(ok[(len(ok) - 1) // 2])
    best["runs_total_s"] = [round(r["total_s"], 3) for r in ok]
    return best


def measure(
    mb: int, formats: list[str], readers: tuple[str, ...] = READERS, repeat: int = 1
) -> Section:
    directory = (
        Path(os.environ.get("FAST_AXOLOTL_BENCH_DIR", tempfile.gettempdir())) / "fa-stream-bench"
    )
    paths = make_files(directory, mb, formats)
    v020 = os.environ.get("FAST_AXOLOTL_V020_PYTHON")
    kinds = [(k, sys.executable) for k in readers if k != "v020"]
    if v020 and "v020" in readers:
        kinds.append(("v020", v020))
    if "fast" not in readers:
        raise SystemExit("the fast reader is the reference of the ratios: keep it in --readers")
    rows, data, losses = [], {}, []
    for fmt in formats:
        size = paths[fmt].stat().st_size / (1 << 20)
        # Rounds run every reader once, in turn, so that load changes hit all of them;
        # each reader's figures are those of its median run by total time.
        runs: dict[str, list] = {k: [] for k, _ in kinds}
        for _ in range(repeat):
            for k, py in kinds:
                runs[k].append(run_child(py, k, paths[fmt], fmt))
        results = {k: _median_run(r) for k, r in runs.items()}
        data[fmt] = results
        fast = results["fast"]
        for k, _ in kinds:
            r = results[k]
            if isinstance(r, str):
                rows.append([f"{fmt} {size:.0f} MB", k, "error: " + r, "", "", "", ""])
                continue
            ratio = (r["total_s"] / fast["total_s"]) if isinstance(fast, dict) else float("nan")
            rows.append(
                [
                    f"{fmt} {size:.0f} MB",
                    k,
                    f"{r['rows']:,}",
                    f"{r['total_s']:.2f}",
                    f"{r['first_s']:.3f}" if r["first_s"] is not None else "-",
                    f"{r['rss_mb']:.0f}",
                    f"{ratio:.2f}x",
                ]
            )
        if isinstance(fast, dict):
            ds = results.get("datasets")
            if isinstance(ds, dict) and ds["total_s"] < 2 * fast["total_s"]:
                speedup = ds["total_s"] / fast["total_s"]
                losses.append(
                    f"{fmt}: full pass only {speedup:.2f}x faster than datasets (target 2x)"
                )
            old = results.get("v020")
            if isinstance(old, dict) and old["total_s"] < fast["total_s"]:
                losses.append(
                    f"{fmt}: slower than 0.2.0 ({fast['total_s']:.2f} s vs {old['total_s']:.2f} s)"
                )
            if fast["first_s"] is not None and fast["first_s"] > 0.1:
                losses.append(f"{fmt}: first batch after {fast['first_s']:.3f} s (target 0.1 s)")
    return Section(
        title=f"streaming reader, {mb} MB files, batch_size {BATCH}",
        headers=[
            "file",
            "reader",
            "rows",
            "total s",
            "first batch s",
            "peak RSS MB above start",
            "time / fast",
        ],
        rows=rows,
        notes=[
            "fast = dicts of lists (0.2.0's shape); fast_arrow = pyarrow.RecordBatch; "
            "pyarrow = its own streaming reader (RecordBatches, no Python values); "
            "datasets = load_dataset(..., streaming=True).iter(batch_size=1000)"
        ],
        losses=losses,
        data=data,
    )


def run_section(options) -> Section:
    mb = int(os.environ.get("FAST_AXOLOTL_BENCH_MB", "10" if options.quick else "100"))
    return measure(mb, ["jsonl", "csv", "parquet"])


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=100)
    ap.add_argument("--formats", nargs="+", default=["jsonl", "csv", "parquet"])
    ap.add_argument("--readers", nargs="+", default=list(READERS), choices=READERS)
    ap.add_argument(
        "--repeat", type=int, default=1, help="rounds; each reader's median run is shown"
    )
    ap.add_argument(
        "--delete", action="store_true", help="delete the generated files afterwards (1 GB runs)"
    )
    a = ap.parse_args()
    try:
        s = measure(a.mb, a.formats, tuple(a.readers), a.repeat)
    finally:
        if a.delete:
            d = Path(os.environ.get("FAST_AXOLOTL_BENCH_DIR", tempfile.gettempdir()))
            for f in (d / "fa-stream-bench").glob(f"bench_{a.mb}mb.*"):
                f.unlink()
    print(s.title)
    print(" | ".join(s.headers))
    for r in s.rows:
        print(" | ".join(r))
    for n in s.notes:
        print("note:", n)
    if a.repeat > 1:
        for fmt, res in s.data.items():
            for k, r in res.items():
                if isinstance(r, dict):
                    print(f"runs: {fmt} {k} total s {r['runs_total_s']}")
    for loss in s.losses:
        print("LOSS:", loss)

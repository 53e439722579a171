"""Comparing what two `axolotl preprocess` runs saved: every .arrow byte, then every value."""

from __future__ import annotations

import pathlib
from dataclasses import dataclass, field


@dataclass
class Comparison:
    """Outcome of comparing the two prepared datasets."""

    identical: bool
    differences: list[str] = field(default_factory=list)
    splits: dict[str, int] = field(default_factory=dict)  # split name -> rows
    columns: list[str] = field(default_factory=list)
    # The saved Arrow data files, compared byte for byte (state.json is not: it records the
    # datasets fingerprint, which differs where a whole step is replaced).
    data_files: int = 0
    data_files_identical: bool = True


def find_prepared_datasets(root: pathlib.Path) -> dict[str, pathlib.Path]:
    """Datasets saved with ``save_to_disk`` under ``root``, keyed by relative path.

    Axolotl saves the prepared (tokenized, filtered, deduplicated) training set
    to ``<dataset_prepared_path>/<hash of the dataset config>/``.
    """
    found: dict[str, pathlib.Path] = {}
    if not root.is_dir():
        return found
    for marker in ("dataset_dict.json", "state.json"):
        for hit in sorted(root.rglob(marker)):
            d = hit.parent
            # the splits of a DatasetDict are found through dataset_dict.json
            if any(p in found.values() for p in d.parents):
                continue
            found[d.relative_to(root).as_posix()] = d
    return found


def _as_split_dict(obj) -> dict:
    from datasets import DatasetDict

    if isinstance(obj, DatasetDict):
        return dict(obj)
    return {"(dataset)": obj}


def _first_difference(a, b) -> str:
    """Describe the first row/column where two equally shaped tables differ."""
    for name in a.column_names:
        col_a, col_b = a.column(name), b.column(name)
        if col_a.equals(col_b):
            continue
        step = 1024
        for start in range(0, len(col_a), step):
            va = col_a.slice(start, step).to_pylist()
            vb = col_b.slice(start, step).to_pylist()
            for i, (x, y) in enumerate(zip(va, vb, strict=True)):
                if x != y:
                    return f"column {name!r}, row {start + i}: {_short(x)} != {_short(y)}"
        return f"column {name!r} differs (types {col_a.type} vs {col_b.type})"
    return "tables differ in schema metadata"


def _short(value: object, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def compare_prepared(root_a: pathlib.Path, root_b: pathlib.Path) -> Comparison:
    """Compare everything ``axolotl preprocess`` saved under two prepared paths."""
    from datasets import load_from_disk

    cmp = Comparison(identical=True)
    found_a, found_b = find_prepared_datasets(root_a), find_prepared_datasets(root_b)
    if not found_a or not found_b:
        cmp.identical = False
        cmp.differences.append(f"no saved dataset found under {root_a if not found_a else root_b}")
        return cmp
    if sorted(found_a) != sorted(found_b):
        cmp.identical = False
        cmp.differences.append(f"different dataset dirs: {sorted(found_a)} vs {sorted(found_b)}")
        return cmp

    for rel in sorted(found_a):
        files_a = sorted(p.relative_to(found_a[rel]) for p in found_a[rel].rglob("*.arrow"))
        files_b = sorted(p.relative_to(found_b[rel]) for p in found_b[rel].rglob("*.arrow"))
        cmp.data_files += len(files_a)
        if files_a != files_b or any(
            (found_a[rel] / f).read_bytes() != (found_b[rel] / f).read_bytes() for f in files_a
        ):
            cmp.data_files_identical = False
            cmp.identical = False
            cmp.differences.append(f"{rel}: the saved .arrow files are not byte-identical")
        splits_a = _as_split_dict(load_from_disk(str(found_a[rel])))
        splits_b = _as_split_dict(load_from_disk(str(found_b[rel])))
        if sorted(splits_a) != sorted(splits_b):
            cmp.identical = False
            cmp.differences.append(f"{rel}: splits {sorted(splits_a)} vs {sorted(splits_b)}")
            continue
        for split in sorted(splits_a):
            ds_a, ds_b = splits_a[split], splits_b[split]
            where = f"{rel} [{split}]" if split != "(dataset)" else rel
            cmp.splits[where] = ds_a.num_rows
            cmp.columns = list(ds_a.column_names)
            if ds_a.features != ds_b.features:
                cmp.identical = False
                cmp.differences.append(f"{where}: features {ds_a.features} vs {ds_b.features}")
                continue
            if ds_a.num_rows != ds_b.num_rows:
                cmp.identical = False
                cmp.differences.append(f"{where}: {ds_a.num_rows} rows vs {ds_b.num_rows} rows")
                continue
            # the Arrow tables as seen through any indices mapping
            tbl_a = ds_a.with_format("arrow")[:]
            tbl_b = ds_b.with_format("arrow")[:]
            if not tbl_a.equals(tbl_b):
                cmp.identical = False
                cmp.differences.append(f"{where}: {_first_difference(tbl_a, tbl_b)}")
    return cmp

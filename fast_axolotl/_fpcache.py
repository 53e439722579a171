"""An on-disk cache of the guards' source fingerprints, so that a new process need not
tokenize every original's source again.

``guards.fingerprint`` tokenizes the source of a function (tens of milliseconds for the
whole registry). The cache maps a digest of the function's code object (``marshal`` of
the code: bytecode, constants, names, nested code, file name and line numbers, plus the
interpreter's cache tag) to the fingerprint computed from it, per source file, and is
only trusted while that file's modification time and size are the ones recorded with
it. Same file, same code object: ``inspect.getsource`` would read the same text, so the
cached value is the one ``fingerprint`` returns, and the guard decides exactly as before.

Robustness: the file lives in the user's cache directory (``FAST_AXOLOTL_CACHE_DIR``,
else ``$XDG_CACHE_HOME/fast-axolotl``, else ``~/.cache/fast-axolotl``; an empty
``FAST_AXOLOTL_CACHE_DIR`` turns the cache off). A missing, unreadable or corrupt file is
ignored; an unwritable directory only means no cache is kept; writers replace the file
atomically (a private temporary file, then ``os.replace``), so concurrent processes never
read a half-written file (one of them may lose its additions: they are recomputed later).
"""

from __future__ import annotations

import hashlib
import json
import marshal
import os
import sys
import tempfile
import threading
from collections.abc import Callable
from typing import Any

# v2: f-strings fingerprint as their source text on every Python (3.12+ tokenizes them
# into pieces); values written by v1 on 3.12+ were different and are not read.
FILENAME = "fingerprints-v2.json"
_lock = threading.Lock()
_data: dict[str, Any] | None = None  # the file's content, read once per process
_held = 0  # > 0 while the patcher runs: new values are written once, at release()
_new: dict[str, tuple[int, int, dict[str, str]]] = {}  # filename -> (mtime_ns, size, values)


def cache_dir() -> str | None:
    configured = os.environ.get("FAST_AXOLOTL_CACHE_DIR")
    if configured is not None:
        return configured or None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "fast-axolotl")


def cache_path() -> str | None:
    folder = cache_dir()
    return None if folder is None else os.path.join(folder, FILENAME)


def code_digest(code: Any) -> str:
    h = hashlib.sha256(sys.implementation.cache_tag.encode())
    h.update(marshal.dumps(code))
    return h.hexdigest()[:32]


def _valid(data: Any) -> bool:
    return isinstance(data, dict) and all(
        isinstance(k, str)
        and isinstance(v, dict)
        and isinstance(v.get("mtime_ns"), int)
        and isinstance(v.get("size"), int)
        and isinstance(v.get("fingerprints"), dict)
        for k, v in data.items()
    )


def _read(path: str | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    return data if _valid(data) else {}


def _write(path: str, data: dict[str, Any]) -> None:
    folder = os.path.dirname(path)
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".fingerprints-", suffix=".tmp", dir=folder)
    except OSError:
        return  # read-only or unwritable: no cache kept
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, sort_keys=True)
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def reset() -> None:
    """Forget what this process read and has not written (tests)."""
    global _data, _held
    with _lock:
        _data = None
        _held = 0
        _new.clear()


def fingerprint(func: Any, compute: Callable[[Any], str]) -> str:
    """``compute(func)``, served from the cache when the source file and the code object
    are unchanged. ``func`` must already be unwrapped (what ``compute`` fingerprints)."""
    global _data
    code = getattr(func, "__code__", None)
    filename = getattr(code, "co_filename", None)
    if code is None or not filename:
        return compute(func)
    try:
        st = os.stat(filename)
        digest = code_digest(code)
    except (OSError, ValueError, TypeError):
        return compute(func)
    path = cache_path()
    with _lock:
        if _data is None:
            _data = _read(path)
        record = _data.get(filename)
        if record and record["mtime_ns"] == st.st_mtime_ns and record["size"] == st.st_size:
            found = record["fingerprints"].get(digest)
            if isinstance(found, str):
                return found
    value = compute(func)  # raises like fingerprint() does: nothing is cached then
    if path is None:
        return value
    with _lock:
        known = _new.get(filename)
        if known is None or known[:2] != (st.st_mtime_ns, st.st_size):
            known = _new[filename] = (st.st_mtime_ns, st.st_size, {})
        known[2][digest] = value
        if _held == 0:
            _flush(path)
    return value


def hold() -> None:
    """Keep new values in memory until ``release()`` (one write per patch step)."""
    global _held
    with _lock:
        _held += 1


def release() -> None:
    global _held
    with _lock:
        _held = max(0, _held - 1)
        path = cache_path()
        if _held == 0 and _new and path is not None:
            _flush(path)


def _flush(path: str) -> None:
    """Merge the new values with what other processes wrote meanwhile, then replace the
    file atomically. Called with _lock held."""
    global _data
    on_disk = _read(path)
    for filename, (mtime_ns, size, values) in _new.items():
        record = on_disk.get(filename)
        if not (record and record["mtime_ns"] == mtime_ns and record["size"] == size):
            record = on_disk[filename] = {"mtime_ns": mtime_ns, "size": size, "fingerprints": {}}
        record["fingerprints"].update(values)
    _new.clear()
    _write(path, on_disk)
    _data = on_disk

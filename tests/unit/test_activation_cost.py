"""The cheaper patch step: the fingerprint cache on disk and the one-pass rebinding.

The cache must never change what the guard decides: a stale, corrupt or unwritable cache
means the fingerprint is computed from the source as before; concurrent writers never
leave a file that another process cannot read. The batched rebinding must leave every
module exactly as the per-entry passes did, and uninstall must restore it.
"""

from __future__ import annotations

import importlib
import json
import multiprocessing
import os
import sys
import textwrap

import pytest

import fast_axolotl
from fast_axolotl import _fpcache, guards, patcher


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("FAST_AXOLOTL_CACHE_DIR", str(folder))
    _fpcache.reset()
    yield folder
    _fpcache.reset()


def make_function(tmp_path, name: str, body: str):
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(body))
    sys.path.insert(0, str(tmp_path))
    try:
        sys.modules.pop(name, None)
        module = importlib.import_module(name)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop(name, None)
    return module.f, path


BODY = """
def f(x):
    '''doc'''
    return x + 1
"""


def counting(calls):
    def compute(func):
        calls.append(func)
        return guards.fingerprint(func)

    return compute


def test_cached_fingerprint_equals_the_computed_one_and_is_reused(cache, tmp_path):
    f, _ = make_function(tmp_path, "fp_a", BODY)
    calls: list = []
    assert _fpcache.fingerprint(f, counting(calls)) == guards.fingerprint(f)
    _fpcache.reset()  # a new process: reads the file
    assert _fpcache.fingerprint(f, counting(calls)) == guards.fingerprint(f)
    assert len(calls) == 1
    assert guards.cached_fingerprint(f) == guards.fingerprint(f)


def test_an_edited_source_file_is_not_served_from_the_stale_cache(cache, tmp_path):
    """The module was imported, then its file edited: fingerprint() reads the file as it
    is now (the guard's semantics), so the record of the old file must not answer."""
    f, path = make_function(tmp_path, "fp_b", BODY)
    calls: list = []
    before = _fpcache.fingerprint(f, counting(calls))
    path.write_text(textwrap.dedent(BODY.replace("x + 1", "x + 2  # longer")))
    os.utime(path, ns=(1, 1))  # a different mtime even on a coarse clock
    _fpcache.reset()
    after = _fpcache.fingerprint(f, counting(calls))
    assert after == guards.fingerprint(f) != before
    assert len(calls) == 2


def test_same_file_stamp_but_other_code_is_a_miss(cache, tmp_path):
    """The digest of the code object is part of the key: another function of the same,
    unchanged file never takes a value cached for a different code object."""
    body = BODY + "\n\ndef h(x):\n    return x - 1\n"
    f, _ = make_function(tmp_path, "fp_c", body)
    _fpcache.fingerprint(f, guards.fingerprint)
    data = json.loads((cache / _fpcache.FILENAME).read_text())
    record = data[f.__code__.co_filename]
    (digest,) = record["fingerprints"]
    record["fingerprints"] = {digest: "0123456789abcdef"}  # a planted value
    (cache / _fpcache.FILENAME).write_text(json.dumps(data))
    _fpcache.reset()
    assert _fpcache.fingerprint(f, guards.fingerprint) == "0123456789abcdef"  # served
    h = f.__globals__["h"]
    assert _fpcache.code_digest(h.__code__) != digest
    assert _fpcache.fingerprint(h, guards.fingerprint) == guards.fingerprint(h)


@pytest.mark.parametrize(
    "content", ["", "{", "[]", '{"a": 1}', '{"a": {"mtime_ns": "x"}}', "\x00\xff"]
)
def test_a_corrupt_cache_file_is_ignored_and_replaced(cache, tmp_path, content):
    f, _ = make_function(tmp_path, "fp_d", BODY)
    cache.mkdir()
    (cache / _fpcache.FILENAME).write_bytes(content.encode("latin-1"))
    assert _fpcache.fingerprint(f, guards.fingerprint) == guards.fingerprint(f)
    data = json.loads((cache / _fpcache.FILENAME).read_text())
    assert f.__code__.co_filename in data


def test_an_unwritable_cache_location_only_means_no_cache(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("FAST_AXOLOTL_CACHE_DIR", str(blocker / "cache"))
    _fpcache.reset()
    f, _ = make_function(tmp_path, "fp_e", BODY)
    calls: list = []
    assert _fpcache.fingerprint(f, counting(calls)) == guards.fingerprint(f)
    _fpcache.reset()
    assert _fpcache.fingerprint(f, counting(calls)) == guards.fingerprint(f)
    assert len(calls) == 2
    _fpcache.reset()


def test_an_empty_cache_dir_setting_turns_the_cache_off(tmp_path, monkeypatch):
    monkeypatch.setenv("FAST_AXOLOTL_CACHE_DIR", "")
    _fpcache.reset()
    assert _fpcache.cache_path() is None
    f, _ = make_function(tmp_path, "fp_f", BODY)
    assert _fpcache.fingerprint(f, guards.fingerprint) == guards.fingerprint(f)
    _fpcache.reset()


def test_source_unavailable_raises_as_before_and_caches_nothing(cache):
    namespace: dict = {}
    exec(compile("def f(x):\n    return x\n", "<nowhere>", "exec"), namespace)
    with pytest.raises(OSError):
        _fpcache.fingerprint(namespace["f"], guards.fingerprint)
    assert not (cache / _fpcache.FILENAME).exists()


def _writer(folder: str, source_dir: str, index: int, queue) -> None:
    os.environ["FAST_AXOLOTL_CACHE_DIR"] = folder
    _fpcache.reset()
    sys.path.insert(0, source_dir)
    module = importlib.import_module(f"fp_many_{index}")
    for _ in range(20):
        _fpcache.reset()
        _fpcache._new.clear()
        _fpcache.fingerprint(module.f, guards.fingerprint)
        # Every read in between must see a complete, valid file (or none yet).
        path = os.path.join(folder, _fpcache.FILENAME)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as fh:
                json.load(fh)
    queue.put(index)


def test_concurrent_writers_never_leave_a_half_written_file(cache, tmp_path):
    for i in range(4):
        (tmp_path / f"fp_many_{i}.py").write_text(BODY.replace("x + 1", f"x + {i}"))
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=_writer, args=(str(cache), str(tmp_path), i, queue)) for i in range(4)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert all(p.exitcode == 0 for p in procs)
    assert sorted(queue.get(timeout=5) for _ in procs) == [0, 1, 2, 3]
    data = json.loads((cache / _fpcache.FILENAME).read_text())
    assert all(str(tmp_path) in name for name in data)
    assert not [n for n in os.listdir(cache) if n.endswith(".tmp")]


def test_guard_decisions_are_the_same_with_a_warm_cache(fake, cache):
    kernels = importlib.import_module(f"{fake.pkg}.kernels")
    fp = guards.fingerprint(kernels.scale)
    fake.use(*fake.entries(scale={"fingerprints": {fp: "v1"}}))
    fast_axolotl.install()
    cold = {e["target"]: (e["state"], e["reason"]) for e in fast_axolotl.status()}
    fast_axolotl.uninstall()
    patcher.forget()
    _fpcache.reset()
    fast_axolotl.install()
    warm = {e["target"]: (e["state"], e["reason"]) for e in fast_axolotl.status()}
    assert warm == cold
    assert cold[f"{fake.pkg}.kernels:scale"] == (patcher.PATCHED, "variant v1")
    fast_axolotl.uninstall()
    patcher.forget()
    fake.use(*fake.entries(scale={"fingerprints": {"0" * 16: "v1"}}))
    fast_axolotl.install()
    states = {e["target"]: e["state"] for e in fast_axolotl.status()}
    assert states[f"{fake.pkg}.kernels:scale"] == patcher.SKIPPED


# --- one rebinding pass ---------------------------------------------------------------


def test_one_pass_rebinds_every_importers_copy_and_uninstall_restores_them(fake, monkeypatch):
    user = importlib.import_module(f"{fake.pkg}.user")
    kernels = importlib.import_module(f"{fake.pkg}.kernels")
    original = kernels.scale
    passes: list = []
    real = patcher._rebind_all

    def spy(pairs):
        passes.append(len(pairs))
        return real(pairs)

    monkeypatch.setattr(patcher, "_rebind_all", spy)
    fast_axolotl.install()
    assert user.scale is kernels.scale is not original
    assert passes == [1]  # one pass for the whole install, not one per entry
    passes.clear()
    fast_axolotl.uninstall()
    assert user.scale is original and kernels.scale is original
    assert passes == [1]


def test_an_alias_of_an_entry_patched_in_the_same_batch_is_rebound_not_patched_twice(fake):
    """An entry whose target is a `from x import f` copy of another entry's target: the
    batch must leave it bound to the first replacement, as the per-entry passes did."""
    user = importlib.import_module(f"{fake.pkg}.user")
    kernels = importlib.import_module(f"{fake.pkg}.kernels")
    scale, collate = fake.entries()
    alias = fast_axolotl.registry.Entry(
        target=f"{fake.pkg}.user:scale",
        replacement=scale.replacement,
        group="scaling",
        signature=scale.signature,
    )
    fake.use(scale, collate, alias)
    fast_axolotl.install()
    assert user.scale is kernels.scale
    assert hasattr(kernels.scale, "__wrapped__")
    assert not hasattr(kernels.scale.__wrapped__, "__wrapped__")
    fast_axolotl.uninstall()
    assert user.scale is kernels.scale
    assert not hasattr(user.scale, "__wrapped__")


def test_status_reports_the_same_after_install_as_the_per_entry_passes(fake, monkeypatch):
    """The same records with the batch as with an immediate pass per entry."""
    importlib.import_module(f"{fake.pkg}.user")
    fast_axolotl.install()
    batched = [(e["target"], e["state"], e["reason"]) for e in fast_axolotl.status()]
    fast_axolotl.uninstall()
    patcher.forget()

    class NoBatch:
        def __enter__(self):
            return None

        def __exit__(self, *exc):
            return None

    monkeypatch.setattr(patcher, "_Batch", NoBatch)
    fast_axolotl.install()
    immediate = [(e["target"], e["state"], e["reason"]) for e in fast_axolotl.status()]
    assert batched == immediate

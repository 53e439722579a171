"""What a benchmark module declares, and how one paired case is measured.

A ``bench_<family>.py`` module exposes ``CASES``, a list of :class:`Case`: each names one
Axolotl symbol that fast-axolotl replaces and builds one input for it. The runner resolves
the symbol, takes Axolotl's original from ``__wrapped__`` and the patched object as the fast
path, and measures both on the same input in the same process. A module may also expose
``run_section(options) -> Section`` for measurements that are not a pair of calls
(interpreter start-up, for one).
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import math
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# ---------------------------------------------------------------------------- declarations


@dataclass
class Call:
    """One input: the arguments both paths get, and what to release afterwards."""

    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    cleanup: Callable[[], None] | None = None


@dataclass
class Case:
    """One original-versus-fast comparison.

    ``target`` is ``"module:qualname"`` of the Axolotl symbol (a function, or a method as
    ``"module:Class.method"``); after import it must be fast-axolotl's replacement, whose
    ``__wrapped__`` is Axolotl's original. ``setup`` builds the input; it is not timed.
    """

    name: str
    size: str
    target: str
    setup: Callable[[], Call]
    rows: int = 0
    memory: bool = False  # also measure the peak RSS of each path
    quick: bool = True  # part of ``--quick``
    note: str = ""


@dataclass
class Section:
    """A free-form result table (used for measurements that are not paired calls)."""

    title: str
    headers: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # errors: the run exits with status 1
    losses: list[str] = field(default_factory=list)  # missed targets, listed with the losses
    data: dict[str, Any] = field(default_factory=dict)  # for --json


@dataclass
class Options:
    quick: bool = False
    budget_s: float = 1.5  # time spent per path and case, roughly, after the warm-up
    min_repeats: int = 3
    max_samples: int = 2000
    memory: bool = True
    verbose: bool = True


# ---------------------------------------------------------------------------- resolution


def resolve(target: str) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """(original, fast) for ``"module:qualname"``. Raises if fast-axolotl did not patch it."""
    module_name, _, qualname = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    original = getattr(obj, "__wrapped__", None)
    if original is None or original is obj:
        raise RuntimeError(
            f"{target} is not patched by fast-axolotl (no __wrapped__); is fast-axolotl "
            "installed and FAST_AXOLOTL_DISABLE unset? See `fast-axolotl status`."
        )
    return original, obj


# ---------------------------------------------------------------------------- comparison


def difference(a: Any, b: Any, where: str = "result") -> str | None:
    """None if ``a`` and ``b`` are identical in type, dtype, shape and values; otherwise a
    sentence saying where and how they differ. Handles numpy arrays, torch tensors and
    (nested) lists, tuples and dicts; other objects compare with ``==``."""
    if type(a) is not type(b):
        return f"{where}: type {type(a).__name__} (original) != {type(b).__name__} (fast)"
    np = sys.modules.get("numpy")
    if np is not None and isinstance(a, np.ndarray):
        if a.dtype != b.dtype:
            return f"{where}: dtype {a.dtype} (original) != {b.dtype} (fast)"
        if a.shape != b.shape:
            return f"{where}: shape {a.shape} (original) != {b.shape} (fast)"
        nan_ok = a.dtype.kind in "fc"
        if not np.array_equal(a, b, equal_nan=nan_ok):
            equal = a == b
            if nan_ok:
                equal |= np.isnan(a) & np.isnan(b)
            bad = np.flatnonzero(~np.asarray(equal))
            i = int(bad[0]) if bad.size else 0
            return (
                f"{where}: {bad.size} of {a.size} values differ, first at flat index {i}: "
                f"{a.flat[i]!r} (original) != {b.flat[i]!r} (fast)"
            )
        return None
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(a, torch.Tensor):
        if a.dtype != b.dtype or a.shape != b.shape:
            return f"{where}: tensor {a.dtype}{tuple(a.shape)} != {b.dtype}{tuple(b.shape)}"
        return None if torch.equal(a, b) else f"{where}: tensor values differ"
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            return f"{where}: length {len(a)} (original) != {len(b)} (fast)"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            d = difference(x, y, f"{where}[{i}]")
            if d:
                return d
        return None
    if isinstance(a, Mapping):  # dict, and transformers' BatchEncoding (a UserDict)
        if list(a) != list(b):
            return f"{where}: keys {list(a)} (original) != {list(b)} (fast)"
        for k in a:
            d = difference(a[k], b[k], f"{where}[{k!r}]")
            if d:
                return d
        return None
    try:
        same = bool(a == b)
    except Exception as exc:  # an object whose == raises cannot be checked: say so
        return f"{where}: cannot compare {type(a).__name__} values ({exc!r})"
    return None if same else f"{where}: {a!r} (original) != {b!r} (fast)"


def outcome(fn: Callable[..., Any], call: Call) -> tuple[Any, BaseException | None]:
    try:
        return fn(*call.args, **call.kwargs), None
    except Exception as exc:
        return None, exc


def calls_original(fast: Callable[..., Any], original: Callable[..., Any], call: Call) -> bool:
    """Runs ``fast`` once under a profile hook; True if it entered ``original`` (deferred).

    A replacement that hands the input back to Axolotl would otherwise show as a ratio of
    about 1 and look like a slow kernel, not a fallback."""
    code = getattr(original, "__code__", None)
    if code is None:
        return False
    seen = False

    def hook(frame: Any, event: str, arg: Any) -> None:
        nonlocal seen
        if event == "call" and frame.f_code is code:
            seen = True

    previous = sys.getprofile()
    sys.setprofile(hook)
    try:
        outcome(fast, call)
    finally:
        sys.setprofile(previous)
    return seen


# ---------------------------------------------------------------------------- timing


@dataclass
class Timing:
    best_ns: float  # per call, the minimum over samples
    median_ns: float
    samples: int
    calls_per_sample: int


def _one_sample(fn: Callable[..., Any], call: Call, inner: int) -> int:
    args, kwargs = call.args, call.kwargs
    t0 = time.perf_counter_ns()
    for _ in range(inner):
        fn(*args, **kwargs)
    return time.perf_counter_ns() - t0


#: A call at least this long also counts its first (checked) call as a timing sample: its
#: warm-up effects are negligible next to its length, and 1M-row runs of Axolotl's Python
#: loops would otherwise take minutes.
SLOW_NS = 3_000_000_000

#: Calls at least this long measure their peak memory during their last timing sample
#: instead of in one more call.
MEMORY_IN_SAMPLE_NS = 500_000_000


def plan(estimate_ns: int, options: Options) -> tuple[int, int]:
    """(samples, calls per sample) for a call that took ``estimate_ns`` once.

    Calls under 50 µs are timed in batches so the clock's own cost stays below ~1%; the
    number of samples fills the time budget, at least ``min_repeats`` (at least two when a
    single call alone exceeds the budget: Axolotl's Python loops over 100k+ rows)."""
    estimate_ns = max(estimate_ns, 100)
    inner = max(1, math.ceil(50_000 / estimate_ns))
    per_sample = estimate_ns * inner
    samples = math.ceil(options.budget_s * 1e9 / per_sample)
    floor = options.min_repeats if estimate_ns < options.budget_s * 1e9 else 2
    return max(floor, min(samples, options.max_samples)), inner


@dataclass
class PathPlan:
    """The timing of one path: its calls per sample, the samples still to take, the
    samples already taken (a slow path's first call), and whether its last sample also
    measures peak memory."""

    fn: Callable[..., Any]
    inner: int
    todo: int
    samples: list[float]
    memory_in_sample: bool
    peak_kib: int | str | None = None

    def sample(self, call: Call, last: bool) -> None:
        if last and self.memory_in_sample:
            ns, self.peak_kib = measured_call(self.fn, call)
            self.samples.append(ns)
        else:
            self.samples.append(_one_sample(self.fn, call, self.inner) / self.inner)


def path_plan(
    fn: Callable[..., Any], first_ns: int, est_ns: int, memory: bool, options: Options
) -> PathPlan:
    samples, inner = plan(est_ns, options)
    seed = [float(first_ns)] if first_ns >= SLOW_NS else []
    return PathPlan(
        fn, inner, max(1, samples - len(seed)), seed, memory and est_ns >= MEMORY_IN_SAMPLE_NS
    )


def time_pair(paths: list[PathPlan], call: Call) -> None:
    """Times the paths with their samples interleaved, so that load from other processes
    on the machine falls on all alike. The garbage collector stays enabled, as in real
    use (Axolotl's object-heavy path pays for its collections); one full collection runs
    before the loop, none inside it (a full collection also evicts the CPU caches)."""
    gc.collect()
    for i in range(max(p.todo for p in paths)):
        for p in paths:
            if i < p.todo:
                p.sample(call, last=i == p.todo - 1)


def _summary(samples: list[float], inner: int) -> Timing:
    ordered = sorted(samples)
    return Timing(ordered[0], ordered[len(ordered) // 2], len(ordered), inner)


# ---------------------------------------------------------------------------- memory


def _status_kib(*keys: str) -> dict[str, int]:
    found: dict[str, int] = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in keys:
                found[key] = int(value.split()[0])
    return found


def _release_free_memory() -> None:
    """Returns memory freed earlier in the parent to the OS, so that the measured call
    cannot hide its allocations in pages the process already holds."""
    gc.collect()
    pa = sys.modules.get("pyarrow")
    if pa is not None:
        try:
            pa.default_memory_pool().release_unused()
        except Exception:
            pass
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except Exception:
        pass


def memory_supported() -> bool:
    return sys.platform.startswith("linux") and os.access("/proc/self/clear_refs", os.W_OK)


def measured_call(fn: Callable[..., Any], call: Call) -> tuple[int, int | str]:
    """(ns, peak KiB) of one call of ``fn``: the peak resident memory the call adds.

    Runs after the warm-up, so code pages, lazy imports and the pages of the input are
    already resident and only what the call allocates is counted. Free heap memory is
    returned to the OS first, then the kernel's high-water mark is reset (``clear_refs``
    5) and the figure is ``VmHWM`` after the call minus ``VmRSS`` before it. Unlike
    tracemalloc this sees every allocator (Python objects, numpy, Arrow's pool, Rust).
    The peak is a string when it could not be measured."""
    _release_free_memory()
    try:
        base = _status_kib("VmRSS")["VmRSS"]
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError as exc:
        base, problem = None, f"error: {exc!r}"
    t0 = time.perf_counter_ns()
    result = fn(*call.args, **call.kwargs)
    ns = time.perf_counter_ns() - t0
    peak = _status_kib("VmHWM")["VmHWM"]
    del result
    return ns, (peak - base if base is not None else problem)


# ---------------------------------------------------------------------------- one case


@dataclass
class Result:
    case: Case
    status: str  # "ok", "MISMATCH", "ERROR"
    detail: str = ""
    original: Timing | None = None
    fast: Timing | None = None
    deferred: bool = False
    mem_original_kib: int | str | None = None
    mem_fast_kib: int | str | None = None
    setup_s: float = 0.0

    @property
    def ratio(self) -> float | None:
        if self.original is None or self.fast is None:
            return None
        return self.original.best_ns / self.fast.best_ns


def measure(case: Case, options: Options) -> Result:
    """Setup, the identity check (which is also the warm-up), timing, then memory."""
    t0 = time.perf_counter()
    try:
        original, fast = resolve(case.target)
        call = case.setup()
    except Exception as exc:
        return Result(case, "ERROR", f"setup failed: {exc!r}")
    setup_s = time.perf_counter() - t0
    try:
        # Warm-up and identity check in one: the first call of each path, on the same input.
        t = time.perf_counter_ns()
        expected, exc_o = outcome(original, call)
        est_o = time.perf_counter_ns() - t
        t = time.perf_counter_ns()
        got, exc_f = outcome(fast, call)
        est_f = time.perf_counter_ns() - t
        if exc_o is not None or exc_f is not None:
            if type(exc_o) is type(exc_f) and str(exc_o) == str(exc_f):
                detail = f"both raise {exc_o!r}; not timed"
                return Result(case, "ok", detail, setup_s=setup_s)
            return Result(
                case,
                "MISMATCH",
                f"original raised {exc_o!r}, fast raised {exc_f!r}",
                setup_s=setup_s,
            )
        diff = difference(expected, got)
        if diff:
            return Result(case, "MISMATCH", diff, setup_s=setup_s)
        del expected, got
        deferred = calls_original(fast, original, call)
        # The first calls paid for lazy imports and cold caches: estimate again from a
        # second call where that is cheap.
        first_o, first_f = est_o, est_f
        if est_o < SLOW_NS:
            t = time.perf_counter_ns()
            original(*call.args, **call.kwargs)
            est_o = time.perf_counter_ns() - t
        if est_f < SLOW_NS:
            t = time.perf_counter_ns()
            fast(*call.args, **call.kwargs)
            est_f = time.perf_counter_ns() - t
        memory = case.memory and options.memory and memory_supported()
        paths = [
            path_plan(original, first_o, est_o, memory, options),
            path_plan(fast, first_f, est_f, memory, options),
        ]
        time_pair(paths, call)
        if memory:
            for p in paths:
                if not p.memory_in_sample:
                    p.peak_kib = measured_call(p.fn, call)[1]
        p_o, p_f = paths
        result = Result(
            case,
            "ok",
            "",
            _summary(p_o.samples, p_o.inner),
            _summary(p_f.samples, p_f.inner),
            deferred,
            p_o.peak_kib,
            p_f.peak_kib,
            setup_s=setup_s,
        )
        return result
    except Exception as exc:
        return Result(case, "ERROR", f"{exc!r}", setup_s=setup_s)
    finally:
        if call.cleanup is not None:
            call.cleanup()

"""Replacements for ``axolotl.utils.samplers.multipack``.

Axolotl packs with numba-jitted loops (compiled on first call, quadratic in the number of
bins) and spreads ``pack_parallel`` over a process pool. These replacements run the
``packing`` kernels instead: no numba, no compile, no fork, no pickling. They return what
the numba functions return: lists of lists of Python ints, Python ints and bools.

Every replacement defers to Axolotl for arguments outside what the kernels reproduce:
lengths that are not a 1-D native int32/int64 ``numpy.ndarray``, scalars that are not
Python ints within +-2**62, a non-bool ``safe_mode``, and sums of
lengths large enough that Axolotl's int64 arithmetic could wrap.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from fast_axolotl import _native, config
from fast_axolotl._native import UnsupportedInput
from fast_axolotl.patches._common import (
    Defer,
    direct,
    own_view,
    replacement,
    report_difference,
    report_fault,
    same_result,
)

_LIMIT = 1 << 62
_START_METHODS = (None, "fork", "spawn", "forkserver")


def _int(value: Any) -> int:
    """``value`` if it is a Python int far from int64 overflow (numba types it as int64)."""
    if type(value) is int:
        v = int(value)
        if -_LIMIT < v < _LIMIT:
            return v
    raise Defer


def _count(value: Any, minimum: int) -> int:
    v = _int(value)
    if v < minimum:
        raise Defer
    return v


def _bool(value: Any) -> bool:
    if type(value) is not bool:
        raise Defer  # numba types other truth values differently (or refuses them)
    return value


def _lengths(value: Any) -> np.ndarray:
    if (
        type(value) is not np.ndarray
        or value.ndim != 1
        or value.dtype.kind != "i"
        or value.dtype.itemsize not in (4, 8)
        or not value.dtype.isnative
    ):
        raise Defer
    return value


def _direct(original: Callable[..., Any], kernel: Callable[..., Any]) -> Callable[..., Any]:
    """``replacement(original, kernel)`` with one Python frame less: the kernel takes the
    original's parameters and checks them itself, so on 10-item inputs the call costs
    about what numba's dispatch costs. Same fallbacks; shadow mode uses ``replacement``."""
    return direct(original, kernel)


def pack_group(original: Callable[..., Any], variant: str | None) -> Callable[..., Any]:
    """Mirrors ``axolotl.utils.samplers.multipack.pack_group`` (0.19, numba).

    First fit in the given order (not decreasing): an item goes to the first bin, in
    creation order, with ``room >= size`` and fewer than ``bin_size`` items; otherwise it
    opens a bin (with negative room when oversized) unless ``safe_mode`` and ``max_bins``
    bins exist, in which case it is left out. O(n log bins) with a segment tree. The kernel
    takes Axolotl's parameters and checks them itself (the call is as cheap as numba's);
    it defers on the inputs listed in the module docstring.
    """
    return _direct(original, _native.pack_first_fit)


def _process_group(original: Callable[..., Any], variant: str | None) -> Callable[..., Any]:
    """Mirrors ``axolotl.utils.samplers.multipack._process_group``: ``pack_group`` of a
    6-tuple. Defers when ``args`` is not a 6-tuple or ``pack_group`` would."""

    def fast(args: Any) -> list[list[int]]:
        if type(args) is not tuple or len(args) != 6:
            raise Defer
        return _native.pack_first_fit(*args)

    return replacement(original, fast)


def _check_pool_args(num_processes: Any, mp_start_method: Any) -> None:
    """Checks what only steers Axolotl's process pool (and so not the result)."""
    if num_processes is not None and (type(num_processes) is not int or num_processes < 1):
        raise Defer  # the pool raises on 0 or less
    if mp_start_method is not None and (
        type(mp_start_method) is not str or mp_start_method not in _START_METHODS
    ):
        raise Defer  # Axolotl logs a warning and falls back: let it


def pack_parallel(original: Callable[..., Any], variant: str | None) -> Callable[..., Any]:
    """Mirrors ``axolotl.utils.samplers.multipack.pack_parallel`` (0.19).

    Groups of ``group_size`` items are packed by ``pack_group`` rules (each with
    ``max_bins`` = its item count) on fast-axolotl's thread pool instead of a process
    pool, and their bins concatenated in group order; ``num_processes`` and
    ``mp_start_method`` only steer Axolotl's pool and do not change the result. Defers on
    a ``group_size`` or ``num_processes`` below 1, an unknown start method (Axolotl warns
    about it), and the inputs listed in the module docstring.
    """

    def fast(
        sequence_lengths: Any,
        bin_capacity: Any,
        group_size: Any,
        bin_size: Any,
        num_processes: Any = None,
        safe_mode: Any = True,
        mp_start_method: Any = "fork",
    ) -> list[list[int]]:
        _check_pool_args(num_processes, mp_start_method)
        return _native.pack_first_fit_groups(
            sequence_lengths, bin_capacity, group_size, bin_size, safe_mode
        )

    return replacement(original, fast)


def allocate_sequentially(original: Callable[..., Any], variant: str | None) -> Callable[..., Any]:
    """Mirrors ``axolotl.utils.samplers.multipack.allocate_sequentially`` (0.19, numba).

    Next fit in order, every ``num_ranks``-th bin from ``rank``, and
    ``(bins, sum of all lengths, number of bins * bin_capacity)`` as Python ints. Defers
    on a negative ``rank``, ``num_ranks`` below 1, and the inputs listed in the module
    docstring.
    """
    return _direct(original, _native.pack_next_fit)


def ffd_check(original: Callable[..., Any], variant: str | None) -> Callable[..., Any]:
    """Mirrors ``axolotl.utils.samplers.multipack.ffd_check`` (0.19, numba).

    Whether first fit over the lengths sorted in decreasing order fits ``num_bins`` bins.
    Axolotl's bins have the lengths' dtype; defers where int32 bins could wrap (a capacity
    outside int32, negative int32 lengths), on a negative or huge ``num_bins``, and on the
    inputs listed in the module docstring.
    """
    return _direct(original, _native.ffd_fits)


def _replay(original: Callable[..., Any], sampler: Any, indices: list[Any], set_stats: Any) -> Any:
    """Runs Axolotl's ``generate_batches`` on indices already drawn from the sampler, so
    that deferring after the draw does not draw (and consume the RNG) twice."""
    drawn = sampler.sampler
    sampler.sampler = indices
    try:
        return original(sampler, set_stats)
    finally:
        sampler.sampler = drawn


#: The 0.12-0.18 bodies: statistics taken before drop_last, see _drop_last_after_stats.
_STATS_BEFORE_DROP_LAST = ("stats-before-drop-last", "stats-before-drop-last-raw-bin-size")


class _Plan:
    """What one pass needs besides the drawn indices, checked before drawing."""

    __slots__ = (
        "batch_size",
        "bin_size",
        "capacity",
        "group_size",
        "lengths",
        "safe_mode",
        "sequential",
        "stats_before_drop_last",
    )

    def __init__(self, sampler: Any, variant: str | None = None) -> None:
        self.stats_before_drop_last = variant in _STATS_BEFORE_DROP_LAST
        self.lengths = _lengths(sampler.lengths)
        if type(sampler.batch_max_len) is not int:
            raise Defer
        self.capacity = _int(sampler.batch_max_len)
        self.batch_size = _count(sampler.batch_size, 1)
        self.sequential = bool(sampler.sequential)
        self.bin_size = self.group_size = 0
        self.safe_mode = True
        if not self.sequential:
            if variant == "stats-before-drop-last-raw-bin-size" and not sampler.bin_size:
                raise Defer  # 0.12 hands a falsy bin_size to the numba kernels as it is
            self.bin_size = _int(sampler.bin_size or sampler.batch_max_len)
            processes = sampler.num_processes or 1
            _check_pool_args(min(4, processes), sampler.mp_start_method)
            self.group_size = _count(sampler.group_size, 1)
            self.safe_mode = _bool(sampler.safe_mode)


def _batches(sampler: Any, plan: _Plan, indices: list[Any]) -> tuple[list[Any], Any, Any]:
    """The batches of one pass and its statistics, with Axolotl's types: the parallel
    path's ``total_used`` is numpy's int64 sum, the sequential one a Python int. Leaves
    ``sampler`` untouched."""
    batches, total_used, nbins = _native.multipack_batches(
        indices,
        plan.lengths,
        plan.batch_size,
        plan.capacity,
        plan.sequential,
        plan.group_size,
        plan.bin_size,
        plan.safe_mode,
    )
    if not plan.sequential:
        total_used = np.int64(total_used)
    total_slots = nbins * sampler.batch_max_len
    if plan.stats_before_drop_last:
        return _drop_last_after_stats(sampler, plan, batches, total_used, total_slots)
    if sampler.drop_last and batches and len(batches[-1]) < sampler.batch_size:
        dropped = batches.pop()
        total_slots -= len(dropped) * sampler.batch_max_len
        # Same arithmetic on the same numpy scalars, so the same result type (and the
        # same OverflowError where NumPy 2 raises one).
        total_used -= sum(sampler.lengths[i] for b in dropped for i in b)
    return batches, total_used, total_slots


def _shadow(
    original: Callable[..., Any], sampler: Any, plan: _Plan, indices: list[Any], set_stats: Any
) -> Any:
    """Shadow mode of ``generate_batches``: both on the same drawn indices; the batches and
    the statistics ``set_stats`` adds (values and types) are compared; Axolotl's kept."""
    name = "MultipackBatchSampler.generate_batches"
    try:
        batches, total_used, total_slots = _batches(sampler, plan, own_view(indices))
        got: Any = (batches, total_used, total_slots) if set_stats else (batches, 0, 0)
    except (Defer, UnsupportedInput):
        got = None
    except Exception as exc:
        got = exc
    used, slots = sampler.total_tokens_used, sampler.total_token_slots
    try:
        expected = _replay(original, sampler, indices, set_stats)
    except Exception as exc:
        if got is not None and not same_result(exc, got):
            report_difference(name, "exception", got, exc)
        raise
    if got is not None:
        if isinstance(got, Exception) or not same_result(expected, got[0]):
            report_difference(name, "batches", got, expected)
        else:
            # What the caller reads afterwards: the sampler's totals, types included.
            mine = (used + got[1], slots + got[2]) if set_stats else (used, slots)
            theirs = (sampler.total_tokens_used, sampler.total_token_slots)
            if not same_result(theirs, mine):
                report_difference(name, "efficiency statistics (tokens used, slots)", mine, theirs)
    return expected


def _drop_last_after_stats(
    sampler: Any, plan: _Plan, batches: list[Any], total_used: Any, total_slots: Any
) -> tuple[list[Any], Any, Any]:
    """drop_last as Axolotl 0.12-0.18 do it: the dropped bins' tokens stay counted, and
    on the parallel path the slots shrink by ``batch_size - len(new last batch)`` bins
    (none when that batch is full). Axolotl indexes ``batches[-1]`` unguarded: where that
    raises IndexError the pass defers, so the error is Axolotl's own."""
    if sampler.drop_last:
        if not batches:
            raise Defer
        if len(batches[-1]) < sampler.batch_size:
            batches.pop()
            if not plan.sequential:
                if not batches:
                    raise Defer
                total_slots -= (sampler.batch_size - len(batches[-1])) * sampler.batch_max_len
    return batches, total_used, total_slots


def generate_batches(original: Callable[..., Any], variant: str | None) -> Callable[..., Any]:
    """Mirrors ``axolotl.utils.samplers.multipack.MultipackBatchSampler.generate_batches``
    (0.19; 0.13.1-0.18.0 variant ``stats-before-drop-last`` and 0.12.x
    ``stats-before-drop-last-raw-bin-size``, see ``_drop_last_after_stats``).

    Draws the sampler once as Axolotl does, then one kernel call does ``lengths[indices]``,
    the packing (``pack_parallel`` rules, or ``allocate_sequentially`` when sequential), maps
    bins back to the drawn index objects and cuts batches. drop_last, the statistics (their
    numpy/Python types included) and the ``_batches`` cache behave as in Axolotl. Axolotl
    ends with ``gc.collect()`` to free the numba lists; this path leaves no garbage cycles
    and skips it.

    Returns the cached pass as Axolotl does. Defers before drawing on: lengths that are
    not a 1-D int32/int64 array,
    a ``batch_max_len`` that is not a Python int, non-int ``bin_size`` / ``group_size`` /
    ``batch_size``, ``batch_size`` or ``group_size`` below 1, a non-bool ``safe_mode``, a bad
    ``num_processes`` or start method. After drawing (indices that are not Python ints,
    out of range, sums that could wrap, any error) it runs Axolotl's code on the indices
    it drew, so the sampler is drawn exactly once either way; Axolotl's exceptions then
    reach the caller unchanged.

    Shadow mode (``FAST_AXOLOTL_VERIFY=1``) draws once, runs both on the same indices and
    keeps Axolotl's result.
    """
    name = "MultipackBatchSampler.generate_batches"
    verify = config.verify_mode()

    @functools.wraps(original)
    def patched(self: Any, set_stats: bool = False) -> Any:
        cached = self._batches
        if cached is not None:
            return cached  # as Axolotl: the cache wins, statistics untouched
        try:
            plan = _Plan(self, variant)
        except Defer:
            return original(self, set_stats)
        except Exception as exc:
            # Nothing drawn yet: the original decides (its error is the answer if it raises).
            result = original(self, set_stats)
            report_fault(name, exc)
            return result

        indices = [idx for idx in self.sampler]

        if verify:
            return _shadow(original, self, plan, indices, set_stats)

        try:
            batches, total_used, total_slots = _batches(self, plan, indices)
        except (Defer, UnsupportedInput):
            return _replay(original, self, indices, set_stats)
        except Exception as exc:
            fault = exc
        else:
            if set_stats:
                self.total_tokens_used += total_used
                self.total_token_slots += total_slots
            self._batches = batches
            return batches
        result = _replay(original, self, indices, set_stats)
        report_fault(name, fault)
        return result

    return patched

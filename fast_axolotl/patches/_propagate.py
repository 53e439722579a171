"""Letting a fast path raise Axolotl's own error instead of falling back to the original.

``_common.replacement`` treats any exception of a fast path as a bug of ours and reruns
Axolotl's original. Where the fast path has established that Axolotl raises (the
``raise_on_drop`` ValueError, an empty dataset after dropping), or has already done what
Axolotl does with side effects (log lines, ``datasets`` steps) when an error comes up,
rerunning would repeat those side effects; the error is Axolotl's and goes to the caller.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from fast_axolotl.patches._common import replacement


class Propagate(Exception):
    """Raised by a fast path: ``error`` is what Axolotl raises here; give it to the caller."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(error)
        self.error = error


class _Raised:
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


def replacement_propagating(
    original: Callable[..., Any], fast: Callable[..., Any]
) -> Callable[..., Any]:
    """``_common.replacement`` whose fast path may raise ``Propagate``."""

    def marked(*args: Any, **kwargs: Any) -> Any:
        try:
            return fast(*args, **kwargs)
        except Propagate as p:
            return _Raised(p.error)

    inner = replacement(original, marked)

    @functools.wraps(original)
    def patched(*args: Any, **kwargs: Any) -> Any:
        result = inner(*args, **kwargs)
        if type(result) is _Raised:
            raise result.error
        return result

    return patched

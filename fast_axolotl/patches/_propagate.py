"""Letting a fast path raise Axolotl's own error instead of falling back to the original.

Where the fast path has established that Axolotl raises (the ``raise_on_drop``
ValueError, an empty dataset after dropping), or has already done what Axolotl does with
side effects (log lines, ``datasets`` steps, a tokenizer call) when an error comes up,
rerunning the original would repeat those side effects: the fast path raises
``Propagate(error)`` and ``error`` goes to the caller. ``_common.replacement`` handles
``Propagate`` itself; ``replacement_propagating`` is its former name.
"""

from __future__ import annotations

from fast_axolotl.patches._common import Propagate, replacement

replacement_propagating = replacement

__all__ = ["Propagate", "replacement_propagating"]

"""fast-axolotl 0.2.0's token-list API: ``pack_sequences``, ``concatenate_and_pack``,
``pad_sequences``, ``create_padding_mask``.

The functions are the native ones themselves (no Python frame in between: a 1-row call
is dominated by call overhead). Same signatures and results as fast-axolotl 0.2.0 on
every input it handled; a ValueError where it panicked or dropped tokens silently (see
docs/compatibility.md, "fast-axolotl 0.2.0 API").
"""

from __future__ import annotations

__all__ = ["concatenate_and_pack", "create_padding_mask", "pack_sequences", "pad_sequences"]

try:
    from fast_axolotl._native import (
        concatenate_and_pack,
        create_padding_mask,
        pack_sequences,
        pad_sequences,
    )
except ImportError:  # as 0.2.0: the names import, calling them says why they cannot run
    from fast_axolotl._unavailable import unavailable

    pack_sequences = unavailable("pack_sequences")
    concatenate_and_pack = unavailable("concatenate_and_pack")
    pad_sequences = unavailable("pad_sequences")
    create_padding_mask = unavailable("create_padding_mask")

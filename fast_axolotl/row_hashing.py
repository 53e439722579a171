"""fast-axolotl 0.2.0's row hashing API: ``parallel_hash_rows`` and ``deduplicate_indices``
(SHA-256 of each str's UTF-8 bytes, as ``hashlib.sha256(row.encode()).hexdigest()``).

The functions are the native ones themselves. Same signatures and results as
fast-axolotl 0.2.0 (see docs/compatibility.md, "fast-axolotl 0.2.0 API").
"""

from __future__ import annotations

__all__ = ["deduplicate_indices", "parallel_hash_rows"]

try:
    from fast_axolotl._native import deduplicate_indices, parallel_hash_rows
except ImportError:  # as 0.2.0: the names import, calling them says why they cannot run
    from fast_axolotl._unavailable import unavailable

    parallel_hash_rows = unavailable("parallel_hash_rows")
    deduplicate_indices = unavailable("deduplicate_indices")

"""Fixtures shared by the real-Axolotl differential tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def kernels_on_every_batch():
    """Tiny batches normally stay in Axolotl's Python (faster there); the differential
    tests that use this fixture make the kernels see every generated batch."""
    from fast_axolotl.patches import _batches

    saved = dict(_batches.SMALL_BATCH_BYTES)
    _batches.SMALL_BATCH_BYTES.update(dict.fromkeys(saved, 0))
    yield
    _batches.SMALL_BATCH_BYTES.update(saved)

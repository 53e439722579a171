"""What a caller can read of a ``datasets.Dataset``, compared: shared by the tokenize
differential tests."""

from __future__ import annotations

from typing import Any


def assert_same_dataset(got: Any, expected: Any) -> None:
    """Columns, features, Arrow schema (metadata included), data, record-batch layout and
    the ``datasets`` fingerprint."""
    assert got.column_names == expected.column_names
    assert got.features == expected.features
    assert got.data.table.schema.equals(expected.data.table.schema, check_metadata=True)
    assert got.data.table.equals(expected.data.table)
    assert [b.num_rows for b in got.data.table.to_batches()] == [
        b.num_rows for b in expected.data.table.to_batches()
    ]
    assert got._fingerprint == expected._fingerprint

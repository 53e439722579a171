"""Guards for entries whose signature changed between Axolotl releases."""

from __future__ import annotations

import re

import pytest

from fast_axolotl import guards, registry
from fast_axolotl.registry import Entry


def older(sample, sequence_len=2048):
    return [len(s) <= sequence_len for s in sample]


def newer(sample, sequence_len=2048, raise_on_drop=False):
    return [len(s) <= sequence_len for s in sample]


def entry() -> Entry:
    return Entry(
        target="pkg:f",
        replacement="fast_axolotl.patches.trainer:filter_sequences_by_length",
        group="filters",
        signature=(
            "(sample, sequence_len=2048, raise_on_drop=False)",
            "(sample, sequence_len=2048)",
        ),
        fingerprints={
            guards.fingerprint(newer): "with-raise",
            guards.fingerprint(older): "without-raise",
        },
    )


def test_each_accepted_signature_is_patched_with_the_variant_of_its_fingerprint():
    assert guards.check(entry(), newer) == "with-raise"
    assert guards.check(entry(), older) == "without-raise"


def test_a_signature_outside_the_accepted_ones_is_refused_naming_all_of_them():
    def other(sample):
        return sample

    expected = (
        "signature changed: expected (sample, sequence_len=2048, raise_on_drop=False) or "
        "(sample, sequence_len=2048), found (sample)"
    )
    with pytest.raises(guards.GuardMismatch, match=re.escape(expected)):
        guards.check(entry(), other)


def test_every_registry_variant_name_is_unique_within_its_entry_and_entries_are_unique():
    targets = [e.target for e in registry.ENTRIES]
    assert len(targets) == len(set(targets))
    for e in registry.ENTRIES:
        names = list((e.fingerprints or {}).values())
        assert len(names) == len(set(names)), e
        assert all(re.fullmatch(r"[0-9a-f]{16}", fp) for fp in e.fingerprints or {}), e

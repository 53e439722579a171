"""Fingerprints do not depend on the Python version: 3.12+ tokenizes f-strings into pieces
(PEP 701), earlier Pythons into one STRING token; the guard must give one value on every
Python, or Axolotl functions with f-strings would be skipped on 3.12 and 3.13.

The expected values were computed on Python 3.11; the `pythons` nox session runs this file
on 3.10, 3.12 and 3.13.
"""

from __future__ import annotations

from fast_axolotl import guards


def with_fstrings(rows, name="train"):
    width = 3
    label = f"{name!r:>{width}} rows: {len(rows)}"
    nested = f"{f'{name}-{width}'}"
    multi = f"""{label}
    {nested} {{literal}}"""
    return label + nested + multi


def without_fstrings(rows, name="train"):
    return "%s rows: %d" % (name, len(rows))  # noqa: UP031 - the point: no f-string


def test_fstring_fingerprint_is_the_same_on_every_python():
    assert guards.fingerprint(with_fstrings) == EXPECTED_WITH_FSTRINGS


def test_plain_function_fingerprint_is_the_same_on_every_python():
    assert guards.fingerprint(without_fstrings) == EXPECTED_WITHOUT_FSTRINGS


def test_a_changed_fstring_changes_the_fingerprint():
    def changed(rows, name="train"):
        width = 3
        label = f"{name!r:>{width}} rows: {len(rows) + 1}"
        nested = f"{f'{name}-{width}'}"
        multi = f"""{label}
    {nested} {{literal}}"""
        return label + nested + multi

    assert guards.fingerprint(changed) != guards.fingerprint(with_fstrings)


EXPECTED_WITH_FSTRINGS = "a166876f10a30a59"
EXPECTED_WITHOUT_FSTRINGS = "dd8a64a228fa22fb"

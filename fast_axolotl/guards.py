"""Guards: what an Axolotl function must look like to be replaced.

A replacement reproduces one specific Axolotl body. The guard compares the original's
signature with the registry's, and, where the registry lists fingerprints, a fingerprint
of its source: the function's tokens with comments, whitespace and the docstring removed,
so reformatting or a reworded docstring do not count as a change but any code change does.
A mismatch means "this is not the function we reproduce": the entry is skipped with the
reason, never patched blindly.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import io
import textwrap
import tokenize
from typing import Any

from fast_axolotl.registry import Entry

_SKIPPED_TOKENS = {
    tokenize.COMMENT,
    tokenize.NL,
    tokenize.NEWLINE,
    tokenize.INDENT,
    tokenize.DEDENT,
    tokenize.ENCODING,
    tokenize.ENDMARKER,
}


class GuardMismatch(Exception):
    """The original does not match the registry entry; the message says how."""


def fingerprint(func: Any) -> str:
    """A 16-hex-digit fingerprint of a function's code (see module docstring)."""
    func = inspect.unwrap(func)
    source = textwrap.dedent(inspect.getsource(func))
    docstring_lines: set[int] = set()
    tree = ast.parse(source)
    node = tree.body[0]
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
        first = node.body[0]
        if (
            isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)
        ):
            docstring_lines = set(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    parts = []
    lines = source.splitlines(keepends=True)
    depth, opened = 0, (0, 0)
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        # Python 3.12+ splits an f-string into FSTRING_START ... FSTRING_END with the
        # tokens of its fields (PEP 701); earlier Pythons give one STRING token. The
        # f-string's source text, as one token, keeps the fingerprint the same on every
        # Python.
        if tok.type == _FSTRING_START:
            if depth == 0:
                opened = tok.start
            depth += 1
            continue
        if depth:
            if tok.type == _FSTRING_END:
                depth -= 1
                if depth == 0:
                    parts.append(_source_text(lines, opened, tok.end))
            continue
        if tok.type in _SKIPPED_TOKENS:
            continue
        if tok.type == tokenize.STRING and tok.start[0] in docstring_lines:
            continue
        parts.append(tok.string)
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


_FSTRING_START = getattr(tokenize, "FSTRING_START", -1)
_FSTRING_END = getattr(tokenize, "FSTRING_END", -1)


def _source_text(lines: list[str], start: tuple[int, int], end: tuple[int, int]) -> str:
    """The source between two tokenize positions (1-based rows, 0-based columns)."""
    (row, col), (end_row, end_col) = start, end
    if row == end_row:
        return lines[row - 1][col:end_col]
    return lines[row - 1][col:] + "".join(lines[row : end_row - 1]) + lines[end_row - 1][:end_col]


def cached_fingerprint(func: Any) -> str:
    """``fingerprint(func)``, read from the on-disk cache when the function's source file
    and code object are unchanged (see ``fast_axolotl._fpcache``)."""
    from fast_axolotl import _fpcache

    return _fpcache.fingerprint(inspect.unwrap(func), fingerprint)


def check(entry: Entry, original: Any) -> str | None:
    """Returns the behaviour variant to reproduce, or raises GuardMismatch."""
    func = original
    if isinstance(func, (staticmethod, classmethod)):
        func = func.__func__
    if not callable(func):
        raise GuardMismatch(f"{entry.qualname} is a {type(func).__name__}, not a function")
    try:
        signature = str(inspect.signature(func))
    except (TypeError, ValueError) as exc:
        raise GuardMismatch(f"signature unavailable: {exc}") from None
    # A tuple: the signatures of the releases whose bodies the fingerprints name.
    accepted = (entry.signature,) if isinstance(entry.signature, str) else entry.signature
    if signature not in accepted:
        expected = " or ".join(accepted)
        raise GuardMismatch(f"signature changed: expected {expected}, found {signature}")
    if not entry.fingerprints:
        return None
    try:
        found = cached_fingerprint(func)
    except (OSError, TypeError, SyntaxError, tokenize.TokenError) as exc:
        raise GuardMismatch(f"source unavailable for the code check: {exc}") from None
    variant = entry.fingerprints.get(found)
    if variant is None:
        raise GuardMismatch(
            f"code changed: fingerprint {found} is not one this release reproduces "
            f"({', '.join(sorted(entry.fingerprints))})"
        )
    return variant

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
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type in _SKIPPED_TOKENS:
            continue
        if tok.type == tokenize.STRING and tok.start[0] in docstring_lines:
            continue
        parts.append(tok.string)
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


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

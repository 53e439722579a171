"""Stand-ins for native functions when the extension cannot be loaded (0.2.0's behaviour:
the public names exist, a call raises ImportError)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def unavailable(name: str) -> Callable[..., Any]:
    def stub(*args: Any, **kwargs: Any) -> Any:
        raise ImportError(f"fast_axolotl.{name}: Rust extension is not available")

    stub.__name__ = stub.__qualname__ = name
    return stub

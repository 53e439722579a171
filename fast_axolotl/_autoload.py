"""Entry point of the ``fast_axolotl_autoload.pth`` start-up file. Standard library only.

Runs in every interpreter of the environment, so it does the least possible: insert one
finder at the front of ``sys.meta_path`` and return. The finder's only work for modules
that are not Axolotl targets is one frozenset lookup. Everything else (configuration,
guards, patching, numpy, the native module) is imported when an Axolotl target module is
imported, never before.

``importlib.abc`` is deliberately not imported here (it costs ~20 ms at start-up); the
finder implements the ``MetaPathFinder`` protocol and is registered as its virtual
subclass by ``fast_axolotl.hook`` on first use.
"""

import sys

from fast_axolotl import registry


class AxolotlFinder:
    """Answers only for registry modules (finds their real spec and wraps its loader) and
    for the served modules of ``registry.SERVED``."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in registry.HOOKED:
            return None
        try:
            from fast_axolotl import hook

            return hook.find_spec(self, fullname, path, target)
        except Exception:  # never break an import: let the normal finders handle it
            return None

    def invalidate_caches(self) -> None:
        return None

    def __repr__(self) -> str:
        return "<fast_axolotl.AxolotlFinder>"


def finder_installed() -> bool:
    return any(isinstance(f, AxolotlFinder) for f in sys.meta_path)


def activate() -> None:
    """Insert the finder once. Called by the .pth line when FAST_AXOLOTL_DISABLE is unset."""
    if not finder_installed():
        sys.meta_path.insert(0, AxolotlFinder())


def deactivate() -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, AxolotlFinder)]


def startup() -> None:
    """Entry point of ``fast_axolotl_autoload.start`` (PEP 829, Python 3.15+)."""
    import os

    if os.environ.get("FAST_AXOLOTL_DISABLE", "").strip().lower() in ("1", "true", "yes", "on"):
        return
    try:
        activate()
    except Exception:
        pass

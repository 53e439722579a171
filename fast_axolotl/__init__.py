"""fast-axolotl: Rust implementations of Axolotl's hot data paths, patched in at import.

Installed next to Axolotl it activates itself in every interpreter through a start-up
file; this facade is imported at interpreter start, so it imports nothing at all
(not even `typing` or `__future__`): the public functions import what they need.
"""

__version__ = "0.1.0"

__all__ = [
    "RustStreamingDataset",
    "__version__",
    "create_rust_streaming_dataset",
    "detect_format",
    "install",
    "is_available",
    "list_supported_formats",
    "should_use_rust_streaming",
    "status",
    "streaming_dataset_reader",
    "uninstall",
]

# fast-axolotl 0.2.0's public API, imported on first use (PEP 562) so that the start-up
# import of this package stays free: {name: module that defines it}.
_LAZY = {
    # the streaming reader (issue 8)
    "streaming_dataset_reader": "fast_axolotl.streaming",
    "RustStreamingDataset": "fast_axolotl.streaming",
    "create_rust_streaming_dataset": "fast_axolotl.streaming",
    "should_use_rust_streaming": "fast_axolotl.streaming",
    "detect_format": "fast_axolotl.streaming",
    "list_supported_formats": "fast_axolotl.streaming",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fast_axolotl' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


def install() -> bool:
    """Activates fast-axolotl in this process: registers the import hook and patches the
    Axolotl modules already imported. Returns False (and changes nothing) when
    FAST_AXOLOTL_DISABLE is set or the native module cannot be loaded."""
    from fast_axolotl import _autoload, config, hook, patcher

    del hook  # imported for its registration as an importlib.abc.MetaPathFinder
    if config.disabled_by_env():
        return False
    if not is_available():
        return False
    patcher.set_active(True)
    _autoload.activate()
    patcher.patch_loaded_modules()
    return True


def uninstall() -> None:
    """Removes the import hook and puts every replaced Axolotl object back, including the
    copies other modules made with ``from ... import``."""
    from fast_axolotl import _autoload, patcher

    _autoload.deactivate()
    patcher.set_active(False)
    patcher.restore_all()


def is_available() -> bool:
    """True if the native extension loads on this machine."""
    try:
        from fast_axolotl import _native  # noqa: F401
    except ImportError:
        return False
    return True


def status() -> list[dict[str, object]]:
    """One dict per registry entry: target, group, state, reason (``fast-axolotl status``)."""
    from fast_axolotl import _status

    return _status.entries()

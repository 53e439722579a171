"""fast-axolotl: Rust implementations of Axolotl's hot data paths, patched in at import.

Installed next to Axolotl it activates itself in every interpreter through a start-up
file; this facade is imported at interpreter start, so it imports nothing at all
(not even `typing` or `__future__`): the public functions import what they need.
"""

__version__ = "0.3.0"

# fast-axolotl 0.2.0's API names (issue 8) load on first use: see __getattr__ below.
__all__ = [
    "RUST_AVAILABLE",
    "RustStreamingDataset",
    "__version__",
    "concatenate_and_pack",
    "create_padding_mask",
    "create_rust_streaming_dataset",
    "deduplicate_indices",
    "detect_format",
    "get_version",
    "install",
    "is_available",
    "list_supported_formats",
    "pack_sequences",
    "pad_sequences",
    "parallel_hash_rows",
    "should_use_rust_streaming",
    "status",
    "streaming_dataset_reader",
    "uninstall",
]


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


def get_version() -> str:
    """``"<version> (rust: <native version>)"``, as fast-axolotl 0.2.0 reported it."""
    try:
        from fast_axolotl import _native
    except ImportError:
        return f"{__version__} (rust: not available)"
    return f"{__version__} (rust: {_native.__version__})"


# fast-axolotl 0.2.0's API: name -> module that defines it, imported on first access
# (this module runs at every interpreter start and must stay import-free).
_LAZY_020 = {
    "pack_sequences": "fast_axolotl.sequences",
    "concatenate_and_pack": "fast_axolotl.sequences",
    "pad_sequences": "fast_axolotl.sequences",
    "create_padding_mask": "fast_axolotl.sequences",
    "parallel_hash_rows": "fast_axolotl.row_hashing",
    "deduplicate_indices": "fast_axolotl.row_hashing",
    "streaming_dataset_reader": "fast_axolotl.streaming",
    "RustStreamingDataset": "fast_axolotl.streaming",
    "create_rust_streaming_dataset": "fast_axolotl.streaming",
    "should_use_rust_streaming": "fast_axolotl.streaming",
    "detect_format": "fast_axolotl.streaming",
    "list_supported_formats": "fast_axolotl.streaming",
}


def __getattr__(name: str) -> object:
    if name == "RUST_AVAILABLE":
        value: object = is_available()
    elif name in _LAZY_020:
        import importlib

        value = getattr(importlib.import_module(_LAZY_020[name]), name)
    else:
        raise AttributeError(f"module 'fast_axolotl' has no attribute {name!r}")
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_020) | {"RUST_AVAILABLE"})

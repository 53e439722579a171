"""What fast-axolotl replaces in Axolotl, as data.

This module is read by the import hook at interpreter start, so it imports nothing.
Each entry names the Axolotl symbol (``module:qualname``), the factory in
``fast_axolotl.patches`` that builds its replacement around the original, the group users
allow or deny it by, and the guard the original must pass: its exact signature and,
where Axolotl's body changed between versions, the accepted code fingerprints (see
``fast_axolotl.guards``), each naming the behaviour variant the replacement reproduces.
"""


class Entry:
    """One replaced symbol."""

    __slots__ = ("fingerprints", "group", "replacement", "signature", "target")

    def __init__(
        self,
        target: str,
        replacement: str,
        group: str,
        signature: str,
        fingerprints: dict[str, str] | None = None,
    ) -> None:
        self.target = target
        self.replacement = replacement
        self.group = group
        self.signature = signature
        self.fingerprints = fingerprints

    @property
    def module(self) -> str:
        return self.target.partition(":")[0]

    @property
    def qualname(self) -> str:
        return self.target.partition(":")[2]

    def __repr__(self) -> str:
        return f"Entry({self.target!r}, group={self.group!r})"


ENTRIES: tuple[Entry, ...] = (
    Entry(
        target="axolotl.utils.samplers.utils:get_dataset_lengths",
        replacement="fast_axolotl.patches.samplers:get_dataset_lengths",
        group="lengths",
        signature="(dataset, from_arrow=False)",
        # The body with the `length` / `position_ids` / `from_arrow` / `input_ids` branches.
        fingerprints={"df376fb725a0a3a2": "four-branches"},
    ),
    Entry(
        target="axolotl.utils.data.utils:deduplicate_and_log_datasets",
        replacement="fast_axolotl.patches.dedup:deduplicate_and_log_datasets",
        group="dedup",
        signature="(dataset: datasets.arrow_dataset.Dataset, other_dataset: "
        "datasets.arrow_dataset.Dataset | None = None, dataset_name: str | None = 'train', "
        "other_name: str | None = 'eval') -> tuple[datasets.arrow_dataset.Dataset, "
        "datasets.arrow_dataset.Dataset | None]",
        # Four log lines around two `_deduplicate_dataset` calls sharing the seen set.
        fingerprints={"3ade1d1f2bcc1429": "train-then-other"},
    ),
    Entry(
        target="axolotl.utils.data.utils:_deduplicate_dataset",
        replacement="fast_axolotl.patches.dedup:_deduplicate_dataset",
        group="dedup",
        signature="(dataset: datasets.arrow_dataset.Dataset, seen_hashes: set[str] | None = None)"
        " -> tuple[datasets.arrow_dataset.Dataset, set[str]]",
        # First row of each sha256(str(row)) not yet in seen_hashes.
        fingerprints={"2ae21f07f00693ce": "sha256-of-str-row"},
    ),
)

#: Every module the import hook intercepts; the finder's only test is membership here.
MODULES: frozenset[str] = frozenset(e.module for e in ENTRIES)

#: Group names in registry order.
GROUPS: tuple[str, ...] = tuple(dict.fromkeys(e.group for e in ENTRIES))


def entries_for(module: str) -> list[Entry]:
    return [e for e in ENTRIES if e.module == module]

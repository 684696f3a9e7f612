"""The smallest failing cases Hypothesis shrank (``extras["minimal_failures"]``), as tables.

Each entry, one per implementation::

    {"impl", "from_case", "from_seed", "arch": {"sizes", "activations", "loss", "bias",
     "reduction"}, "batch_size", "scale", "seed", "rebuild"}

is read into a :class:`Shrunk`: the network as (label, value) rows for a table and the
``rebuild`` call as a command to copy. An entry of another shape is skipped (the JSON
report keeps it as it was).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from manualbp.report.display import text


@dataclass(frozen=True)
class Shrunk:
    """One shrunk failing case: where it came from, its network and how to rebuild it."""

    impl: str
    from_case: str
    from_seed: int | None
    rows: list[tuple[str, str]]
    rebuild: str

    @property
    def line(self) -> str:
        """The network in one line (``sizes [1, 1, 1], sigmoid,sigmoid, half_sse, …``)."""
        return ", ".join(f"{label} {value}" for label, value in self.rows)


ARCH_ROWS = (
    ("sizes", "sizes"),
    ("activations", "activations"),
    ("loss", "loss"),
    ("bias", "bias"),
    ("reduction", "reduction"),
)
CASE_ROWS = (("batch", "batch_size"), ("scale", "scale"), ("seed", "seed"))


def _shrunk(entry: Any) -> Shrunk | None:
    if not isinstance(entry, Mapping) or not isinstance(entry.get("arch"), Mapping):
        return None
    arch = entry["arch"]
    if not isinstance(entry.get("impl"), str) or not isinstance(entry.get("rebuild"), str):
        return None
    rows = [(label, text(arch[key])) for label, key in ARCH_ROWS if key in arch]
    rows += [(label, text(entry[key])) for label, key in CASE_ROWS if key in entry]
    seed = entry.get("from_seed")
    return Shrunk(
        impl=entry["impl"],
        from_case=str(entry.get("from_case", "")),
        from_seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
        rows=rows,
        rebuild=entry["rebuild"],
    )


def shrunk_cases(extras: Mapping[str, Any]) -> list[Shrunk]:
    """Every well-formed entry of ``extras["minimal_failures"]``, in order."""
    entries = extras.get("minimal_failures")
    if not isinstance(entries, list):
        return []
    return [s for s in map(_shrunk, entries) if s is not None]

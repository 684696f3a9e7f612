"""Published worked examples on the page: each printed number beside the implementation's.

Findings of the ``published`` check, grouped by implementation and worked example, with
what the reference file says about each number (an erratum's explanation and evidence, a
note) from ``detail``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from manualbp.findings import Finding
from manualbp.report.display import text


@dataclass(frozen=True)
class PublishedRow:
    """One printed number beside the implementation's value, with what the reference file
    says about it (an erratum's explanation and evidence, a note)."""

    finding: Finding
    label: str
    printed: str
    remarks: list[tuple[str, str]]


@dataclass(frozen=True)
class PublishedSource:
    """The numbers of one worked example for one implementation: those compared, and those
    the implementation could not produce (``skipped``, listed apart)."""

    impl: str
    case: str
    citation: str
    rows: list[PublishedRow]
    skipped: list[PublishedRow]


REMARKS = (
    ("explanation", ""),
    ("correct", "correct value"),
    ("evidence", "evidence"),
    ("reproduced_by", "reproduced by"),
    ("note", "note"),
)
"""Keys of a published finding's ``detail`` shown under its row, and their labels; an
object (such as ``evidence``, {method: result}) is shown entry by entry."""


def remarks(detail: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The :data:`REMARKS` of ``detail`` as (label, text) pairs, empty ones left out."""
    items: list[tuple[str, str]] = []
    for key, label in REMARKS:
        value = detail.get(key)
        if value is None or value == "" or value == {} or value == []:
            continue
        if isinstance(value, Mapping):
            items += [(str(name), text(item)) for name, item in value.items()]
        else:
            items.append((label, text(value)))
    return items


def _label(finding: Finding) -> str:
    """The source's name of a printed quantity, unless the quantity name already starts
    with it."""
    label = text(finding.detail["label"]) if "label" in finding.detail else ""
    return "" if finding.quantity.startswith(label) else label


def published_sources(findings: list[Finding]) -> list[PublishedSource]:
    """Published-number findings grouped by implementation and worked example."""
    by_source: dict[tuple[str, str], list[Finding]] = {}
    for finding in findings:
        if finding.check == "published":
            by_source.setdefault((finding.impl, finding.case), []).append(finding)
    sources = []
    for (impl, case), members in by_source.items():
        citation = next((text(f.detail["citation"]) for f in members if "citation" in f.detail), "")
        rows = [
            PublishedRow(
                finding=f,
                label=_label(f),
                printed=text(f.detail["printed"]) if "printed" in f.detail else "",
                remarks=remarks(f.detail),
            )
            for f in members
        ]
        compared = [row for row in rows if row.finding.verdict != "skipped"]
        skipped = [row for row in rows if row.finding.verdict == "skipped"]
        sources.append(PublishedSource(impl, case, citation, compared, skipped))
    return sources

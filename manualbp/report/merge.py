"""Merging reports: the shards of one run into the report of the unsharded run.

Shards (reports whose metadata names a shard ``i/n``) must be every shard of one run
exactly once, with the same run settings (:data:`RUN_KEYS`). No two reports may hold the
same case: a random case (``detail["case_index"]``) or a worked example of the same
implementation and check appearing twice — a report given twice, or overlapping shards —
would double its counts, so it is refused, as is a report whose findings are exactly
those of another. Every refusal is a one-line :class:`ReportError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from manualbp.errors import ReportError, describe
from manualbp.findings import Finding
from manualbp.report.model import Report, canonical_order

RUN_KEYS: tuple[str, ...] = ("impls", "checks", "seed", "cases", "case_seeds", "space")
"""Metadata that must agree between shards of one run (what decides the set of cases)."""


def _parse_shard(label: Any) -> tuple[int, int]:
    try:
        index, count = (int(part) for part in str(label).split("/"))
    except ValueError:
        raise ReportError(f"merge: shard label {describe(label)} is not of the form i/n") from None
    if not 1 <= index <= count:
        raise ReportError(f"merge: shard label {describe(label)} needs 1 <= i <= n")
    return index, count


def _shard_index(report: Report) -> int:
    """i of a report labelled as shard i/n (0 when unlabelled), to merge in shard order."""
    label = report.metadata.get("shard")
    return 0 if label is None else _parse_shard(label)[0]


def _check_shards(reports: list[Report]) -> None:
    """Shards (reports whose metadata names a shard) must form one complete run."""
    sharded = [r for r in reports if r.metadata.get("shard") is not None]
    if not sharded:
        return
    seen: set[int] = set()
    splits = set()
    for report in sharded:
        index, count = _parse_shard(report.metadata["shard"])
        if index in seen:
            raise ReportError(f"merge: shard {index}/{count} given twice")
        seen.add(index)
        splits.add(count)
    if len(splits) > 1:
        raise ReportError(f"merge: shards of different splits (n = {sorted(splits)})")
    count = splits.pop()
    missing = [f"{i}/{count}" for i in range(1, count + 1) if i not in seen]
    if missing:
        raise ReportError(f"merge: shard(s) {', '.join(missing)} missing; merge every shard")
    first = sharded[0].metadata
    for report in sharded[1:]:
        for key in RUN_KEYS:
            if report.metadata.get(key) != first.get(key):
                raise ReportError(
                    f"merge: shards disagree on {key} ({describe(first.get(key))} vs "
                    f"{describe(report.metadata.get(key))}); they are not shards of one run"
                )


def _case_key(finding: Finding) -> tuple[str, str, str] | None:
    """(implementation, check, case) of a Finding of a case that runs in one shard only (a
    random case or a worked example); None for the others."""
    if "case_index" in finding.detail or finding.check == "published":
        return finding.impl, finding.check, finding.case
    return None


def _check_overlap(reports: Sequence[Report], names: Sequence[str]) -> None:
    """No report repeats another's findings, and no case appears in two reports."""
    contents: dict[str, str] = {}
    owner: dict[tuple[str, str, str], str] = {}
    for report, name in zip(reports, names, strict=True):
        content = repr([f.to_dict() for f in report.findings])
        if report.findings and content in contents:
            raise ReportError(
                f"merge: {name} holds exactly the findings of {contents[content]}; a report "
                "given twice would double every count"
            )
        contents.setdefault(content, name)
        keys = {key for key in map(_case_key, report.findings) if key is not None}
        for key in sorted(keys):
            if key in owner:
                impl, check, case = key
                raise ReportError(
                    f"merge: {name} repeats {case} of {impl} ({check}), already in {owner[key]}; "
                    "the reports overlap (merge each shard of a run once)"
                )
            owner[key] = name


def _timings(report: Report) -> dict[str, float]:
    raw = report.metadata.get("timings", {})
    if not isinstance(raw, Mapping) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw.values()
    ):
        raise ReportError(f"merge: metadata.timings {describe(raw)} is not a {{name: seconds}} map")
    return {str(key): float(value) for key, value in raw.items()}


def merge_reports(reports: Iterable[Report], names: Sequence[str] | None = None) -> Report:
    """Join reports into one, as if one unsharded run had made it.

    Findings in :func:`~manualbp.report.model.canonical_order`; timings summed; metadata of
    the first report in shard order kept (``shards`` lists every report's shard label,
    ``commands`` their commands, ``shard`` is null); extras merged by key, the first report's
    value winning; so the order the reports are given in does not matter. ``names`` (e.g.
    file paths) name the reports in error messages. Shards must form one complete run and
    no case may appear twice (see the module docstring); otherwise :class:`ReportError`.
    """
    reports = list(reports)
    if not reports:
        raise ReportError("merge: no reports given")
    if names is None or len(names) != len(reports):
        names = [f"report {i}" for i in range(1, len(reports) + 1)]
    _check_shards(reports)
    _check_overlap(reports, names)
    reports.sort(key=_shard_index)
    merged = Report(metadata=dict(reports[0].metadata))
    findings: list[Finding] = []
    timings: dict[str, float] = {}
    shards, commands = [], []
    for report in reports:
        findings.extend(report.findings)
        commands.append(report.metadata.get("command"))
        for key, seconds in _timings(report).items():
            timings[key] = timings.get(key, 0.0) + seconds
        shards.append(report.metadata.get("shard"))
        for key, value in report.extras.items():
            merged.extras.setdefault(key, value)
    merged.findings = canonical_order(findings)
    merged.metadata["timings"] = timings
    merged.metadata["shards"] = shards
    merged.metadata["shard"] = None
    merged.metadata.pop("command", None)
    merged.metadata["commands"] = commands
    return merged

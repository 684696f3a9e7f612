"""What the HTML page shows, computed from a Report as plain data for the template.

Everything is derived from the Findings in :func:`~manualbp.report.model.canonical_order`
and from metadata that does not depend on sharding, so a merged report and the unsharded
run it stands for give the same page but for the time spent (``<div id="timings">``:
measured seconds, summed over shards). Strings from the report pass through unchanged (the
template escapes them); plots receive numbers only. ``detail`` is free-form, so a detail
that is missing or malformed leaves its plot out instead of failing the page.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import takewhile
from typing import Any

from markupsafe import Markup

from manualbp.findings import VERDICTS, Finding, counts
from manualbp.quantity import Quantity
from manualbp.report import plots
from manualbp.report.cases import (
    FailingCase,
    failing_cases,
    is_finite,
    tolerance_share,
    worst_of,
)
from manualbp.report.killmatrix import KillMatrix, kill_matrix
from manualbp.report.model import Report, canonical_order, outcome, summary_rows, worst_failures

WORST_LIMIT = 10
"""Failing cases whose worst finding is shown at the top of the page."""
INVOCATION = ("command", "commands", "jobs")
"""Metadata of how a run was invoked, shown with its timings (they differ between shards)."""
HIDDEN_METADATA = ("shard", "shards", "timings", "argv", *INVOCATION)
"""Metadata not listed as such: the shard labels (the page must not depend on sharding),
the command line (``argv``, also in ``command``) and the invocation and timings (a table
of their own)."""


def family(quantity: str) -> str:
    """The kind of a quantity: ``grad`` for ``grad.W2[1,0]``, ``step`` for ``step3.W1``
    (:class:`~manualbp.quantity.Quantity`); the leading letters of a named one (``E_total``
    for the published figure ``E_total (loss)``, ``dx`` for a layer's)."""
    parsed = Quantity.parse(quantity)
    if parsed.kind != "named":
        return parsed.kind
    name = parsed.name or quantity
    return "".join(takewhile(lambda c: c.isalpha() or c == "_", name)) or name


def text(value: Any) -> str:
    """A metadata or detail value as one line of text (lists joined, objects as JSON)."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(not isinstance(v, (list, dict)) for v in value):
        return ", ".join(text(v) for v in value) or "—"
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def localisation(finding: Finding) -> str:
    """Where the bug first shows, as one line, from ``detail["localisation"]`` (its
    ``sentence`` when it is an object that has one); ``""`` when absent or when the
    diagnosis already says it."""
    value = finding.detail.get("localisation")
    if not value:
        return ""
    sentence = value.get("sentence") if isinstance(value, Mapping) else None
    line = sentence if isinstance(sentence, str) and sentence else text(value)
    return "" if finding.diagnosis and line in finding.diagnosis else line


def worst_per_case(findings: list[Finding], limit: int = WORST_LIMIT) -> list[Finding]:
    """The worst failing finding of each failing case (implementation, check, case),
    largest relative error first, at most ``limit``."""
    chosen: dict[tuple[str, str, str], Finding] = {}
    for finding in worst_failures(findings, len(findings)):
        chosen.setdefault((finding.impl, finding.check, finding.case), finding)
    return list(chosen.values())[:limit]


@dataclass(frozen=True)
class GroupRow:
    """Findings of one implementation, method and kind of quantity: counts per verdict and
    the worst of those that measured a relative error (all of them when none did)."""

    impl: str
    method: str
    family: str
    counts: dict[str, int]
    worst: Finding


@dataclass(frozen=True)
class CheckSection:
    """One check: a summary table, the error distribution plot, non-passing findings.
    Published numbers have no summary table: their own section lists every one."""

    name: str
    anchor: str
    counts: dict[str, int]
    groups: list[GroupRow]
    failures: list[Finding]
    undecided: list[Finding]
    plot: Markup | None
    not_plotted: int


def _groups(findings: list[Finding]) -> list[GroupRow]:
    table: dict[tuple[str, str, str], list[Finding]] = {}
    for finding in findings:
        table.setdefault((finding.impl, finding.method, family(finding.quantity)), []).append(
            finding
        )
    rows = []
    for (impl, method, kind), members in table.items():
        measured = [f for f in members if f.rel_error is not None] or members
        rows.append(
            GroupRow(impl, method, kind, counts(members)[members[0].check], worst_of(measured))
        )
    return rows


def _distribution(findings: list[Finding]) -> tuple[Markup | None, int]:
    """The scatter of each finding's error against its tolerance, and how many findings
    could not be drawn (no share of tolerance, or a reference of 0 on the log axis)."""
    points = [(f.ref_value, tolerance_share(f), f.verdict) for f in findings]
    drawn = [(abs(ref), share, v) for ref, share, v in points if share is not None and ref]
    if not drawn:
        return None, len(findings)
    ref_abs, shares, verdicts = zip(*drawn, strict=True)
    return Markup(plots.error_scatter(ref_abs, shares, verdicts)), len(findings) - len(drawn)


def check_sections(findings: list[Finding]) -> list[CheckSection]:
    """One section per check present, in canonical order."""
    by_check: dict[str, list[Finding]] = {}
    for finding in findings:
        by_check.setdefault(finding.check, []).append(finding)
    sections = []
    for position, (name, members) in enumerate(by_check.items(), start=1):
        plot, not_plotted = _distribution(members)
        sections.append(
            CheckSection(
                name=name,
                anchor=f"check-{position}",
                counts=counts(members)[name],
                groups=_groups(members) if name != "published" else [],
                failures=[f for f in members if f.verdict == "fail"],
                undecided=[f for f in members if f.verdict in ("inconclusive", "skipped")],
                plot=plot,
                not_plotted=not_plotted,
            )
        )
    return sections


@dataclass(frozen=True)
class StepCurve:
    """The finite-difference error against the step of one representative finding."""

    finding: Finding
    plot: Markup


def step_curve(findings: list[Finding]) -> StepCurve | None:
    """The first finding whose ``detail["step_curve"]`` is a usable curve, plotted."""
    for finding in findings:
        curve = finding.detail.get("step_curve")
        if not isinstance(curve, Mapping):
            continue
        try:
            steps = [float(h) for h in curve["h"]]
            errors = [float(e) for e in curve["error"]]
            chosen = curve.get("chosen_h")
            chosen = None if chosen is None else float(chosen)
        except (KeyError, TypeError, ValueError):
            continue
        usable = len(steps) >= 2 and len(steps) == len(errors)
        if usable and all(is_finite(v) for v in steps + errors) and min(steps) > 0:
            if chosen is not None and not (is_finite(chosen) and chosen > 0):
                chosen = None
            return StepCurve(finding, Markup(plots.step_curve(steps, errors, chosen)))
    return None


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
    """The compared numbers of one worked example for one implementation."""

    impl: str
    case: str
    citation: str
    rows: list[PublishedRow]


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
        sources.append(PublishedSource(impl, case, citation, rows))
    return sources


@dataclass(frozen=True)
class Page:
    """Everything the template shows, top to bottom."""

    status: str
    message: str
    total: int
    impls: list[str]
    summary: list[tuple[str, str, dict[str, int]]]
    totals: dict[str, dict[str, int]]
    """Counts per check over every implementation; empty when there is only one."""
    worst: list[Finding]
    checks: list[CheckSection]
    cases: list[FailingCase]
    more_cases: int
    step: StepCurve | None
    published: list[PublishedSource]
    kill: KillMatrix | None
    metadata: list[tuple[str, str]]
    invocation: list[tuple[str, str]]
    timings: list[tuple[str, float]]
    extras: list[tuple[str, str]]
    verdicts: tuple[str, ...] = VERDICTS


def build_page(report: Report) -> Page:
    """The page of ``report`` (see the module docstring)."""
    findings = canonical_order(report.findings)
    ordered = Report(findings, report.metadata, report.extras)
    result = outcome(ordered)
    status = "fail" if ordered.failed else ("pass" if result.exit_code == 0 else "unverified")
    cases, more_cases = failing_cases(findings)
    timings = report.metadata.get("timings")
    return Page(
        status=status,
        message=result.message,
        total=len(findings),
        impls=list(dict.fromkeys(f.impl for f in findings if f.impl)),
        summary=summary_rows(ordered),
        totals=ordered.summary if len({f.impl for f in findings}) > 1 else {},
        worst=worst_per_case(findings),
        checks=check_sections(findings),
        cases=cases,
        more_cases=more_cases,
        step=step_curve(findings),
        published=published_sources(findings),
        kill=kill_matrix(report.extras),
        metadata=[
            (str(k), text(v)) for k, v in report.metadata.items() if k not in HIDDEN_METADATA
        ],
        invocation=[(str(k), text(report.metadata[k])) for k in INVOCATION if k in report.metadata],
        timings=[
            (str(k), float(v))
            for k, v in (timings.items() if isinstance(timings, Mapping) else ())
            if isinstance(v, (int, float)) and not isinstance(v, bool)
        ],
        extras=[(str(k), text(v)) for k, v in report.extras.items() if k != "kill_matrix"],
    )

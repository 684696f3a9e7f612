"""What the HTML page shows, computed from a Report as plain data for the template.

Everything is derived from the Findings in :func:`~manualbp.report.model.canonical_order`
and from metadata that does not depend on sharding, so a merged report and the unsharded
run it stands for give the same page but for how the run was invoked and the time spent
(``<div id="invocation">``). Strings from the report pass through unchanged (the template
escapes them); plots receive numbers only. ``detail`` is free-form, so a detail that is
missing or malformed leaves its plot out instead of failing the page.

The page leads with the root causes (:mod:`manualbp.report.causes`); the findings behind
each are listed under it, collapsed. A selftest report leads with its kill matrix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import takewhile

from markupsafe import Markup

from manualbp.findings import VERDICTS, Finding, counts
from manualbp.quantity import Quantity
from manualbp.report import plots
from manualbp.report.cases import FailingCase, failing_cases, tolerance_share, worst_of
from manualbp.report.causes import Cause, root_causes
from manualbp.report.display import text
from manualbp.report.killmatrix import KillMatrix, kill_matrix
from manualbp.report.model import Report, canonical_order, summary_rows
from manualbp.report.published import PublishedSource, published_sources
from manualbp.report.shrunk import Shrunk, shrunk_cases
from manualbp.report.stepcurve import StepSection, step_section
from manualbp.report.verdict import is_selftest, run_outcome

ROW_LIMIT = 300
"""Findings listed under one root cause; the JSON report holds every one."""
INVOCATION = ("command", "commands", "jobs")
"""Metadata of how a run was invoked, shown with its timings (they differ between shards)."""
SHOWN_EXTRAS = ("kill_matrix", "minimal_failures", "selftest")
"""Extras the page shows in sections of their own (the others are listed as data)."""
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
    undecided: list[Finding]
    plot: Markup | None
    caption: str
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


MIN_POINTS = 10
"""Fewest findings a check's error distribution is drawn for (fewer are read in the table)."""


def distribution_caption(shares: list[float], verdicts: list[str]) -> str:
    """What the scatter shows, in numbers: per verdict, how many findings and the range of
    their error as a share of tolerance."""
    parts = []
    for verdict in VERDICTS:
        chosen = [s for s, v in zip(shares, verdicts, strict=True) if v == verdict]
        if not chosen:
            continue
        low, high = min(chosen), max(chosen)
        if verdict == "pass":
            parts.append(f"{len(chosen)} pass, the closest at {high:.2g} of its tolerance")
        else:
            parts.append(f"{len(chosen)} {verdict}, from {low:.2g}× to {high:.2g}× their tolerance")
    return "; ".join(parts)


def _distribution(name: str, findings: list[Finding]) -> tuple[Markup | None, str, int]:
    """The scatter of each finding's error against its tolerance, its caption, and how many
    findings could not be drawn (no share of tolerance, or a reference of 0 on the log
    axis). Not drawn for the published numbers (their own table shows each) nor for fewer
    than :data:`MIN_POINTS` findings."""
    points = [(f.ref_value, tolerance_share(f), f.verdict) for f in findings]
    drawn = [(abs(ref), share, v) for ref, share, v in points if share is not None and ref]
    if name == "published" or len(drawn) < MIN_POINTS:
        return None, "", 0
    ref_abs, shares, verdicts = zip(*drawn, strict=True)
    plot = Markup(plots.error_scatter(ref_abs, shares, verdicts))
    return plot, distribution_caption(list(shares), list(verdicts)), len(findings) - len(drawn)


def check_sections(findings: list[Finding]) -> list[CheckSection]:
    """One section per check present, in canonical order."""
    by_check: dict[str, list[Finding]] = {}
    for finding in findings:
        by_check.setdefault(finding.check, []).append(finding)
    sections = []
    for position, (name, members) in enumerate(by_check.items(), start=1):
        plot, caption, not_plotted = _distribution(name, members)
        sections.append(
            CheckSection(
                name=name,
                anchor=f"check-{position}",
                counts=counts(members)[name],
                groups=_groups(members) if name != "published" else [],
                undecided=[f for f in members if f.verdict in ("inconclusive", "skipped")],
                plot=plot,
                caption=caption,
                not_plotted=not_plotted,
            )
        )
    return sections


@dataclass(frozen=True)
class Page:
    """Everything the template shows, top to bottom."""

    status: str
    """``pass``, ``fail`` or ``unverified``: the banner's colour."""
    message: str
    selftest: bool
    total: int
    impls: list[str]
    causes: list[Cause]
    imprecise: list[Cause]
    summary: list[tuple[str, str, dict[str, int]]]
    totals: dict[str, dict[str, int]]
    """Counts per check over every implementation; empty when there is only one."""
    checks: list[CheckSection]
    cases: list[FailingCase]
    step: StepSection | None
    published: list[PublishedSource]
    kill: KillMatrix | None
    shrunk: list[Shrunk]
    """Shrunk failing cases that belong to no root cause on the page."""
    metadata: list[tuple[str, str]]
    invocation: list[tuple[str, str]]
    timings: list[tuple[str, float]]
    extras: list[tuple[str, str]]
    row_limit: int = ROW_LIMIT
    verdicts: tuple[str, ...] = VERDICTS

    @property
    def title(self) -> str:
        """The verdict word of the page's title."""
        return {"unverified": "NOT VERIFIED"}.get(self.status, self.status.upper())


def _status(report: Report) -> tuple[str, str]:
    """(banner status, verdict message) of the run: :func:`run_outcome`."""
    result = run_outcome(report)
    if result.exit_code == 0:
        return "pass", result.message
    return ("unverified" if "NOT VERIFIED" in result.message else "fail"), result.message


def build_page(report: Report) -> Page:
    """The page of ``report`` (see the module docstring)."""
    findings = canonical_order(report.findings)
    ordered = Report(findings, report.metadata, report.extras)
    status, message = _status(ordered)
    causes = root_causes(findings, report.extras)
    attached = {id(c.shrunk) for c in causes if c.shrunk is not None}
    timings = report.metadata.get("timings")
    return Page(
        status=status,
        message=message,
        selftest=is_selftest(ordered),
        total=len(findings),
        impls=list(dict.fromkeys(f.impl for f in findings if f.impl)),
        causes=causes,
        imprecise=root_causes(findings, report.extras, verdict="imprecise"),
        summary=summary_rows(ordered),
        totals=ordered.summary if len({f.impl for f in findings}) > 1 else {},
        checks=check_sections(findings),
        cases=failing_cases(findings, causes),
        step=step_section(findings),
        published=published_sources(findings),
        kill=kill_matrix(report.extras),
        shrunk=[s for s in shrunk_cases(report.extras) if id(s) not in attached],
        metadata=[
            (str(k), text(v)) for k, v in report.metadata.items() if k not in HIDDEN_METADATA
        ],
        invocation=[(str(k), text(report.metadata[k])) for k in INVOCATION if k in report.metadata],
        timings=[
            (str(k), float(v))
            for k, v in (timings.items() if isinstance(timings, Mapping) else ())
            if isinstance(v, (int, float)) and not isinstance(v, bool)
        ],
        extras=[(str(k), text(v)) for k, v in report.extras.items() if k not in SHOWN_EXTRAS],
    )

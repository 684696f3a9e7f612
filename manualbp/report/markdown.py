"""The report as a compact Markdown summary: a pull-request comment or a CI step summary.

The verdict, the table of verdicts per implementation and check, and the root causes (at
most :data:`CAUSE_LIMIT`), each with its sentence, its worst entries and the command that
reruns its smallest case — a few KB whatever the size of the run (GitHub takes 64 KB in a
comment, 1 MB in a step summary). Text an implementation supplied is escaped, so it can
neither inject markup (GitHub renders some HTML) nor break a table.
"""

from __future__ import annotations

import html
import re

from manualbp.findings import VERDICTS
from manualbp.report.causes import Cause, root_causes
from manualbp.report.display import error_text, gap
from manualbp.report.model import Report, canonical_order, summary_rows
from manualbp.report.text import checks_text, clean
from manualbp.report.verdict import run_outcome

CAUSE_LIMIT = 10
"""Root causes described; more are counted."""

_PUNCTUATION = re.compile(r"([\\`*_\[\]|~])")


def md_text(value: object) -> str:
    """``value`` as one line of literal Markdown text: HTML special characters as entities,
    Markdown punctuation backslash-escaped (a ``|`` cannot end a table cell)."""
    return _PUNCTUATION.sub(r"\\\1", html.escape(clean(value), quote=False))


def md_code(value: object) -> str:
    """``value`` as an inline code span (a fence longer than any run of backticks in it;
    ``|`` escaped, as a table cell needs even inside code)."""
    text = clean(value).replace("|", "\\|")
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def md_block(value: object) -> list[str]:
    """``value`` as a fenced code block (a fence longer than any run of backticks in it)."""
    text = clean(value)
    fence = "`" * max(3, max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    return [fence, text, fence]


def _cause(cause: Cause, number: int) -> list[str]:
    lines = [
        f"**{number}. {md_text(cause.title)}** in {md_code(cause.impl)}: "
        f"{len(cause.cases)} case(s), {len(cause.findings)} finding(s); "
        f"{md_text(checks_text(cause))}",
        "",
        f"> {md_text(cause.sentence)}",
        "",
        "| check | case | quantity | implementation | reference | \\|difference\\| | rel. error |",
        "|---|---|---|--:|--:|--:|--:|",
    ]
    for entry in cause.worst:
        f = entry.finding
        method = f" {f.method}" if f.method else ""
        lines.append(
            f"| {md_text(f.check + method)} | {md_text(f.case)} | {md_code(f.quantity)} | "
            f"{entry.impl_text} | {entry.ref_text} | {gap(f)} | {md_text(error_text(f))} |"
        )
    small = cause.smallest
    if small.reproduce:
        seed = f", seed {small.seed}" if small.seed is not None else ""
        lines += ["", f"Smallest case {md_text(small.case)}{seed}:", *md_block(small.reproduce)]
    if cause.shrunk is not None:
        lines += [
            "",
            f"Shrunk from {md_text(cause.shrunk.from_case)}: {md_text(cause.shrunk.line)}",
            *md_block(cause.shrunk.rebuild),
        ]
    return [*lines, ""]


def render_markdown(report: Report) -> str:
    """The Markdown summary of ``report`` (see the module docstring)."""
    findings = canonical_order(report.findings)
    ordered = Report(findings, report.metadata, report.extras)
    verdict = run_outcome(ordered)
    mark = "✅" if verdict.exit_code == 0 else "❌"
    lines = [f"## {mark} manualbp: {md_text(verdict.message)}", ""]
    lines += [
        "| implementation | check | " + " | ".join(VERDICTS) + " |",
        "|---|---|" + "--:|" * len(VERDICTS),
    ]
    for impl, check, row in summary_rows(ordered):
        cells = " | ".join(str(row.get(v, 0)) for v in VERDICTS)
        lines.append(f"| {md_code(impl)} | {md_text(check)} | {cells} |")
    lines.append("")
    for title, verdict_name in (("Root causes", "fail"), ("Imprecise", "imprecise")):
        causes = root_causes(findings, report.extras, verdict=verdict_name)
        if not causes:
            continue
        lines += [f"### {title} ({len(causes)})", ""]
        for number, cause in enumerate(causes[:CAUSE_LIMIT], start=1):
            lines += _cause(cause, number)
        if len(causes) > CAUSE_LIMIT:
            lines += [f"… and {len(causes) - CAUSE_LIMIT} more: see the HTML page.", ""]
    command = report.metadata.get("command")
    if isinstance(command, str):
        lines += [f"<sub>{md_text(command)}</sub>", ""]
    return "\n".join(lines)

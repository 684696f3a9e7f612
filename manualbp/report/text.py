"""The terminal summary of a report: the root causes first, the table of verdicts, the verdict.

Everything printed that an implementation could have supplied (exception messages in
reasons, names) goes through :func:`clean` first: control characters are escaped and
newlines folded, so an implementation cannot clear the screen, colour a fake PASS or break
the one-line format of a failure.
"""

from __future__ import annotations

import re
from typing import TextIO

from manualbp.findings import VERDICTS
from manualbp.report.causes import Cause, root_causes
from manualbp.report.display import error_text, gap
from manualbp.report.model import Outcome, Report, canonical_order, summary_rows

#: C0 and C1 control characters and DEL (tab and newline are folded separately).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(text: object) -> str:
    """``text`` safe for one terminal line: newlines and tabs become spaces (runs of them
    one), other control characters their ``\\xNN`` escapes (``\\x1b`` for ESC)."""
    folded = " ".join(str(text).replace("\t", " ").splitlines())
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", folded)


def checks_text(cause: Cause) -> str:
    """``fd (central, taylor), autograd (torch autograd, float64)``."""
    return ", ".join(
        f"{check} ({', '.join(methods)})" if methods else check for check, methods in cause.checks
    )


def cause_lines(cause: Cause, number: int) -> list[str]:
    """One root cause as indented lines (not yet cleaned)."""
    lines = [
        f"  {number}. {cause.impl}: {cause.title} — {len(cause.cases)} case(s), "
        f"{len(cause.findings)} finding(s); {checks_text(cause)}",
        f"     {cause.sentence}",
    ]
    if cause.seen_at:
        seen = ", ".join(f"{label} ({n} case{'s' if n != 1 else ''})" for label, n in cause.seen_at)
        lines.append(f"     seen as {seen}")
    for frame in cause.traceback[-1:]:  # the innermost frame: where the implementation raised
        lines.append(
            f"     raised at {frame.get('file')}:{frame.get('line')} in {frame.get('function')}:"
            f" {frame.get('code') or ''}"
        )
    for position, entry in enumerate(cause.worst):
        f = entry.finding
        method = f" {f.method}" if f.method else ""
        lines.append(
            f"     {'worst:' if position == 0 else '      '} {f.check}{method} {f.case} "
            f"{f.quantity} impl={entry.impl_text} ref={entry.ref_text} |diff|={gap(f)} "
            f"rel={error_text(f)}"
        )
    small = cause.smallest
    about = [f"seed {small.seed}"] if small.seed is not None else []
    if small.parameters is not None:
        about.append(f"{small.parameters} parameters")
    lines.append(f"     smallest case: {small.case}" + (f" ({', '.join(about)})" if about else ""))
    if small.reproduce:
        lines.append(f"       reproduce: {small.reproduce}")
    if cause.shrunk is not None:
        shrunk = cause.shrunk
        lines.append(f"     smallest failing case (shrunk from {shrunk.from_case}): {shrunk.line}")
        lines.append(f"       rebuild: {shrunk.rebuild}")
    return lines


def _causes_block(title: str, causes: list[Cause], limit: int) -> list[str]:
    if not causes or limit <= 0:
        return []
    lines = [f"{title} ({len(causes)}):"]
    for number, cause in enumerate(causes[:limit], start=1):
        lines += cause_lines(cause, number)
    if len(causes) > limit:
        lines.append(f"  … and {len(causes) - limit} more (see the page or the JSON report)")
    return [*lines, ""]


def summary_lines(report: Report, outcome: Outcome, max_causes: int) -> list[str]:
    """The summary :func:`write_summary` prints, as lines (cleaned): at most ``max_causes``
    root causes of the failures (and of the imprecise findings), the table, the verdict."""
    findings = canonical_order(report.findings)
    failing = root_causes(findings, report.extras)
    lines = _causes_block("root causes of the failures", failing, max_causes)
    lines += _causes_block(
        "imprecise: formula right, float64 digits lost",
        root_causes(findings, report.extras, verdict="imprecise"),
        max_causes,
    )
    rows = summary_rows(report)
    width = max([len(clean(impl)) for impl, _, _ in rows] + [14])
    header = f"{'implementation':<{width}}  {'check':<9}" + "".join(f"{v:>13}" for v in VERDICTS)
    lines += [header, "-" * len(header)]
    for impl, check, counts in rows:
        cells = "".join(f"{counts.get(v, 0):>13}" for v in VERDICTS)
        lines.append(f"{impl:<{width}}  {check:<9}{cells}")
    lines += ["", outcome.message]
    return [clean(line) for line in lines]


def write_summary(report: Report, outcome: Outcome, max_causes: int, out: TextIO) -> None:
    """Print the root causes (at most ``max_causes`` of each kind), the table of verdicts
    and the verdict."""
    out.write("\n".join(summary_lines(report, outcome, max_causes)) + "\n")

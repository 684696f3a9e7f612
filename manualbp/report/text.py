"""The terminal summary of a report: the table of verdicts, the worst failures, the verdict.

Everything printed that an implementation could have supplied (exception messages in
reasons, names) goes through :func:`clean` first: control characters are escaped and
newlines folded, so an implementation cannot clear the screen, colour a fake PASS or break
the one-line format of a failure.
"""

from __future__ import annotations

import re
from typing import TextIO

from manualbp.findings import VERDICTS
from manualbp.report.model import Outcome, Report, summary_rows, worst_failures

#: C0 and C1 control characters and DEL (tab and newline are folded separately).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(text: object) -> str:
    """``text`` safe for one terminal line: newlines and tabs become spaces (runs of them
    one), other control characters their ``\\xNN`` escapes (``\\x1b`` for ESC)."""
    folded = " ".join(str(text).replace("\t", " ").splitlines())
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", folded)


def summary_lines(report: Report, outcome: Outcome, max_failures: int) -> list[str]:
    """The summary :func:`write_summary` prints, as lines (cleaned)."""
    rows = summary_rows(report)
    width = max([len(clean(impl)) for impl, _, _ in rows] + [14])
    header = f"{'implementation':<{width}}  {'check':<9}" + "".join(f"{v:>13}" for v in VERDICTS)
    lines = [header, "-" * len(header)]
    for impl, check, counts in rows:
        cells = "".join(f"{counts.get(v, 0):>13}" for v in VERDICTS)
        lines.append(f"{clean(impl):<{width}}  {check:<9}{cells}")
    failures = worst_failures(report.findings, max_failures)
    if failures:
        lines += ["", "worst failures:"]
        for finding in failures:
            where = f"{finding.impl} {finding.check} {finding.case}"
            values = ""
            if finding.impl_value is not None and finding.ref_value is not None:
                rel = "—" if finding.rel_error is None else f"{finding.rel_error:.2g}"
                values = f" impl={finding.impl_value:.6g} ref={finding.ref_value:.6g} rel={rel}"
            lines.append(clean(f"  {where} {finding.quantity}{values}: {finding.reason}"))
            if finding.diagnosis:
                lines.append(clean(f"    likely bug: {finding.diagnosis}"))
            if finding.reproduce:
                lines.append(clean(f"    reproduce: {finding.reproduce}"))
    for shrunk in report.extras.get("minimal_failures", []):
        arch = shrunk["arch"]
        lines += [
            "",
            clean(
                f"smallest failing case of {shrunk['impl']} (shrunk from {shrunk['from_case']}): "
                f"sizes {arch['sizes']}, {','.join(arch['activations'])}, {arch['loss']}, "
                f"bias {arch['bias']}, {arch['reduction']}, batch {shrunk['batch_size']}, "
                f"seed {shrunk['seed']}"
            ),
            clean(f"    rebuild: {shrunk['rebuild']}"),
        ]
    lines += ["", outcome.message]
    return lines


def write_summary(report: Report, outcome: Outcome, max_failures: int, out: TextIO) -> None:
    """Print the summary table, the ``max_failures`` worst failures and the verdict."""
    out.write("\n".join(summary_lines(report, outcome, max_failures)) + "\n")

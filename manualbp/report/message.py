"""The failure message of a run that did not agree: what an AssertionError says (the
pytest plugin's) and what :meth:`~manualbp.report.model.Report.explain` returns."""

from __future__ import annotations

from collections.abc import Sequence

from manualbp.findings import Finding, counts
from manualbp.report.model import Report, outcome, worst_failures
from manualbp.report.view import localisation


def _tolerance(finding: Finding) -> str:
    if finding.tolerance is None:
        return "no tolerance"
    text = f"rtol {finding.tolerance:.2g}"
    if finding.atol:
        text += f", atol {finding.atol:.2g}"
    return text + (f" ({finding.tolerance_reason})" if finding.tolerance_reason else "")


def failure_message(findings: Sequence[Finding], name: str) -> str:
    """The AssertionError text for a run that did not agree: the verdict, the worst failing
    entry (check, case, quantity with its index, both values, relative error and tolerance),
    its reason, likely bug and localisation when known, the seed and the reproduce command.
    """
    table = counts(list(findings))
    tally = ", ".join(
        f"{check} {row['pass']} pass / {row['fail']} fail" for check, row in table.items()
    )
    lines = [f"manualbp: {name}: {outcome(Report(list(findings))).message} ({tally})"]
    failing = [f for f in findings if f.verdict == "fail"]
    # An entry compared under a tolerance says more than a whole-tensor verdict (Taylor).
    worst = worst_failures([f for f in failing if f.tolerance is not None] or failing, 1)
    if not worst:
        return "\n".join(lines)
    f = worst[0]
    lines.append(f"worst: {f.check} {f.case} {f.quantity}" + (f" [{f.method}]" if f.method else ""))
    if f.impl_value is not None and f.ref_value is not None:
        rel = "—" if f.rel_error is None else f"{f.rel_error:.3g}"
        lines.append(
            f"  implementation {f.impl_value:.10g}, reference {f.ref_value:.10g}, "
            f"relative error {rel} > {_tolerance(f)}"
        )
    if f.reason:
        lines.append(f"  reason: {f.reason}")
    if f.diagnosis:
        lines.append(f"  likely bug: {f.diagnosis}")
    if localisation(f):
        lines.append(f"  where: {localisation(f)}")
    if f.seed is not None:
        lines.append(f"  seed: {f.seed}")
    if f.reproduce:
        lines.append(f"  reproduce: {f.reproduce}")
    return "\n".join(lines)

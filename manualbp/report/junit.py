"""The report as JUnit XML, the test-result file CI systems read (GitLab, Jenkins, Azure
Pipelines, GitHub test reporters).

There is no single official JUnit schema; this writes the shape they all accept::

    <testsuites name="manualbp" tests failures errors skipped time>
      <testsuite name=IMPLEMENTATION tests failures errors skipped time>
        <testcase classname="IMPLEMENTATION.CHECK" name=CASE time>
          <failure message=CAUSE type=DIAGNOSIS_KIND>worst entries, reproduce line</failure>
          | <skipped message=REASON/>
          <system-out>verdict counts</system-out>
        </testcase> ...
      </testsuite> ...
      <testsuite name="manualbp gate"> one testcase: the run's verdict </testsuite>
    </testsuites>

One testcase per implementation × check × case. A case fails when one of its findings
fails (or, under ``--strict``, is imprecise); it is skipped when none of its findings
passed (every one skipped or inconclusive). The last testcase carries the verdict of the
whole run, so a NOT VERIFIED run (exit 1 without a ``fail``) is red in CI as well. No case
is timed on its own: testcase times are 0, suite times the implementation's time.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping

from manualbp.findings import Finding
from manualbp.report.causes import root_causes
from manualbp.report.display import error_text, gap, pair
from manualbp.report.model import Report, canonical_order
from manualbp.report.verdict import run_outcome

ENTRY_LIMIT = 5
"""Failing findings listed in one testcase's failure text."""

#: Characters XML 1.0 does not allow (controls but tab, newline, carriage return; surrogates).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: object) -> str:
    """``text`` with every character XML 1.0 forbids written as its ``\\xNN`` escape."""
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def _seconds(value: object) -> str:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return f"{float(value) if ok else 0.0:.3f}"  # type: ignore[arg-type]


def _finding_line(finding: Finding) -> str:
    impl_text, ref_text = pair(finding.impl_value, finding.ref_value)
    method = f" {finding.method}" if finding.method else ""
    return (
        f"{finding.check}{method} {finding.quantity}: impl={impl_text} ref={ref_text} "
        f"|diff|={gap(finding)} rel={error_text(finding)}; {finding.reason}"
    )


def _testcase(
    suite: ET.Element,
    impl: str,
    check: str,
    case: str,
    members: list[Finding],
    causes: Mapping[int, str],
    strict: bool,
) -> str:
    """Add one testcase; return its outcome: ``failure``, ``skipped`` or ``pass``."""
    element = ET.SubElement(
        suite, "testcase", classname=xml_text(f"{impl}.{check}"), name=xml_text(case), time="0.000"
    )
    verdicts = [f.verdict for f in members]
    bad = [f for f in members if f.verdict == "fail" or (strict and f.verdict == "imprecise")]
    tally = ", ".join(f"{verdicts.count(v)} {v}" for v in dict.fromkeys(verdicts))
    outcome = "pass"
    if bad:
        first = bad[0]
        kind = str(first.detail.get("diagnosis_kind") or first.verdict)
        said = first.diagnosis or first.reason or first.verdict
        message = f"{causes[id(first)]}: {said}" if id(first) in causes else said
        lines = [_finding_line(f) for f in bad[:ENTRY_LIMIT]]
        if len(bad) > ENTRY_LIMIT:
            lines.append(f"... and {len(bad) - ENTRY_LIMIT} more")
        reproduce = next((f.reproduce for f in bad if f.reproduce), None)
        if reproduce:
            lines.append(f"reproduce: {reproduce}")
        failure = ET.SubElement(element, "failure", message=xml_text(message), type=xml_text(kind))
        failure.text = xml_text("\n".join(lines))
        outcome = "failure"
    elif not any(v in ("pass", "imprecise", "erratum") for v in verdicts):
        reason = next((f.reason for f in members if f.reason), "nothing was compared")
        ET.SubElement(element, "skipped", message=xml_text(f"{members[0].verdict}: {reason}"))
        outcome = "skipped"
    ET.SubElement(element, "system-out").text = xml_text(tally)
    return outcome


def _suite(parent: ET.Element, name: str, outcomes: list[str], seconds: object) -> ET.Element:
    return ET.SubElement(
        parent,
        "testsuite",
        name=xml_text(name),
        tests=str(len(outcomes)),
        failures=str(outcomes.count("failure")),
        errors="0",
        skipped=str(outcomes.count("skipped")),
        time=_seconds(seconds),
    )


def render_junit(report: Report) -> str:
    """The JUnit XML document of ``report`` (see the module docstring)."""
    findings = canonical_order(report.findings)
    strict = bool(report.metadata.get("strict"))
    causes = {
        id(f): cause.title for cause in root_causes(findings, report.extras) for f in cause.findings
    }
    groups: dict[str, dict[tuple[str, str], list[Finding]]] = {}
    for finding in findings:
        groups.setdefault(finding.impl, {}).setdefault((finding.check, finding.case), []).append(
            finding
        )
    timings = report.metadata.get("timings")
    timings = timings if isinstance(timings, Mapping) else {}
    root = ET.Element("testsuites", name="manualbp")
    totals: list[str] = []
    for impl, cases in groups.items():
        holder = ET.Element("testsuite")
        outcomes = [
            _testcase(holder, impl, check, case, members, causes, strict)
            for (check, case), members in cases.items()
        ]
        suite = _suite(root, impl or "implementation", outcomes, timings.get(impl))
        suite.extend(list(holder))
        totals += outcomes
    verdict = run_outcome(Report(findings, report.metadata, report.extras))
    gate = ET.Element("testsuite")
    case = ET.SubElement(gate, "testcase", classname="manualbp", name="verdict", time="0.000")
    if verdict.exit_code:
        ET.SubElement(case, "failure", message=xml_text(verdict.message), type="verdict")
    ET.SubElement(case, "system-out").text = xml_text(verdict.message)
    gate_outcome = ["failure" if verdict.exit_code else "pass"]
    _suite(root, "manualbp gate", gate_outcome, 0.0).extend(list(gate))
    totals += gate_outcome
    root.set("tests", str(len(totals)))
    root.set("failures", str(totals.count("failure")))
    root.set("errors", "0")
    root.set("skipped", str(totals.count("skipped")))
    root.set("time", _seconds(timings.get("total", 0.0)))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"

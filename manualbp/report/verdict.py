"""The verdict of a report, the same wherever it is shown: terminal, page, JUnit, Markdown.

A ``manualbp verify`` report (and a merge of its shards, and the pytest plugin's) is judged
by :func:`~manualbp.report.model.outcome`. A ``manualbp selftest`` report is judged by
what a selftest proves — every mutant caught, no ``fail`` on the correct engine — not by
its findings, most of which are the mutants' expected failures: :func:`selftest_outcome`.
:func:`run_outcome` picks the one that applies.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from manualbp.errors import ReportError
from manualbp.report.model import Outcome, Report, outcome


def is_selftest(report: Report) -> bool:
    """True for a report written by ``manualbp selftest`` (it carries its kill matrix and
    the ``selftest`` summary in ``extras``)."""
    return "kill_matrix" in report.extras and "selftest" in report.extras


def _engine_fails(engine: Any) -> int:
    if not isinstance(engine, Mapping) or not all(isinstance(r, Mapping) for r in engine.values()):
        raise ReportError("extras.selftest.engine is not a {check: {verdict: count}} map")
    return sum(int(row.get("fail", 0)) for row in engine.values())


def selftest_outcome(report: Report) -> Outcome:
    """Exit 1 when a mutant survived every check or the correct engine got a ``fail``;
    else 0. Raises :class:`ReportError` when ``extras["selftest"]`` is malformed."""
    summary = report.extras.get("selftest")
    if not isinstance(summary, Mapping) or not isinstance(summary.get("survivors"), list):
        raise ReportError("extras.selftest is not a {survivors, engine} object")
    surviving = [str(name) for name in summary["survivors"]]
    engine_fails = _engine_fails(summary.get("engine", {}))
    problems = []
    if surviving:
        problems.append(f"{len(surviving)} mutant(s) survived every check: {', '.join(surviving)}")
    if engine_fails:
        problems.append(f"the correct engine got {engine_fails} fail(s) (false alarms)")
    if problems:
        return Outcome(1, "SELFTEST FAIL: " + "; ".join(problems))
    matrix = report.extras["kill_matrix"]
    mutants = len(matrix.get("mutants", [])) if isinstance(matrix, Mapping) else 0
    return Outcome(
        0, f"SELFTEST PASS: all {mutants} mutant(s) caught, no false alarm on the correct engine"
    )


def run_outcome(report: Report) -> Outcome:
    """The verdict of ``report``: :func:`selftest_outcome` for a selftest report, else
    :func:`~manualbp.report.model.outcome` (with the run's own ``--strict``)."""
    return selftest_outcome(report) if is_selftest(report) else outcome(report)

"""The JSON report: Findings plus run metadata, the record of truth every view is made from.

Layout (``schema_version`` 2; version 1 is still read)::

    {"schema_version": 2,
     "metadata": {"manualbp": ..., "python": ..., "numpy": ..., "torch": ..., "blas": ...,
                  "seed": ..., "dtype": "float64", "impl": ..., "checks": [...],
                  "command": ..., "timings": {check: seconds}, "shard": "i/n" | null, ...},
     "summary": {check: {verdict: count}},
     "findings": [Finding.to_dict(), ...],   # non-finite numbers: null + "nulls" (numbers.py)
     "extras": {...}}                       # e.g. the kill matrix, keyed by what made it

``report.schema.json`` (shipped in ``manualbp/schemas``, read by
:func:`manualbp.report.schema.report_schema`) describes version 2.
Reports are written atomically (temporary file, then rename), so a failed run never
leaves a truncated report over a good one.
"""

from __future__ import annotations

import json
import math
import os
import platform
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from manualbp.errors import ReportError
from manualbp.findings import CHECKS, Finding, counts
from manualbp.report.files import write_atomic
from manualbp.report.numbers import decode_finding, encode_finding

SCHEMA_VERSION = 2
"""The version this manualbp writes; it reads every version from 1 up to it."""


@dataclass
class Report:
    """Findings and the metadata of the run that produced them."""

    findings: list[Finding] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def summary(self) -> dict[str, dict[str, int]]:
        """{check: {verdict: count}}."""
        return counts(self.findings)

    @property
    def failed(self) -> bool:
        """True when any Finding is a ``fail``."""
        return any(f.verdict == "fail" for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document (see the module docstring)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "metadata": self.metadata,
            "summary": self.summary,
            "findings": [encode_finding(f) for f in self.findings],
            "extras": self.extras,
        }

    @classmethod
    def from_dict(cls, data: Any, source: str = "report") -> Report:
        """Parse and validate a report document; :class:`ReportError` names what is wrong."""
        if not isinstance(data, Mapping):
            raise ReportError(f"{source}: expected a JSON object at the top level")
        version = data.get("schema_version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise ReportError(f"{source}: missing or non-integer schema_version")
        if version > SCHEMA_VERSION:
            raise ReportError(
                f"{source}: schema_version {version} is newer than this manualbp understands "
                f"({SCHEMA_VERSION}); upgrade manualbp"
            )
        if version < 1:
            raise ReportError(f"{source}: schema_version {version} is not a valid version")
        findings = data.get("findings")
        if not isinstance(findings, list):
            raise ReportError(f"{source}: 'findings' missing or not a list")
        metadata = data.get("metadata", {})
        extras = data.get("extras", {})
        if not isinstance(metadata, Mapping) or not isinstance(extras, Mapping):
            raise ReportError(f"{source}: 'metadata' and 'extras' must be objects")
        parsed = []
        for i, item in enumerate(findings):
            try:
                parsed.append(decode_finding(item, version))
            except ReportError as exc:
                raise ReportError(f"{source}: findings[{i}]: {exc}") from None
        return cls(parsed, dict(metadata), dict(extras))

    def to_json(self) -> str:
        """The JSON text of :meth:`to_dict` (strict JSON: no NaN or Infinity literals)."""
        return json.dumps(self.to_dict(), indent=1, sort_keys=False, allow_nan=False)

    @property
    def ok(self) -> bool:
        """True when the run's verdict is a pass (:func:`outcome` exit code 0)."""
        return outcome(self).exit_code == 0

    @property
    def failures(self) -> list[Finding]:
        """The ``fail`` Findings."""
        return [f for f in self.findings if f.verdict == "fail"]

    def explain(self) -> str:
        """What went wrong, in the words of a failing test: the verdict with counts per
        check, then the worst failing entry — both values, relative error and tolerance,
        reason, likely bug, where, seed and the command that reruns it
        (:func:`manualbp.report.message.failure_message`)."""
        from manualbp.report.message import failure_message

        names = ", ".join(dict.fromkeys(f.impl for f in self.findings if f.impl)) or "run"
        return failure_message(self.findings, names)

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write the JSON atomically to ``path`` (directories created); return the path."""
        return write_atomic(path, self.to_json())


@dataclass(frozen=True)
class Outcome:
    """The verdict of a run: exit code 0 (all agree), 1 (a fail, or nothing verified)."""

    exit_code: int
    message: str


def unverified_cases(findings: Iterable[Finding]) -> list[str]:
    """One line per implementation and case-based check with random cases that could not be
    drawn (a ``skipped`` Finding on the whole ``case``): how many of how many, and why."""
    cases: dict[tuple[str, str], set[str]] = {}
    skipped: dict[tuple[str, str], dict[str, str]] = {}
    for finding in findings:
        if "case_index" not in finding.detail:
            continue
        key = (finding.impl, finding.check)
        cases.setdefault(key, set()).add(finding.case)
        if finding.verdict == "skipped" and finding.quantity == "case":
            skipped.setdefault(key, {})[finding.case] = finding.reason
    lines = []
    for (impl, check), reasons in skipped.items():
        total = len(cases[(impl, check)])
        first = next(iter(reasons.values()))
        lines.append(
            f"{impl} {check}: {total - len(reasons)} of {total} cases verified, "
            f"{len(reasons)} could not be drawn ({first})"
        )
    return lines


def unverified_implementations(findings: Iterable[Finding]) -> list[str]:
    """The implementations (in run order) checked on random cases none of whose random-case
    Findings passed (imprecise included): every comparison skipped or inconclusive verifies
    nothing, whatever the other implementations of the run did. (A worked example that one
    of several implementations does not cover is not counted: it was not drawn for it.)"""
    verified: dict[str, bool] = {}
    for finding in findings:
        if "case_index" in finding.detail:
            agreed = finding.verdict in ("pass", "imprecise")
            verified[finding.impl] = verified.get(finding.impl, False) or agreed
    return [impl for impl, agreed in verified.items() if not agreed]


def outcome(report: Report, strict: bool | None = None) -> Outcome:
    """Exit 1 on any ``fail`` (with ``strict``, also on any ``imprecise``; default: the run's
    ``metadata["strict"]``); exit 1 when random cases could not be drawn where the
    implementation supports them (``--cases N`` means N verified cases), or when nothing
    of an implementation passed (every case skipped is not a pass)."""
    strict = bool(report.metadata.get("strict")) if strict is None else strict
    verdicts = [f.verdict for f in report.findings]
    fails, imprecise = verdicts.count("fail"), verdicts.count("imprecise")
    if fails or (strict and imprecise):
        parts = [f"{fails} finding(s) disagree"] if fails else []
        if strict and imprecise:
            parts.append(f"{imprecise} imprecise (--strict)")
        return Outcome(1, "FAIL: " + ", ".join(parts))
    unverified = unverified_cases(report.findings) + [
        f"{impl}: every random case was skipped or inconclusive; nothing passed"
        for impl in unverified_implementations(report.findings)
    ]
    if unverified:
        return Outcome(1, "NOT VERIFIED: " + "; ".join(unverified))
    if not verdicts:
        return Outcome(1, "NOT VERIFIED: the report holds no findings; nothing was compared")
    if not any(v in ("pass", "erratum", "imprecise") for v in verdicts):
        message = "NOT VERIFIED: every comparison was skipped or inconclusive"
        first = next((f for f in report.findings if f.reason), None)
        if first is not None:
            message += f" (e.g. {first.impl} {first.check} {first.case}: {first.reason})"
        return Outcome(1, message)
    message = "PASS: every comparison agrees (known errata shown as erratum)"
    if imprecise:
        message += (
            f"; {imprecise} imprecise: the formulas are right but float64 loses digits in "
            "the implementation's own expressions (--strict fails on them)"
        )
    return Outcome(0, message)


def summary_rows(report: Report) -> list[tuple[str, str, dict[str, int]]]:
    """(implementation, check, {verdict: count}) rows in run order for the summary table."""
    rows: dict[tuple[str, str], dict[str, int]] = {}
    for finding in report.findings:
        row = rows.setdefault((finding.impl, finding.check), {})
        row[finding.verdict] = row.get(finding.verdict, 0) + 1
    return [(impl, check, counts) for (impl, check), counts in rows.items()]


def worst_failures(findings: Iterable[Finding], limit: int) -> list[Finding]:
    """The ``limit`` failing Findings that say most about the bug, first: those with a named
    diagnosis (not ``other``) before the rest, then those of the diagnosis kind most cases
    share, then the largest relative error."""
    failing = [f for f in findings if f.verdict == "fail"]
    cases_of_kind: dict[str, set[tuple[str, str]]] = {}
    for finding in failing:
        kind = str(finding.detail.get("diagnosis_kind", "other"))
        cases_of_kind.setdefault(kind, set()).add((finding.impl, finding.case))

    def informative(finding: Finding) -> tuple[bool, int, float]:
        kind = str(finding.detail.get("diagnosis_kind", "other"))
        return kind != "other", len(cases_of_kind[kind]), _severity(finding)

    failing.sort(key=informative, reverse=True)
    return failing[:limit]


def _severity(finding: Finding) -> float:
    """Sort key of a failing Finding: its relative error, with NaN or no number at all
    counted as the worst (an implementation that returned NaN is as wrong as it gets)."""
    error = finding.rel_error
    if error is None or math.isnan(error):
        return math.inf
    return error


def read_report(path: str | os.PathLike[str]) -> Report:
    """Read a report file; a missing, malformed, truncated or future-schema file raises
    :class:`ReportError` with a one-line message."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportError(f"{source}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"{source}: cannot read ({exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportError(
            f"{source}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            "truncated or not a manualbp report?"
        ) from None
    return Report.from_dict(data, source)


def canonical_order(findings: Iterable[Finding]) -> list[Finding]:
    """Findings in an order that does not depend on sharding: by implementation, check
    (in :data:`~manualbp.findings.CHECKS` order), random case index (``detail["case_index"]``;
    findings without one, such as worked examples, after them by case id), then case id.
    The sort is stable, so findings of one case keep the order their check produced."""

    def key(finding: Finding) -> tuple[Any, ...]:
        index = finding.detail.get("case_index")
        indexed = isinstance(index, int) and not isinstance(index, bool)
        rank = CHECKS.index(finding.check) if finding.check in CHECKS else len(CHECKS)
        return (
            finding.impl,
            rank,
            finding.check,
            not indexed,
            index if indexed else 0,
            finding.case,
        )

    return sorted(findings, key=key)


PACKAGES: tuple[str, ...] = ("torch", "hypothesis", "matplotlib", "jinja2", "threadpoolctl")
"""Installed packages whose versions a report records (None when not installed)."""


def environment() -> dict[str, Any]:
    """Versions and BLAS of this run: manualbp, Python, the platform, NumPy and its BLAS, and
    every package of :data:`PACKAGES`."""
    import numpy as np

    from manualbp import __version__

    info: dict[str, Any] = {
        "manualbp": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "numpy": np.__version__,
        "blas": _blas_name(np),
    }
    for package in PACKAGES:  # installed versions, read without importing (torch: seconds)
        try:
            info[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            info[package] = None
    return info


def _blas_name(np_module: Any) -> str:
    try:
        config = np_module.show_config(mode="dicts")
        blas = config.get("Build Dependencies", {}).get("blas", {})
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # older NumPy without mode="dicts"
        return "unknown"

"""The JSON report: Findings plus run metadata, the record of truth every view is made from.

Layout (``schema_version`` 1)::

    {"schema_version": 1,
     "metadata": {"manualbp": ..., "python": ..., "numpy": ..., "torch": ..., "blas": ...,
                  "seed": ..., "dtype": "float64", "impl": ..., "checks": [...],
                  "command": ..., "timings": {check: seconds}, "shard": "i/n" | null, ...},
     "summary": {check: {verdict: count}},
     "findings": [Finding.to_dict(), ...],
     "extras": {...}}                       # e.g. the kill matrix, keyed by what made it

Reports are written atomically (temporary file, then rename), so a failed run never
leaves a truncated report over a good one.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from manualbp.errors import ReportError
from manualbp.findings import Finding, counts

SCHEMA_VERSION = 1


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
            "findings": [f.to_dict() for f in self.findings],
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
                parsed.append(Finding.from_dict(item))
            except ReportError as exc:
                raise ReportError(f"{source}: findings[{i}]: {exc}") from None
        return cls(parsed, dict(metadata), dict(extras))

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write the JSON atomically to ``path`` (directories created); return the path."""
        text = json.dumps(self.to_dict(), indent=1, sort_keys=False, allow_nan=False)
        return write_atomic(path, text)


def write_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` via a temporary file in the same directory and a rename."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


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


def merge_reports(reports: Iterable[Report]) -> Report:
    """Join shard reports: findings concatenated in shard order, timings summed, metadata
    of the first shard kept (``shards`` lists every shard's label); extras merged by key."""
    reports = list(reports)
    if not reports:
        raise ReportError("merge: no reports given")
    merged = Report(metadata=dict(reports[0].metadata))
    timings: dict[str, float] = {}
    shards = []
    for report in reports:
        merged.findings.extend(report.findings)
        for key, seconds in report.metadata.get("timings", {}).items():
            timings[key] = timings.get(key, 0.0) + float(seconds)
        shards.append(report.metadata.get("shard"))
        for key, value in report.extras.items():
            merged.extras.setdefault(key, value)
    merged.metadata["timings"] = timings
    merged.metadata["shards"] = shards
    merged.metadata["shard"] = None
    return merged


def environment() -> dict[str, Any]:
    """Versions and BLAS of this run: manualbp, Python, NumPy, torch (when importable)."""
    import numpy as np

    from manualbp import __version__

    info: dict[str, Any] = {
        "manualbp": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "numpy": np.__version__,
        "blas": _blas_name(np),
    }
    try:
        import torch

        info["torch"] = torch.__version__
    except ImportError:
        info["torch"] = None
    return info


def _blas_name(np_module: Any) -> str:
    try:
        config = np_module.show_config(mode="dicts")
        blas = config.get("Build Dependencies", {}).get("blas", {})
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # older NumPy without mode="dicts"
        return "unknown"

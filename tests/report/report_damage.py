"""Ways to spoil a report file, and the error each must give (shared by the merge tests and
the command-line tests): {name: (spoil(path), pattern the one-line error matches)}."""

from __future__ import annotations

import json
from pathlib import Path

from manualbp.report.model import SCHEMA_VERSION


def _future(path: Path) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    data["schema_version"] = SCHEMA_VERSION + 1
    path.write_text(json.dumps(data), encoding="utf-8")


def _truncate(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: len(text) // 2], encoding="utf-8")


BAD_INPUTS = {
    "truncated": (_truncate, "not valid JSON"),
    "malformed": (lambda p: p.write_text("{'findings': []}", encoding="utf-8"), "not valid JSON"),
    "future schema": (_future, "newer than this manualbp understands"),
    "not a report": (lambda p: p.write_text("[1, 2]", encoding="utf-8"), "JSON object"),
    "missing": (lambda p: p.unlink(), "no such file"),
    "bad finding": (
        lambda p: p.write_text(
            json.dumps({"schema_version": 1, "findings": [{"check": "fd"}]}), encoding="utf-8"
        ),
        r"findings\[0\]",
    ),
}

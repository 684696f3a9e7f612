"""The JSON Schema of the report (``manualbp/schemas/report.schema.json``, shipped with the
package), for anyone who reads reports with other tools."""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

SCHEMA_FILE = "report.schema.json"


def report_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the report this manualbp writes."""
    text = (files("manualbp") / "schemas" / SCHEMA_FILE).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema

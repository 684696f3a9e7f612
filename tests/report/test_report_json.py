"""The JSON report, schema version 2: numbers are numbers (null with a reason), the shipped
JSON Schema describes what is written, and version-1 reports still read and merge."""

from __future__ import annotations

import json
import math

import jsonschema
import pytest

from manualbp.errors import ReportError
from manualbp.findings import VERDICTS, Finding
from manualbp.report.merge import merge_reports
from manualbp.report.model import (
    SCHEMA_VERSION,
    Report,
    canonical_order,
    environment,
    read_report,
)
from manualbp.report.numbers import NULL_REASONS, NUMBER_FIELDS
from manualbp.report.schema import report_schema

VALIDATOR = jsonschema.Draft202012Validator(report_schema())


def _errors(document: dict) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in VALIDATOR.iter_errors(document)]


def test_the_schema_is_valid_and_agrees_with_the_code():
    schema = report_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["properties"]["schema_version"] == {"const": SCHEMA_VERSION} == {"const": 2}
    finding = schema["$defs"]["finding"]["properties"]
    assert finding["verdict"]["enum"] == list(VERDICTS)
    assert finding["nulls"]["propertyNames"]["enum"] == list(NUMBER_FIELDS)
    assert finding["nulls"]["additionalProperties"]["enum"] == list(NULL_REASONS)
    floats = {name for name, kind in Finding.__annotations__.items() if kind == "float | None"}
    assert floats == set(NUMBER_FIELDS)


def test_reports_of_real_runs_follow_the_schema(verify_runs):
    for name in ("unsharded", "shard-1", "failing"):
        document = json.loads(verify_runs.json(name).read_text(encoding="utf-8"))
        assert _errors(document) == [], name


def test_synthetic_reports_follow_the_schema(failing_report, passing_report):
    for report in (failing_report, passing_report):
        assert _errors(json.loads(report.to_json())) == []


def test_non_finite_numbers_are_null_with_a_reason_and_read_back_exactly(tmp_path):
    finding = Finding(
        "autograd",
        "case-0",
        "grad.W1[0,0]",
        "fail",
        impl_value=float("nan"),
        ref_value=0.0,
        abs_error=float("inf"),
        rel_error=float("inf"),
        tolerance=1e-10,
        atol=-float("inf"),
    )
    path = Report([finding]).write(tmp_path / "r.json")
    (written,) = json.loads(path.read_text(encoding="utf-8"))["findings"]
    assert [written[name] for name in NUMBER_FIELDS] == [None, 0.0, None, None, 1e-10, None]
    assert written["nulls"] == {
        "impl_value": "not_a_number",
        "abs_error": "infinite",
        "rel_error": "reference_zero",
        "atol": "negative_infinite",
    }
    assert '"inf"' not in path.read_text(encoding="utf-8")
    assert _errors(json.loads(path.read_text(encoding="utf-8"))) == []
    (back,) = read_report(path).findings
    assert math.isnan(back.impl_value) and back.abs_error == math.inf
    assert back.rel_error == math.inf and back.atol == -math.inf and back.ref_value == 0.0


def test_a_real_failing_report_has_no_number_written_as_text(verify_runs):
    document = json.loads(verify_runs.json("failing").read_text(encoding="utf-8"))
    for finding in document["findings"]:
        for name in NUMBER_FIELDS:
            assert finding.get(name) is None or isinstance(finding[name], (int, float)), name


@pytest.mark.parametrize(
    ("nulls", "message"),
    [
        ("inf", "'nulls' is not an object"),
        ({"reason": "infinite"}, "not a number field"),
        ({"rel_error": "huge"}, "expected one of reference_zero"),
        ({"ref_value": "infinite"}, "has a value and a null reason"),
    ],
)
def test_malformed_null_reasons_are_one_line_errors(tmp_path, nulls, message):
    finding = {"check": "fd", "case": "c", "quantity": "q", "verdict": "pass", "ref_value": 1.0}
    document = {"schema_version": 2, "metadata": {}, "extras": {}, "summary": {}}
    document["findings"] = [{**finding, "nulls": nulls}]
    path = tmp_path / "r.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ReportError, match=message) as raised:
        read_report(path)
    assert "\n" not in str(raised.value)


def _version_1(report: Report) -> dict:
    """``report`` as schema version 1 wrote it: non-finite numbers as strings."""
    document = report.to_dict()
    document["schema_version"] = 1
    for finding, item in zip(report.findings, document["findings"], strict=True):
        item.pop("nulls", None)
        for name in NUMBER_FIELDS:
            value = getattr(finding, name)
            if value is not None and not math.isfinite(value):
                item[name] = "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return document


def test_version_1_reports_with_inf_strings_still_read_and_merge(tmp_path, run, split):
    unsharded = run(cases=4, broken=(2,))
    unsharded.findings[0].rel_error = float("inf")
    unsharded.findings[0].ref_value = 0.0
    paths = []
    for position, shard in enumerate(split(unsharded, 2)):
        document = _version_1(shard)
        assert document["schema_version"] == 1
        paths.append(tmp_path / f"v1-{position}.json")
        paths[-1].write_text(json.dumps(document), encoding="utf-8")
    assert '"rel_error": "inf"' in paths[0].read_text(encoding="utf-8")
    merged = merge_reports([read_report(p) for p in paths])
    assert merged.findings[0].rel_error == math.inf
    expected = canonical_order(unsharded.findings)
    assert [f.to_dict() for f in merged.findings] == [f.to_dict() for f in expected]
    rewritten = json.loads(merged.to_json())
    assert rewritten["schema_version"] == 2 and _errors(rewritten) == []


def test_metadata_names_the_versions_of_the_packages_used():
    info = environment()
    for package in ("manualbp", "python", "numpy", "torch", "hypothesis", "matplotlib", "jinja2"):
        assert isinstance(info[package], str) and info[package], package


def test_a_real_run_records_its_full_command_seed_and_timings(verify_runs):
    metadata = read_report(verify_runs.json("failing")).metadata
    assert metadata["command"] == "manualbp verify " + " ".join(metadata["argv"])
    assert "--impl" in metadata["argv"] and isinstance(metadata["seed"], int)
    assert all(isinstance(v, float) for v in metadata["timings"].values())

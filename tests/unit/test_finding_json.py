"""A Finding's JSON form: non-finite numbers anywhere, NumPy scalars, malformed records."""

from __future__ import annotations

import numpy as np
import pytest

from manualbp.errors import ReportError
from manualbp.findings import Finding
from manualbp.report.model import Report, read_report


def test_non_finite_numbers_in_detail_survive_the_json_round_trip(tmp_path):
    finding = Finding(
        check="fd",
        case="c",
        quantity="grad.W1[0,0]",
        verdict="fail",
        rel_error=float("nan"),
        detail={"ratio": float("inf"), "values": [1.0, -np.inf], "n": np.int64(3)},
    )
    path = Report(findings=[finding], metadata={}).write(tmp_path / "r.json")
    (back,) = read_report(path).findings
    assert back.detail == {"ratio": "inf", "values": [1.0, "-inf"], "n": 3}
    assert np.isnan(back.rel_error)


BASE = {"check": "fd", "case": "c", "quantity": "q", "verdict": "pass"}


@pytest.mark.parametrize(
    ("field", "value"),
    [("detail", "oops"), ("seed", "1"), ("seed", True), ("diagnosis", 3), ("reason", None)],
)
def test_malformed_fields_are_one_line_errors(field, value):
    with pytest.raises(ReportError, match=field):
        Finding.from_dict({**BASE, field: value})

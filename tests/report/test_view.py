"""What the page is made of: quantity parsing, grouping, localisation, lenient details."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from manualbp.findings import Finding
from manualbp.report.cases import LAYER_LIMIT, layer_quantity, rel_errors, tolerance_share
from manualbp.report.display import error_text, text
from manualbp.report.html import render_html
from manualbp.report.killmatrix import kill_matrix
from manualbp.report.model import Report
from manualbp.report.published import remarks
from manualbp.report.stepcurve import step_section
from manualbp.report.view import build_page, family, localisation


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        ("grad.W2[1,0]", ("W", 2)),
        ("grad.b1", ("b", 1)),
        ("grad.b3[4]", ("b", 3)),
        ("delta.2[0,1]", ("delta", 2)),
        ("step3.W1[0,0]", None),
        ("forward.out_o1", None),
        ("grad.W2<script>", None),
        ("loss", None),
    ],
)
def test_layer_quantity_names_the_tensor_and_layer(quantity, expected):
    assert layer_quantity(quantity) == expected


def test_family_is_the_leading_word():
    assert [family(q) for q in ("grad.W2[1,0]", "step3.W1", "delta.2", "loss", "[x]")] == [
        "grad",
        "step",
        "delta",
        "loss",
        "[x]",
    ]


def test_text_joins_lists_and_serialises_objects_stably():
    assert text(None) == "—"
    assert text(["fd", "autograd"]) == "fd, autograd"
    assert text([]) == "—"
    assert text({"b": 1, "a": [1, 2]}) == '{"a": [1, 2], "b": 1}'
    assert text(3) == "3"


def test_remarks_show_erratum_fields_in_order_and_objects_entry_by_entry():
    detail = {
        "note": "see errata page",
        "evidence": {"fd": "agrees", "runs": [1, 2]},
        "explanation": "rounded intermediate",
        "correct": 0.25,
        "reproduced_by": "",
        "printed": "0.3",
    }
    assert remarks(detail) == [
        ("", "rounded intermediate"),
        ("correct value", "0.25"),
        ("fd", "agrees"),
        ("runs", "1, 2"),
        ("note", "see errata page"),
    ]
    assert remarks({"evidence": "printed by an earlier version"}) == [
        ("evidence", "printed by an earlier version")
    ]
    assert remarks({}) == []


def _tensor(detail):
    return Finding("autograd", "case-0", "grad.W1[0,0]", "fail", rel_error=1.0, detail=detail)


def test_rel_errors_reshapes_and_decodes_non_finite_strings():
    errors = rel_errors(_tensor({"rel_errors": [0.0, "inf", "nan", 1e-3], "shape": [2, 2]}))
    assert errors.shape == (2, 2)
    assert errors[0, 0] == 0 and math.isinf(errors[0, 1]) and math.isnan(errors[1, 0])


@pytest.mark.parametrize(
    "detail",
    [
        {},
        {"rel_errors": [1.0, 2.0], "shape": [3]},
        {"rel_errors": ["x"], "shape": [1]},
        {"rel_errors": "1,2", "shape": [2]},
        {"rel_errors": [1.0], "shape": None},
    ],
)
def test_rel_errors_is_none_for_missing_or_malformed_detail(detail):
    assert rel_errors(_tensor(detail)) is None


def test_step_section_skips_malformed_curves_and_plots_a_v():
    bad = [
        {"h": [1e-3], "error": [1.0]},
        {"h": [1e-3, 0.0], "error": [1.0, 2.0]},
        {"h": [1e-3, 1e-4], "error": [1.0]},
        {"h": "x", "error": [1.0]},
        {"h": [1e-3, 1e-4], "error": [1.0, float("nan")]},
        "not a curve",
    ]
    findings = [
        Finding("fd", f"case-{i}", "grad.W1", "pass", detail={"step_curve": c})
        for i, c in enumerate(bad)
    ]
    assert step_section(findings) is None
    h = np.geomspace(1e-9, 1e-1, 17)
    good = {"h": h.tolist(), "error": (1e-16 / h + h**2).tolist(), "chosen_h": 4.6e-6}
    findings.append(Finding("fd", "case-9", "grad.W2", "pass", detail={"step_curve": good}))
    section = step_section(findings)
    assert section is not None and section.plot.startswith("<svg")
    (curve,) = section.curves
    assert curve.finding.case == "case-9" and not curve.flat
    assert "the chosen step 4.6e-06 sits near the bottom" in curve.caption


def test_kill_matrix_rows_and_survivors():
    matrix = kill_matrix(
        {
            "kill_matrix": {
                "mutants": ["a", "b"],
                "checks": ["fd", "autograd"],
                "killed": {"a": {"fd": 3}, "b": {"fd": 0, "autograd": 0}},
                "cases": {"a": 3, "b": 3},
            }
        }
    )
    assert matrix.raw is None
    assert [(r.mutant, r.killed, r.cases, r.survived) for r in matrix.rows] == [
        ("a", [3, None], 3, False),
        ("b", [0, 0], 3, True),
    ]
    assert matrix.survivors == 1


@pytest.mark.parametrize(
    "matrix",
    [
        [1, 2],
        {"mutants": "a", "checks": []},
        {"mutants": ["a"], "checks": ["fd"], "killed": {"a": {"fd": -1}}},
        {"mutants": [["a"]], "checks": ["fd"], "killed": {}},
    ],
)
def test_kill_matrix_of_another_shape_is_kept_as_json(matrix):
    shown = kill_matrix({"kill_matrix": matrix})
    assert shown.rows == [] and shown.raw is not None


def test_no_kill_matrix_without_the_extra():
    assert kill_matrix({}) is None


def test_failing_case_localises_the_first_bad_layer_going_backwards(run):
    page = build_page(run(cases=2, broken=(1,)))
    autograd = [c for c in page.cases if c.check == "autograd"]
    assert [c.case for c in autograd] == ["case-1"]
    rows = autograd[0].layers
    assert [r.layer for r in rows] == [2, 1]
    assert [r.first_bad for r in rows] == [False, True]
    assert rows[0].delta.verdict == "pass" and rows[1].delta.verdict == "fail"
    assert autograd[0].diagnoses == ["hidden error recurrence at layer 1: only unit 0 wrong"]
    assert "--case-seed 1001" in autograd[0].reproduce


def test_passing_page_has_no_failing_cases_and_says_pass(passing_report):
    page = build_page(passing_report)
    assert page.status == "pass" and page.cases == [] and page.causes == []


def test_page_of_only_skipped_findings_is_unverified():
    skipped = [Finding("autograd", "case-0", "loss", "skipped", reason="no softmax")]
    page = build_page(Report(skipped))
    assert page.status == "unverified"


def test_group_worst_ignores_findings_without_an_error(passing_report):
    page = build_page(passing_report)
    fd = next(c for c in page.checks if c.name == "fd")
    grad = next(g for g in fd.groups if g.family == "grad" and g.method == "central")
    assert grad.counts["inconclusive"] == 1
    assert grad.worst.verdict == "pass" and grad.worst.rel_error is not None
    assert np.isfinite(grad.worst.rel_error)


def _deep_failure(layers: int) -> list[Finding]:
    """A failing case with a failing weight gradient in ``layers`` layers."""
    return [
        Finding("autograd", "case-0", f"grad.W{layer}", "fail", 2.0, 1.0, 1.0, 1.0, 1e-10, 0.0)
        for layer in range(1, layers + 1)
    ]


def test_deep_networks_draw_a_bounded_number_of_layers():
    case = build_page(Report(_deep_failure(20))).cases[0]
    assert [row.layer for row in case.layers] == list(range(20, 0, -1))
    drawn = re.findall(r"W(\d+) \(1×1\)", case.heatmap)
    assert drawn == [str(layer) for layer in range(1, LAYER_LIMIT + 1)]


def test_a_huge_layer_number_draws_one_column():
    finding = _deep_failure(1)[0]
    finding.quantity = "grad.W99999"
    case = build_page(Report([finding])).cases[0]
    assert [row.layer for row in case.layers] == [99999]
    assert "W99999 (1×1)" in case.heatmap


@pytest.mark.parametrize(
    ("numbers", "share"),
    [
        ((1.0, 1e-11, 1e-10, 0.0), 0.1),
        ((2.0, 1e-9, 1e-10, 1e-10), 1e-9 / 3e-10),
        ((0.0, 1e-12, 0.0, 1e-12), 1.0),
        ((1.0, 0.0, 0.0, 0.0), 0.0),
        ((1.0, 1e-3, 0.0, 0.0), None),
        ((None, 1e-3, 1e-6, 0.0), None),
        ((1.0, float("nan"), 1e-6, 0.0), None),
        ((1.0, 1e-3, None, 0.0), None),
    ],
)
def test_tolerance_share_is_error_over_allowance(numbers, share):
    ref, error, rtol, atol = numbers
    finding = Finding(
        "fd", "c", "q", "pass", ref_value=ref, abs_error=error, tolerance=rtol, atol=atol
    )
    assert tolerance_share(finding) == (pytest.approx(share) if share is not None else None)


SENTENCE = "first wrong going backwards: delta.2 (layer 2 of 3, hidden) → hidden_error"


@pytest.mark.parametrize(
    ("value", "diagnosis", "expected", "cause"),
    [
        ({"layer": 2, "sentence": SENTENCE}, None, SENTENCE, SENTENCE),
        (
            {"layer": 2, "sentence": SENTENCE},
            f"missing derivative; {SENTENCE}",
            "",
            f"missing derivative; {SENTENCE}",
        ),
        ("output layer", "sign flipped", "output layer", "sign flipped"),
        ({"layer": 2}, None, '{"layer": 2}', "delta.2[0,1] disagrees"),
        (None, None, "", "delta.2[0,1] disagrees"),
    ],
    ids=["sentence", "already in the diagnosis", "plain text", "no sentence", "absent"],
)
def test_localisation_is_one_line_said_once(value, diagnosis, expected, cause, parse_html):
    finding = Finding("autograd", "case-0", "delta.2[0,1]", "fail", diagnosis=diagnosis)
    if value is not None:
        finding.detail["localisation"] = value
    assert localisation(finding) == expected
    page = parse_html(render_html(Report([finding])))
    (sentence,) = [node.text() for node in page.find_all(cls="sentence")]
    assert sentence == cause


@pytest.mark.parametrize(
    ("verdict", "abs_error", "expected"),
    [
        # agreed within atol next to a tiny reference: say so, not rel = 1e+03
        ("pass", 1e-12, "|Δ| 1e-12 ≤ atol 5e-10 (|reference| below atol/rtol)"),
        # imprecise beyond atol: the relative error, never a false "≤ atol"
        ("imprecise", 2.9e-8, "0.029"),
    ],
)
def test_error_text_claims_within_atol_only_when_it_is(verdict, abs_error, expected):
    finding = Finding("autograd", "c", "loss", verdict, 1e-6 + abs_error, 1e-6, abs_error,
                      abs_error / 1e-6, 1e-13, 5e-10)  # fmt: skip
    assert error_text(finding) == expected

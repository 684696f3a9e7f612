"""Root causes: one bug, one entry — cases whose pattern could not be read join the named
cause at the same formula and layer; a different place or no formula stays apart."""

from __future__ import annotations

from manualbp.findings import Finding
from manualbp.report.causes import root_causes


def failing(case: str, kind: str, formula: str | None, layer: int = 1) -> Finding:
    """A failing gradient Finding of a one-layer case, diagnosed ``kind`` at ``formula``."""
    finding = Finding("autograd", case, "grad.W1", "fail", 1.0, 2.0, 1.0, 0.5, 1e-12, 0.0)
    finding.impl = "impl"
    finding.detail["diagnosis_kind"] = kind
    finding.diagnosis = f"{kind}: what it says" if kind != "other" else None
    if formula is not None:
        finding.detail["localisation"] = {"layer": layer, "formula": formula, "sentence": "s"}
    finding.detail["entries"] = 4 if kind == "other" else 9
    return finding


def test_undiagnosed_cases_at_a_named_cause_place_join_it() -> None:
    findings = [
        failing("case-0", "derivative_at_output", "output_error"),
        failing("case-1", "other", "output_error"),
        failing("case-2", "derivative_at_output", "output_error"),
    ]
    (cause,) = root_causes(findings, {})
    assert cause.kind == "derivative_at_output"
    assert sorted(c.case for c in cause.cases) == ["case-0", "case-1", "case-2"]
    # the sentence and the smallest case come from a case the diagnosis named, although
    # the undiagnosed one is smaller
    assert cause.sentence == "derivative_at_output: what it says"
    assert cause.smallest.case == "case-0"


def test_undiagnosed_cases_elsewhere_or_without_a_formula_stay_apart() -> None:
    findings = [
        failing("case-0", "transposed", "hidden_error"),
        failing("case-1", "other", "output_error"),
        failing("case-2", "other", None),
    ]
    causes = root_causes(findings, {})
    assert [(c.kind, c.formula) for c in causes] == [
        ("transposed", "hidden_error"),
        ("other", "output_error"),
        ("other", None),
    ]


def test_a_raise_with_a_named_diagnosis_joins_the_located_cause_of_that_kind() -> None:
    raised = Finding("fd", "case-9", "gradients()", "fail", reason="raised ValueError")
    raised.impl = "impl"
    raised.detail["diagnosis_kind"] = "transposed"
    located = failing("case-0", "transposed", "hidden_error")
    (cause,) = root_causes([raised, located], {})
    assert (cause.kind, cause.formula) == ("transposed", "hidden_error")
    assert sorted(c.case for c in cause.cases) == ["case-0", "case-9"]
    # the worst entries lead with the one that has values to compare
    assert cause.worst[0].finding is located


def test_an_undiagnosed_case_where_two_bugs_sit_joins_neither() -> None:
    findings = [
        failing("case-0", "transposed", "hidden_error"),
        failing("case-1", "missing_activation_derivative", "hidden_error"),
        failing("case-2", "other", "hidden_error"),
    ]
    kinds = sorted(c.kind for c in root_causes(findings, {}))
    assert kinds == ["missing_activation_derivative", "other", "transposed"]

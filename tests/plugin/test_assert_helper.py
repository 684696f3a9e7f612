"""assert_gradients_match and its failure message, in this process (no subprocess)."""

from __future__ import annotations

import pytest

from manualbp import Architecture, engine
from manualbp.errors import UsageError
from manualbp.findings import Finding
from manualbp.mutants import get_mutant
from manualbp.pytest_plugin import (
    COLLECTOR,
    FindingCollector,
    assert_gradients_match,
    failure_message,
)

TANH_NET = Architecture(sizes=(2, 3, 2), activations=("tanh", "identity"), loss="half_sse")


def test_a_correct_implementation_passes_and_its_findings_are_recorded(request):
    collector = FindingCollector()
    findings = assert_gradients_match(
        engine, 2, arch=TANH_NET, checks=("fd", "autograd"), collector=collector
    )
    assert findings and collector.findings == findings
    assert {f.check for f in findings} == {"fd", "autograd"}
    assert all(f.verdict == "pass" for f in findings)
    assert {f.detail["test"] for f in findings} == {request.node.nodeid}
    assert {f.detail["case_index"] for f in findings} == {0, 1}


def test_without_a_collector_findings_go_to_the_running_session(pytestconfig):
    session = pytestconfig.stash[COLLECTOR]
    before = len(session.findings)
    findings = assert_gradients_match(engine, 1, arch=TANH_NET, checks=("fd",))
    assert session.findings[before:] == findings


def test_autograd_failure_names_the_worst_entry_and_the_seed():
    mutant = get_mutant("hidden-error-missing-derivative")
    with pytest.raises(AssertionError) as raised:
        assert_gradients_match(mutant, 1, arch=TANH_NET, seed=3, checks=("autograd",))
    message = str(raised.value)
    lines = message.splitlines()
    assert lines[0].startswith("manualbp: hidden-error-missing-derivative: FAIL: ")
    assert "autograd " in lines[0] and " fail)" in lines[0]
    assert lines[1].startswith("worst: autograd case-0 ")
    assert "implementation " in lines[2] and "> rtol " in lines[2]
    assert any(line.startswith("  seed: ") for line in lines)
    # The case was drawn on the caller's architecture: no command line rebuilds it.
    assert "reproduce:" not in message


def _finding(quantity: str, rel: float, **fields) -> Finding:
    return Finding(
        "autograd", "case-0", quantity, "fail", 1.0 + rel, 1.0, rel, rel, seed=11, **fields
    )


def test_message_prefers_an_entry_under_a_tolerance_and_shows_diagnosis_and_where():
    taylor = _finding("grad.W1", 5.0, method="taylor")
    entry = _finding(
        "grad.W1[1,0]",
        2.0,
        tolerance=1e-10,
        atol=1e-12,
        tolerance_reason="float64 rounding",
        reason="1 of 6 entries outside",
        diagnosis="sign flipped",
        detail={"localisation": "first disagreeing delta: layer 1"},
        reproduce="manualbp verify --impl x --checks autograd --case-seed 11",
    )
    message = failure_message([taylor, entry], "impl")
    assert message.splitlines()[1] == "worst: autograd case-0 grad.W1[1,0]"
    for line in (
        "  implementation 3, reference 1, relative error 2 > rtol 1e-10, atol 1e-12 "
        "(float64 rounding)",
        "  reason: 1 of 6 entries outside",
        "  likely bug: sign flipped",
        "  where: first disagreeing delta: layer 1",
        "  seed: 11",
        "  reproduce: manualbp verify --impl x --checks autograd --case-seed 11",
    ):
        assert line in message.splitlines(), line


def test_an_unknown_check_is_a_one_line_usage_error():
    with pytest.raises(UsageError, match="expected a comma-separated subset of fd,autograd"):
        assert_gradients_match(engine, 1, checks=("fdd",))


class _SupportsNothing:
    """The engine, declaring that it supports no architecture."""

    loss = staticmethod(engine.loss)
    gradients = staticmethod(engine.gradients)

    @staticmethod
    def supports(arch: Architecture) -> bool:
        return False


def test_every_case_skipped_is_not_a_pass():
    message = r"NOT VERIFIED: .* fd: 0 of 2 cases verified, 2 could not be drawn \(no case"
    with pytest.raises(AssertionError, match=message):
        assert_gradients_match(_SupportsNothing(), 2, checks=("fd",))


def test_cases_drawn_from_a_space_and_the_failure_is_diagnosed():
    """An implementation that covers part of the space is checked there (not skipped), and
    the message carries the diagnosis, as in manualbp verify."""
    from manualbp.space import ArchSpace

    space = ArchSpace(activations=("tanh",), losses=("half_sse",), depth=(2, 2), width=(2, 4))
    mutant = get_mutant("half-sse-gradient-doubled")
    with pytest.raises(AssertionError) as failure:
        assert_gradients_match(
            mutant, 2, space=space, checks=("autograd",), collector=FindingCollector()
        )
    message = str(failure.value)
    assert "likely bug: factor_2" in message
    findings = assert_gradients_match(
        engine, 2, space=space, checks=("autograd",), collector=FindingCollector()
    )
    assert {f.verdict for f in findings} == {"pass"}


def test_a_report_from_manualbp_check_explains_itself_as_a_failing_test_would():
    import manualbp
    from manualbp.space import ArchSpace

    space = ArchSpace(activations=("tanh",), losses=("half_sse",), depth=(2, 2), width=(2, 4))
    mutant = get_mutant("half-sse-gradient-doubled")
    report = manualbp.check(mutant, cases=2, space=space, checks=("autograd",))
    assert not report.ok
    with pytest.raises(AssertionError) as failure:
        assert_gradients_match(
            mutant, 2, space=space, checks=("autograd",), collector=FindingCollector()
        )
    explained = report.explain()
    assert explained == str(failure.value)
    assert "likely bug: factor_2" in explained and "seed: " in explained

"""``manualbp selftest``: mutants are killed, the engine is clean, the kill matrix reads back."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from manualbp.cli import main
from manualbp.findings import Finding
from manualbp.report.html import render_html
from manualbp.report.killmatrix import kill_matrix
from manualbp.report.model import read_report
from manualbp.selftest import SelftestOptions, kills, outcome, run_selftest

#: One mutant per family the checks see differently, in catalogue order: a hidden-layer
#: transpose, a batch reduction in a bias gradient, an update step, state kept between calls
#: (needs reset() between cases).
SAMPLE = (
    "hidden-error-W-not-transposed",
    "bias-gradient-averaged",
    "step-sign-flipped",
    "stale-forward-cache",
)


@pytest.fixture(scope="module")
def sample_report():
    """fd and autograd on one case of each SAMPLE mutant and one case of the engine."""
    return run_selftest(SelftestOptions(checks=("fd", "autograd"), cases=1, mutants=SAMPLE))


def test_every_sampled_mutant_is_killed_and_the_engine_is_clean(sample_report) -> None:
    matrix = sample_report.extras["kill_matrix"]
    assert matrix["mutants"] == list(SAMPLE)
    for mutant in SAMPLE:
        assert any(matrix["killed"][mutant].values()), mutant
    # autograd compares gradients and update steps: it sees every one of these bugs.
    assert all(matrix["killed"][m]["autograd"] == 1 for m in SAMPLE)
    # fd never calls step(): an update-step bug is invisible to it.
    assert matrix["killed"]["step-sign-flipped"]["fd"] == 0
    engine = [f for f in sample_report.findings if f.impl == "engine"]
    assert engine and not [f for f in engine if f.verdict == "fail"]
    assert outcome(sample_report).exit_code == 0


def test_mutant_failures_say_how_to_rerun_exactly_their_case(sample_report, tmp_path) -> None:
    failing = [f for f in sample_report.findings if f.verdict == "fail"]
    assert failing
    assert all(
        f.reproduce and f.reproduce.startswith("manualbp verify --impl manualbp.mutants:")
        for f in failing
    )
    first = next(f for f in failing if f.impl == "stale-forward-cache" and f.check == "fd")
    argv = shlex.split(first.reproduce)[1:]
    path = tmp_path / "again.json"
    assert main([*argv, "--json", str(path), "--no-html", "--quiet", "--no-shrink"]) == 1
    again = [f for f in read_report(path).findings if f.verdict == "fail"]
    assert {(f.seed, f.quantity) for f in again} == {
        (f.seed, f.quantity)
        for f in failing
        if (f.impl, f.check, f.case) == (first.impl, first.check, first.case)
    }


def test_a_check_that_only_skipped_did_not_run() -> None:
    def finding(check: str, case: str, verdict: str) -> Finding:
        return Finding(check=check, case=case, quantity="q", verdict=verdict)

    findings = [
        finding("fd", "case-0", "fail"),
        finding("fd", "case-0", "fail"),
        finding("fd", "case-1", "pass"),
        finding("autograd", "case-0", "pass"),
        finding("published", "mazur", "skipped"),
    ]
    assert kills(findings, ("fd", "autograd", "published")) == {
        "fd": 1,
        "autograd": 0,
        "published": None,
    }


def test_cli_exit_0_writes_a_kill_matrix_the_report_code_reads(tmp_path: Path, capsys) -> None:
    json_path, html_path = tmp_path / "s.json", tmp_path / "s.html"
    outputs = ["--json", str(json_path), "--html", str(html_path)]
    code = main(
        ["selftest", "--mutants", "bias-gradient-zero", "--checks", "fd", "--cases", "1", *outputs]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "bias-gradient-zero" in printed and "SELFTEST PASS" in printed
    report = read_report(json_path)
    table = kill_matrix(report.extras)
    assert table is not None and table.raw is None
    assert table.checks == ["fd"]
    assert [(row.mutant, row.killed, row.cases) for row in table.rows] == [
        ("bias-gradient-zero", [1], 1)
    ]
    assert table.survivors == 0
    assert "every mutant was caught" in html_path.read_text(encoding="utf-8")


def test_cli_exit_1_when_the_checks_cannot_see_a_mutant(tmp_path: Path, capsys) -> None:
    # fd compares gradients with the loss and never calls step(): the sign of the update is
    # invisible to it, so this configuration honestly lets the mutant survive.
    json_path = tmp_path / "s.json"
    outputs = ["--json", str(json_path), "--html", str(tmp_path / "s.html")]
    code = main(
        ["selftest", "--mutants", "step-sign-flipped", "--checks", "fd", "--cases", "1", *outputs]
    )
    assert code == 1
    assert "SURVIVED" in capsys.readouterr().out
    report = read_report(json_path)
    table = kill_matrix(report.extras)
    assert table is not None and table.survivors == 1
    assert "survived every check" in render_html(report)


@pytest.mark.parametrize(
    "options",
    [["--cases", "0"], ["--cases", "two"], ["--checks", "fd,typo"], ["--mutants", "no-such-bug"]],
    ids=["zero-cases", "non-integer", "unknown-check", "unknown-mutant"],
)
def test_cli_bad_options_are_one_line_and_exit_2(
    options: list[str], tmp_path: Path, capsys
) -> None:
    json_path = tmp_path / "s.json"
    assert main(["selftest", *options, "--json", str(json_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error" in err
    assert not json_path.exists()

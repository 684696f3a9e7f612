"""The verdict agrees everywhere: terminal, page, merge, selftest."""

from __future__ import annotations

import shutil

import pytest

from manualbp.cli import main
from manualbp.findings import Finding
from manualbp.report.html import render_html
from manualbp.report.model import Report
from manualbp.report.verdict import run_outcome
from manualbp.selftest import outcome as selftest_outcome


def _selftest_report(survivors: list[str], engine_fails: int) -> Report:
    """A selftest report: mutants' failures (expected), the engine's findings, the matrix."""
    findings = [
        Finding("autograd", f"case-{i}", "grad.W1[0,0]", "fail", 2.0, 1.0, 1.0, 1.0, 1e-10, 0.0)
        for i in range(3)
    ]
    for finding in findings:
        finding.impl = "manualbp.mutants:factor_2_output_error"
    engine = {"autograd": {"pass": 10, "fail": engine_fails}}
    extras = {
        "kill_matrix": {
            "mutants": ["factor_2_output_error", "sigma_at_output"],
            "checks": ["autograd"],
            "killed": {
                "factor_2_output_error": {"autograd": 3},
                "sigma_at_output": {"autograd": 0 if survivors else 2},
            },
            "cases": {"factor_2_output_error": 3, "sigma_at_output": 3},
        },
        "selftest": {"survivors": survivors, "engine": engine},
    }
    return Report(findings, {"command": "manualbp selftest"}, extras)


def test_a_passing_selftest_page_says_selftest_pass_with_the_kill_matrix_first(parse_html):
    report = _selftest_report([], 0)
    assert selftest_outcome(report).exit_code == 0
    page = parse_html(render_html(report))
    assert "pass" in page.by_id("verdict").attrs["class"].split()
    assert page.by_id("verdict").text().startswith("SELFTEST PASS: all 2 mutant(s) caught")
    assert page.find_all("title")[0].text() == "manualbp report: PASS"
    sections = [n.attrs["id"] for n in page.find_all("section")]
    assert sections[:2] == ["kill-matrix", "causes"]
    assert "finding(s) disagree" not in page.text()


@pytest.mark.parametrize(
    ("survivors", "fails", "said"),
    [(["sigma_at_output"], 0, "1 mutant(s) survived"), ([], 2, "the correct engine got 2")],
)
def test_a_failing_selftest_page_says_why(parse_html, survivors, fails, said):
    report = _selftest_report(survivors, fails)
    result = selftest_outcome(report)
    assert result.exit_code == 1 and said in result.message
    banner = parse_html(render_html(report)).by_id("verdict")
    assert banner.text().startswith(f"SELFTEST FAIL: {said}")
    assert run_outcome(report) == result


def test_merging_failing_shards_prints_the_verdict_and_exits_1(verify_runs, tmp_path, capsys):
    failing = tmp_path / "failing.json"
    shutil.copy(verify_runs.json("failing"), failing)
    code = main(["report", "--merge", str(failing), "-o", str(tmp_path / "index.html")])
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert out[-2].startswith("FAIL: ") and out[-1] == f"page: {tmp_path / 'index.html'}"
    assert "root causes of the failures" in out[0]
    assert main(["report", "--quiet", str(failing), "-o", str(tmp_path / "q.html")]) == 1
    assert capsys.readouterr().out.startswith("FAIL: ")


def test_merging_passing_shards_exits_0(verify_runs, tmp_path, capsys):
    shards = [str(verify_runs.json(name)) for name in ("shard-1", "shard-2")]
    assert main(["report", "--merge", *shards, "-o", str(tmp_path / "i.html"), "--quiet"]) == 0
    assert capsys.readouterr().out.startswith("PASS: ")


def test_a_lone_shard_rendered_says_its_verdict_covers_that_shard_only(
    verify_runs, tmp_path, capsys
):
    shard = str(verify_runs.json("shard-1"))
    assert main(["report", shard, "-o", str(tmp_path / "i.html"), "--quiet"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "note: this is shard 1/2 of a run; its verdict covers that shard's cases only "
        "(merge every shard with --merge)",
        "PASS: every comparison agrees (known errata shown as erratum)",
    ]


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (["unsharded", "unsharded"], "holds exactly the findings of"),
        (["shard-1", "shard-1", "shard-2"], "shard 1/2 given twice"),
        (["unsharded", "shard-1", "shard-2"], "repeats case-0 of manualbp.engine"),
    ],
    ids=["a report with itself", "a shard twice", "a run and its own shards"],
)
def test_overlapping_reports_are_refused_with_one_line_and_exit_2(
    verify_runs, tmp_path, capsys, inputs, message
):
    paths = []
    for position, name in enumerate(inputs):
        paths.append(tmp_path / f"{position}-{name}.json")
        shutil.copy(verify_runs.json(name), paths[-1])
    output = tmp_path / "index.html"
    assert main(["report", "--merge", *map(str, paths), "-o", str(output)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert not output.exists()


def _finding(impl: str, verdict: str, check: str = "fd") -> Finding:
    finding = Finding(check, "case-0", "grad.W1", verdict, 1.0, 1.0, 0.0, 0.0, 1e-8, 0.0)
    finding.impl = impl
    if check != "published":
        finding.detail["case_index"] = 0
    return finding


def test_an_implementation_with_nothing_passed_is_not_verified_beside_one_that_passed() -> None:
    from manualbp.report.model import outcome

    report = Report([_finding("good.py", "pass"), _finding("partial.py", "inconclusive")], {})
    result = outcome(report)
    assert result.exit_code == 1
    assert result.message == (
        "NOT VERIFIED: partial.py: every random case was skipped or inconclusive; nothing passed"
    )
    # an imprecise Finding is a comparison that agreed on the formulas
    report = Report([_finding("good.py", "pass"), _finding("partial.py", "imprecise")], {})
    assert outcome(report).exit_code == 0
    # a worked example one implementation does not cover was not drawn for it
    report = Report([_finding("engine", "pass", "published"),
                     _finding("mazur", "skipped", "published")], {})  # fmt: skip
    assert outcome(report).exit_code == 0
    report = Report([_finding("mazur", "skipped", "published")], {})
    assert outcome(report).message.startswith("NOT VERIFIED: every comparison was skipped")
    assert outcome(Report([], {})).message.startswith("NOT VERIFIED: the report holds no findings")

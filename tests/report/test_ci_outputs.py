"""The CI outputs: JUnit XML (validated against the schema of tests/report/fixtures) and the
Markdown summary, from a report and from the command line."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema
from conftest import HOSTILE, make_hostile

from manualbp.cli import main
from manualbp.findings import Finding
from manualbp.report.junit import render_junit
from manualbp.report.markdown import md_code, md_text, render_markdown
from manualbp.report.model import Report, read_report

SCHEMA = xmlschema.XMLSchema(Path(__file__).parent / "fixtures" / "junit.xsd")


def _cases(xml: str) -> dict[tuple[str, str], ET.Element]:
    root = ET.fromstring(xml)
    return {(c.attrib["classname"], c.attrib["name"]): c for c in root.iter("testcase")}


def test_junit_of_a_failing_run_is_valid_with_one_testcase_per_case(failing_report):
    xml = render_junit(failing_report)
    SCHEMA.validate(xml)
    cases = _cases(xml)
    keys = {(f"{f.impl}.{f.check}", f.case) for f in failing_report.findings}
    assert set(cases) == keys | {("manualbp", "verdict")}
    failing = {k for k, c in cases.items() if c.find("failure") is not None}
    impl = failing_report.findings[0].impl
    expected = {(f"{impl}.{check}", f"case-{i}") for check in ("fd", "autograd") for i in (1, 4)}
    assert failing == expected | {("manualbp", "verdict")}
    failure = cases[(f"{impl}.autograd", "case-1")].find("failure")
    assert failure.attrib["message"].startswith("undiagnosed: hidden error recurrence at layer 1")
    assert failure.text.splitlines()[-1] == (
        "reproduce: manualbp verify --impl manualbp.engine --checks autograd --case-seed 1001"
    )
    root = ET.fromstring(xml)
    assert root.attrib["tests"] == str(len(cases)) and root.attrib["failures"] == "5"
    skipped = cases[(f"{impl}.autograd", "case-6")].find("skipped")
    assert skipped is not None and "softmax_ce" in skipped.attrib["message"]


def test_junit_of_a_passing_run_has_no_failure(passing_report):
    xml = render_junit(passing_report)
    SCHEMA.validate(xml)
    root = ET.fromstring(xml)
    assert root.attrib["failures"] == "0"
    gate = _cases(xml)[("manualbp", "verdict")]
    assert gate.find("failure") is None and gate.find("system-out").text.startswith("PASS")


def test_a_run_that_verified_nothing_is_red_in_junit_too():
    skipped = [Finding("autograd", "case-0", "loss", "skipped", reason="no softmax", impl="x")]
    xml = render_junit(Report(skipped))
    SCHEMA.validate(xml)
    gate = _cases(xml)[("manualbp", "verdict")]
    assert gate.find("failure").attrib["message"].startswith("NOT VERIFIED")


def test_imprecise_fails_a_testcase_only_under_strict():
    finding = Finding("autograd", "case-0", "grad.W1[0,0]", "imprecise", 1.0, 1.0, 0.0, 0.0)
    finding.impl = "x"
    relaxed = _cases(render_junit(Report([finding], {"strict": False})))
    strict = _cases(render_junit(Report([finding], {"strict": True})))
    assert relaxed[("x.autograd", "case-0")].find("failure") is None
    assert strict[("x.autograd", "case-0")].find("failure").attrib["type"] == "imprecise"


def test_hostile_strings_give_valid_xml_shown_as_text():
    report = make_hostile()
    report.findings[0].reason += " \x1b[31m\x00\x07"
    xml = render_junit(report)
    SCHEMA.validate(xml)
    root = ET.fromstring(xml)
    assert any(HOSTILE in (c.attrib["name"]) for c in root.iter("testcase"))
    assert "\\x1b[31m\\x00\\x07" in xml and "<script>" not in xml


def test_markdown_is_short_and_leads_with_the_verdict_and_cause(failing_report):
    text = render_markdown(failing_report)
    assert text.startswith("## ❌ manualbp: FAIL: 10 finding(s) disagree\n")
    assert "### Root causes (1)" in text
    assert "> hidden error recurrence at layer 1: only unit 0 wrong" in text
    assert "manualbp verify --impl manualbp.engine --checks" in text
    assert len(text) < 4000


def _outside_code(text: str) -> str:
    """The Markdown text outside fenced blocks and inline code spans (which render
    literally)."""
    kept, fence = [], None
    for line in text.splitlines():
        opening = re.match(r"^(`{3,})$", line)
        if fence is None and opening:
            fence = opening.group(1)
        elif fence is not None and line == fence:
            fence = None
        elif fence is None:
            kept.append(re.sub(r"(`+)(?!`).*?(?<!`)\1(?!`)", "", line))
    return "\n".join(kept)


def test_markdown_escapes_what_an_implementation_wrote():
    text = render_markdown(make_hostile())
    outside = _outside_code(text).replace("<sub>", "").replace("</sub>", "")
    assert "<" not in outside and ">" not in outside.replace("\n> ", "\n")
    assert "&lt;script&gt;" in outside
    assert md_text("a|b*c_d<e>") == "a\\|b\\*c\\_d&lt;e&gt;"
    assert md_code("x`y|z") == "``x`y\\|z``"


def test_verify_writes_junit_and_markdown_next_to_the_report(verify_runs, tmp_path, capsys):
    source = str(verify_runs.json("failing"))
    junit, markdown = tmp_path / "ci" / "junit.xml", tmp_path / "ci" / "summary.md"
    outputs = ["-o", str(tmp_path / "p.html"), "--junit", str(junit), "--markdown", str(markdown)]
    code = main(["report", source, *outputs])
    assert code == 1
    out = capsys.readouterr().out.splitlines()
    assert out[-2:] == [f"junit: {junit}", f"markdown: {markdown}"]
    SCHEMA.validate(str(junit))
    assert markdown.read_text(encoding="utf-8") == render_markdown(read_report(source))


def test_two_outputs_on_one_path_are_a_usage_error(verify_runs, tmp_path, capsys):
    same = str(tmp_path / "out.xml")
    source = str(verify_runs.json("unsharded"))
    assert main(["report", source, "-o", same, "--junit", same]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--junit and -o/--output both name" in err
    assert not Path(same).exists()


@pytest.mark.parametrize("option", ["--junit", "--markdown"])
def test_an_unwritable_ci_output_is_refused_before_the_run(tmp_path, capsys, option):
    folder = tmp_path / "a-directory"
    folder.mkdir()
    command = ["verify", "--impl", "manualbp.engine", "--cases", "1", "--checks", "fd"]
    assert main([*command, "--json", str(tmp_path / "r.json"), option, str(folder)]) == 2
    assert f"{option}: {folder} is a directory" in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()

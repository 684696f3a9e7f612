"""The page's structure, parsed: every section, what it shows, and that it is self-contained."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from manualbp.findings import Finding
from manualbp.report.html import CSP, render_html, write_html
from manualbp.report.model import Report, read_report

FAILING_SECTIONS = [
    "verdict",
    "causes",
    "summary",
    "check-1",
    "check-2",
    "check-3",
    "cases",
    "step-curve",
    "published",
    "kill-matrix",
    "metadata",
]


@pytest.fixture
def page(failing_html, parse_html):
    return parse_html(failing_html)


def _section(page, anchor):
    node = page.by_id(anchor)
    assert node is not None, f"no #{anchor}"
    return node


def test_every_section_is_present_in_order_and_linked(page):
    ids = [n.attrs["id"] for n in page.iter() if n.attrs.get("id") in FAILING_SECTIONS]
    assert ids == FAILING_SECTIONS
    links = {n.attrs.get("href") for n in page.find_all("nav")[0].find_all("a")}
    assert {f"#{anchor}" for anchor in FAILING_SECTIONS if anchor != "verdict"} <= links


def test_page_is_self_contained_with_a_strict_policy(page, failing_html):
    head = page.find_all("head")[0]
    policy = [m for m in head.find_all("meta") if m.attrs.get("http-equiv")]
    assert [m.attrs["content"] for m in policy] == [CSP]
    assert "default-src 'none'" in CSP and "script-src 'none'" in CSP
    assert page.find_all("script") == [] and page.find_all("iframe") == []
    for node in page.iter():
        for name, value in node.attrs.items():
            if name in ("src", "href", "xlink:href", "action"):
                assert value.startswith(("#", "data:")), (node.tag, name, value)
            assert not name.startswith("on"), (node.tag, name)
    assert "url(http" not in failing_html and "@import" not in failing_html
    styles = [s for s in page.find_all("style") if "svg" not in s.ancestors()]
    assert len(styles) == 1


def test_verdict_banner_says_fail_with_the_count(page):
    banner = _section(page, "verdict")
    assert "fail" in banner.attrs["class"].split()
    assert banner.text().startswith("FAIL: 10 finding(s) disagree")


def test_summary_counts_every_verdict_per_check(page, failing_report):
    rows = _section(page, "summary").find_all("tbody")[0].find_all("tr")
    shown = {}
    for row in rows:
        cells = [td.text() for td in row.find_all("td")]
        shown[cells[1]] = [int(c) for c in cells[2:]]
    expected = {check: list(counts.values()) for check, counts in failing_report.summary.items()}
    assert shown == expected


def test_the_root_cause_leads_once_with_its_cases_and_reproduction(page, failing_report):
    (cause,) = _section(page, "causes").find_all("article", cls="cause")
    sentences = [p.text() for p in cause.find_all("p", cls="sentence")]
    assert sentences == ["hidden error recurrence at layer 1: only unit 0 wrong"]
    assert "Shows in 2 case(s)" in cause.text()
    commands = [pre.text() for pre in cause.find_all("pre", cls="cmd")]
    assert len(commands) == 1 and re.search(r"--case-seed 100[14]$", commands[0])
    fails = [f for f in failing_report.findings if f.verdict == "fail"]
    folded = cause.find_all("details")[0]
    rows = folded.find_all("table", cls="findings")[0].find_all("tbody")[0].find_all("tr")
    assert len(rows) == len(fails)
    worst = cause.find_all("table", cls="worst")[0].find_all("tbody")[0].find_all("tr")
    methods = [(row.find_all("td")[0].text(), row.find_all("td")[1].text()) for row in worst]
    assert sorted(methods) == [("autograd", "—"), ("fd", "central")]
    assert page.text().count("hidden error recurrence at layer 1") == 1, "said once"


def test_check_sections_summarise_and_point_to_the_causes(page, failing_report):
    for anchor in ("check-1", "check-2", "check-3"):
        section = _section(page, anchor)
        name = section.find_all("h2")[0].text().removeprefix("Check: ")
        findings = [f for f in failing_report.findings if f.check == name]
        if name == "published":
            assert section.find_all("a")[0].attrs["href"] == "#published"
            assert section.find_all("svg") == [], "each printed number is in its own table"
        else:
            assert section.find_all("a")[0].attrs["href"] == "#causes"
            assert len(section.find_all("svg")) == 1, "one distribution plot per check"
            rows = section.find_all("table")[0].find_all("tbody")[0].find_all("tr")
            assert len(rows) == {"fd": 2, "autograd": 4}[name]
            caption = section.find_all("p")[1].text()
            fails = sum(f.verdict == "fail" for f in findings)
            assert f"{fails} fail, from " in caption
        undecided = [f for f in findings if f.verdict in ("inconclusive", "skipped")]
        folded = section.find_all("details")
        assert len(folded) == (1 if undecided else 0)
        if undecided:
            assert undecided[0].reason in folded[0].text()


def test_failing_cases_show_heat_maps_and_localise_by_layer(page):
    section = _section(page, "cases")
    cases = section.find_all("div", cls="case")
    assert len(cases) == 1, "the smallest case of the one root cause"
    for case in cases:
        svgs = case.find_all("svg")
        assert len(svgs) == 2
        assert any(
            i.attrs.get("xlink:href", "").startswith("data:image/png")
            for i in svgs[0].find_all("image")
        )
    autograd = [c for c in cases if "autograd" in c.find_all("h3")[0].text()]
    for case in autograd:
        flagged = case.find_all("tr", cls="first-bad")
        assert len(flagged) == 1
        assert flagged[0].find_all("td")[0].text() == "1"
        assert "δ first disagrees here" in flagged[0].text()


def test_step_curve_is_plotted_with_a_computed_caption(page):
    section = _section(page, "step-curve")
    assert len(section.find_all("svg")) == 1
    assert "chosen step h = 4.6e-06" in section.text()
    (caption,) = [li.text() for li in section.find_all("li")]
    assert "minimum" in caption and "grows like h^2.0 (truncation)" in caption
    assert "the chosen step 4.6e-06 sits near the bottom" in caption


def test_published_numbers_side_by_side_with_errata_and_evidence(page):
    section = _section(page, "published")
    assert "M. Mazur, A Step by Step Backpropagation Example, 2015" in section.text()
    rows = section.find_all("tr", cls="erratum")
    assert len(rows) == 2
    assert rows[0].find_all("td")[0].text() == "w5 after the update update.W2[0,0]"
    printed = [row.find_all("td")[1].text() for row in rows]
    assert printed == ["0.35891648", "0.0000351085"]
    remarks = [row.text() for row in section.find_all("tr", cls="remarks")]
    assert remarks == [
        "the source rounds out_h1 before the update correct value: 0.3589164797 "
        "fd: agrees to 1e-11 autograd: agrees to 1e-15 reproduced by: rounding out_h1 to 9 "
        "decimals",
        "printed by an earlier version of the author's code autograd: same trajectory to "
        "1e-12 note: the companion code prints 0.000035085",
    ]
    passing = section.find_all("tr", cls="pass")
    assert [r.find_all("td")[1].text() for r in passing] == ["0.75136507"]


def test_kill_matrix_flags_the_survivor(page):
    section = _section(page, "kill-matrix")
    survivors = section.find_all("tr", cls="survivor")
    assert [row.find_all("td")[0].text() for row in survivors] == ["sigma_at_output"]
    assert "1 survived every check" in section.text()


def test_run_metadata_without_shard_labels(page):
    section = _section(page, "metadata")
    keys = [th.text() for th in section.find_all("th")]
    assert {"manualbp", "seed", "dtype", "checks"} <= set(keys)
    assert "shard" not in keys and "shards" not in keys
    assert "fd, autograd, published" in section.text()
    assert "4.000" in section.text()


def test_passing_page_says_pass_and_has_no_failure_sections(passing_html, parse_html):
    page = parse_html(passing_html)
    banner = page.by_id("verdict")
    assert "pass" in banner.attrs["class"].split()
    assert banner.text().startswith("PASS")
    assert page.by_id("cases") is None and page.by_id("kill-matrix") is None
    assert "No finding failed." in page.by_id("summary").text()
    assert page.by_id("causes") is None
    assert page.by_id("published") is not None and page.by_id("step-curve") is not None


def test_page_without_findings_renders():
    html = render_html(Report())
    assert "The report holds no findings." in html and "NOT VERIFIED" in html


def test_thousands_of_passing_findings_stay_small():
    findings = [
        Finding(
            "autograd",
            f"case-{i // 20}",
            f"grad.W1[{i % 20},0]",
            "pass",
            1.0 + i * 1e-9,
            1.0 + i * 1e-9 + 1e-15,
            1e-15,
            1e-15,
            1e-10,
            1e-12,
            detail={"case_index": i // 20},
        )
        for i in range(5000)
    ]
    html = render_html(Report(findings))
    assert len(html) < 400_000
    assert "1000 of 5000 passing points drawn" in html
    assert "<article" not in html


def test_write_html_writes_the_rendered_page(tmp_path, passing_report, passing_html):
    target = write_html(passing_report, tmp_path / "out" / "index.html")
    assert target.read_text(encoding="utf-8") == passing_html


def test_page_bytes_do_not_depend_on_the_process(tmp_path, run):
    source = run(cases=2, broken=(1,), kill=True).write(tmp_path / "report.json")
    output = tmp_path / "index.html"
    script = (
        "import sys, pathlib; from manualbp.report.html import report_command; "
        "report_command([pathlib.Path(sys.argv[1])], pathlib.Path(sys.argv[2]))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-c", script, str(source), str(output)], env=env, check=True)
    assert output.read_text(encoding="utf-8") == render_html(read_report(source))

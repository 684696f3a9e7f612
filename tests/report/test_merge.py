"""Merging shards gives the page of the unsharded run; bad input never replaces a good page."""

from __future__ import annotations

import pytest
from pages import without_invocation
from report_damage import BAD_INPUTS

from manualbp.errors import ReportError
from manualbp.report.html import merge_files, render_html, report_command
from manualbp.report.merge import merge_reports
from manualbp.report.model import canonical_order


@pytest.fixture
def unsharded(run):
    return run(cases=7, broken=(5,), kill=True)


def test_merged_shards_give_the_page_of_the_unsharded_run(unsharded, split):
    shards = split(unsharded, 3)
    assert [len(s.findings) > 0 for s in shards] == [True, True, True]
    merged = merge_reports(reversed(shards))
    assert without_invocation(render_html(merged)) == without_invocation(render_html(unsharded))


def test_merged_findings_are_in_canonical_order(unsharded, split):
    merged = merge_reports(split(unsharded, 2)[::-1])
    expected = canonical_order(unsharded.findings)
    assert [f.to_dict() for f in merged.findings] == [f.to_dict() for f in expected]
    assert merged.metadata["shard"] is None
    assert merged.metadata["shards"] == ["1/2", "2/2"]
    assert merged.metadata["timings"] == unsharded.metadata["timings"]


def test_merge_does_not_depend_on_the_order_of_the_shards(unsharded, split):
    shards = split(unsharded, 3)
    shards[1].metadata["platform"] = "machine B"
    forward, backward = merge_reports(shards), merge_reports(shards[::-1])
    assert forward.to_dict() == backward.to_dict()
    assert forward.metadata.get("platform") is None


def test_canonical_order_sorts_by_implementation_check_and_case_index(run):
    findings = canonical_order(run(cases=12).findings[::-1])
    keys = [
        (f.impl, ("fd", "autograd", "published").index(f.check), f.detail.get("case_index", 99))
        for f in findings
    ]
    assert keys == sorted(keys)
    indices = [f.detail["case_index"] for f in findings if f.check == "fd"]
    assert indices[:2] == [0, 0] and 10 in indices and indices.index(10) > indices.index(2)


def test_canonical_order_keeps_the_order_of_one_case(run):
    findings = run(cases=2).findings
    case0 = [f.quantity for f in findings if f.case == "case-0" and f.check == "autograd"]
    ordered = canonical_order(findings)
    assert [f.quantity for f in ordered if f.case == "case-0" and f.check == "autograd"] == case0


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (["1/2", "1/2"], "shard 1/2 given twice"),
        (["1/3", "2/3"], "shard(s) 3/3 missing"),
        (["1/2", "2/3"], "shards of different splits"),
        (["1/2", "two/2"], "is not of the form i/n"),
        (["1/2", "3/2"], "needs 1 <= i <= n"),
    ],
)
def test_shards_must_be_one_complete_run(unsharded, split, labels, message):
    shards = split(unsharded, 2)
    for shard, label in zip(shards, labels, strict=True):
        shard.metadata["shard"] = label
    with pytest.raises(ReportError, match=r"^merge: ") as raised:
        merge_reports(shards)
    assert message in str(raised.value)


@pytest.mark.parametrize("key", ["seed", "cases", "impls", "space"])
def test_shards_of_different_runs_do_not_merge(unsharded, split, key):
    first, second = split(unsharded, 2)
    second.metadata[key] = "something else"
    with pytest.raises(ReportError, match=f"shards disagree on {key}"):
        merge_reports([first, second])


def test_malformed_timings_are_a_report_error(unsharded, split):
    first, second = split(unsharded, 2)
    second.metadata["timings"] = {"total": "fast"}
    with pytest.raises(ReportError, match=r"metadata\.timings"):
        merge_reports([first, second])


def test_reports_of_different_implementations_concatenate(run):
    first, second = run(cases=1), run(cases=1)
    for finding in second.findings:
        finding.impl = "another.implementation"
    merged = merge_reports([first, second])
    assert len(merged.findings) == 2 * len(first.findings)
    assert {f.impl for f in merged.findings} == {first.findings[0].impl, "another.implementation"}


def test_a_report_merged_with_itself_is_refused(run):
    report = run(cases=2)
    with pytest.raises(ReportError, match=r"exactly the findings of a\.json") as raised:
        merge_reports([report, report], ["a.json", "b.json"])
    assert "\n" not in str(raised.value)


def test_overlapping_shards_are_refused(unsharded, split):
    first, second = split(unsharded, 2)
    repeated = next(f for f in first.findings if "case_index" in f.detail)
    second.findings.append(repeated)
    with pytest.raises(ReportError, match=f"b.json repeats {repeated.case} of "):
        merge_reports([first, second], ["a.json", "b.json"])


def test_the_same_worked_example_twice_is_refused(run):
    first, second = run(cases=1), run(cases=1)
    second.findings = [f for f in second.findings if f.check == "published"]
    first.findings = [f for f in first.findings if f.check != "published"] + [
        f for f in run(cases=1).findings if f.check == "published"
    ]
    with pytest.raises(ReportError, match=r"repeats mazur-2015 of .* \(published\)"):
        merge_reports([first, second])


def _write(reports, directory):
    paths = []
    for i, report in enumerate(reports):
        paths.append(report.write(directory / f"shard-{i}.json"))
    return paths


def test_report_command_merges_files_into_the_unsharded_page(tmp_path, run, split):
    small = run(cases=4, broken=(3,))
    paths = _write(split(small, 2), tmp_path)
    single = small.write(tmp_path / "all.json")
    merged_page = report_command(paths, tmp_path / "merged" / "index.html")
    single_page = report_command([single], tmp_path / "single.html")
    merged_text, single_text = (p.read_text(encoding="utf-8") for p in (merged_page, single_page))
    assert without_invocation(merged_text) == without_invocation(single_text)
    assert merge_files(paths).summary == small.summary


@pytest.mark.parametrize("merge", [False, True], ids=["single", "merge"])
@pytest.mark.parametrize("damage", list(BAD_INPUTS))
def test_bad_input_is_one_line_and_leaves_the_good_page(tmp_path, unsharded, split, damage, merge):
    paths = _write(split(unsharded, 2), tmp_path)
    output = tmp_path / "index.html"
    good = "<!DOCTYPE html><title>the last good report</title>"
    output.write_text(good, encoding="utf-8")
    spoil, message = BAD_INPUTS[damage]
    spoil(paths[-1])
    inputs = paths if merge else paths[-1:]
    with pytest.raises(ReportError, match=message) as raised:
        report_command(inputs, output)
    assert "\n" not in str(raised.value)
    assert str(paths[-1]) in str(raised.value)
    assert output.read_text(encoding="utf-8") == good
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".index.html")] == []


def test_no_inputs_is_a_report_error(tmp_path):
    with pytest.raises(ReportError, match="no report files"):
        report_command([], tmp_path / "index.html")
    with pytest.raises(ReportError, match="no report files"):
        merge_files([])

"""``manualbp report`` and ``manualbp verify --html`` from the command line (in process).

A page made from shards must be the page of the unsharded run: the real runs of
:func:`verify_runs` are compared byte for byte, except the ``<div id="invocation">`` block —
the command lines and the seconds measured on this machine, the one part of a page that is
not a function of the cases and the run settings (a merged report lists the shards'
commands and sums their timings).
"""

from __future__ import annotations

import re

import pytest
from pages import without_invocation
from report_damage import BAD_INPUTS

from manualbp.cli import main
from manualbp.report.html import render_html
from manualbp.report.model import read_report


def test_merged_shards_of_a_real_run_give_its_page(verify_runs, tmp_path, capsys):
    merged = tmp_path / "merged" / "index.html"
    shards = [str(verify_runs.json("shard-2")), str(verify_runs.json("shard-1"))]
    assert main(["report", "--merge", *shards, "-o", str(merged)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[-1] == f"page: {merged}"
    assert printed[-2].startswith("PASS: every comparison agrees")
    unsharded = verify_runs.html("unsharded").read_text(encoding="utf-8")
    page = merged.read_text(encoding="utf-8")
    assert without_invocation(page) == without_invocation(unsharded)
    # Both shards contributed random cases, and the worked example ran once.
    cases = {f.case for f in read_report(verify_runs.json("shard-2")).findings}
    assert cases == {"case-1", "case-3"}
    assert page.count('id="published"') == 1


def test_verify_prints_and_writes_the_page_next_to_the_json(verify_runs):
    for name in ("unsharded", "failing"):
        printed = verify_runs.outputs[name].splitlines()[-2:]
        assert printed == [f"report: {verify_runs.json(name)}", f"page: {verify_runs.html(name)}"]
    expected = render_html(read_report(verify_runs.json("unsharded")))
    assert verify_runs.html("unsharded").read_text(encoding="utf-8") == expected
    failing = verify_runs.html("failing").read_text(encoding="utf-8")
    assert "<title>manualbp report: FAIL</title>" in failing


def test_default_paths_are_reports_report_json_and_index_html(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    tiny = ["verify", "--impl", "manualbp.engine", "--cases", "1", "--depth", "1-1"]
    assert main([*tiny, "--checks", "fd"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-2:] == ["report: reports/report.json", "page: reports/index.html"]
    assert (
        (tmp_path / "reports" / "index.html")
        .read_text(encoding="utf-8")
        .startswith("<!DOCTYPE html>")
    )
    assert main(["report", "reports/report.json"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "page: reports/index.html"
    assert main([*tiny, "--checks", "fd", "--json", "quiet/r.json", "--no-html"]) == 0
    assert main([*tiny, "--checks", "fd", "--json", "empty/r.json", "--html", ""]) == 0
    assert sorted(p.name for p in (tmp_path / "quiet").iterdir()) == ["r.json"]
    assert sorted(p.name for p in (tmp_path / "empty").iterdir()) == ["r.json"]


@pytest.mark.parametrize("merge", [False, True], ids=["single", "merge"])
@pytest.mark.parametrize("damage", list(BAD_INPUTS))
def test_bad_input_exits_2_with_one_line_and_keeps_the_page(
    verify_runs, tmp_path, capsys, damage, merge
):
    output = tmp_path / "index.html"
    good = verify_runs.html("unsharded").read_bytes()
    output.write_bytes(good)
    shards = []
    for name in ("shard-1", "shard-2"):
        shards.append(tmp_path / f"{name}.json")
        shards[-1].write_bytes(verify_runs.json(name).read_bytes())
    spoil, message = BAD_INPUTS[damage]
    spoil(shards[-1])
    command = ["report", "--merge", *map(str, shards)] if merge else ["report", str(shards[-1])]
    assert main([*command, "-o", str(output)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("manualbp report: error: ")
    assert captured.err.count("\n") == 1 and re.search(message, captured.err)
    assert output.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".index.html")] == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ([], "got no report file"),
        (["--merge", "SHARD1"], r"shard\(s\) 2/2 missing"),
        (["UNSHARDED", "-o", "OUT_DIR"], "-o/--output: .* is a directory"),
    ],
    ids=["no input", "lone shard", "output is a directory"],
)
def test_usage_errors_exit_2_with_one_line(verify_runs, tmp_path, capsys, arguments, message):
    words = {
        "SHARD1": str(verify_runs.json("shard-1")),
        "UNSHARDED": str(verify_runs.json("unsharded")),
        "OUT_DIR": str(tmp_path),
    }
    assert main(["report", *(words.get(a, a) for a in arguments)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and re.search(message, err), err


def test_help_names_the_report_command_and_the_page_options(capsys):
    assert main(["report", "--help"]) == 0
    text = capsys.readouterr().out
    assert "--merge JSON [JSON ...]" in text and "-o OUTPUT, --output OUTPUT" in text
    assert main(["verify", "--help"]) == 0
    text = capsys.readouterr().out
    assert "--html PATH" in text and "--no-html" in text

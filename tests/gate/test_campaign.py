"""The false-alarm campaign on a CI-sized subset: no fail on the correct engine, counts add up."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def campaign():
    """campaigns.false_alarms, importable from the checkout whatever the working directory."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(ROOT))
        yield importlib.import_module("campaigns.false_alarms")


def test_ci_subset_has_no_false_alarm_and_its_counts_add_up(campaign, tmp_path: Path) -> None:
    path = tmp_path / "fa.json"
    cases = 2 * campaign.CHUNK + 4  # three chunks, so the merging of tallies is exercised
    assert (
        campaign.main(["--cases", str(cases), "--seed", "3", "--json", str(path), "--quiet"]) == 0
    )
    summary = json.loads(path.read_text(encoding="utf-8"))
    assert summary["complete"] and summary["cases_done"] == summary["cases_planned"] == cases
    assert set(summary["findings"]) == {"fd", "autograd"}
    inconclusive = 0
    for check, row in summary["findings"].items():
        assert row.get("fail", 0) == 0, summary["fails"]
        with_verdict = summary["cases_with"][check]
        # every case gave each check at least one Finding, and no verdict is in more cases
        # than there are cases or in more cases than it has Findings
        assert with_verdict["pass"] == cases
        assert all(with_verdict[v] <= min(cases, row[v]) for v in with_verdict)
        inconclusive += row.get("inconclusive", 0) + row.get("imprecise", 0)
    assert sum(summary["reasons"].values()) == inconclusive
    assert summary["fails"] == []


def test_shards_add_up_to_the_whole_run(campaign) -> None:
    from manualbp.plan import Shard

    def run(shard: Shard | None):
        return campaign.run_campaign("manualbp.engine", 5, 6, ("fd",), shard=shard)

    whole = run(None)
    parts = campaign.Tally()
    for shard in (Shard(1, 2), Shard(2, 2)):
        parts.add(run(shard))
    assert parts.cases == whole.cases == 6
    assert parts.findings == whole.findings
    assert parts.cases_with == whole.cases_with


def test_reason_keys_group_equal_causes(campaign) -> None:
    first = campaign.reason_key(
        "autograd",
        "",
        "grad.W2[1,0]",
        "pre-activations within rounding of 0 at a kink in layer 1 (relu, 3 entries); PyTorch…",
    )
    second = campaign.reason_key(
        "autograd",
        "",
        "grad.W1[0,0]",
        "pre-activations within rounding of 0 at a kink in layer 2 (relu, 1 entries), layer 3 "
        "(leaky_relu, 2 entries); PyTorch…",
    )
    assert first == second == "autograd/grad: pre-activations within rounding of # at a kink"
    overflow = campaign.reason_key(
        "autograd", "", "step4.W1", "the reference loss ... before step 4: the trajectory left"
    )
    assert overflow == "autograd/step: the reference loss ... before step #"


@pytest.mark.parametrize(
    "options", [["--cases", "0"], ["-j", "x"], ["--shard", "3/2"], ["--checks", "published"]]
)
def test_bad_options_exit_2(campaign, options: list[str], tmp_path: Path, capsys) -> None:
    path = tmp_path / "fa.json"
    assert campaign.main([*options, "--json", str(path), "--quiet"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert not path.exists()


def test_corpus_bug_campaign_runs_the_cli_and_names_the_bug(tmp_path: Path) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(ROOT))
        corpus_bugs = importlib.import_module("campaigns.corpus_bugs")
    path = tmp_path / "bugs.json"
    argv = ["--only", "nielsen", "--bug", "BUG_HIDDEN_ERROR_W_NOT_TRANSPOSED", "--cases", "2",
            "--json", str(path)]  # fmt: skip
    assert corpus_bugs.main(argv) == 0
    [row] = json.loads(path.read_text(encoding="utf-8"))["bugs"]
    # the run went through `manualbp verify` (exit 1 on a failing gradient) and every failing
    # case was diagnosed as the bug the corpus declares
    assert row["exit"] == 1 and row["failing_cases"] == 2
    assert row["kinds"] == {"transposed": 2} and row["caught"]

"""The pipeline redesign kept the findings: the default run and selftest give the verdict
counts, per implementation and check, that manualbp gave before it (recorded in
``verdict_counts_before_redesign.json`` on fixed seeds)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from manualbp.findings import Finding
from manualbp.mutants import MUTANTS
from manualbp.selftest import SelftestOptions, run_selftest
from manualbp.verify import VerifyOptions, run_verify

MLP_MUTANTS = tuple(MUTANTS)
BEFORE = json.loads(
    (Path(__file__).parent / "verdict_counts_before_redesign.json").read_text(encoding="utf-8")
)


def verdict_counts(findings: list[Finding]) -> dict[str, dict[str, int]]:
    table: dict[str, dict[str, int]] = {}
    for finding in findings:
        row = table.setdefault(f"{finding.impl} {finding.check}", {})
        row[finding.verdict] = row.get(finding.verdict, 0) + 1
    return {key: dict(sorted(row.items())) for key, row in sorted(table.items())}


@pytest.mark.parametrize(
    ("name", "run"),
    [
        ("verify", lambda: run_verify(VerifyOptions(shrink=False))),
        # the MLP mutants by name: the layer mutants, added since, are left out
        (
            "selftest_cases_1",
            lambda: run_selftest(SelftestOptions(cases=1, mutants=tuple(MUTANTS))),
        ),
    ],
)
def test_verdict_counts_are_those_before_the_redesign(name, run) -> None:
    assert verdict_counts(run().findings) == BEFORE[name]

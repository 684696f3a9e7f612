"""The plugin as a user meets it: a project of its own, outside this repository, with one
test file and no conftest, run by ``python -m pytest`` in a subprocess.

The test file defines a tiny correct implementation (one affine layer, ½·SSE) and checks a
mutant of the catalogue; both go through the ``manualbp_check`` fixture with the
finite-difference check only (autograd would load torch in every process, and is covered
in-process by test_assert_helper.py). Hypothesis's own pytest plugin is switched off in
the subprocess for the same reason: it costs a second per process and plays no part here.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from manualbp.report.model import read_report

TEST_FILE = textwrap.dedent(
    '''
    import numpy as np

    from manualbp import Architecture

    LINEAR = Architecture(sizes=(3, 2), activations=("identity",), loss="half_sse")


    class TinyLinear:
        """E = ½ Σ (x Wᵀ + b − y)²: dE/dW = rᵀ x, dE/db = Σ_rows r, r = x Wᵀ + b − y."""

        name = "tiny-linear"

        def loss(self, arch, params, x, y):
            r = x @ params["W1"].T + params["b1"] - y
            return 0.5 * float(np.sum(r * r))

        def gradients(self, arch, params, x, y):
            r = x @ params["W1"].T + params["b1"] - y
            return 0.5 * float(np.sum(r * r)), {"W1": r.T @ x, "b1": r.sum(axis=0)}


    def test_tiny_linear_matches(manualbp_check):
        manualbp_check(TinyLinear(), 2, arch=LINEAR, checks=("fd",))


    def test_sign_flipped_mutant_is_caught(manualbp_check):
        spec = "manualbp.mutants:squared_loss_gradient_sign_flipped"
        manualbp_check(spec, 1, seed=4, checks=("fd",))
    '''
)
MUTANT = "squared-loss-gradient-sign-flipped"
TESTS = {
    "test_gradients.py::test_tiny_linear_matches": "tiny-linear",
    "test_gradients.py::test_sign_flipped_mutant_is_caught": MUTANT,
}


def _run_pytest(project: Path, *options: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:hypothesispytest",
    ]
    return subprocess.run(
        [*command, *options],
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A directory holding only test_gradients.py (tmp_path is outside the repository)."""
    (tmp_path / "test_gradients.py").write_text(TEST_FILE, encoding="utf-8")
    return tmp_path


def _check_report(project: Path, result: subprocess.CompletedProcess[str]) -> list:
    """The outcome every run must have; returns the report's Findings."""
    output = result.stdout
    assert result.returncode == 1, output + result.stderr
    assert "1 failed, 1 passed" in output
    message = output[output.index("AssertionError: manualbp:") :]
    assert f"{MUTANT}: FAIL:" in message
    worst = message.splitlines()[1]
    assert worst.startswith("E       worst: fd case-0 grad.")
    assert "[" in worst.split("grad.", 1)[1]  # the index of the worst entry
    for label in ("implementation ", "reference ", "relative error ", "> rtol ", "seed: "):
        assert label in message, label
    spec = "manualbp.mutants:squared_loss_gradient_sign_flipped"
    assert f"reproduce: manualbp verify --impl {spec} --checks fd --case-seed" in message
    json_path, html_path = project / "out" / "tests.json", project / "out" / "tests.html"
    summary = next(line for line in output.splitlines() if line.startswith("manualbp report: "))
    assert summary.endswith(f"{json_path} {html_path}")
    report = read_report(json_path)
    assert html_path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    by_test = {f.detail["test"]: f.impl for f in report.findings}
    assert by_test == TESTS
    failed = sum(f.verdict == "fail" for f in report.findings)
    assert f"{len(report.findings)} findings, {failed} failed" in summary
    assert failed > 0
    assert all(f.verdict == "pass" for f in report.findings if f.impl == "tiny-linear")
    return report.findings


def test_a_fresh_project_gets_failures_explained_and_one_report(project):
    result = _run_pytest(project, "--manualbp-report", "out/tests.html")
    findings = _check_report(project, result)
    assert not any("xdist_worker" in f.detail for f in findings)


def test_xdist_workers_send_their_findings_to_one_report(project):
    result = _run_pytest(project, "-n", "2", "--manualbp-report", "out/tests.json")
    findings = _check_report(project, result)
    workers = {f.detail["test"]: f.detail["xdist_worker"] for f in findings}
    # Two tests on two workers: xdist hands one to each, so both workers' Findings arrived.
    assert sorted(workers.values()) == ["gw0", "gw1"]

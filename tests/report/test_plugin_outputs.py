"""The pytest plugin's CI outputs: ``--manualbp-junit`` and ``--manualbp-markdown``, with or
without ``--manualbp-report``, in a fresh project run by a pytest of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import xmlschema

SCHEMA = xmlschema.XMLSchema(Path(__file__).parent / "fixtures" / "junit.xsd")
TEST_FILE = """
def test_sign_flipped_mutant_is_caught(manualbp_check):
    manualbp_check("manualbp.mutants:squared_loss_gradient_sign_flipped", 1, seed=4, checks=("fd",))
"""


def _pytest(project: Path, *options: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"]
    return subprocess.run(
        [*command, *options], cwd=project, env=environment, capture_output=True, text=True
    )


def test_junit_and_markdown_without_the_html_report(tmp_path):
    (tmp_path / "test_gradients.py").write_text(TEST_FILE, encoding="utf-8")
    options = ("--manualbp-junit", "ci/junit.xml", "--manualbp-markdown", "ci/summary.md")
    result = _pytest(tmp_path, *options)
    assert result.returncode == 1, result.stdout + result.stderr
    junit, summary = tmp_path / "ci" / "junit.xml", tmp_path / "ci" / "summary.md"
    line = next(x for x in result.stdout.splitlines() if x.startswith("manualbp report: "))
    assert line.endswith(f"{junit} {summary}")
    SCHEMA.validate(str(junit))
    assert 'classname="squared-loss-gradient-sign-flipped.fd"' in junit.read_text("utf-8")
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("## ❌ manualbp: FAIL")
    command = "pytest -p no:cacheprovider --manualbp-junit ci/junit.xml --manualbp-markdown"
    assert f"<sub>{command} ci/summary.md</sub>" in text, "the command line, arguments included"
    assert sorted(p.name for p in (tmp_path / "ci").iterdir()) == ["junit.xml", "summary.md"]


def test_an_unwritable_output_is_a_usage_error(tmp_path):
    (tmp_path / "test_gradients.py").write_text(TEST_FILE, encoding="utf-8")
    (tmp_path / "ci").mkdir()
    result = _pytest(tmp_path, "--manualbp-junit", "ci")
    assert result.returncode == 4, result.stdout + result.stderr
    assert "--manualbp-junit:" in result.stderr and "is a directory" in result.stderr

"""The CI recipes under examples/ run a real gate: their ``manualbp verify`` command parses,
writes every output it names, and its JUnit file is what CI reporters read."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest
import xmlschema

from manualbp.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[2]
RECIPES = sorted((ROOT / "examples").glob("*.yml"))
README_EXAMPLE = Path(__file__).parent / "readme_mlp.py"
SCHEMA = xmlschema.XMLSchema(Path(__file__).parent / "fixtures" / "junit.xsd")


def verify_command(recipe: Path) -> list[str]:
    """The words of the recipe's ``manualbp verify`` command (a YAML folded block: the
    line that starts it and the lines indented like it)."""
    lines = recipe.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("manualbp verify"))
    indent = len(lines[start]) - len(lines[start].lstrip())
    words = []
    for line in lines[start:]:
        if len(line) - len(line.lstrip()) != indent or not line.strip():
            break
        words += shlex.split(line)
    return words


def test_there_are_recipes_for_github_and_gitlab():
    assert [r.name for r in RECIPES] == ["github-actions.yml", "gitlab-ci.yml"]


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda r: r.name)
def test_the_recipe_command_is_a_valid_gate_with_every_output(recipe):
    words = verify_command(recipe)
    assert words[:2] == ["manualbp", "verify"]
    args = build_parser().parse_args(words[1:])
    assert args.junit and args.markdown and args.json and args.html
    text = recipe.read_text(encoding="utf-8")
    assert text.count(str(args.junit)) == 2, "the JUnit file written is the one published"
    assert re.search(r"always", text), "reports are published whatever the verdict"


def test_the_github_recipe_runs_on_the_readme_example(tmp_path, capsys):
    words = verify_command(ROOT / "examples" / "github-actions.yml")[2:]
    words[words.index("--impl") + 1] = str(README_EXAMPLE)
    words[words.index("--cases") + 1] = "3"
    words[words.index("-j") + 1] = "1"
    for option in ("--json", "--html", "--junit", "--markdown"):
        position = words.index(option) + 1
        words[position] = str(tmp_path / words[position])
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["verify", *words, "--no-shrink"]) == 1
    junit = tmp_path / "reports" / "manualbp-junit.xml"
    SCHEMA.validate(str(junit))
    assert "<failure" in junit.read_text(encoding="utf-8")
    summary = (tmp_path / "reports" / "manualbp.md").read_text(encoding="utf-8")
    assert summary.startswith("## ❌ manualbp: FAIL")
    assert (tmp_path / "reports" / "manualbp.html").exists()

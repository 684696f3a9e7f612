"""The CI recipes under examples/ run a real gate: their ``manualbp verify`` command parses,
writes every output it names, and its JUnit file is what CI reporters read."""

from __future__ import annotations

import contextlib
import io
import json
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


def verify_command(recipe: Path, command: str = "manualbp verify", **expressions: str) -> list[str]:
    """The words of the recipe's ``command`` (a YAML folded block: the line that starts it
    and the lines indented like it), GitHub expressions ``${{ matrix.shard }}`` replaced by
    the values given (``matrix_shard="2"``)."""
    text = recipe.read_text(encoding="utf-8")
    for name, value in expressions.items():
        text = text.replace("${{ " + name.replace("_", ".") + " }}", value)
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith(command))
    indent = len(lines[start]) - len(lines[start].lstrip())
    words = []
    for line in lines[start:]:
        if len(line) - len(line.lstrip()) != indent or not line.strip():
            break
        words += shlex.split(line)
    return words


SHARDED = ROOT / "examples" / "github-actions-sharded.yml"
ONE_JOB = [recipe for recipe in RECIPES if recipe != SHARDED]


def test_there_are_recipes_for_github_and_gitlab():
    names = ["github-actions-sharded.yml", "github-actions.yml", "gitlab-ci.yml"]
    assert [r.name for r in RECIPES] == names


@pytest.mark.parametrize("recipe", ONE_JOB, ids=lambda r: r.name)
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


def test_the_sharded_recipe_merges_into_the_verdict_of_one_machine(tmp_path, capsys):
    """Every shard of the matrix runs its command; the merge job's command turns them into
    the outputs of the whole run, with the verdict one machine would have given."""
    text = SHARDED.read_text(encoding="utf-8")
    shards = int(re.search(r"SHARDS: (\d+)", text).group(1))
    assert f"shard: [{', '.join(str(i) for i in range(1, shards + 1))}]" in text
    with contextlib.redirect_stdout(io.StringIO()):
        for shard in range(1, shards + 1):
            words = verify_command(SHARDED, matrix_shard=str(shard), env_SHARDS=str(shards))
            words[words.index("--impl") + 1] = str(README_EXAMPLE)
            words[words.index("--cases") + 1] = "8"
            words[words.index("-j") + 1] = "1"
            position = words.index("--json") + 1
            words[position] = str(tmp_path / words[position])
            assert main([*words[1:], "--no-shrink"]) == 1  # the README example is buggy
        merge = verify_command(SHARDED, "manualbp report")
        merge[merge.index("--merge") + 1] = str(tmp_path / "reports" / "shard-*.json")
        for option in ("-o", "--json", "--junit", "--markdown"):
            position = merge.index(option) + 1
            merge[position] = str(tmp_path / merge[position])
        pattern = merge[merge.index("--merge") + 1]
        merge[merge.index("--merge") + 1 : merge.index("--merge") + 2] = sorted(
            str(path) for path in Path(pattern).parent.glob(Path(pattern).name)
        )  # the shell expands the glob
        assert main(merge[1:]) == 1
    merged = json.loads((tmp_path / "reports" / "manualbp.json").read_text(encoding="utf-8"))
    cases = {f["case"] for f in merged["findings"] if f["check"] == "fd"}
    assert len(cases) == 8  # every case once, from four shards
    SCHEMA.validate(str(tmp_path / "reports" / "manualbp-junit.xml"))
    assert (tmp_path / "reports" / "manualbp.html").exists()

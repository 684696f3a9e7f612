"""The JSON Schema of reference files and manualbp's own reader agree on good and bad files.

manualbp validates reference files with its own reader (no JSON Schema library at run time);
reference/reference.schema.json is shipped for users and their editors. Both must accept
every good file and reject every file broken in a way a schema can see; the reader's one
line names the file and the field, and the command line exits 2 on it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest

from manualbp.checks import published
from manualbp.checks.published.file import SCHEMA_FILE, schema
from manualbp.cli import main
from manualbp.errors import ReferenceFileError

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"
VALIDATOR = jsonschema.Draft202012Validator(schema())


def good_files() -> dict[str, dict]:
    """Every built-in reference, the fixtures, and the README's own example."""
    found = {}
    for entry in files("manualbp.reference").iterdir():
        if entry.name.endswith(".json") and entry.name != SCHEMA_FILE:
            found[entry.name] = json.loads(entry.read_text(encoding="utf-8"))
    for path in FIXTURES.glob("*.json"):
        found[path.name] = json.loads(path.read_text(encoding="utf-8"))
    readme = (ROOT / "reference" / "README.md").read_text(encoding="utf-8")
    block = readme.split("```json\n", 1)[1].split("\n```", 1)[0]
    found["README example"] = json.loads(block)
    return found


def test_the_schema_is_a_valid_json_schema_shipped_with_the_references() -> None:
    jsonschema.Draft202012Validator.check_schema(schema())
    assert (ROOT / "reference" / SCHEMA_FILE).is_file()
    assert SCHEMA_FILE not in {r.source.rsplit("/", 1)[-1] for r in published.default_references()}


@pytest.mark.parametrize("name", sorted(good_files()))
def test_schema_and_reader_accept_every_good_file(name: str) -> None:
    data = good_files()[name]
    assert [error.message for error in VALIDATOR.iter_errors(data)] == []
    published.parse_reference(data, name)
    with_schema = {"$schema": "reference.schema.json", **data}
    assert not list(VALIDATOR.iter_errors(with_schema))
    published.parse_reference(with_schema, name)


def _mlp() -> dict:
    return copy.deepcopy(good_files()["mazur_2015.json"])


def _graph() -> dict:
    return copy.deepcopy(good_files()["saito_apples_oranges.json"])


def _set(path: str, value: object) -> Callable[[dict], None]:
    """A change setting the field at ``path`` (dotted, list positions as numbers)."""

    def change(data: dict) -> None:
        *parents, last = path.split(".")
        target = data
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[int(last) if last.isdigit() else last] = value

    return change


def _drop(path: str) -> Callable[[dict], None]:
    def change(data: dict) -> None:
        *parents, last = path.split(".")
        target = data
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        del target[last]

    return change


#: (base, change, the field the reader's message names)
BAD: dict[str, tuple[Callable[[], dict], Callable[[dict], None], str]] = {
    "unknown top field": (_mlp, _set("comment", "x"), "unknown field(s) comment"),
    "missing citation": (_mlp, _drop("citation"), "citation"),
    "year as text": (_mlp, _set("citation.year", "2015"), "citation.year"),
    "no authors": (_mlp, _set("citation.authors", []), "citation.authors"),
    "unknown kind": (_mlp, _set("kind", "cnn"), "kind"),
    "kind without its block": (_mlp, _set("kind", "graph"), "graph"),
    "unknown loss": (_mlp, _set("mlp.network.loss", "hinge"), "mlp.network"),
    "negative rate": (_mlp, _set("mlp.learning_rate", -0.5), "mlp.learning_rate"),
    "zero train steps": (_mlp, _set("mlp.train_steps", 0), "mlp.train_steps"),
    "printed as a number": (_mlp, _set("quantities.0.printed", 0.3775), "quantities[0].printed"),
    "printed not a number": (_mlp, _set("quantities.0.printed", "n/a"), "quantities[0].printed"),
    "no quantities": (_mlp, _set("quantities", []), "quantities"),
    "unknown rule": (_mlp, _set("quantities.0.rule", "ceil"), "quantities[0].rule.kind"),
    "rounded rule without reason": (
        _mlp,
        _drop("quantities.20.rule.reason"),
        "quantities[20].rule.reason",
    ),
    "erratum without evidence": (
        _mlp,
        _set("quantities.29.erratum.evidence", {}),
        "quantities[29].erratum.evidence",
    ),
    "erratum correct as a number": (
        _mlp,
        _set("quantities.29.erratum.correct", 0.29),
        "quantities[29].erratum.correct",
    ),
    "unknown op": (_graph, _set("graph.operations.0.op", "divide"), "graph.operations[0].op"),
    "one input to add": (
        _graph,
        _set("graph.operations.2.inputs", ["apple_price"]),
        "graph.operations[2].inputs",
    ),
    "three inputs to max": (
        _graph,
        lambda data: data["graph"]["operations"].append(
            {"name": "m", "op": "max", "inputs": ["apple", "tax", "orange"]}
        ),
        "graph.operations[4].inputs",
    ),
    "constant on multiply": (
        _graph,
        _set("graph.operations.0.constant", 2),
        "graph.operations[0].constant",
    ),
    "multiply_constant without constant": (
        _graph,
        lambda data: data["graph"]["operations"].append(
            {"name": "twice", "op": "multiply_constant", "inputs": ["price"]}
        ),
        "graph.operations[4].constant",
    ),
    "leaf named with #": (_graph, _set("graph.leaves.a#1", 1.0), "graph.leaves"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_schema_and_reader_reject_every_bad_file(name: str) -> None:
    base, change, field = BAD[name]
    data = base()
    change(data)
    assert list(VALIDATOR.iter_errors(data)), f"the schema accepts {name}"
    with pytest.raises(ReferenceFileError) as raised:
        published.parse_reference(data, "bad.json")
    message = str(raised.value)
    assert "\n" not in message and message.startswith("bad.json: ")
    assert field in message


def test_a_bad_reference_file_is_one_line_and_exit_2(tmp_path: Path, capsys) -> None:
    base, change, _ = BAD["printed as a number"]
    data = base()
    change(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    code = main(["verify", "--checks", "published", "--reference", str(path), "--no-html",
                 "--json", str(tmp_path / "r.json")])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.count("\n") == 1 and "quantities[0].printed" in captured.err
    assert not (tmp_path / "r.json").exists()

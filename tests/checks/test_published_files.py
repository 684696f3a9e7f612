"""Reference files: the built-in ones, a user's own, malformed ones, and misbehaving code."""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest

import manualbp.engine as engine
import manualbp.mazur as mazur
from manualbp.checks import published
from manualbp.errors import ReferenceFileError

README = Path(__file__).resolve().parents[2] / "reference" / "README.md"

#: One sigmoid unit worked by hand: z = 0.5·2 = 1, y = σ(1) = 0.7310585786,
#: E = ½(1 - y)² = 0.0361647, σ'(z) = y(1 - y) = 0.1966119,
#: ∂E/∂w = (y - 1)·y(1 - y)·2 = -0.1057542, w⁺ = 0.5 + 0.1057542 = 0.6057542.
ONE_UNIT = {
    "schema": 1,
    "id": "one_unit",
    "citation": {"authors": ["A. Student"], "title": "Homework", "year": 2024, "url": "u"},
    "kind": "mlp",
    "mlp": {
        "network": {"sizes": [1, 1], "activations": ["sigmoid"], "loss": "half_sse"},
        "params": {"W1": [[0.5]], "b1": [0.0]},
        "inputs": [[2.0]],
        "targets": [[1.0]],
        "learning_rate": 1.0,
        "train_steps": 2,
    },
    "quantities": [
        {"label": "z", "path": "z.1[0,0]", "printed": "1.0"},
        {"label": "y", "path": "a.1[0,0]", "printed": "0.7310586"},
        {"label": "E", "path": "loss", "printed": "0.0361647"},
        {"label": "∂E/∂y", "path": "dE_da.1[0,0]", "printed": "-0.2689414"},
        {"label": "σ'(z)", "path": "da_dz.1[0,0]", "printed": "0.1966119"},
        {"label": "∂E/∂w", "path": "grad.W1[0,0]", "printed": "-0.1057542"},
        {"label": "∂E/∂b", "path": "grad.b1[0]", "printed": "-0.0528771"},
        {"label": "check", "path": "dE_da.1[0,0] * da_dz.1[0,0] * x[0,0]", "printed": "-0.1057542"},
        {"label": "w⁺", "path": "step1.W1[0,0]", "printed": "0.6057542"},
        {"label": "b⁺", "path": "step1.b1[0]", "printed": "0.0528771"},
    ],
}


def write(tmp_path: Path, data: object, name: str = "example.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_a_users_reference_file_runs_without_python(tmp_path) -> None:
    reference = published.load_reference(write(tmp_path, ONE_UNIT))
    findings = list(published.run(engine, [reference], impl_name="engine"))
    assert [f.verdict for f in findings] == ["pass"] * len(ONE_UNIT["quantities"])
    assert {f.case for f in findings} == {"one_unit"}
    assert all(f.check == "published" and f.impl == "engine" for f in findings)
    assert findings[1].quantity == "y (a.1[0,0])"
    assert findings[1].detail["source"] == str(tmp_path / "example.json")


def test_a_hand_worked_number_that_is_wrong_fails(tmp_path) -> None:
    data = copy.deepcopy(ONE_UNIT)
    data["quantities"][5]["printed"] = "-0.1057552"  # one unit off in the 6th decimal
    reference = published.load_reference(write(tmp_path, data))
    findings = list(published.run(engine, [reference], impl_name="engine"))
    assert [f.verdict for f in findings].count("fail") == 1
    assert findings[5].verdict == "fail"
    assert findings[5].abs_error == pytest.approx(1.0e-6, rel=0.05)


def test_the_readme_example_runs() -> None:
    block = re.search(r"```json\n(\{.*?\n\})\n```", README.read_text(encoding="utf-8"), re.S)
    assert block is not None
    reference = published.parse_reference(json.loads(block.group(1)), "README.md")
    findings = list(published.run(engine, [reference], impl_name="engine"))
    assert [f.verdict for f in findings] == ["pass", "pass", "pass"]


def test_the_built_in_references_all_agree_on_the_engine() -> None:
    references = published.default_references()
    assert [r.id for r in references] == [
        "mazur_2015",
        "saito_affine",
        "saito_apples",
        "saito_apples_oranges",
    ]
    saito = references[1:]
    findings = list(published.run(engine, saito, impl_name="manualbp.engine"))
    assert Counter(f.verdict for f in findings) == Counter({"pass": 19 + 5 + 6})
    assert {f.impl for f in findings} == {"manualbp.engine"}
    assert {f.detail["evaluated_by"] for f in findings} == {
        "the implementation's affine_layer",
        "the implementation's graph_node",
    }
    int_printed = [f for f in findings if f.method == "int"]
    assert {f.detail["label"] for f in int_printed} == {"price", "dApple_num", "dOrange_num"}
    assert all("int()" in f.tolerance_reason for f in int_printed)


def test_graph_and_affine_examples_need_nodes_or_a_layer_of_the_implementation() -> None:
    """They never run manualbp's own pieces in place of an implementation without them."""
    saito = published.default_references()[1:]
    findings = list(published.run(mazur, saito, impl_name="manualbp.mazur"))
    assert [(f.quantity, f.verdict) for f in findings] == [("case", "skipped")] * 3
    assert "needs the implementation's" in findings[0].reason


def test_a_wrong_saito_figure_would_fail() -> None:
    references = published.default_references()
    assert references[3].source == "manualbp.reference/saito_apples_oranges.json"
    folder = files("manualbp.reference")
    data = json.loads(folder.joinpath("saito_apples_oranges.json").read_text(encoding="utf-8"))
    data["quantities"][5]["printed"] = "660"  # dTax is 650
    findings = list(published.run(engine, [published.parse_reference(data)], impl_name="e"))
    assert [f.verdict for f in findings] == ["pass"] * 5 + ["fail"]


def test_an_unsupported_architecture_is_skipped_once(tmp_path) -> None:
    reference = published.load_reference(write(tmp_path, ONE_UNIT))
    findings = list(published.run(mazur, [reference], impl_name="manualbp.mazur"))
    assert len(findings) == 1
    assert (findings[0].verdict, findings[0].quantity) == ("skipped", "case")
    assert "does not support" in findings[0].reason


class LossAndGradientsOnly:
    """The two required methods only: no intermediates, no step."""

    def loss(self, arch, params, x, y):
        return engine.loss(arch, params, x, y)

    def gradients(self, arch, params, x, y):
        return engine.gradients(arch, params, x, y)


class BrokenIntermediates(LossAndGradientsOnly):
    def intermediates(self, arch, params, x, y):
        raise RuntimeError("boom")

    def step(self, arch, params, x, y, lr, frozen=frozenset()):
        return {"W1": np.zeros((1, 1))}  # b1 missing


class NotImplementedIntermediates(LossAndGradientsOnly):
    def intermediates(self, arch, params, x, y):
        raise NotImplementedError("no intermediates for this network")


class NotImplementedLoss(LossAndGradientsOnly):
    def loss(self, arch, params, x, y):
        raise NotImplementedError("no loss for this network")


def verdicts(impl: object, tmp_path: Path) -> dict[str, tuple[str, str]]:
    reference = published.load_reference(write(tmp_path, ONE_UNIT))
    findings = published.run(impl, [reference], impl_name="impl")
    return {f.detail["label"]: (f.verdict, f.reason) for f in findings}


def test_missing_optional_methods_skip_the_quantities_that_need_them(tmp_path) -> None:
    result = verdicts(LossAndGradientsOnly(), tmp_path)
    assert result["E"][0] == result["∂E/∂w"][0] == "pass"
    assert result["y"] == ("skipped", "needs intermediates(); the implementation has none")
    assert result["w⁺"][0] == "skipped" and "step()" in result["w⁺"][1]


def test_a_misbehaving_implementation_fails_without_stopping_the_run(tmp_path) -> None:
    result = verdicts(BrokenIntermediates(), tmp_path)
    assert result["E"][0] == "pass"
    assert (
        result["y"][0] == "fail" and "intermediates() raised RuntimeError: boom" in result["y"][1]
    )
    assert result["w⁺"][0] == "fail" and "step() call 1 returned" in result["w⁺"][1]


def test_not_implemented_is_a_skip_not_a_failure(tmp_path) -> None:
    result = verdicts(NotImplementedIntermediates(), tmp_path)
    assert result["y"][0] == "skipped" and "no intermediates for this network" in result["y"][1]
    assert result["E"][0] == result["∂E/∂w"][0] == "pass"


def test_a_loss_that_declines_the_network_is_one_skip_and_no_figure_passes(tmp_path) -> None:
    """NotImplementedError from loss() declines the example, as supports() would: the
    figures it would never compute (those read off the file's own numbers, such as x or
    ∂z/∂w) do not count as its passes."""
    reference = published.load_reference(write(tmp_path, ONE_UNIT))
    findings = list(published.run(NotImplementedLoss(), [reference], impl_name="impl"))
    assert [(f.verdict, f.quantity) for f in findings] == [("skipped", "case")]
    assert "no loss for this network" in findings[0].reason


def mutate(change) -> dict:
    data = copy.deepcopy(ONE_UNIT)
    change(data)
    return data


def set_path(text: str):
    return lambda d: d["quantities"][0].__setitem__("path", text)


BAD_FILES = {
    "unknown quantity": (set_path("out.1[0,0]"), "quantities[0].path: unknown quantity"),
    "index out of range": (set_path("a.1[0,1]"), "quantities[0].path: 'a.1[0,1]': index"),
    "missing index": (set_path("a.1"), "quantities[0].path"),
    "no such layer": (set_path("z.2[0,0]"), "layer 2, expected 1..1"),
    "forbidden expression": (set_path("a.1[0,0] / 2"), "uses Div"),
    "wrong parameter shape": (
        lambda d: d["mlp"]["params"].__setitem__("W1", [[0.5, 0.1]]),
        "mlp.params: W1: got shape (1, 2), expected (1, 1)",
    ),
    "wrong target shape": (
        lambda d: d["mlp"].__setitem__("targets", [[1.0, 0.0]]),
        "mlp.targets: got shape (1, 2), expected (1, 1)",
    ),
    "missing citation": (lambda d: d.pop("citation"), "citation: missing"),
    "citation without url": (lambda d: d["citation"].pop("url"), "citation.url: missing"),
    "unknown kind": (lambda d: d.__setitem__("kind", "cnn"), "kind: got 'cnn', expected one of"),
    "unknown field": (
        lambda d: d.__setitem__("learning_rate", 1),
        "unknown field(s) learning_rate",
    ),
    "number not a string": (
        lambda d: d["quantities"][0].__setitem__("printed", 1.0),
        "quantities[0].printed: got 1.0, expected a non-empty string",
    ),
    "int rule on a decimal": (
        lambda d: d["quantities"][1].__setitem__("rule", "int"),
        "quantities[1].rule.kind: printed '0.7310586' is not an integer",
    ),
    "erratum without evidence": (
        lambda d: d["quantities"][0].__setitem__(
            "erratum", {"correct": "1.0", "explanation": "e", "evidence": {}}
        ),
        "quantities[0].erratum.evidence",
    ),
    "rounded path not in the expression": (
        lambda d: d["quantities"][0].__setitem__(
            "rule", {"kind": "rounded", "rounded": {"a.1[0,0]": 9}, "reason": "r"}
        ),
        "'a.1[0,0]' is not a path of 'z.1[0,0]'",
    ),
    "trained without train_steps": (
        lambda d: (d["mlp"].pop("train_steps"), set_path("trained.loss")(d)),
        "needs train_steps",
    ),
    "softmax loss terms": (
        lambda d: (
            d["mlp"]["network"].update(activations=["identity"], loss="softmax_ce"),
            set_path("loss_terms[0,0]")(d),
        ),
        "has no per-output terms",
    ),
}


@pytest.mark.parametrize("case", BAD_FILES, ids=list(BAD_FILES))
def test_malformed_files_give_one_line_naming_file_and_field(case, tmp_path) -> None:
    change, message = BAD_FILES[case]
    path = write(tmp_path, mutate(change), "bad.json")
    with pytest.raises(ReferenceFileError) as error:
        published.load_reference(path)
    text = str(error.value)
    assert text.startswith(f"{path}: ")
    assert message in text
    assert "\n" not in text


def test_bad_json_names_the_file_and_the_position(tmp_path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"id": "x",\n  "kind": }', encoding="utf-8")
    with pytest.raises(ReferenceFileError, match=r"broken.json: not valid JSON \(line 2"):
        published.load_reference(path)


def test_a_missing_file_is_a_reference_error(tmp_path) -> None:
    with pytest.raises(ReferenceFileError, match="cannot read"):
        published.load_reference(tmp_path / "absent.json")


def test_graph_and_affine_files_are_validated_too() -> None:
    apples = {
        "id": "g",
        "citation": ONE_UNIT["citation"],
        "kind": "graph",
        "graph": {
            "leaves": {"a": 1.0},
            "operations": [{"name": "b", "op": "multiply", "inputs": ["a"]}],
            "output": "b",
        },
        "quantities": [{"label": "b", "path": "value.b", "printed": "1"}],
    }
    with pytest.raises(ReferenceFileError, match="got 1 inputs, expected 2 or more for 'multiply'"):
        published.parse_reference(apples, "g.json")
    affine = {
        "id": "f",
        "citation": ONE_UNIT["citation"],
        "kind": "affine",
        "affine": {"x": [[0, 0]], "W": [[1, 2, 3]], "b": [0], "dz": [[1]]},
        "quantities": [{"label": "z", "path": "z[0,0]", "printed": "0"}],
    }
    with pytest.raises(ReferenceFileError, match=r"f.json: affine.x: got shape \(1, 2\)"):
        published.parse_reference(affine, "f.json")


def test_a_graph_that_cannot_be_evaluated_fails_as_a_case() -> None:
    graph = {
        "id": "inverse",
        "citation": ONE_UNIT["citation"],
        "kind": "graph",
        "graph": {
            "leaves": {"x": 0.0},
            "operations": [{"name": "r", "op": "reciprocal", "inputs": ["x"]}],
            "output": "r",
        },
        "quantities": [{"label": "1/x", "path": "value.r", "printed": "1"}],
    }
    findings = list(published.run(engine, [published.parse_reference(graph)], impl_name="e"))
    assert [(f.verdict, f.quantity) for f in findings] == [("fail", "case")]
    assert "ZeroDivisionError" in findings[0].reason


class RaisingSupports(LossAndGradientsOnly):
    def supports(self, arch):
        raise KeyError("arch")


def test_an_implementation_whose_supports_raises_fails_the_case(tmp_path) -> None:
    reference = published.load_reference(write(tmp_path, ONE_UNIT))
    findings = list(published.run(RaisingSupports(), [reference], impl_name="impl"))
    assert [(f.verdict, f.quantity) for f in findings] == [("fail", "case")]
    assert "supports() raised KeyError" in findings[0].reason

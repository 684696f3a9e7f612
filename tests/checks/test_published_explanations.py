"""Explanations of printed figures: each usual cause in a source reproduced on a fixture.

Every test takes a worked example whose printed figure disagrees with the correct value for
a known reason, lets the published check find the reason from the implementation's own
values, and applies the entry it suggests to the file: the figure then passes, or becomes a
recorded erratum. A buggy implementation's disagreement is never blamed on the source.
"""

from __future__ import annotations

import copy
import json
from importlib.resources import files
from pathlib import Path

import pytest

import manualbp.engine as engine
import manualbp.mazur as mazur
from manualbp import mutants
from manualbp.checks import published
from manualbp.checks.published.explanation import KINDS, REPRODUCED

FIXTURES = Path(__file__).parent / "fixtures"


def hkp() -> dict:
    """Han, Kamber and Pei's 3-2-1 example (a fixture: its figures, written as data)."""
    return json.loads((FIXTURES / "han_kamber_pei_2012.json").read_text(encoding="utf-8"))


def mazur_data() -> dict:
    return json.loads((files("manualbp.reference") / "mazur_2015.json").read_text("utf-8"))


def run(data: dict, impl=engine) -> dict[str, object]:
    """The findings of ``impl`` on the example ``data``, by label."""
    reference = published.parse_reference(data, "example.json")
    return {f.detail["label"]: f for f in published.run(impl, [reference], impl_name="impl")}


def with_suggestion(data: dict, finding) -> dict:
    """``data`` with the quantity of ``finding`` replaced by the entry the check suggests."""
    changed = copy.deepcopy(data)
    position = [q["label"] for q in changed["quantities"]].index(finding.detail["label"])
    changed["quantities"][position] = finding.detail["suggested_entry"]
    return changed


def one_unit(**printed: str) -> dict:
    """y = σ(w·x + b), E = ½(y - t)² with w = 0.5, x = 2, b = 0, t = 1: z = 1,
    y = 0.73105857863, ∂E/∂y = y - 1 = -0.26894142137, ∂E/∂w = (y - 1)·y(1 - y)·2 =
    -0.10575418557."""
    paths = {"z": "z.1[0,0]", "y": "a.1[0,0]", "dE/dy": "dE_da.1[0,0]", "dE/dw": "grad.W1[0,0]"}
    return {
        "schema": 1,
        "id": "one_unit",
        "citation": {"authors": ["A. Student"], "title": "Homework", "year": 2024, "url": "u"},
        "kind": "mlp",
        "mlp": {
            "network": {"sizes": [1, 1], "activations": ["sigmoid"], "loss": "half_sse"},
            "params": {"W1": [[0.5]], "b1": [0.0]},
            "inputs": [[2.0]],
            "targets": [[1.0]],
        },
        "quantities": [
            {"label": label, "path": paths[label], "printed": text}
            for label, text in printed.items()
        ],
    }


def explained(finding, kind: str) -> None:
    assert finding.verdict == "fail"  # a disagreement stays red until the file says why
    assert finding.detail["diagnosis_kind"] == kind
    assert finding.diagnosis.startswith(f"{kind}: {REPRODUCED} when ")


def test_every_kind_is_listed() -> None:
    assert set(KINDS) == {
        "source_truncated",
        "source_rounded_intermediates",
        "source_sign_convention",
        "source_off_by_one_update",
        "source_loss_factor",
        "source_update_order",
        "source_unexplained",
    }


def test_han_kamber_pei_err6_is_computed_from_the_rounded_o6() -> None:
    """Err6 = O6(1 - O6)(1 - O6) = 0.13117 exactly, 0.1311 from O6 printed as 0.474."""
    data = hkp()
    findings = run(data)
    err6 = findings.pop("Err6")
    assert {f.verdict for f in findings.values()} == {"pass"}
    explained(err6, "source_rounded_intermediates")
    assert "O6 (a.2[0,0]) = 0.474" in err6.diagnosis
    assert "0.1311444 → 0.1311" in err6.diagnosis
    assert "agrees with the torch mirror" in err6.diagnosis
    assert err6.detail["torch_mirror"] == pytest.approx(0.13116907821, abs=1e-10)
    erratum = err6.detail["suggested_entry"]["erratum"]
    assert erratum["correct"] == "0.13117"
    assert set(erratum["evidence"]) == {"PyTorch autograd", "the implementation under test"}
    assert "a.2[0,0]" in erratum["reproduced_by"]
    fixed = run(with_suggestion(data, err6))
    assert fixed["Err6"].verdict == "erratum"
    assert {f.verdict for label, f in fixed.items() if label != "Err6"} == {"pass"}


def test_an_error_term_of_the_opposite_sign_is_the_sources_convention() -> None:
    data = hkp()
    data["quantities"][8]["path"] = "delta.1[0,0]"  # Err4 written as δ, not -δ
    err4 = run(data)["Err4"]
    explained(err4, "source_sign_convention")
    assert err4.detail["suggested_entry"]["path"] == "-delta.1[0,0]"
    assert run(with_suggestion(data, err4))["Err4"].verdict == "pass"


def test_mazur_rounded_product_is_found_without_its_rule() -> None:
    """∂E_o2/∂out_h1 = δ_o2·w7 with δ_o2 rounded to 9 decimals: the rule the file records
    by hand is the one the check suggests."""
    data = mazur_data()
    quantity = next(q for q in data["quantities"] if q["label"] == "∂E_o2/∂out_h1")
    recorded = quantity.pop("rule")
    finding = run(data)["∂E_o2/∂out_h1"]
    explained(finding, "source_rounded_intermediates")
    suggested = finding.detail["suggested_entry"]["rule"]
    assert suggested["kind"] == "rounded"
    assert suggested["rounded"]["delta.2[0,1]"] == recorded["rounded"]["delta.2[0,1]"]
    assert run(with_suggestion(data, finding))["∂E_o2/∂out_h1"].verdict == "pass"


@pytest.fixture(scope="module")
def mazur_without_errata() -> dict[str, dict[str, object]]:
    data = mazur_data()
    for quantity in data["quantities"]:
        quantity.pop("erratum", None)
    return {"data": data, "engine": run(data, engine), "mazur": run(data, mazur)}


TRAINING = {
    "E_total after the first update": ("source_update_order", "0.291027923"),
    "E_total after 10,000 updates": ("source_off_by_one_update", "0.0000351085"),
    "out_o1 after 10,000 updates": ("source_update_order", "0.015912196"),
    "out_o2 after 10,000 updates": ("source_update_order", "0.984065734"),
}


@pytest.mark.parametrize("impl", ["engine", "mazur"])
def test_mazur_training_errata_are_each_explained(mazur_without_errata, impl) -> None:
    findings = mazur_without_errata[impl]
    failing = {label for label, f in findings.items() if f.verdict != "pass"}
    assert failing == set(TRAINING)
    for label, (kind, reproduced) in TRAINING.items():
        finding = findings[label]
        explained(finding, kind)
        assert reproduced in finding.detail["reproduced_by"]
    assert "after 9999 updates (one short)" in findings["E_total after 10,000 updates"].diagnosis
    first = findings["E_total after the first update"]
    assert first.detail["suggested_entry"]["erratum"]["correct"] == "0.2910277737"


def test_suggested_errata_of_mazur_make_the_figures_errata(mazur_without_errata) -> None:
    data = mazur_without_errata["data"]
    for finding in mazur_without_errata["engine"].values():
        if finding.verdict == "fail":
            data = with_suggestion(data, finding)
    verdicts = {label: f.verdict for label, f in run(data).items()}
    assert {label for label, v in verdicts.items() if v == "erratum"} == set(TRAINING)
    assert set(verdicts.values()) == {"pass", "erratum"}


def test_a_figure_cut_after_its_decimals_is_a_truncation() -> None:
    """y = 0.73105857…: printed 0.731058, where rounding prints 0.731059."""
    data = one_unit(z="1.0", y="0.731058")
    finding = run(data)["y"]
    explained(finding, "source_truncated")
    assert finding.detail["suggested_entry"]["rule"] == "truncated"
    assert run(with_suggestion(data, finding))["y"].verdict == "pass"


def test_truncation_is_not_blamed_on_a_source_that_rounds() -> None:
    """With ∂E/∂y printed rounded (-0.2689414214, truncated -0.2689414213), y's 0.731058 is
    no longer a truncation: nothing explains it."""
    finding = run(one_unit(**{"dE/dy": "-0.2689414214", "y": "0.731058"}))["y"]
    assert finding.detail["diagnosis_kind"] == "source_unexplained"


def test_a_gradient_of_twice_the_loss_is_a_loss_factor() -> None:
    """The source's E = (y - t)²: ∂E/∂w printed -0.2115084, twice the file's half_sse."""
    finding = run(one_unit(**{"dE/dw": "-0.2115084"}))["dE/dw"]
    explained(finding, "source_loss_factor")
    assert "the source's loss is 2·E" in finding.diagnosis
    assert finding.detail["suggested_entry"]["erratum"]["correct"] == "-0.10575419"


def test_a_misprint_is_unexplained_and_the_implementation_is_said_right() -> None:
    finding = run(one_unit(**{"dE/dw": "-0.1057552"}))["dE/dw"]  # one unit off
    assert finding.verdict == "fail"
    assert finding.detail["diagnosis_kind"] == "source_unexplained"
    assert "agrees with the torch mirror" in finding.diagnosis
    assert "a misprint of the source" in finding.diagnosis
    assert "reproduced_by" not in finding.detail
    assert finding.detail["suggested_entry"]["erratum"]["correct"] == "-0.10575419"


def test_a_buggy_implementation_is_never_excused_by_the_source() -> None:
    """½SSE with the gradient 2(a - y): every error term and update is off, the mirror
    disagrees with the implementation, and no source cause is claimed (a loss factor of 2
    would reproduce the figures)."""
    findings = run(hkp(), mutants.MUTANTS["half-sse-gradient-doubled"])
    failing = [f for f in findings.values() if f.verdict == "fail"]
    assert len(failing) >= 10
    assert not any(str(f.detail.get("diagnosis_kind", "")).startswith("source_") for f in failing)


#: f = 2·(x·y·u + max(z, w) + 1): n-ary multiply, max, add_constant and multiply_constant;
#: x·y·u = 0.70094910, so f = 3.8018982 (printed 3.8018: cut, not rounded).
NARY_GRAPH = {
    "schema": 1,
    "id": "nary",
    "citation": {"authors": ["A. Student"], "title": "Circuits", "year": 2024, "url": "u"},
    "kind": "graph",
    "graph": {
        "leaves": {"x": 1.2345, "y": 0.5678, "u": 1.0, "z": 0.2, "w": -1.0},
        "operations": [
            {"name": "product", "op": "multiply", "inputs": ["x", "y", "u"]},
            {"name": "larger", "op": "max", "inputs": ["z", "w"]},
            {"name": "inner", "op": "add", "inputs": ["product", "larger"]},
            {"name": "shifted", "op": "add_constant", "inputs": ["inner"], "constant": 1},
            {"name": "f", "op": "multiply_constant", "inputs": ["shifted"], "constant": 2},
        ],
        "output": "f",
    },
    "quantities": [
        {"label": "f", "path": "value.f", "printed": "3.8018"},
        {"label": "df/dx", "path": "grad.x", "printed": "1.1356"},
        {"label": "df/dz", "path": "grad.z", "printed": "2"},
        {"label": "df/dw", "path": "grad.w", "printed": "0"},
    ],
}


def test_a_graph_figure_cut_after_its_decimals_is_a_truncation_by_the_nodes() -> None:
    findings = run(NARY_GRAPH)
    assert {label: f.verdict for label, f in findings.items() if label != "f"} == {
        "df/dx": "pass",
        "df/dz": "pass",
        "df/dw": "pass",
    }
    explained(findings["f"], "source_truncated")
    assert "no independent reference confirms it" in findings["f"].diagnosis
    assert run(with_suggestion(NARY_GRAPH, findings["f"]))["f"].verdict == "pass"


class WithoutIntermediates:
    """manualbp's engine seen through loss, gradients and step only."""

    name = "no-intermediates"

    def loss(self, arch, params, x, y):
        return engine.loss(arch, params, x, y)

    def gradients(self, arch, params, x, y):
        return engine.gradients(arch, params, x, y)

    def step(self, arch, params, x, y, lr, frozen=frozenset()):
        return engine.step(arch, params, x, y, lr, frozen)


def test_what_the_protocol_does_not_allow_is_said() -> None:
    """Without intermediates() neither the update order nor the rounded inputs of the loss
    (its per-output terms) can be tried: the figure stays unexplained and says so."""
    data = mazur_data()
    data["quantities"] = [
        {key: value for key, value in q.items() if key != "erratum"}
        for q in data["quantities"]
        if q["path"] in ("z.1[0,0]", "step1.loss")
    ]
    finding = run(data, WithoutIntermediates())["E_total after the first update"]
    assert finding.detail["diagnosis_kind"] == "source_unexplained"
    assert "could not try rounded inputs (needs intermediates()" in finding.diagnosis
    assert "update order (needs step() and intermediates())" in finding.diagnosis


class BrokenGradients(WithoutIntermediates):
    """Steps like the engine, but gradients() raises."""

    name = "broken-gradients"

    def gradients(self, arch, params, x, y):
        raise RuntimeError("gradients are not ready")


def test_an_implementation_that_cannot_be_confirmed_is_not_explained() -> None:
    """A figure after 101 updates is confirmed by the gradients and the first update; an
    implementation whose gradients() raises is not, and its disagreement stays its own."""
    data = mazur_data()
    data["mlp"]["train_steps"] = 101
    data["quantities"] = [
        {"label": "E after 101 updates", "path": "trained.loss", "printed": "0.2"},
    ]
    finding = run(data, BrokenGradients())["E after 101 updates"]
    assert finding.verdict == "fail"
    assert "diagnosis_kind" not in finding.detail and "suggested_entry" not in finding.detail
    right = run(data, WithoutIntermediates())["E after 101 updates"]
    assert right.detail["diagnosis_kind"] == "source_unexplained"

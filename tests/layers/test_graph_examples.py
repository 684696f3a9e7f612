"""Saito's apples-and-oranges figures computed by the user's own MulLayer and AddLayer."""

from __future__ import annotations

from collections import Counter

from manualbp.checks.layer import load_layers, run, run_many

from .conftest import SAITO

APPLES = {"price", "d(apple price)", "dTax", "dApple", "dApple_num"}
APPLES_ORANGES = {"price", "dApple", "dApple_num", "dOrange", "dOrange_num", "dTax"}


def _published(*specs: tuple[str, str]):
    subjects = [load_layers(f"{SAITO}:{cls}", kind)[0] for cls, kind in specs]
    return list(run_many(subjects, checks=("published",)))


def _labels(findings, case):
    return {f.detail["label"]: f for f in findings if f.case == case and "label" in f.detail}


def test_both_examples_pass_through_the_users_nodes():
    findings = _published(("MulLayer", "multiply"), ("AddLayer", "add"))
    apples, oranges = _labels(findings, "saito_apples"), _labels(findings, "saito_apples_oranges")
    assert set(apples) == APPLES and set(oranges) == APPLES_ORANGES
    assert all(f.verdict == "pass" for f in [*apples.values(), *oranges.values()])
    assert oranges["dTax"].impl_value == 650.0 and oranges["dOrange"].ref_value == 3.3
    # each figure judged once, by the node of the graph's first operation
    assert Counter((f.case, f.quantity) for f in findings).most_common(1)[0][1] == 1
    assert {f.impl for f in findings} == {f"{SAITO}:MulLayer"}
    assert "AddLayer" in oranges["price"].detail["evaluated_by"]
    assert "AddLayer" not in apples["price"].detail["evaluated_by"]


def test_a_graph_missing_a_node_is_skipped_with_the_node_it_needs():
    findings = _published(("MulLayer", "multiply"))
    assert all(f.verdict == "pass" for f in _labels(findings, "saito_apples").values())
    (oranges,) = [f for f in findings if f.case == "saito_apples_oranges"]
    assert oranges.verdict == "skipped" and "add" in oranges.reason and "--as add" in oranges.reason
    (add_only,) = _published(("AddLayer", "add"))
    assert add_only.verdict == "skipped" and "multiply" in add_only.reason


def test_a_node_with_swapped_gradients_fails_the_figures_it_computes():
    findings = _published(("SwappedMulLayer", "multiply"), ("AddLayer", "add"))
    oranges = _labels(findings, "saito_apples_oranges")
    assert oranges["price"].verdict == "pass"  # the forward pass is right
    assert {label for label, f in oranges.items() if f.verdict == "fail"} == {
        "dApple",
        "dApple_num",
        "dOrange",
        "dOrange_num",
        "dTax",
    }
    # the tax node sends dout·all_price (650) where tax (1.1) belongs, the apple node then
    # dout·apple (650·100) where dout·apple_num belongs
    assert oranges["dApple"].impl_value == 650.0 * 100


def test_nodes_without_an_asserted_kind_do_not_run_the_examples():
    (mul,) = load_layers(f"{SAITO}:MulLayer")
    (skipped,) = [f for f in run(mul, cases=1) if f.check == "published"]
    assert skipped.verdict == "skipped" and "--as KIND" in skipped.reason


def test_a_graph_with_an_operation_no_layer_kind_computes_is_skipped():
    from manualbp.checks.published.file import parse_reference

    reference = parse_reference(
        {
            "id": "exp_graph",
            "citation": {"authors": ["A"], "title": "T", "year": 2020, "url": "u"},
            "kind": "graph",
            "graph": {
                "leaves": {"a": 1.0, "b": 2.0},
                "operations": [
                    {"name": "p", "op": "multiply", "inputs": ["a", "b"]},
                    {"name": "q", "op": "exp", "inputs": ["p"]},
                ],
                "output": "q",
            },
            "quantities": [{"label": "q", "path": "value.q", "printed": "7.389"}],
        }
    )
    (mul,) = load_layers(f"{SAITO}:MulLayer", "multiply")
    (finding,) = list(run(mul, checks=("published",), references=[reference]))
    assert finding.verdict == "skipped" and "uses exp, which no layer kind computes" in (
        finding.reason
    )


class MaxLayer:
    """A user's max node: the gradient to the larger input, to x on a tie (as the engine)."""

    def forward(self, x, y):
        self.x_wins = x >= y
        return x if self.x_wins else y

    def backward(self, dout):
        return (dout, 0.0) if self.x_wins else (0.0, dout)


def _circuit() -> object:
    """f = 2·(x·y·u + max(z, w) + v): a three-input multiply and add, max, and the constant 2
    as multiply_constant (no leaf "two" that would get a gradient). x = 3, y = -4, u = 0.5,
    z = 2, w = 5, v = 1: f = 2·(-6 + 5 + 1) = 0; ∂f/∂x = 2·y·u = -4, ∂f/∂y = 3, ∂f/∂u = -24,
    ∂f/∂w = 2 (max sends it to w), ∂f/∂z = 0, ∂f/∂v = 2."""
    from manualbp.checks.published import parse_reference

    printed = {"value.f": "0", "grad.x": "-4", "grad.y": "3", "grad.u": "-24", "grad.w": "2",
               "grad.z": "0", "grad.v": "2"}  # fmt: skip
    return parse_reference(
        {
            "id": "circuit",
            "citation": {"authors": ["A. Student"], "title": "Circuits", "year": 2024, "url": "u"},
            "kind": "graph",
            "graph": {
                "leaves": {"x": 3, "y": -4, "u": 0.5, "z": 2, "w": 5, "v": 1},
                "operations": [
                    {"name": "p", "op": "multiply", "inputs": ["x", "y", "u"]},
                    {"name": "m", "op": "max", "inputs": ["z", "w"]},
                    {"name": "s", "op": "add", "inputs": ["p", "m", "v"]},
                    {"name": "f", "op": "multiply_constant", "inputs": ["s"], "constant": 2},
                ],
                "output": "f",
            },
            "quantities": [
                {"label": path, "path": path, "printed": text} for path, text in printed.items()
            ],
        },
        "circuit.json",
    )


def test_nary_and_constant_operations_run_on_the_users_two_input_nodes():
    """The graph is rewritten into two-input nodes and constant leaves for the user's
    MulLayer, AddLayer and MaxLayer; every figure passes, as with manualbp's own nodes."""
    import manualbp.engine as engine
    from manualbp.checks import published
    from manualbp.checks.layer import subjects_of

    reference = _circuit()
    assert {f.verdict for f in published.run(engine, [reference])} == {"pass"}
    subjects = [
        load_layers(f"{SAITO}:MulLayer", "multiply")[0],
        load_layers(f"{SAITO}:AddLayer", "add")[0],
        subjects_of(MaxLayer, "max")[0],
    ]
    findings = [f for f in run_many(subjects, checks=("published",), references=[reference])]
    judged = [f for f in findings if f.case == "circuit"]
    assert len(judged) == 7 and {f.verdict for f in judged} == {"pass"}
    assert all("MulLayer" in f.detail["evaluated_by"] for f in judged)
    assert "MaxLayer" in judged[0].detail["evaluated_by"]
    swapped = load_layers(f"{SAITO}:SwappedMulLayer", "multiply")[0]
    failing = {
        f.quantity
        for f in run_many([swapped, *subjects[1:]], checks=("published",), references=[reference])
        if f.verdict == "fail"
    }
    # the constant 2 is multiplied by the same swapped node: it sends back dout·s (s = 0)
    # for dout·2, so every gradient below f is wrong but grad.z's, which is 0 either way
    assert failing == {f"grad.{name} (grad.{name})" for name in "xyuwv"}


def test_a_figure_the_source_cut_is_explained_through_the_users_nodes_too():
    """f = 2·(x·y·u + max(z, w) + v) = 1.8018982 at x = 1.2345, y = 0.5678, u = 1, z = 0.2,
    w = -1, v = 0, printed 1.8018 (cut, not rounded): a fail the user's nodes are not blamed
    for, with the rule to record."""
    from manualbp.checks.layer import subjects_of
    from manualbp.checks.published import parse_reference

    data = {
        "id": "cut",
        "citation": {"authors": ["A. Student"], "title": "Circuits", "year": 2024, "url": "u"},
        "kind": "graph",
        "graph": {
            "leaves": {"x": 1.2345, "y": 0.5678, "u": 1, "z": 0.2, "w": -1, "v": 0},
            "operations": [
                {"name": "p", "op": "multiply", "inputs": ["x", "y", "u"]},
                {"name": "m", "op": "max", "inputs": ["z", "w"]},
                {"name": "s", "op": "add", "inputs": ["p", "m", "v"]},
                {"name": "f", "op": "multiply_constant", "inputs": ["s"], "constant": 2},
            ],
            "output": "f",
        },
        "quantities": [{"label": "f", "path": "value.f", "printed": "1.8018"}],
    }
    subjects = [
        load_layers(f"{SAITO}:MulLayer", "multiply")[0],
        load_layers(f"{SAITO}:AddLayer", "add")[0],
        subjects_of(MaxLayer, "max")[0],
    ]
    reference = parse_reference(data, "cut.json")
    (finding,) = run_many(subjects, checks=("published",), references=[reference])
    assert finding.verdict == "fail"
    assert finding.detail["diagnosis_kind"] == "source_truncated"
    assert "no independent reference confirms it" in finding.diagnosis
    assert finding.detail["suggested_entry"]["rule"] == "truncated"

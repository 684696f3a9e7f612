"""Scalar graph nodes and the Graph runner against central differences of their forward."""

from __future__ import annotations

import math

import numpy as np
import pytest

from manualbp.engine.graph import (
    CONSTANT_OPS,
    OPS,
    Add,
    AddConstant,
    Exp,
    Graph,
    Max,
    Multiply,
    MultiplyConstant,
    Negate,
    Node,
    Reciprocal,
    Sigmoid,
    make_node,
)
from manualbp.graphs import ARITY, NARY, Operation, binary_form, run_graph

from .numerics import ATOL, RTOL, central_difference

#: Each node with inputs away from any kink (Max's inputs differ).
NODES: list[tuple[Node, tuple[float, ...]]] = [
    (Add(), (1.5, -0.7)),
    (Multiply(), (1.5, -0.7)),
    (Max(), (0.3, 1.2)),
    (Max(), (1.2, 0.3)),
    (Exp(), (0.8,)),
    (Reciprocal(), (-1.7,)),
    (Negate(), (2.5,)),
    (AddConstant(3.0), (0.25,)),
    (MultiplyConstant(2.5), (-0.4,)),
    (Sigmoid(), (-0.6,)),
    (Add(), (1.5, -0.7, 0.2, 4.0)),
    (Multiply(), (1.5, -0.7, 0.2, 4.0)),
    (Multiply(), (1.5, 0.0, -2.0)),  # an input of 0: the others' gradients are 0
]


@pytest.mark.parametrize(("node", "inputs"), NODES, ids=lambda v: type(v).__name__)
def test_node_backward_matches_central_difference(node: Node, inputs: tuple[float, ...]) -> None:
    upstream = -1.3
    node.forward(*inputs)
    grads = node.backward(upstream)
    assert len(grads) == len(inputs) >= node.arity

    def output(values: np.ndarray) -> float:
        return upstream * node.forward(*values)

    numeric = central_difference(output, np.array(inputs))
    node.forward(*inputs)  # the central differences overwrote what the node cached
    np.testing.assert_allclose(node.backward(upstream), numeric, rtol=RTOL, atol=ATOL)


def test_node_forward_values() -> None:
    assert Add().forward(2.0, 3.0) == 5.0
    assert Multiply().forward(2.0, 3.0) == 6.0
    assert Max().forward(2.0, 3.0) == 3.0
    assert Exp().forward(1.0) == pytest.approx(math.e, rel=1e-15)
    assert Reciprocal().forward(4.0) == 0.25
    assert Negate().forward(2.0) == -2.0
    assert AddConstant(1.5).forward(2.0) == 3.5
    assert MultiplyConstant(1.5).forward(2.0) == 3.0
    assert Sigmoid().forward(0.0) == 0.5
    assert Add().forward(1.0, 2.0, 3.5) == 6.5
    assert Multiply().forward(2.0, 3.0, 0.5) == 3.0


def test_max_tie_routes_the_gradient_to_the_first_input() -> None:
    node = Max()
    node.forward(1.0, 1.0)
    assert node.backward(2.0) == (2.0, 0.0)


def test_circuit_x_plus_y_times_z() -> None:
    """f = (x + y)·z at x = -2, y = 5, z = -4: f = -12, ∂f/∂x = ∂f/∂y = z = -4, ∂f/∂z = 3."""
    graph = Graph([Operation("q", "add", ("x", "y")), Operation("f", "multiply", ("q", "z"))])
    values = graph.forward({"x": -2.0, "y": 5.0, "z": -4.0})
    assert values["f"] == -12.0
    grads = graph.backward("f")
    assert (grads["x"], grads["y"], grads["z"], grads["q"], grads["f"]) == (-4, -4, 3, -4, 1)


SIGMOID_NEURON = Graph(
    [
        Operation("w0x0", "multiply", ("w0", "x0")),
        Operation("w1x1", "multiply", ("w1", "x1")),
        Operation("s", "add", ("w0x0", "w1x1")),
        Operation("z", "add", ("s", "b")),
        Operation("minus_z", "negate", ("z",)),
        Operation("e", "exp", ("minus_z",)),
        Operation("one_plus_e", "add_constant", ("e",), constant=1.0),
        Operation("out", "reciprocal", ("one_plus_e",)),
    ]
)
NEURON_LEAVES = {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "b": -3.0}


def test_sigmoid_neuron_from_elementary_nodes_equals_the_sigmoid_node() -> None:
    values = SIGMOID_NEURON.forward(NEURON_LEAVES)
    grads = SIGMOID_NEURON.backward("out")
    sigmoid = Sigmoid()
    assert values["out"] == pytest.approx(sigmoid.forward(values["z"]), rel=1e-15)
    (d_z,) = sigmoid.backward(1.0)
    assert grads["z"] == pytest.approx(d_z, rel=1e-12)


def test_graph_backward_matches_central_differences_for_every_leaf() -> None:
    names = list(NEURON_LEAVES)
    SIGMOID_NEURON.forward(NEURON_LEAVES)
    grads = SIGMOID_NEURON.backward("out")

    def out(values: np.ndarray) -> float:
        return Graph(SIGMOID_NEURON.operations).forward(dict(zip(names, values, strict=True)))[
            "out"
        ]

    numeric = central_difference(out, np.array([NEURON_LEAVES[n] for n in names]))
    np.testing.assert_allclose([grads[n] for n in names], numeric, rtol=RTOL, atol=ATOL)


def test_graph_sums_the_gradients_of_a_value_used_twice() -> None:
    """f = x·x + max(x, y): ∂f/∂x = 2x + 1 when x > y."""
    graph = Graph(
        [
            Operation("square", "multiply", ("x", "x")),
            Operation("larger", "max", ("x", "y")),
            Operation("f", "add", ("square", "larger")),
        ]
    )
    graph.forward({"x": 3.0, "y": 1.0})
    grads = graph.backward("f")
    assert grads["x"] == 7.0
    assert grads["y"] == 0.0


def test_every_operation_a_graph_may_name_has_a_node_of_its_arity() -> None:
    assert set(OPS) | set(CONSTANT_OPS) == set(ARITY)
    assert not set(OPS) & set(CONSTANT_OPS)
    assert all(issubclass(node, Node) and node.arity == ARITY[op] for op, node in OPS.items())
    assert isinstance(make_node(Operation("c", "add_constant", ("x",), 2.0)), AddConstant)
    node = make_node(Operation("c", "multiply_constant", ("x",), 2.0))
    assert isinstance(node, MultiplyConstant) and node.forward(3.0) == 6.0


#: f = 2·(x·y·w + max(z, w) + 1): n-ary nodes and both constant operations.
NARY_GRAPH = (
    Operation("product", "multiply", ("x", "y", "w")),
    Operation("larger", "max", ("z", "w")),
    Operation("inner", "add", ("product", "larger", "x")),
    Operation("shifted", "add_constant", ("inner",), 1.0),
    Operation("f", "multiply_constant", ("shifted",), 2.0),
)
NARY_LEAVES = {"x": 3.0, "y": -4.0, "z": 2.0, "w": 5.0}


def test_nary_and_constant_operations_by_hand() -> None:
    """x·y·w = -60, max(z, w) = 5 (to w), inner = -60 + 5 + 3 = -52, f = 2·(-51) = -102;
    ∂f/∂x = 2(y·w + 1) = -38, ∂f/∂y = 2x·w = 30, ∂f/∂w = 2(x·y + 1) = -22, ∂f/∂z = 0."""
    values, grads = run_graph(NARY_GRAPH, NARY_LEAVES, "f", make_node)
    assert values["f"] == -102.0
    assert (grads["x"], grads["y"], grads["w"], grads["z"]) == (-38.0, 30.0, -22.0, 0.0)


def test_the_binary_form_has_the_same_values_and_gradients() -> None:
    operations, leaves = binary_form(NARY_GRAPH, NARY_LEAVES)
    assert all(op.op not in ("add_constant", "multiply_constant") for op in operations)
    assert all(len(op.inputs) <= 2 for op in operations if op.op in NARY)
    assert {op.name for op in NARY_GRAPH} <= {op.name for op in operations}
    values, grads = run_graph(NARY_GRAPH, NARY_LEAVES, "f", make_node)
    binary_values, binary_grads = run_graph(operations, leaves, "f", make_node)
    for name in [*NARY_LEAVES, *(op.name for op in NARY_GRAPH)]:
        assert binary_values[name] == values[name], name
        assert binary_grads[name] == grads[name], name
    made_up = set(binary_values) - set(values)
    assert made_up and all("#" in name for name in made_up)

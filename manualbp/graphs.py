"""Scalar computational graphs as data, and the runner that wires nodes into one.

A graph is a list of :class:`Operation` s — ``name = op(*inputs)`` — listed so that every
input is a leaf or an earlier operation. :func:`run_graph` evaluates it with node objects
that someone else supplies (manualbp's own nodes in :mod:`manualbp.engine.graph`, or a
user's Saito-style ``AddLayer``/``MulLayer``): each node has ``forward(*inputs) -> value``
and ``backward(d) -> (∂E/∂input, ...)``. The runner does the bookkeeping only: forward in
order, backward in reverse order, summing the gradient contributions of a value used by
several operations (the multivariate chain rule).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: Known operations and their number of inputs.
ARITY: dict[str, int] = {
    "add": 2,
    "multiply": 2,
    "max": 2,
    "exp": 1,
    "reciprocal": 1,
    "negate": 1,
    "sigmoid": 1,
    "add_constant": 1,
}


@dataclass(frozen=True)
class Operation:
    """One named node of a graph: ``name = op(*inputs)``; ``constant`` for ``add_constant``."""

    name: str
    op: str
    inputs: tuple[str, ...]
    constant: float | None = None


NodeFactory = Callable[[Operation], Any]


def forward_graph(
    operations: Sequence[Operation], leaves: Mapping[str, float], make_node: NodeFactory
) -> tuple[dict[str, float], list[Any]]:
    """Every value by name (leaves included) and the node of each operation, in order."""
    values = dict(leaves)
    nodes = []
    for operation in operations:
        node = make_node(operation)
        values[operation.name] = node.forward(*(values[i] for i in operation.inputs))
        nodes.append(node)
    return values, nodes


def backward_graph(
    operations: Sequence[Operation],
    nodes: Sequence[Any],
    values: Mapping[str, float],
    output: str,
    d: float = 1.0,
) -> dict[str, float]:
    """∂output/∂v for every value v, by reverse accumulation: the upstream gradient of an
    operation is sent through its node's ``backward`` and added to each of its inputs."""
    grads = dict.fromkeys(values, 0.0)
    grads[output] = d
    for operation, node in zip(reversed(operations), reversed(nodes), strict=True):
        local = tuple(node.backward(grads[operation.name]))
        if len(local) != len(operation.inputs):
            raise ValueError(
                f"{operation.op} node backward() returned {len(local)} gradient(s), expected "
                f"{len(operation.inputs)}"
            )
        for name, gradient in zip(operation.inputs, local, strict=True):
            grads[name] += gradient
    return grads


def run_graph(
    operations: Sequence[Operation],
    leaves: Mapping[str, float],
    output: str,
    make_node: NodeFactory,
) -> tuple[dict[str, float], dict[str, float]]:
    """(values, gradients of ``output``) of the graph, with nodes from ``make_node``."""
    values, nodes = forward_graph(operations, leaves, make_node)
    return values, backward_graph(operations, nodes, values, output)

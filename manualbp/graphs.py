"""Scalar computational graphs as data, and the runner that wires nodes into one.

A graph is a list of :class:`Operation` s — ``name = op(*inputs)`` — listed so that every
input is a leaf or an earlier operation. :func:`run_graph` evaluates it with node objects
that someone else supplies (manualbp's own nodes in :mod:`manualbp.engine.graph`, or a
user's Saito-style ``AddLayer``/``MulLayer``): each node has ``forward(*inputs) -> value``
and ``backward(d) -> (∂E/∂input, ...)``. The runner does the bookkeeping only: forward in
order, backward in reverse order, summing the gradient contributions of a value used by
several operations (the multivariate chain rule).

The operations (:data:`OPERATIONS`), with the gradient each sends back for the upstream
gradient d:

===================  ==========================  =========================================
op                   value                       gradient sent to each input
===================  ==========================  =========================================
add                  x1 + x2 + … + xn (n >= 2)   d to every input
multiply             x1 · x2 · … · xn (n >= 2)   d · the product of the *other* inputs
max                  max(x, y)                   d to x if x >= y, else to y: a tie sends
                                                 everything to x, the first input
exp                  e^x                         d · e^x
reciprocal           1/x                         -d / x²
negate               -x                          -d
sigmoid              σ(x) = 1/(1 + e^-x)         d · σ(x)(1 - σ(x))
add_constant         x + c                       d (the constant c gets no gradient)
multiply_constant    c · x                       c · d (the constant c gets no gradient)
===================  ==========================  =========================================

Code that has only two-input add and multiply nodes (Saito's ``AddLayer``/``MulLayer``)
computes the same graph once :func:`binary_form` has rewritten it: an n-ary add or multiply
becomes a chain of two-input ones, ``add_constant``/``multiply_constant`` an add or multiply
with a leaf holding the constant (its gradient is computed and not reported).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: Known operations and their number of inputs (the fewest, for the n-ary ones).
ARITY: dict[str, int] = {
    "add": 2,
    "multiply": 2,
    "max": 2,
    "exp": 1,
    "reciprocal": 1,
    "negate": 1,
    "sigmoid": 1,
    "add_constant": 1,
    "multiply_constant": 1,
}
#: Operations that take any number of inputs from :data:`ARITY` up.
NARY: frozenset[str] = frozenset({"add", "multiply"})
#: Operations of one input and a fixed ``constant``, and the two-input operation each is.
WITH_CONSTANT: dict[str, str] = {"add_constant": "add", "multiply_constant": "multiply"}
#: Every operation name (the ``op`` of a graph reference file).
OPERATIONS: tuple[str, ...] = tuple(ARITY)
#: Marks the names :func:`binary_form` makes up (never a valid name in a reference file).
SEPARATOR = "#"


@dataclass(frozen=True)
class Operation:
    """One named node of a graph: ``name = op(*inputs)``; ``constant`` is the c of
    ``add_constant`` and ``multiply_constant`` (None for every other op)."""

    name: str
    op: str
    inputs: tuple[str, ...]
    constant: float | None = None


def arity_error(op: str, count: int) -> str | None:
    """Why ``count`` inputs do not suit ``op`` (None when they do)."""
    fewest = ARITY[op]
    if op in NARY:
        return (
            None if count >= fewest else f"got {count} inputs, expected {fewest} or more for {op!r}"
        )
    return None if count == fewest else f"got {count} inputs, expected {fewest} for {op!r}"


def binary_form(
    operations: Sequence[Operation], leaves: Mapping[str, float]
) -> tuple[tuple[Operation, ...], dict[str, float]]:
    """The same graph with two-input add and multiply only (module docstring): (operations,
    leaves with the constants added). Every original name keeps its value and gradient;
    the names made up contain :data:`SEPARATOR`."""
    rewritten: list[Operation] = []
    extended = dict(leaves)
    for operation in operations:
        if operation.op in WITH_CONSTANT:
            constant = f"{operation.name}{SEPARATOR}c"
            extended[constant] = float(operation.constant or 0.0)
            op = WITH_CONSTANT[operation.op]
            rewritten.append(Operation(operation.name, op, (operation.inputs[0], constant)))
        elif operation.op in NARY and len(operation.inputs) > 2:
            first, *rest = operation.inputs
            for position, item in enumerate(rest, start=1):
                last = position == len(rest)
                name = operation.name if last else f"{operation.name}{SEPARATOR}{position}"
                rewritten.append(Operation(name, operation.op, (first, item)))
                first = name
        else:
            rewritten.append(operation)
    return tuple(rewritten), extended


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

"""Scalar computational-graph nodes with forward and backward, and a small graph runner.

Each node computes its output in ``forward`` and keeps what its backward needs; ``backward``
takes the upstream gradient ∂E/∂out and returns ∂E/∂input for each input (chain rule:
local derivative times upstream gradient). Following Saito, "Deep Learning from Scratch",
ch. 5: an addition node passes the upstream gradient through unchanged; a multiplication
node sends back the upstream gradient times the *other* inputs.

================  ===================  ==========================================
node              forward              backward (upstream gradient d)
================  ===================  ==========================================
Add               x1 + … + xn          (d, …, d)
Multiply          x1 · … · xn          (d·Π_{j≠1} xj, …, d·Π_{j≠n} xj)
Max               max(x, y)            (d, 0) if x >= y else (0, d)  (a tie goes to x)
Exp               e^x                  (d·e^x,)
Reciprocal        1/x                  (-d/x²,)
Negate            -x                   (-d,)
AddConstant       x + c                (d,)
MultiplyConstant  c · x                (c·d,)
Sigmoid           σ(x)                 (d·σ(x)(1 - σ(x)),)
================  ===================  ==========================================

:class:`Graph` wires named nodes into a DAG, runs the forward pass in order and the
backward pass in reverse, accumulating gradients where a value feeds several nodes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from manualbp.graphs import Operation, backward_graph, forward_graph


class Node:
    """A scalar operation: ``forward(*inputs) -> value``, ``backward(d) -> input gradients``."""

    arity = 1

    def forward(self, *inputs: float) -> float:
        """The node's output for these inputs (remembering what backward needs)."""
        raise NotImplementedError

    def backward(self, d: float) -> tuple[float, ...]:
        """∂E/∂input for each input, given d = ∂E/∂output."""
        raise NotImplementedError


class Add(Node):
    """x1 + x2 + … (two or more inputs); backward passes d to every input unchanged."""

    arity = 2

    def forward(self, *inputs: float) -> float:
        self.count = len(inputs)
        return sum(inputs)  # left to right, as a chain of two-input additions

    def backward(self, d: float) -> tuple[float, ...]:
        return (d,) * self.count


class Multiply(Node):
    """x1 · x2 · … (two or more inputs); backward sends d times the product of the other
    inputs (formed without dividing, so an input of 0 is no special case)."""

    arity = 2

    def forward(self, *inputs: float) -> float:
        self.inputs = inputs
        return math.prod(inputs)

    def backward(self, d: float) -> tuple[float, ...]:
        return tuple(
            d * math.prod(self.inputs[:i] + self.inputs[i + 1 :]) for i in range(len(self.inputs))
        )


class Max(Node):
    """max(x, y); backward routes d to the larger input (to x on a tie — a kink)."""

    arity = 2

    def forward(self, x: float, y: float) -> float:
        self.x_wins = x >= y
        return x if self.x_wins else y

    def backward(self, d: float) -> tuple[float, float]:
        return (d, 0.0) if self.x_wins else (0.0, d)


class Exp(Node):
    """e^x; backward d·e^x (the cached output)."""

    def forward(self, x: float) -> float:
        self.out = math.exp(x)
        return self.out

    def backward(self, d: float) -> tuple[float]:
        return (d * self.out,)


class Reciprocal(Node):
    """1/x; backward -d/x²."""

    def forward(self, x: float) -> float:
        self.x = x
        return 1.0 / x

    def backward(self, d: float) -> tuple[float]:
        return (-d / (self.x * self.x),)


class Negate(Node):
    """-x; backward -d."""

    def forward(self, x: float) -> float:
        return -x

    def backward(self, d: float) -> tuple[float]:
        return (-d,)


class AddConstant(Node):
    """x + c for a fixed c; backward d."""

    def __init__(self, c: float) -> None:
        self.c = c

    def forward(self, x: float) -> float:
        return x + self.c

    def backward(self, d: float) -> tuple[float]:
        return (d,)


class MultiplyConstant(Node):
    """c · x for a fixed c; backward c·d."""

    def __init__(self, c: float) -> None:
        self.c = c

    def forward(self, x: float) -> float:
        return self.c * x

    def backward(self, d: float) -> tuple[float]:
        return (self.c * d,)


class Sigmoid(Node):
    """σ(x) = 1/(1 + e^{-x}); backward d·σ(x)(1 - σ(x)) from the cached output."""

    def forward(self, x: float) -> float:
        self.out = 1.0 / (1.0 + math.exp(-x))
        return self.out

    def backward(self, d: float) -> tuple[float]:
        return (d * self.out * (1.0 - self.out),)


#: Node classes by the operation names a graph description uses (those without a constant).
OPS: dict[str, type[Node]] = {
    "add": Add,
    "multiply": Multiply,
    "max": Max,
    "exp": Exp,
    "reciprocal": Reciprocal,
    "negate": Negate,
    "sigmoid": Sigmoid,
}


#: Node classes of the operations with a constant c.
CONSTANT_OPS: dict[str, type[AddConstant | MultiplyConstant]] = {
    "add_constant": AddConstant,
    "multiply_constant": MultiplyConstant,
}


def make_node(operation: Operation) -> Node:
    """A fresh manualbp node for ``operation`` (nodes keep state, so one per evaluation)."""
    if operation.op in CONSTANT_OPS:
        constant = float(operation.constant if operation.constant is not None else 0.0)
        return CONSTANT_OPS[operation.op](constant)
    return OPS[operation.op]()


class Graph:
    """A DAG of named scalar operations evaluated with manualbp's own nodes.

    ``forward(values)`` evaluates every node from the leaf values and returns all values by
    name; ``backward(output)`` then returns ∂output/∂name for every leaf and node, summing
    the contributions of a value used by several nodes (:mod:`manualbp.graphs`).
    """

    def __init__(self, operations: Sequence[Operation]) -> None:
        self.operations = tuple(operations)
        self._nodes: list[Node] = []
        self._values: dict[str, float] = {}

    def forward(self, leaves: Mapping[str, float]) -> dict[str, float]:
        """Evaluate every operation in order; returns leaf and node values by name."""
        self._values, self._nodes = forward_graph(self.operations, leaves, make_node)
        return dict(self._values)

    def backward(self, output: str, d: float = 1.0) -> dict[str, float]:
        """∂output/∂v for every value v (after :meth:`forward`), by reverse accumulation."""
        return backward_graph(self.operations, self._nodes, self._values, output, d)

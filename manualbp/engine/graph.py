"""Scalar computational-graph nodes with forward and backward, and a small graph runner.

Each node computes its output in ``forward`` and keeps what its backward needs; ``backward``
takes the upstream gradient ∂E/∂out and returns ∂E/∂input for each input (chain rule:
local derivative times upstream gradient). Following Saito, "Deep Learning from Scratch",
ch. 5: an addition node passes the upstream gradient through unchanged; a multiplication
node sends back the upstream gradient times the *other* input.

=============  ===================  ==========================================
node           forward              backward (upstream gradient d)
=============  ===================  ==========================================
Add            x + y                (d, d)
Multiply       x · y                (d·y, d·x)
Max            max(x, y)            (d, 0) if x >= y else (0, d)  (ties go to x)
Exp            e^x                  (d·e^x,)
Reciprocal     1/x                  (-d/x²,)
Negate         -x                   (-d,)
AddConstant    x + c                (d,)
Sigmoid        σ(x)                 (d·σ(x)(1 - σ(x)),)
=============  ===================  ==========================================

:class:`Graph` wires named nodes into a DAG, runs the forward pass in order and the
backward pass in reverse, accumulating gradients where a value feeds several nodes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


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
    """x + y; backward passes d to both inputs unchanged."""

    arity = 2

    def forward(self, x: float, y: float) -> float:
        return x + y

    def backward(self, d: float) -> tuple[float, float]:
        return d, d


class Multiply(Node):
    """x · y; backward sends d times the other input."""

    arity = 2

    def forward(self, x: float, y: float) -> float:
        self.x, self.y = x, y
        return x * y

    def backward(self, d: float) -> tuple[float, float]:
        return d * self.y, d * self.x


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


class Sigmoid(Node):
    """σ(x) = 1/(1 + e^{-x}); backward d·σ(x)(1 - σ(x)) from the cached output."""

    def forward(self, x: float) -> float:
        self.out = 1.0 / (1.0 + math.exp(-x))
        return self.out

    def backward(self, d: float) -> tuple[float]:
        return (d * self.out * (1.0 - self.out),)


#: Node factories by the operation names a graph description uses.
OPS: dict[str, type[Node]] = {
    "add": Add,
    "multiply": Multiply,
    "max": Max,
    "exp": Exp,
    "reciprocal": Reciprocal,
    "negate": Negate,
    "sigmoid": Sigmoid,
}


@dataclass(frozen=True)
class Operation:
    """One named node of a graph: ``name = op(*inputs)``; ``constant`` for ``add_constant``."""

    name: str
    op: str
    inputs: tuple[str, ...]
    constant: float | None = None

    def make_node(self) -> Node:
        """A fresh node for this operation (nodes keep state, so one per run)."""
        if self.op == "add_constant":
            return AddConstant(float(self.constant if self.constant is not None else 0.0))
        return OPS[self.op]()


class Graph:
    """A DAG of named scalar operations, listed so that inputs come before their users.

    ``forward(values)`` evaluates every node from the leaf values and returns all values by
    name; ``backward(output)`` then returns ∂output/∂name for every leaf and node, summing
    the contributions of a value used by several nodes.
    """

    def __init__(self, operations: Sequence[Operation]) -> None:
        self.operations = tuple(operations)
        self._nodes: list[Node] = []

    def forward(self, leaves: Mapping[str, float]) -> dict[str, float]:
        """Evaluate every operation in order; returns leaf and node values by name."""
        values = dict(leaves)
        self._nodes = []
        for operation in self.operations:
            node = operation.make_node()
            values[operation.name] = node.forward(*(values[i] for i in operation.inputs))
            self._nodes.append(node)
        self._values = values
        return dict(values)

    def backward(self, output: str, d: float = 1.0) -> dict[str, float]:
        """∂output/∂v for every value v (after :meth:`forward`), by reverse accumulation."""
        grads = dict.fromkeys(self._values, 0.0)
        grads[output] = d
        for operation, node in zip(reversed(self.operations), reversed(self._nodes), strict=True):
            upstream = grads[operation.name]
            for name, local in zip(operation.inputs, node.backward(upstream), strict=True):
                grads[name] += local
        return grads

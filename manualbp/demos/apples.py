"""S1a: Saito's shopping graphs ("Deep Learning from Scratch", ch. 5) with engine.graph.

Apples only:          price = (apple · apple_num) · tax
Apples and oranges:   price = (apple · apple_num + orange · orange_num) · tax

Backward from d(price) = 1: a multiplication node sends back the upstream gradient times
the other input, an addition node passes it through unchanged.
"""

from __future__ import annotations

from pathlib import Path

from manualbp.demos.base import Demo, DemoResult
from manualbp.engine.graph import Graph
from manualbp.graphs import Operation

APPLES = (
    Operation("apple_price", "multiply", ("apple", "apple_num")),
    Operation("price", "multiply", ("apple_price", "tax")),
)
APPLES_LEAVES = {"apple": 100.0, "apple_num": 2.0, "tax": 1.1}

APPLES_AND_ORANGES = (
    Operation("apple_price", "multiply", ("apple", "apple_num")),
    Operation("orange_price", "multiply", ("orange", "orange_num")),
    Operation("all_price", "add", ("apple_price", "orange_price")),
    Operation("price", "multiply", ("all_price", "tax")),
)
APPLES_AND_ORANGES_LEAVES = {
    "apple": 100.0,
    "apple_num": 2.0,
    "orange": 150.0,
    "orange_num": 3.0,
    "tax": 1.1,
}


def _section(
    title: str, operations: tuple[Operation, ...], leaves: dict[str, float]
) -> tuple[list[str], dict]:
    graph = Graph(operations)
    values = graph.forward(leaves)
    grads = graph.backward("price")
    lines = [title, f"  price = {values['price']:.10g}"]
    lines += [
        f"  d{name} = ∂price/∂{name} = {grads[name]:.10g}" for name in grads if name != "price"
    ]
    return lines, {"price": values["price"], "gradients": grads}


def run(output_dir: Path = Path("reports")) -> DemoResult:
    """Forward and backward through both of Saito's graphs."""
    apple_lines, apples = _section(
        "Apples only: price = (apple · apple_num) · tax, apple 100, apple_num 2, tax 1.1",
        APPLES,
        APPLES_LEAVES,
    )
    both_lines, both = _section(
        "Apples and oranges: price = (apple · apple_num + orange · orange_num) · tax, "
        "orange 150, orange_num 3",
        APPLES_AND_ORANGES,
        APPLES_AND_ORANGES_LEAVES,
    )
    header = ["Saito's shopping graphs (manualbp.engine.graph), backward from d(price) = 1"]
    return DemoResult(
        header + apple_lines + both_lines, {"apples": apples, "apples_and_oranges": both}
    )


DEMO = Demo("apples", "S1a", "Saito's apples-and-oranges computational graph", run)

"""S0b: Mazur's 2-2-2 example in vector form, with the engine's :class:`Network`.

Row-batch form of the article's column equations (x is (1, 2), W_l is (out, in)):

    δ2 = -(y - a2) ⊙ a2(1 - a2)          output error term, (1, 2)
    δ1 = (δ2 W2) ⊙ a1(1 - a1)            hidden error term, (W2ᵀ δ2 in column form)
    ∂E/∂W2 = δ2ᵀ a1,   ∂E/∂W1 = δ1ᵀ x    (2, 2) each
    W⁺ = W - η ∂E/∂W                     (biases kept, as in the post)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import manualbp.engine as engine
from manualbp.demos import mazur_data as data
from manualbp.demos.base import Demo, DemoResult, array_lines, number
from manualbp.engine.network import Network
from manualbp.engine.train import train


def run(output_dir: Path = Path("reports"), *, iterations: int = data.ITERATIONS) -> DemoResult:
    """Run the vector demo; ``iterations`` is the length of the final training run."""
    arch, lr = data.ARCHITECTURE, data.LEARNING_RATE
    params = data.initial_params()
    network = Network(arch)
    forward = network.forward(params, data.X)
    backward = network.backward(forward, data.Y)
    delta1, delta2 = backward.delta
    updated = engine.step(arch, params, data.X, data.Y, lr, frozen=data.FROZEN)
    trained = train(
        engine, arch, params, data.X, data.Y, lr=lr, epochs=iterations, frozen=data.FROZEN
    )
    figures: dict[str, Any] = {
        "a1": forward.a[0],
        "a2": forward.a[1],
        "E_total": float(network.loss(forward, data.Y)),
        "delta2": delta2,
        "delta1": delta1,
        "grad_W2": backward.gradients["W2"],
        "grad_W1": backward.gradients["W1"],
        "W2_updated": updated["W2"],
        "W1_updated": updated["W1"],
        "E_total_after_first_update": engine.loss(arch, updated, data.X, data.Y),
        "iterations": iterations,
        "E_total_after_training": trained.final_loss,
        "a2_after_training": network.forward(trained.params, data.X).output,
    }
    lines = [
        "Mazur's 2-2-2 example in vector form (manualbp.engine, batch rows, W of shape (out, in))",
        f"  x = {data.X.tolist()}, y = {data.Y.tolist()}",
        "Forward: z_l = a_(l-1) W_lᵀ + b_l, a_l = σ(z_l)",
        *array_lines("a1", figures["a1"]),
        *array_lines("a2", figures["a2"]),
        f"  E = Σ ½(y - a2)² = {number(figures['E_total'])}",
        "Output error term δ2 = -(y - a2) ⊙ a2(1 - a2)",
        *array_lines("δ2", delta2),
        "Hidden error term δ1 = (δ2 W2) ⊙ a1(1 - a1)   [column form: (W2ᵀ δ2) ⊙ a1(1 - a1)]",
        *array_lines("δ1", delta1),
        "Weight gradients ∂E/∂W2 = δ2ᵀ a1, ∂E/∂W1 = δ1ᵀ x",
        *array_lines("∂E/∂W2", figures["grad_W2"]),
        *array_lines("∂E/∂W1", figures["grad_W1"]),
        f"Update W⁺ = W - η ∂E/∂W with η = {lr} (biases kept)",
        *array_lines("W2⁺", figures["W2_updated"]),
        *array_lines("W1⁺", figures["W1_updated"]),
        f"  E after the first update = {number(figures['E_total_after_first_update'])}",
        f"Training: {iterations:,} updates",
        f"  E = {figures['E_total_after_training']:.10f}",
        *array_lines("a2", figures["a2_after_training"]),
    ]
    return DemoResult(lines, figures)


DEMO = Demo("mazur-vector", "S0b", "Mazur's 2-2-2 example in vector form (the engine)", run)

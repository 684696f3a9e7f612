"""S0c: XOR learned by a 2-3-1 sigmoid network without biases.

All four samples form one batch; E = (1/4) Σ_n ½(a_n - y_n)², so the output error term
δ2 = -(y - a) ⊙ a(1 - a) is divided by the batch size, as in the article. Weights start
N(0, 1) from ``default_rng(seed)``; plain gradient descent with learning rate 1.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import manualbp.engine as engine
from manualbp.architecture import Architecture
from manualbp.demos.base import Demo, DemoResult, number
from manualbp.engine.network import Network
from manualbp.engine.train import train
from manualbp.params import init_params

ARCHITECTURE = Architecture(
    sizes=(2, 3, 1),
    activations=("sigmoid", "sigmoid"),
    loss="half_sse",
    bias="none",
    reduction="mean",
)
X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
Y = np.array([[0.0], [1.0], [1.0], [0.0]])
X.setflags(write=False)
Y.setflags(write=False)


def run(
    output_dir: Path = Path("reports"),
    *,
    epochs: int = 10_000,
    seed: int = 0,
    lr: float = 1.0,
    print_every: int = 2_000,
) -> DemoResult:
    """Train on the four XOR samples for ``epochs`` full-batch steps from seeded weights."""
    params = init_params(ARCHITECTURE, np.random.default_rng(seed), scale=1.0)
    result = train(engine, ARCHITECTURE, params, X, Y, lr=lr, epochs=epochs)
    outputs = Network(ARCHITECTURE).forward(result.params, X).output[:, 0]
    lines = [
        "XOR by a 2-3-1 sigmoid network without biases (manualbp.engine)",
        f"  weights N(0, 1) from default_rng({seed}); batch of all 4 samples; "
        f"E = mean of ½(a - y)² (δ2 ÷ 4); lr {lr}",
        f"  epoch {0:>6}: E = {number(result.initial_loss)}",
    ]
    lines += [
        f"  epoch {epoch:>6}: E = {number(result.loss_history[epoch - 1])}"
        for epoch in range(print_every, epochs + 1, print_every)
    ]
    lines += [
        f"  x = ({x1:g}, {x2:g})  target {target:g}  output {number(output, 4)}"
        for (x1, x2), target, output in zip(X, Y[:, 0], outputs, strict=True)
    ]
    max_error = float(np.max(np.abs(outputs - Y[:, 0])))
    lines.append(f"  largest |output - target| = {number(max_error, 4)}")
    figures = {
        "seed": seed,
        "epochs": epochs,
        "outputs": outputs,
        "targets": Y[:, 0].copy(),
        "max_error": max_error,
        "initial_loss": result.initial_loss,
        "final_loss": result.final_loss,
    }
    return DemoResult(lines, figures)


DEMO = Demo("xor", "S0c", "XOR by a 2-3-1 sigmoid network without biases", run)

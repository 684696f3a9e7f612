"""S1c: a two-layer ReLU network without biases, trained by plain gradient descent.

N = 64 rows, D_in = 1000, H = 100, D_out = 10; ŷ = relu(x W1ᵀ) W2ᵀ; E = Σ (ŷ - y)² with
∂E/∂ŷ = 2(ŷ - y); ReLU passes the gradient only where its input is positive. Inputs,
targets and both weight matrices are N(0, 1) from ``default_rng(seed)``; learning rate
1e-6, 500 full-batch steps.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import manualbp.engine as engine
from manualbp.architecture import Architecture
from manualbp.demos.base import Demo, DemoResult
from manualbp.engine.train import train
from manualbp.params import init_params

N, D_IN, H, D_OUT = 64, 1000, 100, 10
ARCHITECTURE = Architecture(
    sizes=(D_IN, H, D_OUT),
    activations=("relu", "identity"),
    loss="sse",
    bias="none",
    reduction="sum",
)


def run(
    output_dir: Path = Path("reports"),
    *,
    steps: int = 500,
    seed: int = 0,
    lr: float = 1e-6,
    print_every: int = 100,
) -> DemoResult:
    """Draw the data and weights from ``default_rng(seed)`` and take ``steps`` steps."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, D_IN))
    y = rng.standard_normal((N, D_OUT))
    params = init_params(ARCHITECTURE, rng, scale=1.0)
    result = train(engine, ARCHITECTURE, params, x, y, lr=lr, epochs=steps)
    lines = [
        f"Two-layer ReLU network without biases, N={N}, D_in={D_IN}, H={H}, D_out={D_OUT} "
        "(manualbp.engine)",
        f"  data and weights N(0, 1) from default_rng({seed}); E = Σ(ŷ - y)², lr {lr:g}",
        f"  step {0:>4}: E = {result.initial_loss:.6g}",
    ]
    lines += [
        f"  step {step:>4}: E = {result.loss_history[step - 1]:.6g}"
        for step in range(print_every, steps + 1, print_every)
    ]
    figures = {
        "seed": seed,
        "steps": steps,
        "initial_loss": result.initial_loss,
        "loss_history": result.loss_history,
        "final_loss": result.final_loss,
    }
    return DemoResult(lines, figures)


DEMO = Demo("relu-net", "S1c", "Two-layer ReLU network, 64 x 1000 -> 100 -> 10", run)

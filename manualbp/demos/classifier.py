"""S2: the 10-sample two-feature classifier, 2 → 4 → 1 sigmoid without biases.

Loss: binary cross-entropy of the sigmoid output summed over the batch; its output error
term is δ2 = ŷ - y = -(y - ŷ), with no sigmoid derivative (σ' cancels against the
derivative of the log). Weights U[-0.1, 0.1] from ``default_rng(seed)``; full batch,
learning rate 0.1, 20 epochs; a sample counts as class 1 when ŷ > 0.5.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import manualbp.engine as engine
from manualbp.architecture import Architecture
from manualbp.demos.base import Demo, DemoResult, number
from manualbp.engine.network import Network
from manualbp.engine.train import train
from manualbp.params import Params

ARCHITECTURE = Architecture(
    sizes=(2, 4, 1),
    activations=("sigmoid", "sigmoid"),
    loss="bce",
    bias="none",
    reduction="sum",
)
#: (x1, x2, label) as printed in the write-up (SEEDS.md S2).
DATA = np.array(
    [
        (2.7810836, 2.550537003, 0),
        (1.465489372, 2.362125076, 0),
        (3.396561688, 4.400293529, 0),
        (1.38807019, 1.850220317, 0),
        (3.06407232, 3.005305973, 0),
        (7.627531214, 2.759262235, 1),
        (5.332441248, 2.088626775, 1),
        (6.922596716, 1.77106367, 1),
        (8.675418651, -0.242068655, 1),
        (7.673756466, 3.508563011, 1),
    ]
)
DATA.setflags(write=False)
X = DATA[:, :2]
Y = DATA[:, 2:]


def uniform_params(rng: np.random.Generator, limit: float = 0.1) -> Params:
    """Every weight of :data:`ARCHITECTURE` drawn from U[-limit, limit]."""
    return {
        name: rng.uniform(-limit, limit, size=shape)
        for name, shape in ARCHITECTURE.param_shapes().items()
    }


def accuracy(network: Network, params: Params) -> float:
    """Fraction of samples with (ŷ > 0.5) equal to their label."""
    predicted = network.forward(params, X).output > 0.5
    return float(np.mean(predicted == (Y > 0.5)))


def run(
    output_dir: Path = Path("reports"), *, epochs: int = 20, seed: int = 0, lr: float = 0.1
) -> DemoResult:
    """Train full batch for ``epochs`` epochs, recording loss and accuracy after each."""
    network = Network(ARCHITECTURE)
    params = uniform_params(np.random.default_rng(seed))
    accuracies: list[float] = []
    result = train(
        engine,
        ARCHITECTURE,
        params,
        X,
        Y,
        lr=lr,
        epochs=epochs,
        callback=lambda epoch, current, loss: accuracies.append(accuracy(network, current)),
    )
    lines = [
        "10-sample classifier, 2 -> 4 -> 1 sigmoid without biases (manualbp.engine)",
        f"  weights U[-0.1, 0.1] from default_rng({seed}); bce summed over the batch, "
        f"output error term -(y - ŷ); full batch, lr {lr}",
        f"  epoch {0:>2}: loss {number(result.initial_loss, 6)}  "
        f"accuracy {accuracy(network, params):.0%}",
    ]
    lines += [
        f"  epoch {epoch:>2}: loss {number(loss, 6)}  accuracy {acc:.0%}"
        for epoch, (loss, acc) in enumerate(zip(result.loss_history, accuracies, strict=True), 1)
    ]
    perfect = next((e for e, acc in enumerate(accuracies, 1) if acc == 1.0), None)
    lines.append(f"  first epoch at 100 %: {perfect}" if perfect else "  100 % not reached")
    figures = {
        "seed": seed,
        "initial_loss": result.initial_loss,
        "loss_history": result.loss_history,
        "accuracy": accuracies,
        "first_perfect_epoch": perfect,
    }
    return DemoResult(lines, figures)


DEMO = Demo("classifier", "S2", "10-sample classifier without biases (bce, 2-4-1)", run)

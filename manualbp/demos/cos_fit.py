"""S3: a [1, 8, 5, 3, 1] sigmoid network fits (cos x + 1)/2, and the fit is plotted.

Weights and biases N(0, 1) from ``default_rng(seed)``; cost per sample (a - y)² with
derivative 2(a - y); mini-batch SGD over 200 evenly spaced points of [-7, 7] in shuffled
batches of 40 with the update θ ← θ - (η/40) Σ_batch ∂C_n/∂θ (reduction ``mean``), η = 0.1.
The plot shows the fit on [-9, 9], beyond the training interval, and is written as
``cos_fit.png`` under ``output_dir`` (Agg renderer, no date or version metadata, so the
same run gives the same file).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

import manualbp.engine as engine
from manualbp.architecture import Architecture
from manualbp.demos.base import Demo, DemoResult, number
from manualbp.engine.network import Network
from manualbp.engine.train import train
from manualbp.params import Params, init_params

ARCHITECTURE = Architecture(
    sizes=(1, 8, 5, 3, 1),
    activations=("sigmoid", "sigmoid", "sigmoid", "sigmoid"),
    loss="sse",
    bias="per_unit",
    reduction="mean",
)
N_POINTS, BATCH_SIZE, LEARNING_RATE = 200, 40, 0.1
PLOT_NAME = "cos_fit.png"


def target(x: np.ndarray) -> np.ndarray:
    """(cos x + 1)/2, the function to fit, element-wise."""
    return (np.cos(x) + 1.0) / 2.0


def save_plot(path: Path, params: Params, x: np.ndarray, y: np.ndarray, epochs: int) -> None:
    """Plot the training points, the target and the network's fit on [-9, 9] to ``path``."""
    grid = np.linspace(-9.0, 9.0, 361)[:, None]
    fit = Network(ARCHITECTURE).forward(params, grid).output
    figure = Figure(figsize=(7.0, 4.0), dpi=100)
    axes = figure.add_subplot()
    axes.axvspan(-7.0, 7.0, color="0.93", label="training interval")
    axes.plot(grid[:, 0], target(grid[:, 0]), color="0.4", linestyle="--", label="(cos x + 1)/2")
    axes.plot(grid[:, 0], fit[:, 0], color="tab:blue", label=f"network after {epochs} epochs")
    axes.plot(x[:, 0], y[:, 0], ".", color="tab:orange", markersize=3, label="training points")
    axes.set_xlabel("x")
    axes.set_ylabel("y")
    axes.set_title("[1, 8, 5, 3, 1] sigmoid network fitting (cos x + 1)/2")
    axes.set_ylim(-0.1, 1.35)
    axes.legend(loc="upper center", ncol=2, fontsize="small")
    figure.tight_layout()
    figure.savefig(path, format="png", metadata={"Software": None})


def run(
    output_dir: Path = Path("reports"),
    *,
    epochs: int = 5_000,
    seed: int = 0,
    print_every: int = 500,
) -> DemoResult:
    """Train for ``epochs`` epochs (shuffling seeded too) and save the plot under output_dir."""
    x = np.linspace(-7.0, 7.0, N_POINTS)[:, None]
    y = target(x)
    params = init_params(ARCHITECTURE, np.random.default_rng(seed), scale=1.0)
    result = train(
        engine,
        ARCHITECTURE,
        params,
        x,
        y,
        lr=LEARNING_RATE,
        epochs=epochs,
        batch_size=BATCH_SIZE,
        seed=seed,
    )
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    plot = output_dir / PLOT_NAME
    save_plot(plot, result.params, x, y, epochs)
    lines = [
        "[1, 8, 5, 3, 1] sigmoid network fitting (cos x + 1)/2 on [-7, 7] (manualbp.engine)",
        f"  weights and biases N(0, 1) from default_rng({seed}); cost (a - y)², derivative "
        f"2(a - y); {N_POINTS} points, batches of {BATCH_SIZE}, update η/{BATCH_SIZE} Σ, "
        f"η = {LEARNING_RATE}",
        f"  epoch {0:>5}: mean cost {number(result.initial_loss, 6)}",
    ]
    lines += [
        f"  epoch {epoch:>5}: mean cost {number(result.loss_history[epoch - 1], 6)}"
        for epoch in range(print_every, epochs + 1, print_every)
    ]
    lines.append(f"  plot of the fit on [-9, 9]: {plot}")
    figures = {
        "seed": seed,
        "epochs": epochs,
        "initial_loss": result.initial_loss,
        "loss_history": result.loss_history,
        "final_loss": result.final_loss,
        "plot": plot,
    }
    return DemoResult(lines, figures, [plot])


DEMO = Demo(
    "cos-fit",
    "S3",
    "[1, 8, 5, 3, 1] network fitting (cos x + 1)/2, plotted",
    run,
    writes_files=True,
)

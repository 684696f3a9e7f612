"""S4: Nielsen-style per-sample backprop, its mini-batch average, and what backprop saves.

Nielsen's ``network.py`` runs backprop on one sample at a time, returning the layer lists
(∇b, ∇W) of ∂C_x/∂b_l and ∂C_x/∂W_l, and averages them over a mini-batch of m samples:

    δ^L = ∇_a C ⊙ σ'(z^L),   δ^l = ((W^{l+1})ᵀ δ^{l+1}) ⊙ σ'(z^l),
    ∇b_l = δ^l,   ∇W_l = δ^l (a^{l-1})ᵀ,   update θ ← θ - (η/m) Σ_x ∇θ_x.

Here the per-sample pass is assembled from the engine's pieces on a batch of one row, the
sum over the mini-batch is compared with the engine's vectorised batch gradient, both are
used to train on a seeded synthetic task, and the cost argument is measured: a
central-difference gradient needs 2P forward passes for P parameters, backprop one
forward and one backward pass.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import manualbp.engine as engine
from manualbp.architecture import Architecture
from manualbp.demos.base import Demo, DemoResult
from manualbp.engine.implementation import prepare
from manualbp.engine.network import Network
from manualbp.engine.train import train
from manualbp.params import Params, flatten, init_params, unflatten

#: (∇b, ∇W): per layer l = 1..L, ∂C/∂b_l (None without biases) and ∂C/∂W_l (n_l, n_{l-1}).
LayerGradients = tuple[list[np.ndarray | None], list[np.ndarray]]

ARCHITECTURE = Architecture(
    sizes=(2, 8, 2),
    activations=("sigmoid", "sigmoid"),
    loss="half_sse",
    bias="per_unit",
    reduction="mean",
)
#: Nielsen's million-weight argument, at roughly that size: 987,210 parameters.
COST_SIZES = (784, 1000, 200, 10)


def backprop(network: Network, params: Params, x: np.ndarray, y: np.ndarray) -> LayerGradients:
    """(∇b, ∇W) of the loss of one sample x (inputs,), y (outputs,), Nielsen's recurrences."""
    forward = network.forward(params, x[None, :])
    depth = network.arch.depth
    nabla_b: list[np.ndarray | None] = [None] * depth
    nabla_w: list[np.ndarray] = [np.empty(0)] * depth
    delta = network.output_error(forward, y[None, :])
    for layer in range(depth, 0, -1):
        if layer < depth:
            delta = network.hidden_error(delta, layer, forward)
        nabla_b[layer - 1] = network.affine.bias_gradient(delta)
        nabla_w[layer - 1] = network.affine.weight_gradient(delta, forward.affine_caches[layer - 1])
    return nabla_b, nabla_w


def mini_batch_gradient(
    network: Network, params: Params, x: np.ndarray, y: np.ndarray
) -> LayerGradients:
    """Σ_x (∇b, ∇W) over the rows of x (m, inputs), times 1/m for reduction ``mean``."""
    scale = network.batch_scale(x.shape[0])
    per_sample = [backprop(network, params, x_n, y_n) for x_n, y_n in zip(x, y, strict=True)]
    nabla_b = [
        None if b is None else scale * sum(sample[0][index] for sample in per_sample)
        for index, b in enumerate(per_sample[0][0])
    ]
    nabla_w = [
        scale * sum(sample[1][index] for sample in per_sample)
        for index in range(network.arch.depth)
    ]
    return nabla_b, nabla_w


class PerSampleBackprop:
    """The protocol's ``loss`` and ``gradients`` with gradients from :func:`mini_batch_gradient`.

    Plugged into :func:`manualbp.engine.train.train` it is Nielsen's SGD.
    """

    name = "nielsen per-sample backprop"

    def loss(self, arch: Architecture, params: Mapping[str, object], x: object, y: object) -> float:
        """E(θ) on the batch (the engine's loss)."""
        return engine.loss(arch, params, x, y)

    def gradients(
        self, arch: Architecture, params: Mapping[str, object], x: object, y: object
    ) -> tuple[float, dict[str, np.ndarray]]:
        """(E, {name: ∂E/∂name}) from per-sample backprop summed over the batch."""
        cast, x_arr, y_arr = prepare(arch, params, x, y)
        nabla_b, nabla_w = mini_batch_gradient(Network(arch), cast, x_arr, y_arr)
        grads: dict[str, np.ndarray] = {}
        for layer, (b, w) in enumerate(zip(nabla_b, nabla_w, strict=True), start=1):
            grads[f"W{layer}"] = w
            if b is not None:
                grads[f"b{layer}"] = b
        return self.loss(arch, cast, x_arr, y_arr), grads


def circle_task(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """n points uniform in [-1, 1]²; one-hot target (inside, outside) the circle r² = 2/π,
    which holds half of the square's area. x (n, 2), y (n, 2)."""
    x = rng.uniform(-1.0, 1.0, size=(n, 2))
    inside = np.sum(x * x, axis=1) < 2.0 / np.pi
    return x, np.stack([inside, ~inside], axis=1).astype(np.float64)


def _median_seconds(function: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@dataclass(frozen=True)
class CostMeasurement:
    """Forward passes and measured seconds for one gradient of a single-sample loss."""

    sizes: tuple[int, ...]
    n_params: int
    fd_forward_passes: int
    seconds_per_forward: float
    seconds_backprop: float
    sampled: int
    fd_max_abs_error: float

    @property
    def fd_seconds(self) -> float:
        """Estimated seconds for a full central-difference gradient: 2P forward passes."""
        return self.fd_forward_passes * self.seconds_per_forward


def measure_cost(
    sizes: tuple[int, ...], seed: int, sampled: int = 20, repeats: int = 5, h: float = 1e-5
) -> CostMeasurement:
    """Time one forward pass (inside central differences on ``sampled`` random parameters,
    [C(θ + h e_i) - C(θ - h e_i)] / 2h) and one backprop pass on a sigmoid network."""
    arch = Architecture(sizes, ("sigmoid",) * (len(sizes) - 1), "half_sse", "per_unit", "mean")
    rng = np.random.default_rng(seed)
    params = init_params(arch, rng)
    x = rng.standard_normal((1, arch.inputs))
    y = rng.uniform(0.0, 1.0, size=(1, arch.outputs))
    network = Network(arch)

    def loss_at(theta: np.ndarray) -> float:
        return float(network.loss(network.forward(unflatten(arch, theta), x), y))

    theta = flatten(arch, params)
    backprop_flat = flatten(arch, network.backward(network.forward(params, x), y).gradients)
    indices = rng.choice(theta.size, size=min(sampled, theta.size), replace=False)
    fd = np.empty(indices.size)
    start = time.perf_counter()
    for k, i in enumerate(indices):
        original = theta[i]
        theta[i] = original + h
        plus = loss_at(theta)
        theta[i] = original - h
        minus = loss_at(theta)
        theta[i] = original
        fd[k] = (plus - minus) / (2.0 * h)
    seconds_per_forward = (time.perf_counter() - start) / (2 * indices.size)
    seconds_backprop = _median_seconds(
        lambda: network.backward(network.forward(params, x), y), repeats
    )
    return CostMeasurement(
        sizes=tuple(sizes),
        n_params=arch.n_params,
        fd_forward_passes=2 * arch.n_params,
        seconds_per_forward=seconds_per_forward,
        seconds_backprop=seconds_backprop,
        sampled=int(indices.size),
        fd_max_abs_error=float(np.max(np.abs(fd - backprop_flat[indices]))),
    )


def _accuracy(arch: Architecture, params: Params, x: np.ndarray, y: np.ndarray) -> float:
    predicted = np.argmax(Network(arch).forward(params, x).output, axis=1)
    return float(np.mean(predicted == np.argmax(y, axis=1)))


def run(
    output_dir: Path = Path("reports"),
    *,
    seed: int = 0,
    n_train: int = 200,
    batch_size: int = 10,
    lr: float = 3.0,
    epochs: int = 30,
    cost_sizes: tuple[int, ...] = COST_SIZES,
) -> DemoResult:
    """Compare per-sample and vectorised gradients, train both ways, measure the cost."""
    rng = np.random.default_rng(seed)
    x, y = circle_task(rng, n_train)
    params = init_params(ARCHITECTURE, rng, scale=1.0)
    network = Network(ARCHITECTURE)

    nabla_b, nabla_w = mini_batch_gradient(network, params, x[:batch_size], y[:batch_size])
    _, vectorised = engine.gradients(ARCHITECTURE, params, x[:batch_size], y[:batch_size])
    gradient_gap = max(
        float(np.max(np.abs(g - vectorised[f"{kind}{layer}"])))
        for kind, layers in (("b", nabla_b), ("W", nabla_w))
        for layer, g in enumerate(layers, start=1)
    )

    settings: dict[str, Any] = {"lr": lr, "epochs": epochs, "batch_size": batch_size, "seed": seed}
    per_sample = train(PerSampleBackprop(), ARCHITECTURE, params, x, y, **settings)
    batched = train(engine, ARCHITECTURE, params, x, y, **settings)
    trajectory_gap = max(
        float(np.max(np.abs(per_sample.params[name] - batched.params[name])))
        for name in ARCHITECTURE.param_names
    )
    accuracy = (
        _accuracy(ARCHITECTURE, params, x, y),
        _accuracy(ARCHITECTURE, per_sample.params, x, y),
    )
    cost = measure_cost(cost_sizes, seed)

    lines = [
        "Nielsen-style backprop (per sample, then averaged) vs the engine's batch gradient",
        f"  network {list(ARCHITECTURE.sizes)} sigmoid, C = ½‖a - y‖², mini-batch of "
        f"{batch_size}, seed {seed}",
        f"  max |(1/m) Σ_x ∇θ_x - vectorised ∇θ| = {gradient_gap:.2e}",
        f"Training on {n_train} points of [-1, 1]² (inside / outside the circle r² = 2/π), "
        f"η = {lr}, {epochs} epochs of shuffled mini-batches",
        f"  per-sample SGD: mean cost {per_sample.initial_loss:.4f} -> "
        f"{per_sample.final_loss:.4f}, accuracy {accuracy[0]:.0%} -> {accuracy[1]:.0%}",
        f"  same run with the vectorised gradient: parameters differ by at most "
        f"{trajectory_gap:.2e}",
        f"Cost of one gradient, network {list(cost.sizes)}, P = {cost.n_params:,} parameters, "
        "one sample",
        f"  central differences: 2P = {cost.fd_forward_passes:,} forward passes at "
        f"{cost.seconds_per_forward * 1e3:.3f} ms each (measured on {cost.sampled} parameters) "
        f"≈ {cost.fd_seconds:,.1f} s",
        f"  backprop: 1 forward + 1 backward pass = {cost.seconds_backprop * 1e3:.3f} ms "
        f"(≈ {cost.fd_seconds / cost.seconds_backprop:,.0f}x faster)",
        f"  the {cost.sampled} sampled central differences agree with backprop to "
        f"{cost.fd_max_abs_error:.1e}",
    ]
    figures = {
        "seed": seed,
        "gradient_gap": gradient_gap,
        "trajectory_gap": trajectory_gap,
        "initial_loss": per_sample.initial_loss,
        "loss_history": per_sample.loss_history,
        "accuracy_before": accuracy[0],
        "accuracy_after": accuracy[1],
        "cost": cost,
    }
    return DemoResult(lines, figures)


DEMO = Demo("nielsen", "S4", "Nielsen-style per-sample backprop and its cost argument", run)

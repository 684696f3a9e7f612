"""The benchmark problems: architectures, their weights and batches, and their FLOP counts.

Both worker processes (engine and torch) build a problem from the same seed with the same
NumPy code, so they train on bit-identical weights and batches without shipping arrays
between processes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np

from manualbp.architecture import Architecture
from manualbp.params import Params, init_params

#: The architectures of the performance issue, smallest first.
FULL_SIZES: tuple[tuple[int, ...], ...] = (
    (2, 2, 2),
    (1, 8, 5, 3, 1),
    (784, 256, 128, 10),
    (1024, 2048, 2048, 1024),
)
FULL_BATCHES: tuple[int, ...] = (64, 512)
#: The losses of a training step: softmax cross-entropy on identity logits, and ½·SSE on a
#: sigmoid output.
FULL_LOSSES: tuple[str, ...] = ("softmax_ce", "half_sse")
#: ``--quick``: the two small architectures and the MNIST-sized one, batch 64, softmax_ce.
QUICK_SIZES: tuple[tuple[int, ...], ...] = FULL_SIZES[:3]
QUICK_BATCHES: tuple[int, ...] = (64,)
QUICK_LOSSES: tuple[str, ...] = ("softmax_ce",)

#: Hidden layers use this activation; the output is what the loss needs.
HIDDEN_ACTIVATION = "sigmoid"
OUTPUT_ACTIVATION = {"softmax_ce": "identity", "half_sse": "sigmoid"}
#: η of the gradient-descent step θ' = θ - η ∂E/∂θ.
LEARNING_RATE = 0.1


def architecture(sizes: tuple[int, ...], loss: str) -> Architecture:
    """Sigmoid hidden layers, the output ``loss`` needs, averaged over the batch, per-unit
    biases."""
    depth = len(sizes) - 1
    activations = (HIDDEN_ACTIVATION,) * (depth - 1) + (OUTPUT_ACTIVATION[loss],)
    return Architecture(tuple(sizes), activations, loss=loss, reduction="mean")


@dataclass(frozen=True)
class Problem:
    """One training step's input: architecture, parameters, x (N, n_0), y (N, n_L), η."""

    arch: Architecture
    params: Params
    x: np.ndarray
    y: np.ndarray
    lr: float = LEARNING_RATE


def make_problem(sizes: tuple[int, ...], batch: int, seed: int, loss: str) -> Problem:
    """Weights from N(0, 1/fan_in), x from N(0, 1), all float64, from ``seed``; targets are
    one-hot classes (softmax_ce) or uniform in [0, 1] (half_sse)."""
    arch = architecture(sizes, loss)
    rng = np.random.default_rng(seed)
    params = init_params(arch, rng)
    x = rng.standard_normal((batch, sizes[0]))
    if loss == "softmax_ce":
        y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], size=batch)]
    else:
        y = rng.uniform(size=(batch, sizes[-1]))
    return Problem(arch, params, x, y)


def step_flops(sizes: tuple[int, ...], batch: int) -> float:
    """Multiply-add FLOPs of one step, counting the three GEMMs per layer, 2·N·n_l·n_{l-1}
    each: forward z_l = a_{l-1} W_l^T, weight gradient δ_l^T a_{l-1} and input gradient
    δ_l W_l, the last one for l >= 2 only (nothing needs ∂E/∂x)."""
    products = [n_in * n_out for n_in, n_out in pairwise(sizes)]
    return 2.0 * batch * (3 * sum(products) - products[0])


def product_operands(
    sizes: tuple[int, ...], batch: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(a_{l-1} (N, n_{l-1}), W_l (n_l, n_{l-1}), δ_l (N, n_l)) for every layer l, from N(0, 1):
    the operands of a step's matrix products a W^T, δ^T a and δ W."""
    rng = np.random.default_rng(seed)
    return [
        (
            rng.standard_normal((batch, n_in)),
            rng.standard_normal((n_out, n_in)),
            rng.standard_normal((batch, n_out)),
        )
        for n_in, n_out in pairwise(sizes)
    ]


def product_pairs(layers: Sequence[tuple[Any, Any, Any]]) -> list[tuple[Any, Any]]:
    """The (left, right) factors of every matrix product of a step, in the engine's layouts,
    from :func:`product_operands` (NumPy arrays or torch tensors): per layer a W^T, δ^T a and,
    above the first layer, δ W. Their FLOPs, 2·m·k·n each, add up to :func:`step_flops`."""
    pairs = []
    for layer, (a, W, delta) in enumerate(layers, start=1):
        pairs += [(a, W.T), (delta.T, a)] + ([(delta, W)] if layer > 1 else [])
    return pairs


def gemm_flops(n: int) -> float:
    """FLOPs of one square product C = A B with A, B (n, n): 2n³."""
    return 2.0 * float(n) ** 3

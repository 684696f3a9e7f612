"""The benchmark problems: architectures, their weights and batches, and their FLOP counts.

Both worker processes (engine and torch) build a problem from the same seed with the same
NumPy code, so they train on bit-identical weights and batches without shipping arrays
between processes.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from manualbp.architecture import Architecture
from manualbp.params import Params, init_params

#: The architectures of issue 6, smallest first.
FULL_SIZES: tuple[tuple[int, ...], ...] = (
    (2, 2, 2),
    (1, 8, 5, 3, 1),
    (784, 256, 128, 10),
    (1024, 2048, 2048, 1024),
)
FULL_BATCHES: tuple[int, ...] = (64, 512)
#: ``--quick``: the two small architectures and the MNIST-sized one, batch 64 only.
QUICK_SIZES: tuple[tuple[int, ...], ...] = FULL_SIZES[:3]
QUICK_BATCHES: tuple[int, ...] = (64,)

#: Hidden layers use this activation; the output is identity under mean squared error.
HIDDEN_ACTIVATION = "relu"


def architecture(sizes: tuple[int, ...]) -> Architecture:
    """ReLU hidden layers, identity output, MSE averaged over the batch, per-unit biases."""
    depth = len(sizes) - 1
    activations = (HIDDEN_ACTIVATION,) * (depth - 1) + ("identity",)
    return Architecture(tuple(sizes), activations, loss="mse", reduction="mean")


@dataclass(frozen=True)
class Problem:
    """One training step's input: architecture, parameters, x (N, n_0) and y (N, n_L)."""

    arch: Architecture
    params: Params
    x: np.ndarray
    y: np.ndarray


def make_problem(sizes: tuple[int, ...], batch: int, seed: int) -> Problem:
    """Weights from N(0, 1/fan_in), x and y from N(0, 1), all float64, from ``seed``."""
    arch = architecture(sizes)
    rng = np.random.default_rng(seed)
    params = init_params(arch, rng)
    x = rng.standard_normal((batch, sizes[0]))
    y = rng.standard_normal((batch, sizes[-1]))
    return Problem(arch, params, x, y)


def step_flops(sizes: tuple[int, ...], batch: int) -> float:
    """Multiply-add FLOPs of one step, counting the three GEMMs per layer, 2·N·n_l·n_{l-1}
    each: forward z_l = a_{l-1} W_l^T, weight gradient δ_l^T a_{l-1} and input gradient
    δ_l W_l, the last one for l >= 2 only (nothing needs ∂E/∂x)."""
    products = [n_in * n_out for n_in, n_out in pairwise(sizes)]
    return 2.0 * batch * (3 * sum(products) - products[0])


def gemm_flops(n: int) -> float:
    """FLOPs of one square product C = A B with A, B (n, n): 2n³."""
    return 2.0 * float(n) ** 3

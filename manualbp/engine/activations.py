"""Activation functions a = f(z) and their derivatives f'(z), element-wise.

Every function accepts real or complex arrays and is analytic wherever the real function is
differentiable, so the complex-step check can differentiate through it. Branches (ReLU,
the overflow-free forms of sigmoid and softplus) are chosen on the real part of z, which a
complex step of size ih does not change.

Derivatives take both z and the cached output a = f(z) and use whichever is cheaper:
sigmoid' = a(1 - a) and tanh' = 1 - a² come from a, ReLU's mask from z.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

LEAKY_SLOPE = 0.01


def _real_sign(z: np.ndarray) -> np.ndarray:
    """+1 where Re z >= 0, -1 elsewhere (so that s·z has a non-negative real part)."""
    return np.where(np.real(z) >= 0, 1.0, -1.0)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """σ(z) = 1 / (1 + e^{-z}), evaluated as e^{-|z|}-based forms that never overflow."""
    s = _real_sign(z)
    e = np.exp(-s * z)
    r = 1.0 / (1.0 + e)
    return np.where(s > 0, r, e * r)


def softplus(z: np.ndarray) -> np.ndarray:
    """softplus(z) = log(1 + e^z) = max(z, 0) + log(1 + e^{-|z|}), without overflow."""
    s = _real_sign(z)
    return np.where(s > 0, z, 0.0) + np.log1p(np.exp(-s * z))


def relu(z: np.ndarray) -> np.ndarray:
    """relu(z) = z where z > 0, else 0."""
    return np.where(np.real(z) > 0, z, 0.0)


def relu_derivative(z: np.ndarray, a: np.ndarray) -> np.ndarray:
    """relu'(z) = 1 where z > 0, else 0 (0 at the kink z = 0, as PyTorch)."""
    return (np.real(z) > 0).astype(np.result_type(z, np.float64))


def leaky_relu(z: np.ndarray) -> np.ndarray:
    """leaky_relu(z) = z where z > 0, else 0.01·z."""
    return np.where(np.real(z) > 0, z, LEAKY_SLOPE * z)


def leaky_relu_derivative(z: np.ndarray, a: np.ndarray) -> np.ndarray:
    """leaky_relu'(z) = 1 where z > 0, else 0.01 (0.01 at the kink, as PyTorch)."""
    return np.where(np.real(z) > 0, 1.0, LEAKY_SLOPE).astype(np.result_type(z, np.float64))


@dataclass(frozen=True)
class Activation:
    """An element-wise activation: ``forward(z) -> a`` and ``derivative(z, a) -> f'(z)``.

    ``kinks`` lists the points where f is not differentiable (ReLU and leaky ReLU at 0);
    ``output_derivative`` is f' written in terms of the output a when that form exists
    (sigmoid: a(1 - a), tanh: 1 - a²) — the form the articles in SEEDS.md use.
    """

    name: str
    forward: Callable[[np.ndarray], np.ndarray]
    derivative: Callable[[np.ndarray, np.ndarray], np.ndarray]
    kinks: tuple[float, ...] = ()


ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": Activation("sigmoid", sigmoid, lambda z, a: a * (1.0 - a)),
    "tanh": Activation("tanh", np.tanh, lambda z, a: 1.0 - a * a),
    "relu": Activation("relu", relu, relu_derivative, kinks=(0.0,)),
    "leaky_relu": Activation("leaky_relu", leaky_relu, leaky_relu_derivative, kinks=(0.0,)),
    "softplus": Activation("softplus", softplus, lambda z, a: sigmoid(z)),
    "identity": Activation("identity", lambda z: z, lambda z, a: np.ones_like(z)),
}

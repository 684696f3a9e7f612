"""Layers as forward/backward function pairs, CS231n style, one pair per layer kind.

``<kind>_forward(*arrays, [setting]) -> (out, cache)`` computes the layer and keeps what the
backward needs; ``<kind>_backward(dout, cache)`` takes the upstream gradient dout = ∂E/∂out
and returns ∂E/∂ of each array, in the forward's order (one array, or a tuple). The losses
are one function ``<kind>_loss(x, y) -> (loss, dx)``. Every formula below is the chain
rule: the local derivative of the layer times dout, summed over whatever the forward
broadcast or summed. Batches are rows; float64 throughout. The conventions (shapes, the
(in, out) weight layout, the setting dicts) are those of
:mod:`manualbp.checks.layer.kinds`, and the layer check verifies every pair here like any
user's (``manualbp verify --layer manualbp.layers``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from manualbp.layers.losses import half_sse_loss, mse_loss, softmax_ce_loss, sse_loss, svm_loss
from manualbp.layers.spatial import (
    conv2d_backward,
    conv2d_forward,
    maxpool2d_backward,
    maxpool2d_forward,
)

__all__ = [
    "add_backward",
    "add_forward",
    "affine_backward",
    "affine_forward",
    "batchnorm_backward",
    "batchnorm_forward",
    "conv2d_backward",
    "conv2d_forward",
    "dropout_backward",
    "dropout_forward",
    "half_sse_loss",
    "leaky_relu_backward",
    "leaky_relu_forward",
    "max_backward",
    "max_forward",
    "maxpool2d_backward",
    "maxpool2d_forward",
    "mse_loss",
    "multiply_backward",
    "multiply_forward",
    "relu_backward",
    "relu_forward",
    "sigmoid_backward",
    "sigmoid_forward",
    "softmax_ce_loss",
    "softplus_backward",
    "softplus_forward",
    "sse_loss",
    "svm_loss",
    "tanh_backward",
    "tanh_forward",
]

#: Slope of leaky ReLU for x < 0.
LEAKY_SLOPE = 0.01

Cache = Any


def affine_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, Cache]:
    """out = x·w + b: x (N, D), w (D, M) — the (in, out) layout —, b (M,) -> out (N, M)."""
    return x @ w + b, (x, w)


def affine_backward(dout: np.ndarray, cache: Cache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dx = dout·wᵀ (N, D), dw = xᵀ·dout (D, M), db = Σ_n dout[n] (M,): b is broadcast over
    the batch, so its gradient sums over it."""
    x, w = cache
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)


def relu_forward(x: np.ndarray) -> tuple[np.ndarray, Cache]:
    """out = max(0, x), element-wise."""
    return np.maximum(x, 0.0), x


def relu_backward(dout: np.ndarray, cache: Cache) -> np.ndarray:
    """dx = dout·[x > 0] (the derivative taken as 0 at the kink x = 0)."""
    return dout * (cache > 0)


def leaky_relu_forward(x: np.ndarray) -> tuple[np.ndarray, Cache]:
    """out = x where x > 0, LEAKY_SLOPE·x elsewhere."""
    return np.where(x > 0, x, LEAKY_SLOPE * x), x


def leaky_relu_backward(dout: np.ndarray, cache: Cache) -> np.ndarray:
    """dx = dout·(1 where x > 0, LEAKY_SLOPE elsewhere)."""
    return dout * np.where(cache > 0, 1.0, LEAKY_SLOPE)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """σ(x) = 1/(1 + e^-x), written as (1 + tanh(x/2))/2: no overflow for any x."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def sigmoid_forward(x: np.ndarray) -> tuple[np.ndarray, Cache]:
    """out = σ(x) = 1/(1 + e^-x)."""
    return _sigmoid(x), x


def sigmoid_backward(dout: np.ndarray, cache: Cache) -> np.ndarray:
    """dx = dout·σ(x)·σ(-x), which is σ'(x) = σ(x)(1 - σ(x)) without the cancellation of
    1 - σ(x) when σ(x) is close to 1."""
    return dout * _sigmoid(cache) * _sigmoid(-cache)


def tanh_forward(x: np.ndarray) -> tuple[np.ndarray, Cache]:
    """out = tanh(x)."""
    out = np.tanh(x)
    return out, out


def tanh_backward(dout: np.ndarray, cache: Cache) -> np.ndarray:
    """dx = dout·(1 - tanh²(x)), from the cached output."""
    return dout * (1.0 - cache**2)


def softplus_forward(x: np.ndarray) -> tuple[np.ndarray, Cache]:
    """out = log(1 + e^x), as logaddexp(x, 0) (exact for large |x|)."""
    return np.logaddexp(x, 0.0), x


def softplus_backward(dout: np.ndarray, cache: Cache) -> np.ndarray:
    """dx = dout·σ(x): the derivative of softplus is the logistic function."""
    return dout * _sigmoid(cache)


def add_forward(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, Cache]:
    """out = x + y (an addition node of a computational graph)."""
    return x + y, None


def add_backward(dout: np.ndarray, cache: Cache) -> tuple[np.ndarray, np.ndarray]:
    """(dx, dy) = (dout, dout): addition passes the upstream gradient to both inputs."""
    return dout * 1.0, dout * 1.0


def multiply_forward(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, Cache]:
    """out = x·y (a multiplication node)."""
    return x * y, (x, y)


def multiply_backward(dout: np.ndarray, cache: Cache) -> tuple[np.ndarray, np.ndarray]:
    """(dx, dy) = (dout·y, dout·x): each input gets dout times the *other* input."""
    x, y = cache
    return dout * y, dout * x


def max_forward(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, Cache]:
    """out = max(x, y), element-wise (a max node)."""
    return np.maximum(x, y), x >= y


def max_backward(dout: np.ndarray, cache: Cache) -> tuple[np.ndarray, np.ndarray]:
    """(dx, dy) = (dout·[x >= y], dout·[x < y]): dout goes to the larger input, to x on a tie
    (the kink, where any split of dout between the two is a subgradient)."""
    x_wins = cache
    return dout * x_wins, dout * ~x_wins


def batchnorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bn_param: dict[str, Any]
) -> tuple[np.ndarray, Cache]:
    """Training-mode batch normalisation, x (N, D), gamma and beta (D,):
    μ = mean_n x, σ² = mean_n (x - μ)² (biased), x̂ = (x - μ)/sqrt(σ² + eps),
    out = gamma·x̂ + beta; eps = bn_param["eps"] (default 1e-5). The running averages are
    updated in bn_param with its momentum (default 0.9), as CS231n's layer does."""
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    mean = x.mean(axis=0)
    centred = x - mean
    variance = np.mean(centred**2, axis=0)
    std = np.sqrt(variance + eps)
    xhat = centred / std
    for name, value in (("running_mean", mean), ("running_var", variance)):
        previous = bn_param.get(name, np.zeros_like(value))
        bn_param[name] = momentum * previous + (1.0 - momentum) * value
    return gamma * xhat + beta, (xhat, gamma, std)


def batchnorm_backward(dout: np.ndarray, cache: Cache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dgamma = Σ_n dout·x̂, dbeta = Σ_n dout, and, through x̂ and the batch statistics μ and
    σ² that depend on every row, dx = (gamma/σ)·(dout - mean_n dout - x̂·mean_n(dout·x̂))."""
    xhat, gamma, std = cache
    dgamma = np.sum(dout * xhat, axis=0)
    dbeta = dout.sum(axis=0)
    dx = (gamma / std) * (dout - dout.mean(axis=0) - xhat * np.mean(dout * xhat, axis=0))
    return dx, dgamma, dbeta


def dropout_forward(x: np.ndarray, dropout_param: dict[str, Any]) -> tuple[np.ndarray, Cache]:
    """Inverted dropout in train mode: mask ~ Bernoulli(p) with p = dropout_param["p"], the
    keep probability, out = x·mask/p (the expected output is x, so test mode is identity).
    The mask is drawn from default_rng(dropout_param["seed"]) when a seed is given."""
    keep = dropout_param["p"]
    if dropout_param.get("mode", "train") != "train":
        return x, None
    rng = np.random.default_rng(dropout_param.get("seed"))
    mask = (rng.random(x.shape) < keep) / keep
    return x * mask, mask


def dropout_backward(dout: np.ndarray, cache: Cache) -> np.ndarray:
    """dx = dout·mask/p (the same scaled mask as the forward; dout itself in test mode)."""
    return dout if cache is None else dout * cache

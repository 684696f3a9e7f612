"""Corpus subject: a batch-matrix NumPy MLP written straight from the textbook formulas.

User code: rows are samples, W is (out, in), every activation and loss of manualbp, every
bias mode, both reductions, a gradient-descent ``step`` and the per-layer ``intermediates``.
The formulas are the naive ones people write first:

- σ(z) = 1/(1 + exp(-z)), σ' = a(1 - a), tanh' = 1 - a², softplus(z) = log(1 + exp(z)),
  ReLU and leaky ReLU by masks;
- binary cross entropy -[y log a + (1 - y) log(1 - a)] on a = σ(z), differentiated through
  ∂ℓ/∂a = (a - y)/(a(1 - a)) and then σ'(z) = a(1 - a) -- not the fused a - y;
- softmax exp(z)/Σ exp(z) without shifting by the maximum, cross entropy -Σ y log p,
  output error p - y.

Everything is np.exp and np.log, which work on complex arrays, so the module honestly
declares ``supports_complex = True``: complex parameters flow through ``loss``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from manualbp.architecture import Architecture


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def softplus(z):
    return np.log(1 + np.exp(z))


def relu(z):
    return np.maximum(z, 0)


def leaky_relu(z):
    return np.where(z > 0, z, 0.01 * z)


def softmax(z):
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


# f(z) and f'(z, a): the derivatives use whichever of z and a = f(z) the textbook uses
ACTIVATIONS = {
    "sigmoid": sigmoid,
    "tanh": np.tanh,
    "relu": relu,
    "leaky_relu": leaky_relu,
    "softplus": softplus,
    "identity": lambda z: z,
}
DERIVATIVES = {
    "sigmoid": lambda z, a: a * (1 - a),
    "tanh": lambda z, a: 1 - a**2,
    "relu": lambda z, a: (z > 0) * 1.0,
    "leaky_relu": lambda z, a: np.where(z > 0, 1.0, 0.01),
    "softplus": lambda z, a: sigmoid(z),
    "identity": lambda z, a: np.ones_like(z),
}


def loss_per_sample(kind, z, a, y):
    """ℓ_n for each row, from the output pre-activation z and activation a."""
    if kind == "half_sse":
        return 0.5 * np.sum((a - y) ** 2, axis=1)
    if kind == "sse":
        return np.sum((a - y) ** 2, axis=1)
    if kind == "mse":
        return np.mean((a - y) ** 2, axis=1)
    if kind == "bce":
        return -np.sum(y * np.log(a) + (1 - y) * np.log(1 - a), axis=1)
    p = softmax(z)  # softmax_ce on identity logits
    return -np.sum(y * np.log(p), axis=1)


def loss_gradient(kind, a, y):
    """∂ℓ/∂a for the losses that go through the output activation's derivative."""
    if kind == "half_sse":
        return a - y
    if kind == "sse":
        return 2 * (a - y)
    if kind == "mse":
        return 2 * (a - y) / a.shape[1]
    return (a - y) / (a * (1 - a))  # bce


class NaiveMLP:
    """The protocol, written as one plain forward and one plain backward pass."""

    supports_complex = True
    activations: ClassVar[dict] = ACTIVATIONS
    derivatives: ClassVar[dict] = DERIVATIVES

    def __init__(self, name="corpus/naive_numpy"):
        self.name = name

    def forward(self, arch, params, x):
        zs, acts = [], [x]
        a = x
        for layer in range(1, len(arch.sizes)):
            z = a @ params[f"W{layer}"].T
            if arch.bias != "none":
                z = z + params[f"b{layer}"]
            a = self.activations[arch.activations[layer - 1]](z)
            zs.append(z)
            acts.append(a)
        return zs, acts

    def loss(self, arch: Architecture, params: dict[str, Any], x: Any, y: Any) -> Any:
        zs, acts = self.forward(arch, params, x)
        per_sample = loss_per_sample(arch.loss, zs[-1], acts[-1], y)
        E = per_sample.mean() if arch.reduction == "mean" else per_sample.sum()
        return E if np.iscomplexobj(E) else float(E)

    def output_error(self, arch, z, a, y):
        """δ_L = ∂E/∂z_L for the summed loss."""
        if arch.loss == "softmax_ce":
            return softmax(z) - y
        dE_da = loss_gradient(arch.loss, a, y)
        return dE_da * self.derivatives[arch.activations[-1]](z, a)

    def reduced(self, arch, delta):
        """The output error of the batch loss: 1/N of the summed one for the mean."""
        return delta / len(delta) if arch.reduction == "mean" else delta

    def backward(self, arch, params, x, y):
        """(gradients, deltas) by the textbook recurrences."""
        zs, acts = self.forward(arch, params, x)
        L = len(arch.sizes) - 1
        deltas = [None] * L
        delta = self.reduced(arch, self.output_error(arch, zs[-1], acts[-1], y))
        deltas[L - 1] = delta
        for layer in range(L - 1, 0, -1):
            f_prime = self.derivatives[arch.activations[layer - 1]](zs[layer - 1], acts[layer])
            delta = (delta @ params[f"W{layer + 1}"]) * f_prime
            deltas[layer - 1] = delta
        grads = {}
        for layer in range(1, L + 1):
            grads[f"W{layer}"] = deltas[layer - 1].T @ acts[layer - 1]
            if arch.bias == "per_unit":
                grads[f"b{layer}"] = deltas[layer - 1].sum(axis=0)
            elif arch.bias == "shared":
                grads[f"b{layer}"] = deltas[layer - 1].sum()
        return grads, deltas, zs, acts

    def gradients(
        self, arch: Architecture, params: dict[str, Any], x: Any, y: Any
    ) -> tuple[float, dict[str, np.ndarray]]:
        grads, _, _, _ = self.backward(arch, params, x, y)
        return self.loss(arch, params, x, y), grads

    def intermediates(
        self, arch: Architecture, params: dict[str, Any], x: Any, y: Any
    ) -> dict[str, list[np.ndarray]]:
        _, deltas, zs, acts = self.backward(arch, params, x, y)
        return {"z": zs, "a": acts[1:], "delta": deltas}

    def step(
        self,
        arch: Architecture,
        params: dict[str, Any],
        x: Any,
        y: Any,
        lr: float,
        frozen: frozenset[str] = frozenset(),
    ) -> dict[str, np.ndarray]:
        grads, _, _, _ = self.backward(arch, params, x, y)
        new = {}
        for name, value in params.items():
            if name in frozen:
                new[name] = np.array(value, copy=True)
            else:
                new[name] = value - lr * grads[name]
        return new


IMPL = NaiveMLP()


# ---------------------------------------------------------------------------------------
# bugs, one line each
# ---------------------------------------------------------------------------------------


class _MeanGradientSummed(NaiveMLP):
    def reduced(self, arch, delta):
        return delta  # BUG: the mean's 1/N forgotten


class _SigmoidPrimeOfZ(NaiveMLP):
    derivatives: ClassVar[dict] = {
        **DERIVATIVES,
        "sigmoid": lambda z, a: z * (1 - z),  # BUG: the output form a(1 - a) fed z
    }


class _SoftplusPrimeAtOutput(NaiveMLP):
    derivatives: ClassVar[dict] = {
        **DERIVATIVES,
        "softplus": lambda z, a: sigmoid(a),  # BUG: σ(a) for σ(z)
    }


class _HalfSseGradientDoubled(NaiveMLP):
    def output_error(self, arch, z, a, y):
        if arch.loss == "half_sse":
            dE_da = 2 * (a - y)  # BUG: the gradient of Σ(a - y)², not of ½Σ(a - y)²
            return dE_da * self.derivatives[arch.activations[-1]](z, a)
        return super().output_error(arch, z, a, y)


class _FrozenIgnored(NaiveMLP):
    def step(self, arch, params, x, y, lr, frozen=frozenset()):
        grads, _, _, _ = self.backward(arch, params, x, y)
        new = {}
        for name, value in params.items():
            new[name] = value - lr * grads[name]  # BUG: frozen never looked at
        return new


BUG_MEAN_GRADIENT_SUMMED = _MeanGradientSummed("corpus/naive_numpy:BUG_MEAN_GRADIENT_SUMMED")
BUG_SIGMOID_PRIME_OF_Z = _SigmoidPrimeOfZ("corpus/naive_numpy:BUG_SIGMOID_PRIME_OF_Z")
BUG_SOFTPLUS_PRIME_AT_OUTPUT = _SoftplusPrimeAtOutput(
    "corpus/naive_numpy:BUG_SOFTPLUS_PRIME_AT_OUTPUT"
)
BUG_HALF_SSE_GRADIENT_DOUBLED = _HalfSseGradientDoubled(
    "corpus/naive_numpy:BUG_HALF_SSE_GRADIENT_DOUBLED"
)
BUG_FROZEN_IGNORED = _FrozenIgnored("corpus/naive_numpy:BUG_FROZEN_IGNORED")

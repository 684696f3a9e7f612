"""The network built from an Architecture: forward pass, loss, and backpropagation.

Forward, for l = 1..L:   z_l = a_{l-1} W_l^T + b_l,   a_l = f_l(z_l),   a_0 = x.
Loss:                    E = reduce_n ℓ(z_L[n], a_L[n], y[n]),  reduce = Σ_n or (1/N) Σ_n.
Backward (δ_l = ∂E/∂z_l, each (N, n_l)):

    output error term    δ_L = s · r · ∂ℓ/∂z_L                (r = 1 for sum, 1/N for mean)
    hidden error term    δ_l = (δ_{l+1} W_{l+1}) ⊙ f_l'(z_l)   (row form of (W^T δ) ⊙ f')
    weight gradient      ∂E/∂W_l = δ_l^T a_{l-1}
    bias gradient        ∂E/∂b_l = Σ_n δ_l[n]  (per_unit),  Σ_n Σ_k δ_l[n, k]  (shared)

s = 1 (``error_scale``) gives the gradient. Every formula below δ_L is linear in δ_L, so a
network with s = -η returns, in place of each gradient, the gradient-descent update
-η ∂E/∂θ: a step θ' = θ + (-η ∂E/∂θ) then needs one addition per parameter and no
separate scaling pass (:meth:`EngineImplementation.step`).

Lists of per-layer values (z, a, delta) have length L; entry ``l - 1`` belongs to layer l.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from manualbp.architecture import Architecture
from manualbp.engine.activations import ACTIVATIONS
from manualbp.engine.layers import (
    ActivationCache,
    ActivationLayer,
    Affine,
    AffineCache,
)
from manualbp.engine.losses import LOSSES


@dataclass(frozen=True)
class ForwardPass:
    """Everything the forward pass computed: per-layer caches, z_l and a_l for l = 1..L."""

    x: np.ndarray
    affine_caches: tuple[AffineCache, ...]
    activation_caches: tuple[ActivationCache, ...]

    @property
    def z(self) -> list[np.ndarray]:
        """Pre-activations z_1..z_L, each (N, n_l)."""
        return [cache.z for cache in self.activation_caches]

    @property
    def a(self) -> list[np.ndarray]:
        """Activations a_1..a_L, each (N, n_l); a_L is the network output."""
        return [cache.a for cache in self.activation_caches]

    @property
    def output(self) -> np.ndarray:
        """a_L, the network output (N, n_L)."""
        return self.activation_caches[-1].a


@dataclass(frozen=True)
class BackwardPass:
    """Error terms δ_1..δ_L (each (N, n_l)) and the gradient of every parameter."""

    delta: list[np.ndarray]
    gradients: dict[str, np.ndarray]


class Network:
    """An MLP described by an Architecture, made of Affine and ActivationLayer pairs.

    ``error_scale`` is the factor s of the output error term (1: δ_l = ∂E/∂z_l and true
    gradients; -η: every δ_l and every gradient multiplied by -η, a step's updates).
    """

    error_scale: float = 1.0

    def __init__(self, arch: Architecture) -> None:
        self.arch = arch
        self.affine = Affine(arch.bias)
        self.activation_layers = [ActivationLayer(ACTIVATIONS[name]) for name in arch.activations]
        self.loss_function = LOSSES[arch.loss]

    def forward(self, params: Mapping[str, np.ndarray], x: np.ndarray) -> ForwardPass:
        """Run the forward pass on x (N, n_0); params as validated by ``check_params``."""
        affine_caches = []
        activation_caches = []
        a = x
        for layer, activation_layer in enumerate(self.activation_layers, start=1):
            z, affine_cache = self.affine.forward(a, params[f"W{layer}"], params.get(f"b{layer}"))
            a, activation_cache = activation_layer.forward(z)
            affine_caches.append(affine_cache)
            activation_caches.append(activation_cache)
        return ForwardPass(x, tuple(affine_caches), tuple(activation_caches))

    def batch_scale(self, n: int) -> float:
        """r in E = r Σ_n ℓ_n: 1 for reduction ``sum``, 1/N for ``mean``."""
        return 1.0 / n if self.arch.reduction == "mean" else 1.0

    def loss(self, forward: ForwardPass, y: np.ndarray) -> np.ndarray:
        """E = r Σ_n ℓ(z_L[n], a_L[n], y[n]) as a 0-d array (complex if the pass was)."""
        last = forward.activation_caches[-1]
        per_sample = self.loss_function.value(last.z, last.a, y)
        return self.batch_scale(y.shape[0]) * np.sum(per_sample)

    def output_error(self, forward: ForwardPass, y: np.ndarray) -> np.ndarray:
        """δ_L = s r ∂ℓ/∂z_L (N, n_L); s = ``error_scale``."""
        last = forward.activation_caches[-1]
        error = self.loss_function.output_error(
            last.z, last.a, y, self.activation_layers[-1].activation
        )
        scale = self.error_scale * self.batch_scale(y.shape[0])
        return error * scale if scale != 1.0 else error

    def hidden_error(self, delta_next: np.ndarray, layer: int, forward: ForwardPass) -> np.ndarray:
        """δ_l = (δ_{l+1} W_{l+1}) ⊙ f_l'(z_l) for a hidden layer l (1 <= l < L), (N, n_l)."""
        d_a = self.affine.input_gradient(delta_next, forward.affine_caches[layer])
        return self.activation_layers[layer - 1].backward(d_a, forward.activation_caches[layer - 1])

    def backward(self, forward: ForwardPass, y: np.ndarray) -> BackwardPass:
        """Backpropagate from the loss: every δ_l and every parameter gradient."""
        depth = self.arch.depth
        deltas: list[np.ndarray] = [np.empty(0)] * depth
        deltas[depth - 1] = self.output_error(forward, y)
        for layer in range(depth - 1, 0, -1):
            deltas[layer - 1] = self.hidden_error(deltas[layer], layer, forward)
        gradients: dict[str, np.ndarray] = {}
        for layer in range(1, depth + 1):
            delta, cache = deltas[layer - 1], forward.affine_caches[layer - 1]
            gradients[f"W{layer}"] = self.affine.weight_gradient(delta, cache)
            bias = self.affine.bias_gradient(delta)
            if bias is not None:
                gradients[f"b{layer}"] = bias
        return BackwardPass(deltas, gradients)

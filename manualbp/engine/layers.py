"""Layers with forward and backward passes and an explicit cache.

Each ``forward`` returns its output together with a cache (an immutable record of what
the backward pass needs); ``backward`` takes the upstream gradient and that cache. Keeping
the cache as a returned value rather than as state on the layer means two calls can never
see each other's values (a stale cache is a classic hand-written-backprop bug).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from manualbp.engine.activations import Activation, Slope


class AffineCache(NamedTuple):
    """What the affine backward pass needs: the layer input a_{l-1} (N, n_{l-1}) and W_l."""

    a_prev: np.ndarray
    W: np.ndarray


class AffineGradients(NamedTuple):
    """∂E/∂a_{l-1} (N, n_{l-1}), ∂E/∂W_l (n_l, n_{l-1}), ∂E/∂b_l ((n_l,), () or None)."""

    d_a_prev: np.ndarray
    dW: np.ndarray
    db: np.ndarray | None


class Affine:
    """The fully connected layer z = a_{l-1} W^T + b on a batch of rows.

    ``bias`` is ``per_unit`` (b of shape (n_l,)), ``shared`` (one scalar b for every unit)
    or ``none``. Backward, with δ = ∂E/∂z (N, n_l):

        ∂E/∂W = δ^T a_{l-1}        ∂E/∂a_{l-1} = δ W
        ∂E/∂b = Σ_n δ[n]  (per_unit)      Σ_n Σ_k δ[n, k]  (shared)
    """

    def __init__(self, bias: str = "per_unit") -> None:
        self.bias = bias

    def forward(
        self, a_prev: np.ndarray, W: np.ndarray, b: np.ndarray | None
    ) -> tuple[np.ndarray, AffineCache]:
        """z = a_prev W^T + b: (N, n_{l-1}) -> (N, n_l)."""
        z = a_prev @ W.T
        if b is not None:
            z += b
        return z, AffineCache(a_prev, W)

    def weight_gradient(self, delta: np.ndarray, cache: AffineCache) -> np.ndarray:
        """∂E/∂W = δ^T a_{l-1}: (n_l, N) @ (N, n_{l-1}) -> (n_l, n_{l-1})."""
        return delta.T @ cache.a_prev

    def bias_gradient(self, delta: np.ndarray) -> np.ndarray | None:
        """∂E/∂b = Σ_n δ[n] (n_l,) per unit, Σ_n Σ_k δ[n, k] () shared, None without bias."""
        if self.bias == "per_unit":
            return delta.sum(axis=0)
        if self.bias == "shared":
            return np.asarray(delta.sum())
        return None

    def input_gradient(self, delta: np.ndarray, cache: AffineCache) -> np.ndarray:
        """∂E/∂a_{l-1} = δ W: (N, n_l) @ (n_l, n_{l-1}) -> (N, n_{l-1})."""
        return delta @ cache.W

    def backward(self, delta: np.ndarray, cache: AffineCache) -> AffineGradients:
        """All three gradients of the layer from δ = ∂E/∂z."""
        return AffineGradients(
            self.input_gradient(delta, cache),
            self.weight_gradient(delta, cache),
            self.bias_gradient(delta),
        )


class ActivationCache(NamedTuple):
    """What the activation backward pass needs: its input z and output a = f(z), (N, n), and,
    when the forward pass kept the values f'(z) is made of, ``slope`` with slope() = f'(z)
    of this z (:meth:`Activation.forward_with_slope`)."""

    z: np.ndarray
    a: np.ndarray
    slope: Slope | None = None


class ActivationLayer:
    """a = f(z) element-wise; backward: ∂E/∂z = ∂E/∂a ⊙ f'(z), with f' from the cache."""

    def __init__(self, activation: Activation) -> None:
        self.activation = activation

    def forward(self, z: np.ndarray) -> tuple[np.ndarray, ActivationCache]:
        """a = f(z), shape preserved; the cache keeps what f'(z) is made of when the
        activation computes it on the way (the sigmoid's e^{-|z|})."""
        a, slope = self.activation.forward_with_slope(z)
        return a, ActivationCache(z, a, slope)

    def derivative(self, cache: ActivationCache) -> np.ndarray:
        """f'(z) (same shape as z): from the values the forward pass kept, else from the
        cached z and a."""
        if cache.slope is not None:
            return cache.slope()
        return self.activation.derivative(cache.z, cache.a)

    def backward(self, d_a: np.ndarray, cache: ActivationCache) -> np.ndarray:
        """∂E/∂z = ∂E/∂a ⊙ f'(z)."""
        return d_a * self.derivative(cache)

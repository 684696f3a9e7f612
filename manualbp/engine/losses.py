"""Losses per sample and their gradients, for a batch of rows with K outputs.

With z = z_L, a = a_L = f_L(z) of shape (N, K) and targets y (N, K):

    half_sse    ℓ = Σ_k ½(a_k - y_k)²                  ∂ℓ/∂a = a - y
    sse         ℓ = Σ_k (a_k - y_k)²                   ∂ℓ/∂a = 2(a - y)
    mse         ℓ = (1/K) Σ_k (a_k - y_k)²             ∂ℓ/∂a = (2/K)(a - y)
    bce         ℓ = -Σ_k [y_k log a_k + (1 - y_k) log(1 - a_k)],  a = σ(z)
                  = Σ_k softplus(z_k) - y_k z_k        ∂ℓ/∂z = a - y
    softmax_ce  ℓ = -Σ_k y_k log softmax(z)_k,  a = z (identity logits)
                  = (Σ_k y_k) logsumexp(z) - Σ_k y_k z_k     ∂ℓ/∂z = (Σ_k y_k) softmax(z) - y

The output error term is δ_L = ∂ℓ/∂z_L = ∂ℓ/∂a ⊙ f'(z) for the squared losses, and the fused
forms above for the two cross-entropies (no division by a(1 - a), so they stay exact when a
sigmoid saturates). Both cross-entropies are evaluated from the logits z, never from a.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from manualbp.engine.activations import Activation, softplus


def logsumexp(z: np.ndarray) -> np.ndarray:
    """log Σ_k e^{z_k} over the last axis, shifted by max_k Re z_k so nothing overflows. (N,)"""
    shift = np.max(np.real(z), axis=-1, keepdims=True)
    e = z - shift
    return shift[..., 0] + np.log(np.sum(np.exp(e, out=e), axis=-1))


def softmax(z: np.ndarray) -> np.ndarray:
    """softmax(z)_k = e^{z_k} / Σ_j e^{z_j} over the last axis, shifted so nothing overflows
    (one new array, exponentiated and normalised in place)."""
    e = z - np.max(np.real(z), axis=-1, keepdims=True)
    np.exp(e, out=e)
    e /= np.sum(e, axis=-1, keepdims=True)
    return e


def _squared(factor: Callable[[int], float], gradient_factor: Callable[[int], float]) -> tuple:
    # r = a - y is a fresh temporary in both, so it is squared and scaled in place.
    def value(z: np.ndarray, a: np.ndarray, y: np.ndarray) -> np.ndarray:
        r = a - y
        return factor(a.shape[-1]) * np.sum(np.multiply(r, r, out=r), axis=-1)

    def grad_a(z: np.ndarray, a: np.ndarray, y: np.ndarray) -> np.ndarray:
        r = a - y
        r *= gradient_factor(a.shape[-1])
        return r

    return value, grad_a


def _bce_value(z: np.ndarray, a: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.sum(softplus(z) - y * z, axis=-1)


def _bce_grad_a(z: np.ndarray, a: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (a - y) / (a * (1.0 - a))


def _bce_output_error(z: np.ndarray, a: np.ndarray, y: np.ndarray) -> np.ndarray:
    return a - y


def _softmax_ce_value(z: np.ndarray, a: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.sum(y, axis=-1) * logsumexp(z) - np.sum(y * z, axis=-1)


def _softmax_ce_output_error(z: np.ndarray, a: np.ndarray, y: np.ndarray) -> np.ndarray:
    error = softmax(z)  # a new array of ours: scaled and shifted in place
    error *= np.sum(y, axis=-1, keepdims=True)
    error -= y
    return error


@dataclass(frozen=True)
class Loss:
    """A per-sample loss ℓ(z, a, y) -> (N,), its gradient ∂ℓ/∂a -> (N, K), and optionally a
    fused output error term ∂ℓ/∂z -> (N, K) for the loss/activation pair it was made for."""

    name: str
    value: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
    grad_a: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
    fused_output_error: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None = None

    def output_error(
        self, z: np.ndarray, a: np.ndarray, y: np.ndarray, activation: Activation
    ) -> np.ndarray:
        """δ_L = ∂ℓ/∂z_L (N, K), summed-loss convention: ∂ℓ/∂a ⊙ f'(z), or the fused form."""
        if self.fused_output_error is not None:
            return self.fused_output_error(z, a, y)
        return self.grad_a(z, a, y) * activation.derivative(z, a)


LOSSES: dict[str, Loss] = {
    "half_sse": Loss("half_sse", *_squared(lambda k: 0.5, lambda k: 1.0)),
    "sse": Loss("sse", *_squared(lambda k: 1.0, lambda k: 2.0)),
    "mse": Loss("mse", *_squared(lambda k: 1.0 / k, lambda k: 2.0 / k)),
    "bce": Loss("bce", _bce_value, _bce_grad_a, _bce_output_error),
    "softmax_ce": Loss(
        "softmax_ce", _softmax_ce_value, _softmax_ce_output_error, _softmax_ce_output_error
    ),
}

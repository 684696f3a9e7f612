"""Wrong formulas, each one override of one engine formula (never a copy of the engine).

Row convention of :mod:`manualbp.engine.network`: a_{l-1}, z_l, a_l, δ_l are (N, n) arrays,
W_l is (n_l, n_{l-1}), δ_l = ∂E/∂z_l. Every docstring gives the wrong formula and, after
"right:", the one the engine computes.

Three kinds of building blocks:

- replacements for an :class:`Activation` or a :class:`Loss` (plain data), put into a
  network by :func:`network_with`;
- :class:`Affine` and :class:`ActivationLayer` subclasses, also put in by
  :func:`network_with`;
- :class:`Network` subclasses overriding one method (forward, loss, output_error,
  hidden_error, backward), each delegating to the engine's method with one quantity changed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

import numpy as np

from manualbp.architecture import Architecture
from manualbp.engine.activations import ACTIVATIONS, Activation, relu_derivative
from manualbp.engine.layers import ActivationCache, ActivationLayer, Affine, AffineCache
from manualbp.engine.losses import LOSSES, Loss
from manualbp.engine.network import BackwardPass, ForwardPass, Network
from manualbp.errors import UsageError
from manualbp.facts import SQUARED_LOSSES
from manualbp.mazur import ARCHITECTURE as MAZUR_ARCHITECTURE

Derivative = Callable[[np.ndarray, np.ndarray], np.ndarray]
LossTerm = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]

CROSS_ENTROPIES: tuple[str, ...] = tuple(name for name in LOSSES if name not in SQUARED_LOSSES)


def network_with(
    *,
    affine: type[Affine] = Affine,
    activation_layer: type[ActivationLayer] = ActivationLayer,
    activations: Mapping[str, Activation] | None = None,
    losses: Mapping[str, Loss] | None = None,
) -> type[Network]:
    """A Network class whose parts are swapped: its Affine class, its ActivationLayer class,
    the Activation of every layer named in ``activations`` and the Loss named in ``losses``.

    Output error terms use the swapped Activation too (``Loss.output_error`` receives the
    output layer's activation), so an activation replacement reaches every layer.
    """
    swapped_activations = dict(activations or {})
    swapped_losses = dict(losses or {})

    class SwappedNetwork(Network):
        def __init__(self, arch: Architecture) -> None:
            super().__init__(arch)
            self.affine = affine(arch.bias)
            self.activation_layers = [
                activation_layer(swapped_activations.get(layer.activation.name, layer.activation))
                for layer in self.activation_layers
            ]
            self.loss_function = swapped_losses.get(arch.loss, self.loss_function)

    return SwappedNetwork


# --- activations: f'(z) replaced -------------------------------------------------------


def derivative_at_output(name: str) -> Activation:
    """f'(a) in place of f'(z): the right derivative evaluated at the output a = f(z).

    sigmoid: σ(a)(1 - σ(a)) (right: a(1 - a)); tanh: 1 - tanh²(a) (right: 1 - a²);
    softplus: σ(a) (right: σ(z)).
    """
    activation = ACTIVATIONS[name]

    def derivative(z: np.ndarray, a: np.ndarray) -> np.ndarray:
        return activation.derivative(a, activation.forward(a))

    return replace(activation, derivative=derivative)


#: f' written in terms of the output a = f(z), the form the articles use.
OUTPUT_FORMS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sigmoid": lambda a: a * (1.0 - a),
    "tanh": lambda a: 1.0 - a * a,
}


def output_form_fed_input(name: str) -> Activation:
    """The output form of f' fed the input: for sigmoid z(1 - z) (right: a(1 - a))."""
    output_form = OUTPUT_FORMS[name]

    def derivative(z: np.ndarray, a: np.ndarray) -> np.ndarray:
        return output_form(z)

    return replace(ACTIVATIONS[name], derivative=derivative)


def with_derivative(name: str, derivative: Derivative) -> Activation:
    """Activation ``name`` with its derivative replaced by ``derivative(z, a)``."""
    return replace(ACTIVATIONS[name], derivative=derivative)


def tanh_derivative_without_square(z: np.ndarray, a: np.ndarray) -> np.ndarray:
    """1 - a (right: 1 - a²)."""
    return 1.0 - a


def relu_mask_inverted(z: np.ndarray, a: np.ndarray) -> np.ndarray:
    """1 where z <= 0, else 0 (right: 1 where z > 0, else 0)."""
    return 1.0 - relu_derivative(z, a)


def no_mask(z: np.ndarray, a: np.ndarray) -> np.ndarray:
    """1 everywhere (right for ReLU: 1 where z > 0, else 0)."""
    return ACTIVATIONS["identity"].derivative(z, a)


# --- losses: ∂ℓ/∂a or the fused δ_L replaced ---------------------------------------------


def _fused(name: str) -> LossTerm:
    """The fused output error term of a cross-entropy (the losses that have one)."""
    term = LOSSES[name].fused_output_error
    if term is None:
        raise UsageError(f"loss: got {name!r}, expected one with a fused output error")
    return term


def _negated(term: LossTerm) -> LossTerm:
    def negated(z: np.ndarray, a: np.ndarray, y: np.ndarray) -> np.ndarray:
        return -term(z, a, y)

    return negated


def gradient_of(name: str, other: str) -> Loss:
    """Loss ``name`` paired with the gradient ∂ℓ/∂a of loss ``other``.

    half_sse with sse's: 2(a - y) (right: a - y); sse with half_sse's: a - y (right:
    2(a - y)); mse with sse's: 2(a - y) (right: (2/K)(a - y)).
    """
    return replace(LOSSES[name], grad_a=LOSSES[other].grad_a)


def loss_gradient_negated(name: str) -> Loss:
    """∂ℓ/∂a = -(right value), e.g. ½·SSE: y - a (right: a - y)."""
    loss = LOSSES[name]
    return replace(loss, grad_a=_negated(loss.grad_a))


def output_error_negated(name: str) -> Loss:
    """Fused δ_L of a cross-entropy negated: y - a (right: a - y), y - softmax(z) (right:
    softmax(z) - y) for one-hot targets."""
    return replace(LOSSES[name], fused_output_error=_negated(_fused(name)))


def shortcut_times_derivative(name: str) -> Loss:
    """BCE on a sigmoid: δ_L = (a - y) ⊙ a(1 - a) (right: a - y, the shortcut alone)."""
    return replace(LOSSES[name], grad_a=_fused(name), fused_output_error=None)


def without_activation_derivative(name: str) -> Loss:
    """Squared loss: δ_L = ∂ℓ/∂a, e.g. a - y for ½·SSE (right: ∂ℓ/∂a ⊙ f'(z_L))."""
    loss = LOSSES[name]
    return replace(loss, fused_output_error=loss.grad_a)


def _softmax_unnormalised_error(z: np.ndarray, a: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(Σ_k y_k) e^z - y (right: (Σ_k y_k) softmax(z) - y)."""
    return np.sum(y, axis=-1, keepdims=True) * np.exp(z) - y


def softmax_unnormalised() -> Loss:
    """softmax_ce whose output error uses e^z without dividing by Σ_j e^{z_j}."""
    return replace(LOSSES["softmax_ce"], fused_output_error=_softmax_unnormalised_error)


# --- layers ----------------------------------------------------------------------------


class UntransposedForwardAffine(Affine):
    """z = a_{l-1} W + b (right: a_{l-1} W^T + b); the cache keeps W for the backward pass."""

    def forward(
        self, a_prev: np.ndarray, W: np.ndarray, b: np.ndarray | None
    ) -> tuple[np.ndarray, AffineCache]:
        z, cache = super().forward(a_prev, W.T, b)
        return z, cache._replace(W=W)


class UntransposedBackAffine(Affine):
    """∂E/∂a_{l-1} = δ W^T (right: δ W); shapes agree only when W is square."""

    def input_gradient(self, delta: np.ndarray, cache: AffineCache) -> np.ndarray:
        return super().input_gradient(delta, cache._replace(W=cache.W.T))


class TransposedWeightGradient(Affine):
    """∂E/∂W = a_{l-1}^T δ, (n_{l-1}, n_l) (right: δ^T a_{l-1}, (n_l, n_{l-1}))."""

    def weight_gradient(self, delta: np.ndarray, cache: AffineCache) -> np.ndarray:
        return super().weight_gradient(delta, cache).T


class AveragedWeightGradient(Affine):
    """∂E/∂W = (1/N) δ^T a_{l-1} (right: δ^T a_{l-1}, δ already carries the reduction)."""

    def weight_gradient(self, delta: np.ndarray, cache: AffineCache) -> np.ndarray:
        return super().weight_gradient(delta, cache) / delta.shape[0]


class LastSampleWeightGradient(Affine):
    """∂E/∂W = δ[N]^T a_{l-1}[N], the last row only (right: Σ_n δ[n]^T a_{l-1}[n])."""

    def weight_gradient(self, delta: np.ndarray, cache: AffineCache) -> np.ndarray:
        return super().weight_gradient(delta[-1:], cache._replace(a_prev=cache.a_prev[-1:]))


class AveragedBiasGradient(Affine):
    """∂E/∂b = (1/N) Σ_n δ[n] (right: Σ_n δ[n]); likewise for a shared bias."""

    def bias_gradient(self, delta: np.ndarray) -> np.ndarray | None:
        total = super().bias_gradient(delta)
        return None if total is None else total / delta.shape[0]


class SharedBiasFirstUnit(Affine):
    """Shared bias: ∂E/∂b = Σ_n δ[n, 0], the first unit only (right: Σ_n Σ_k δ[n, k])."""

    def bias_gradient(self, delta: np.ndarray) -> np.ndarray | None:
        if self.bias == "shared":
            return super().bias_gradient(delta[:, :1])
        return super().bias_gradient(delta)


class ZeroBiasGradient(Affine):
    """∂E/∂b = 0, the buffer never filled (right: Σ_n δ[n])."""

    def bias_gradient(self, delta: np.ndarray) -> np.ndarray | None:
        total = super().bias_gradient(delta)
        return None if total is None else np.zeros_like(total)


class PreActivationPassedOn(ActivationLayer):
    """The next layer is fed z_l (right: a_l = f(z_l)); the cache still records a_l."""

    def forward(self, z: np.ndarray) -> tuple[np.ndarray, ActivationCache]:
        _, cache = super().forward(z)
        return z, cache


class DerivativeDropped(ActivationLayer):
    """Hidden layers: ∂E/∂z = ∂E/∂a (right: ∂E/∂a ⊙ f'(z)). Only hidden layers backpropagate
    through ActivationLayer.backward; the output uses the loss's output error."""

    def backward(self, d_a: np.ndarray, cache: ActivationCache) -> np.ndarray:
        return d_a


# --- networks: one method overridden ----------------------------------------------------


class MisWiredMazur(Network):
    """SEEDS.md S0a on the 2-2-2: net_o2 = w7·out_h2 + w8·out_h2 + b2 (right: w7·out_h1 +
    w8·out_h2 + b2). The backward formulas are the right ones, with the real w7 and w8."""

    def __init__(self, arch: Architecture) -> None:
        if arch != MAZUR_ARCHITECTURE:
            raise NotImplementedError(
                f"the S0a wiring bug exists only on {MAZUR_ARCHITECTURE.describe()}"
            )
        super().__init__(arch)

    def forward(self, params: Mapping[str, np.ndarray], x: np.ndarray) -> ForwardPass:
        W2 = params["W2"]
        wired = W2.copy()
        wired[1] = (0.0, W2[1, 0] + W2[1, 1])  # o2 reads out_h2 through both w7 and w8
        passed = super().forward({**params, "W2": wired}, x)
        first, second = passed.affine_caches
        return replace(passed, affine_caches=(first, second._replace(W=W2)))


class LossNotReduced(Network):
    """E = Σ_n ℓ_n even for reduction ``mean`` (right: (1/N) Σ_n ℓ_n); gradients are right."""

    def loss(self, forward: ForwardPass, y: np.ndarray) -> np.ndarray:
        return super().loss(forward, y) / self.batch_scale(y.shape[0])


class GradientAlwaysSummed(Network):
    """δ_L = ∂ℓ/∂z_L whatever the reduction (right: r ∂ℓ/∂z_L, r = 1/N for ``mean``)."""

    def output_error(self, forward: ForwardPass, y: np.ndarray) -> np.ndarray:
        return super().output_error(forward, y) / self.batch_scale(y.shape[0])


class GradientAlwaysAveraged(Network):
    """δ_L = (1/N) ∂ℓ/∂z_L whatever the reduction (right: r ∂ℓ/∂z_L, r = 1 for ``sum``)."""

    def output_error(self, forward: ForwardPass, y: np.ndarray) -> np.ndarray:
        n = y.shape[0]
        return super().output_error(forward, y) / (self.batch_scale(n) * n)


class LastOutputUnitSkipped(Network):
    """δ_L[:, k] for k < K only, the last column left at 0 (right: every unit k = 1..K)."""

    def output_error(self, forward: ForwardPass, y: np.ndarray) -> np.ndarray:
        error = super().output_error(forward, y).copy()
        error[:, -1] = 0.0
        return error


class WrongLayerMatrix(Network):
    """SEEDS.md S0b: δ_l = (δ_{l+1} W_l^T) ⊙ f_l'(z_l), column form W_l δ_{l+1} (right:
    δ_{l+1} W_{l+1}, column form W_{l+1}^T δ_{l+1}); shapes agree when n_{l+1} = n_{l-1}."""

    def hidden_error(self, delta_next: np.ndarray, layer: int, forward: ForwardPass) -> np.ndarray:
        caches = list(forward.affine_caches)
        caches[layer] = caches[layer]._replace(W=caches[layer - 1].W.T)
        swapped = replace(forward, affine_caches=tuple(caches))
        return super().hidden_error(delta_next, layer, swapped)


class FirstLayerErrorSkipped(Network):
    """δ_1 = 0, the recurrence stopping one layer early (right: δ_1 = (δ_2 W_2) ⊙ f_1'(z_1))."""

    def hidden_error(self, delta_next: np.ndarray, layer: int, forward: ForwardPass) -> np.ndarray:
        if layer == 1:
            return np.zeros_like(forward.activation_caches[0].z)
        return super().hidden_error(delta_next, layer, forward)


class OwnOutputInWeightGradient(Network):
    """∂E/∂W_l = δ_l^T a_l (right: δ_l^T a_{l-1}); shapes agree only when W_l is square."""

    def backward(self, forward: ForwardPass, y: np.ndarray) -> BackwardPass:
        shifted = tuple(
            affine._replace(a_prev=activation.a)
            for affine, activation in zip(
                forward.affine_caches, forward.activation_caches, strict=True
            )
        )
        return super().backward(replace(forward, affine_caches=shifted), y)

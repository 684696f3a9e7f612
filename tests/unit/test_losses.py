"""Every loss against its closed form; every output error term against a central difference."""

from __future__ import annotations

import numpy as np
import pytest

from manualbp.architecture import ACTIVATIONS as ACTIVATION_NAMES
from manualbp.architecture import LOSS_OUTPUT_ACTIVATION, LOSSES
from manualbp.engine.activations import ACTIVATIONS
from manualbp.engine.losses import LOSSES as LOSS_FUNCTIONS
from manualbp.engine.losses import logsumexp, softmax

from .numerics import ATOL, RTOL, central_difference

N, K = 3, 4


def batch(loss: str, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Logits z (N, K) away from 0, outputs a = f(z) of the loss's activation, targets y."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(-2.0, 2.0, size=(N, K))
    z = np.where(np.abs(z) < 0.05, 0.5, z)
    activation = ACTIVATIONS[LOSS_OUTPUT_ACTIVATION.get(loss, "sigmoid")]
    y = rng.uniform(0.0, 1.0, size=(N, K))
    if loss == "softmax_ce":
        y = y / y.sum(axis=1, keepdims=True)
    return z, activation.forward(z), y


def logits_of(loss: str, a: np.ndarray) -> np.ndarray:
    """The z with f(z) = a: the logit σ⁻¹(a) for bce; a itself otherwise (identity logits
    for softmax_ce, and the squared losses do not read z)."""
    return np.log(a / (1 - a)) if loss == "bce" else a


def closed_form(loss: str, a: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The per-sample loss (N,) written directly from its definition."""
    if loss == "half_sse":
        return np.sum(0.5 * (a - y) ** 2, axis=1)
    if loss == "sse":
        return np.sum((a - y) ** 2, axis=1)
    if loss == "mse":
        return np.mean((a - y) ** 2, axis=1)
    if loss == "bce":
        return -np.sum(y * np.log(a) + (1 - y) * np.log(1 - a), axis=1)
    probabilities = np.exp(a) / np.sum(np.exp(a), axis=1, keepdims=True)
    return -np.sum(y * np.log(probabilities), axis=1)


def test_the_engine_has_exactly_the_architecture_losses() -> None:
    assert set(LOSS_FUNCTIONS) == set(LOSSES)


@pytest.mark.parametrize("loss", LOSSES)
def test_value_matches_closed_form(loss: str) -> None:
    z, a, y = batch(loss, 0)
    value = LOSS_FUNCTIONS[loss].value(z, a, y)
    assert value.shape == (N,)
    np.testing.assert_allclose(value, closed_form(loss, a, y), rtol=1e-12)


@pytest.mark.parametrize("loss", LOSSES)
def test_grad_a_matches_central_difference(loss: str) -> None:
    """∂ℓ/∂a with z moved along so that a = f(z) stays true (z = f⁻¹(a) for bce)."""
    z, a, y = batch(loss, 1)
    function = LOSS_FUNCTIONS[loss]
    numeric = central_difference(lambda p: function.value(logits_of(loss, p), p, y).sum(), a)
    np.testing.assert_allclose(function.grad_a(z, a, y), numeric, rtol=RTOL, atol=ATOL)


PAIRS = [
    (loss, activation)
    for loss in LOSSES
    for activation in ACTIVATION_NAMES
    if LOSS_OUTPUT_ACTIVATION.get(loss, activation) == activation
]


@pytest.mark.parametrize(("loss", "activation"), PAIRS)
def test_output_error_matches_central_difference(loss: str, activation: str) -> None:
    """δ_L = ∂ℓ/∂z for every loss with every output activation it accepts."""
    z, _, y = batch(loss, 2)
    f = ACTIVATIONS[activation]
    function = LOSS_FUNCTIONS[loss]
    delta = function.output_error(z, f.forward(z), y, f)
    numeric = central_difference(lambda v: function.value(v, f.forward(v), y).sum(), z)
    np.testing.assert_allclose(delta, numeric, rtol=RTOL, atol=ATOL)


def test_cross_entropies_stay_finite_for_saturated_logits() -> None:
    z = np.array([[-800.0, 800.0]])
    y = np.array([[1.0, 0.0]])
    bce = LOSS_FUNCTIONS["bce"]
    a = ACTIVATIONS["sigmoid"].forward(z)
    np.testing.assert_allclose(bce.value(z, a, y), [1600.0])
    np.testing.assert_allclose(bce.output_error(z, a, y, ACTIVATIONS["sigmoid"]), a - y)
    ce = LOSS_FUNCTIONS["softmax_ce"]
    np.testing.assert_allclose(ce.value(z, z, y), [1600.0])


def test_softmax_and_logsumexp_closed_forms_and_shift_invariance() -> None:
    z = np.random.default_rng(3).normal(size=(2, 5))
    np.testing.assert_allclose(logsumexp(z), np.log(np.sum(np.exp(z), axis=1)), rtol=1e-14)
    expected = np.exp(z) / np.sum(np.exp(z), axis=1, keepdims=True)
    np.testing.assert_allclose(softmax(z), expected, rtol=1e-14)
    np.testing.assert_allclose(softmax(z + 1000.0), expected, rtol=1e-12)
    np.testing.assert_allclose(logsumexp(z + 1000.0), logsumexp(z) + 1000.0, rtol=1e-14)


def test_softmax_ce_with_unnormalised_targets_scales_the_softmax() -> None:
    """ℓ = (Σ y) logsumexp(z) - Σ y z, so δ = (Σ y) softmax(z) - y (targets need not sum to 1)."""
    z = np.array([[0.2, -1.0, 0.5]])
    y = np.array([[2.0, 0.0, 1.0]])
    function = LOSS_FUNCTIONS["softmax_ce"]
    numeric = central_difference(lambda v: function.value(v, v, y).sum(), z)
    np.testing.assert_allclose(
        function.output_error(z, z, y, ACTIVATIONS["identity"]), numeric, rtol=RTOL, atol=ATOL
    )

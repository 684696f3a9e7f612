"""Every activation against its closed form, its derivative against a central difference."""

from __future__ import annotations

import numpy as np
import pytest

from manualbp.architecture import ACTIVATIONS as ACTIVATION_NAMES
from manualbp.engine.activations import ACTIVATIONS, LEAKY_SLOPE

from .numerics import ATOL, RTOL, elementwise_difference

CLOSED_FORMS = {
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "tanh": lambda z: (np.exp(z) - np.exp(-z)) / (np.exp(z) + np.exp(-z)),
    "relu": lambda z: np.maximum(z, 0.0),
    "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
    "softplus": lambda z: np.log(1.0 + np.exp(z)),
    "identity": lambda z: z,
}


def points(seed: int = 0) -> np.ndarray:
    """Moderate z (3, 5) away from the kink at 0 (|z| >= 0.05)."""
    z = np.random.default_rng(seed).uniform(-4.0, 4.0, size=(3, 5))
    return np.where(np.abs(z) < 0.05, 0.5, z)


def test_the_engine_has_exactly_the_architecture_activations() -> None:
    assert set(ACTIVATIONS) == set(ACTIVATION_NAMES)
    assert set(CLOSED_FORMS) == set(ACTIVATION_NAMES)


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_forward_matches_closed_form(name: str) -> None:
    z = points()
    a = ACTIVATIONS[name].forward(z)
    assert a.shape == z.shape
    np.testing.assert_allclose(a, CLOSED_FORMS[name](z), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_derivative_matches_central_difference(name: str) -> None:
    activation = ACTIVATIONS[name]
    z = points(1)
    derivative = activation.derivative(z, activation.forward(z))
    numeric = elementwise_difference(activation.forward, z)
    np.testing.assert_allclose(derivative, numeric, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_derivative_matches_complex_step(name: str) -> None:
    """Im f(z + ih)/h = f'(z) to machine precision: f is analytic where it is differentiable."""
    activation = ACTIVATIONS[name]
    z, h = points(2), 1e-30
    complex_step = np.imag(activation.forward(z + 1j * h)) / h
    derivative = activation.derivative(z, activation.forward(z))
    np.testing.assert_allclose(complex_step, derivative, rtol=1e-14, atol=1e-300)


@pytest.mark.parametrize(("name", "expected"), [("relu", 0.0), ("leaky_relu", LEAKY_SLOPE)])
def test_derivative_at_the_kink_follows_pytorch(name: str, expected: float) -> None:
    activation = ACTIVATIONS[name]
    assert set(activation.kinks) == {0.0}
    z = np.zeros(3)
    np.testing.assert_array_equal(activation.derivative(z, activation.forward(z)), expected)


@pytest.mark.parametrize("name", ["sigmoid", "softplus", "tanh"])
def test_no_overflow_at_extreme_inputs(name: str) -> None:
    z = np.array([-800.0, -40.0, 40.0, 800.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        a = ACTIVATIONS[name].forward(z)
        d = ACTIVATIONS[name].derivative(z, a)
    assert np.all(np.isfinite(a)) and np.all(np.isfinite(d))


def test_saturated_values_are_exact_limits() -> None:
    z = np.array([-800.0, 800.0])
    np.testing.assert_array_equal(ACTIVATIONS["sigmoid"].forward(z), [0.0, 1.0])
    np.testing.assert_array_equal(ACTIVATIONS["softplus"].forward(z), [0.0, 800.0])
    # for very negative z the overflow-free form keeps the relative accuracy of e^z
    np.testing.assert_allclose(ACTIVATIONS["sigmoid"].forward(np.array([-40.0])), np.exp(-40.0))

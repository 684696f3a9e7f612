"""The engine's branch-free real forms (np.maximum/np.minimum/np.abs instead of np.where,
for speed) equal the textbook branching forms within one rounding and never overflow."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from manualbp.engine.activations import ACTIVATIONS

#: Random z over a wide range, plus signed zeros, tiny values and values where e^{|z|} overflows.
Z = np.concatenate(
    [
        np.random.default_rng(0).uniform(-50.0, 50.0, size=200),
        [0.0, -0.0, 1e-300, -1e-300, 710.0, -710.0, 1e4, -1e4],
    ]
)


def _branching(name: str, z: np.ndarray) -> np.ndarray:
    """Each activation written with one branch per sign of z, every branch overflow-free."""
    positive, e = z > 0, np.exp(-np.abs(z))
    forms = {
        "sigmoid": np.where(positive, 1.0 / (1.0 + e), e / (1.0 + e)),
        "softplus": np.where(positive, z, 0.0) + np.log1p(e),
        "relu": np.where(positive, z, 0.0),
        "leaky_relu": np.where(positive, z, 0.01 * z),
    }
    return forms[name]


@pytest.mark.parametrize("name", ["sigmoid", "softplus", "relu", "leaky_relu"])
def test_branch_free_form_matches_the_branching_form(name: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow or invalid-value warnings either
        fast = ACTIVATIONS[name].forward(Z)
    assert fast.dtype == np.float64 and np.all(np.isfinite(fast))
    np.testing.assert_allclose(fast, _branching(name, Z), rtol=2.3e-16, atol=0.0)


def test_relu_derivatives_take_exactly_their_two_values() -> None:
    relu = ACTIVATIONS["relu"].derivative(Z, ACTIVATIONS["relu"].forward(Z))
    leaky = ACTIVATIONS["leaky_relu"].derivative(Z, ACTIVATIONS["leaky_relu"].forward(Z))
    assert np.array_equal(relu, (Z > 0).astype(np.float64))
    assert np.array_equal(leaky, np.where(Z > 0, 1.0, 0.01))


def test_one_exponential_forms_equal_the_two_exponential_forms_bit_for_bit() -> None:
    """σ(z) = e^{min(z,0)} / (1 + e^{-|z|}) and σ'(z) = e/(1 + e)², each written out with its
    own exponentials, against the engine's forms that take e = e^{-|z|} once."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sigmoid = ACTIVATIONS["sigmoid"].forward(Z)
        slope = ACTIVATIONS["sigmoid"].derivative(Z, sigmoid)
    e = np.exp(-np.abs(Z))
    np.testing.assert_array_equal(sigmoid, np.exp(np.minimum(Z, 0.0)) / (1.0 + e))
    np.testing.assert_array_equal(slope, e / (1.0 + e) ** 2)


@pytest.mark.parametrize("z", [0.5, np.float64(-3.0), np.array(4.0)])
def test_sigmoid_and_its_slope_accept_0_d_input(z: object) -> None:
    a = float(ACTIVATIONS["sigmoid"].forward(z))
    slope = float(ACTIVATIONS["sigmoid"].derivative(z, np.asarray(a)))
    assert a == pytest.approx(1.0 / (1.0 + np.exp(-float(z))), rel=1e-15)  # type: ignore[arg-type]
    assert slope == pytest.approx(a * (1.0 - a), rel=1e-12)

"""Affine and ActivationLayer: forward against the definition, backward against a central
difference of the layer's own forward (E = Σ G ⊙ output for a fixed upstream gradient G)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from manualbp.architecture import ACTIVATIONS as ACTIVATION_NAMES
from manualbp.architecture import BIAS_MODES
from manualbp.engine.activations import ACTIVATIONS
from manualbp.engine.layers import ActivationLayer, Affine

from .numerics import ATOL, RTOL, central_difference

N, N_IN, N_OUT = 3, 4, 2


def affine_inputs(bias: str, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    rng = np.random.default_rng(seed)
    a_prev = rng.normal(size=(N, N_IN))
    W = rng.normal(size=(N_OUT, N_IN))
    b = {"per_unit": rng.normal(size=N_OUT), "shared": np.array(rng.normal()), "none": None}
    return a_prev, W, b[bias]


@pytest.mark.parametrize("bias", BIAS_MODES)
def test_affine_forward_is_the_weighted_sum(bias: str) -> None:
    a_prev, W, b = affine_inputs(bias, 0)
    z, cache = Affine(bias).forward(a_prev, W, b)
    assert z.shape == (N, N_OUT)
    for n in range(N):
        for j in range(N_OUT):
            expected = sum(W[j, k] * a_prev[n, k] for k in range(N_IN))
            if b is not None:
                expected += b[j] if b.ndim else b
            assert z[n, j] == pytest.approx(expected, rel=1e-13)
    assert cache.a_prev is a_prev and cache.W is W


@pytest.mark.parametrize("bias", BIAS_MODES)
def test_affine_backward_matches_central_differences(bias: str) -> None:
    a_prev, W, b = affine_inputs(bias, 1)
    layer = Affine(bias)
    upstream = np.random.default_rng(2).normal(size=(N, N_OUT))

    def energy(a: np.ndarray, w: np.ndarray, bb: np.ndarray | None) -> float:
        return float(np.sum(upstream * layer.forward(a, w, bb)[0]))

    _, cache = layer.forward(a_prev, W, b)
    d_a_prev, dW, db = layer.backward(upstream, cache)
    assert d_a_prev.shape == a_prev.shape and dW.shape == W.shape
    np.testing.assert_allclose(
        d_a_prev, central_difference(lambda v: energy(v, W, b), a_prev), rtol=RTOL, atol=ATOL
    )
    np.testing.assert_allclose(
        dW, central_difference(lambda v: energy(a_prev, v, b), W), rtol=RTOL, atol=ATOL
    )
    if b is None:
        assert db is None
    else:
        assert db.shape == b.shape
        numeric = central_difference(lambda v: energy(a_prev, W, v), b)
        np.testing.assert_allclose(db, numeric, rtol=RTOL, atol=ATOL)


def test_affine_backward_uses_its_own_cache_not_the_latest_call() -> None:
    """Two forwards, then backward of the first: the explicit cache keeps them apart."""
    layer = Affine("per_unit")
    first = affine_inputs("per_unit", 3)
    second = affine_inputs("per_unit", 4)
    _, cache_first = layer.forward(*first)
    layer.forward(*second)
    upstream = np.ones((N, N_OUT))
    d_a_prev, dW, _ = layer.backward(upstream, cache_first)
    np.testing.assert_allclose(dW, upstream.T @ first[0])
    np.testing.assert_allclose(d_a_prev, upstream @ first[1])


def test_affine_forward_does_not_modify_its_inputs() -> None:
    a_prev, W, b = affine_inputs("per_unit", 5)
    copies = [a_prev.copy(), W.copy(), b.copy()]
    Affine("per_unit").forward(a_prev, W, b)
    for original, copy in zip((a_prev, W, b), copies, strict=True):
        np.testing.assert_array_equal(original, copy)


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_activation_layer_backward_matches_central_difference(name: str) -> None:
    rng = np.random.default_rng(6)
    z = rng.uniform(-3.0, 3.0, size=(N, N_OUT))
    z = np.where(np.abs(z) < 0.05, 0.5, z)  # away from the ReLU kink
    upstream = rng.normal(size=z.shape)
    layer = ActivationLayer(ACTIVATIONS[name])
    a, cache = layer.forward(z)
    np.testing.assert_array_equal(cache.z, z)
    np.testing.assert_array_equal(cache.a, a)
    numeric = central_difference(lambda v: float(np.sum(upstream * layer.forward(v)[0])), z)
    np.testing.assert_allclose(layer.backward(upstream, cache), numeric, rtol=RTOL, atol=ATOL)


def test_the_slope_kept_by_the_forward_pass_is_the_derivative_bit_for_bit() -> None:
    z = np.random.default_rng(7).uniform(-40.0, 40.0, size=(5, 6))
    sigmoid = ACTIVATIONS["sigmoid"]
    a, cache = ActivationLayer(sigmoid).forward(z)
    assert cache.slope is not None  # the sigmoid keeps e^{-|z|} and 1 + e^{-|z|}
    np.testing.assert_array_equal(a, sigmoid.forward(z))
    kept = ActivationLayer(sigmoid).derivative(cache)
    np.testing.assert_array_equal(kept, sigmoid.derivative(z, a))
    np.testing.assert_array_equal(cache.slope(), kept)  # the kept values are not consumed


@pytest.mark.parametrize("replaced", ["forward", "derivative"])
def test_a_replaced_formula_is_used_not_the_slope_written_for_the_original(replaced: str) -> None:
    """A copy of the sigmoid with its forward or derivative replaced (how the mutants are
    made) must compute with the replacement, never with the original's kept slope."""
    z = np.random.default_rng(8).normal(size=(3, 4))
    swapped = dataclasses.replace(ACTIVATIONS["sigmoid"], **{replaced: lambda *args: args[0] * 3})
    layer = ActivationLayer(swapped)
    a, cache = layer.forward(z)
    assert cache.slope is None
    np.testing.assert_array_equal(a, swapped.forward(z))
    np.testing.assert_array_equal(layer.derivative(cache), swapped.derivative(z, a))


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_only_real_sigmoid_layers_keep_a_slope(name: str) -> None:
    z = np.linspace(-2.0, 2.0, 12).reshape(3, 4)
    _, real = ActivationLayer(ACTIVATIONS[name]).forward(z)
    _, complex_ = ActivationLayer(ACTIVATIONS[name]).forward(z + 1e-20j)
    assert (real.slope is not None) == (name == "sigmoid")
    assert complex_.slope is None

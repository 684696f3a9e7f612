"""Network: every parameter gradient and every error term δ_l = ∂E/∂z_l against central
differences of the network's own loss, over every activation, loss, bias mode and reduction."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from manualbp.architecture import (
    ACTIVATIONS,
    BIAS_MODES,
    LOSS_OUTPUT_ACTIVATION,
    LOSSES,
    Architecture,
)
from manualbp.case import Case, case_from_seed
from manualbp.engine.network import ForwardPass, Network

from .numerics import ATOL, RTOL, central_difference


def architectures() -> list[Architecture]:
    """Every (hidden activation, loss, bias) triple; the second hidden layer and the output
    use the next activation in the list (or the one the loss needs); reductions alternate."""
    archs = []
    for index, (activation, loss, bias) in enumerate(
        itertools.product(ACTIVATIONS, LOSSES, BIAS_MODES)
    ):
        following = ACTIVATIONS[(ACTIVATIONS.index(activation) + 1) % len(ACTIVATIONS)]
        output = LOSS_OUTPUT_ACTIVATION.get(loss, following)
        archs.append(
            Architecture(
                sizes=(3, 4, 3, 2),
                activations=(activation, following, output),
                loss=loss,
                bias=bias,
                reduction=("sum", "mean")[index % 2],
            )
        )
    return archs


ARCHS = architectures()


def case(arch: Architecture, seed: int) -> Case:
    """The first case from seeds seed, seed + 1000, ... whose pre-activations all lie
    farther than 1e-4 from a kink (ReLU at 0), so central differences stay on one side.

    Without biases a ReLU layer can output an exact zero row, which puts the next layer
    exactly on its kink; such cases are skipped over, not tested with a loose tolerance.
    """
    network = Network(arch)
    for attempt in range(100):
        c = case_from_seed(arch, seed + 1000 * attempt, batch_size=3, scale=1.0)
        forward = network.forward(c.params, c.x)
        if all(
            np.min(np.abs(z - kink)) > 1e-4
            for z, layer in zip(forward.z, network.activation_layers, strict=True)
            for kink in layer.activation.kinks
        ):
            return c
    raise AssertionError(f"no kink-free case found for {arch.describe()}")


def network_loss(network: Network, params: dict, x: np.ndarray, y: np.ndarray) -> float:
    return float(network.loss(network.forward(params, x), y))


def loss_from_layer(
    network: Network, params: dict, layer: int, z_layer: np.ndarray, y: np.ndarray
) -> float:
    """E as a function of z_l: the network from layer l's activation onwards."""
    a = network.activation_layers[layer - 1].forward(z_layer)[0]
    z = z_layer
    for later in range(layer + 1, network.arch.depth + 1):
        z, _ = network.affine.forward(a, params[f"W{later}"], params.get(f"b{later}"))
        a = network.activation_layers[later - 1].forward(z)[0]
    per_sample = network.loss_function.value(z, a, y)
    return float(network.batch_scale(y.shape[0]) * np.sum(per_sample))


@pytest.mark.parametrize("arch", ARCHS, ids=lambda arch: arch.describe())
def test_parameter_gradients_match_central_differences(arch: Architecture) -> None:
    c = case(arch, seed=ARCHS.index(arch))
    network = Network(arch)
    gradients = network.backward(network.forward(c.params, c.x), c.y).gradients
    assert list(gradients) == list(arch.param_names)
    for name, value in c.params.items():

        def loss_of(v: np.ndarray, name: str = name) -> float:
            return network_loss(network, {**c.params, name: v}, c.x, c.y)

        numeric = central_difference(loss_of, value)
        assert gradients[name].shape == value.shape
        np.testing.assert_allclose(gradients[name], numeric, rtol=RTOL, atol=ATOL, err_msg=name)


@pytest.mark.parametrize("arch", ARCHS[::5], ids=lambda arch: arch.describe())
def test_error_terms_match_central_differences(arch: Architecture) -> None:
    c = case(arch, seed=100 + ARCHS.index(arch))
    network = Network(arch)
    forward = network.forward(c.params, c.x)
    deltas = network.backward(forward, c.y).delta
    assert len(deltas) == arch.depth
    for layer in range(1, arch.depth + 1):
        numeric = central_difference(
            lambda z, layer=layer: loss_from_layer(network, c.params, layer, z, c.y),
            forward.z[layer - 1],
        )
        np.testing.assert_allclose(
            deltas[layer - 1], numeric, rtol=RTOL, atol=ATOL, err_msg=f"delta {layer}"
        )


def test_forward_pass_exposes_z_and_a_per_layer() -> None:
    arch = ARCHS[0]
    c = case(arch, seed=7)
    forward = Network(arch).forward(c.params, c.x)
    assert isinstance(forward, ForwardPass)
    assert [z.shape for z in forward.z] == [(3, 4), (3, 3), (3, 2)]
    assert [a.shape for a in forward.a] == [(3, 4), (3, 3), (3, 2)]
    z1_expected = c.x @ c.params["W1"].T + c.params["b1"]
    np.testing.assert_allclose(forward.z[0], z1_expected, rtol=1e-14)
    np.testing.assert_array_equal(forward.output, forward.a[-1])


@pytest.mark.parametrize("loss", LOSSES)
def test_mean_reduction_divides_loss_and_error_terms_by_the_batch_size(loss: str) -> None:
    output = LOSS_OUTPUT_ACTIVATION.get(loss, "tanh")
    archs = [
        Architecture((2, 3, 2), ("tanh", output), loss, "per_unit", reduction)
        for reduction in ("sum", "mean")
    ]
    c = case_from_seed(archs[0], 11, batch_size=5)
    results = []
    for arch in archs:
        network = Network(arch)
        forward = network.forward(c.params, c.x)
        results.append((network.loss(forward, c.y), network.backward(forward, c.y)))
    (sum_loss, sum_pass), (mean_loss, mean_pass) = results
    assert mean_loss == pytest.approx(sum_loss / 5, rel=1e-14)
    for d_sum, d_mean in zip(sum_pass.delta, mean_pass.delta, strict=True):
        np.testing.assert_allclose(d_mean, d_sum / 5, rtol=1e-13)

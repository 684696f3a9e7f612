"""The engine's gradient-descent step: the -η folded into δ_L gives exactly θ - η ∂E/∂θ on
every kind of network, every returned array is the step's own and stays as it was returned
whatever later calls do, and an implementation that overrides ``gradients`` steps along
its own gradients."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import manualbp.engine as engine
from manualbp.architecture import (
    ACTIVATIONS,
    BIAS_MODES,
    LOSS_OUTPUT_ACTIVATION,
    LOSSES,
    Architecture,
)
from manualbp.case import case_from_seed
from manualbp.engine import EngineImplementation

#: η and N powers of two: -η·r is exact, so folding it into δ_L changes no rounding and the
#: step must equal θ - η·g bit for bit (any other η rounds -η·r once, a 1-ulp change of δ_L).
LR, BATCH = 0.25, 8


def architectures() -> list[Architecture]:
    """Every (activation, loss, bias) triple on a [3, 5, 4, 2] network, reductions alternating."""
    archs = []
    for index, (activation, loss, bias) in enumerate(
        itertools.product(ACTIVATIONS, LOSSES, BIAS_MODES)
    ):
        output = LOSS_OUTPUT_ACTIVATION.get(loss, activation)
        archs.append(
            Architecture(
                (3, 5, 4, 2),
                (activation, activation, output),
                loss=loss,
                bias=bias,
                reduction=("sum", "mean")[index % 2],
            )
        )
    return archs


@pytest.mark.parametrize("arch", architectures(), ids=lambda arch: arch.describe())
def test_step_is_theta_minus_lr_times_the_gradient(arch: Architecture) -> None:
    c = case_from_seed(arch, 11, batch_size=BATCH, scale=1.0)
    _, grads = engine.gradients(arch, c.params, c.x, c.y)
    stepped = engine.step(arch, c.params, c.x, c.y, LR)
    assert list(stepped) == list(arch.param_names)
    for name, value in c.params.items():
        np.testing.assert_array_equal(stepped[name], value - LR * grads[name], err_msg=name)


def test_frozen_parameters_come_back_as_equal_copies() -> None:
    arch = Architecture((2, 3, 2), ("tanh", "sigmoid"), "half_sse", "shared")
    c = case_from_seed(arch, 3)
    stepped = engine.step(arch, c.params, c.x, c.y, LR, frozen={"b1", "b2"})
    for name in ("b1", "b2"):
        np.testing.assert_array_equal(stepped[name], c.params[name])
        assert not np.shares_memory(stepped[name], c.params[name])


def test_returned_arrays_are_never_overwritten_by_later_calls() -> None:
    arch = Architecture((4, 6, 3), ("sigmoid", "identity"), "softmax_ce", reduction="mean")
    c = case_from_seed(arch, 5, batch_size=BATCH)
    first = engine.step(arch, c.params, c.x, c.y, LR)
    kept = {name: value.copy() for name, value in first.items()}
    _, first_grads = engine.gradients(arch, c.params, c.x, c.y)
    kept_grads = {name: value.copy() for name, value in first_grads.items()}
    # later calls on the same architecture and batch size, from other parameters and data
    for seed in range(3):
        other = case_from_seed(arch, 100 + seed, batch_size=BATCH)
        engine.step(arch, other.params, other.x, other.y, LR)
        engine.gradients(arch, other.params, other.x, other.y)
        engine.step(arch, first, other.x, other.y, LR)  # the returned arrays as inputs
    for name in arch.param_names:
        np.testing.assert_array_equal(first[name], kept[name])
        np.testing.assert_array_equal(first_grads[name], kept_grads[name])


def test_returned_arrays_share_memory_with_nothing_else() -> None:
    arch = Architecture((3, 4, 4, 2), ("relu", "tanh", "sigmoid"), "bce", reduction="mean")
    c = case_from_seed(arch, 2, batch_size=5)
    stepped = engine.step(arch, c.params, c.x, c.y, LR, frozen={"W2"})
    _, grads = engine.gradients(arch, c.params, c.x, c.y)
    outputs = [*stepped.values(), *grads.values()]
    inputs = [*c.params.values(), c.x, c.y]
    for index, array in enumerate(outputs):
        assert not any(np.shares_memory(array, other) for other in inputs)
        assert not any(np.shares_memory(array, other) for other in outputs[index + 1 :])


def test_an_overridden_gradients_method_is_what_step_descends() -> None:
    class Doubled(EngineImplementation):
        def gradients(self, arch, params, x, y):  # type: ignore[no-untyped-def]
            value, grads = super().gradients(arch, params, x, y)
            return value, {name: 2.0 * grad for name, grad in grads.items()}

    arch = Architecture((2, 3, 1), ("tanh", "sigmoid"))
    c = case_from_seed(arch, 4)
    _, grads = engine.gradients(arch, c.params, c.x, c.y)
    stepped = Doubled().step(arch, c.params, c.x, c.y, 0.25, frozen={"b2"})
    np.testing.assert_array_equal(stepped["b2"], c.params["b2"])
    for name in ("W1", "b1", "W2"):
        np.testing.assert_allclose(stepped[name], c.params[name] - 0.5 * grads[name], rtol=1e-15)


def test_complex_parameters_step_in_complex_arithmetic() -> None:
    arch = Architecture((2, 3, 2), ("tanh", "identity"), "softmax_ce")
    c = case_from_seed(arch, 6)
    params = {name: value + 1e-20j for name, value in c.params.items()}
    stepped = engine.step(arch, params, c.x, c.y, 0.5)
    real = engine.step(arch, c.params, c.x, c.y, 0.5)
    for name in arch.param_names:
        assert stepped[name].dtype == np.complex128
        np.testing.assert_allclose(stepped[name].real, real[name], rtol=1e-15, atol=1e-300)

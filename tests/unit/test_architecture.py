"""Architecture serialisation and shapes; parameter initialisation, flattening and descent."""

from __future__ import annotations

import json

import numpy as np
import pytest

from manualbp.architecture import Architecture
from manualbp.params import descend, flatten, init_params, unflatten

ARCHS = [
    Architecture((2, 2, 2), ("sigmoid", "sigmoid"), "half_sse", "shared", "sum"),
    Architecture((4, 5, 3), ("relu", "identity"), "softmax_ce", "per_unit", "mean"),
    Architecture((3, 1), ("sigmoid",), "bce", "none", "sum"),
    Architecture((1, 8, 5, 3, 1), ("tanh", "leaky_relu", "softplus", "sigmoid"), "mse"),
]


@pytest.mark.parametrize("arch", ARCHS, ids=Architecture.describe)
def test_json_and_dict_round_trip(arch: Architecture) -> None:
    text = arch.to_json()
    assert json.loads(text) == arch.to_dict()
    assert Architecture.from_json(text) == arch
    assert Architecture.from_dict(arch.to_dict()) == arch
    assert hash(Architecture.from_json(text)) == hash(arch)


def test_lists_are_stored_as_tuples_and_defaults_apply() -> None:
    arch = Architecture.from_dict({"sizes": [2, 3], "activations": ["tanh"]})
    assert arch.sizes == (2, 3) and arch.activations == ("tanh",)
    assert (arch.loss, arch.bias, arch.reduction) == ("half_sse", "per_unit", "sum")
    assert arch.to_dict()["sizes"] == [2, 3]


@pytest.mark.parametrize(
    ("bias", "shapes"),
    [
        ("per_unit", {"W1": (3, 2), "b1": (3,), "W2": (1, 3), "b2": (1,)}),
        ("shared", {"W1": (3, 2), "b1": (), "W2": (1, 3), "b2": ()}),
        ("none", {"W1": (3, 2), "W2": (1, 3)}),
    ],
)
def test_parameter_shapes_follow_the_bias_mode(bias: str, shapes: dict) -> None:
    arch = Architecture((2, 3, 1), ("tanh", "sigmoid"), bias=bias)
    assert arch.param_shapes() == shapes
    assert arch.param_names == tuple(shapes)
    assert arch.n_params == sum(int(np.prod(s)) for s in shapes.values())
    assert (arch.depth, arch.inputs, arch.outputs) == (2, 2, 1)


def test_describe_is_one_line_with_every_field() -> None:
    text = ARCHS[1].describe()
    assert "\n" not in text
    for part in ("[4,5,3]", "relu,identity", "softmax_ce", "per_unit", "mean"):
        assert part in text


@pytest.mark.parametrize("arch", ARCHS, ids=Architecture.describe)
def test_init_params_is_a_function_of_the_seed(arch: Architecture) -> None:
    first = init_params(arch, np.random.default_rng(5))
    again = init_params(arch, np.random.default_rng(5))
    other = init_params(arch, np.random.default_rng(6))
    assert {k: v.shape for k, v in first.items()} == arch.param_shapes()
    for name in arch.param_names:
        assert first[name].dtype == np.float64
        np.testing.assert_array_equal(first[name], again[name])
    assert any(not np.array_equal(first[n], other[n]) for n in arch.param_names)


def test_init_params_scale_defaults_to_one_over_sqrt_fan_in() -> None:
    arch = Architecture((400, 300, 1), ("tanh", "identity"))
    params = init_params(arch, np.random.default_rng(0))
    assert np.std(params["W1"]) == pytest.approx(1 / np.sqrt(400), rel=0.02)
    assert np.std(init_params(arch, np.random.default_rng(0), scale=2.0)["W1"]) == pytest.approx(
        2.0, rel=0.02
    )


@pytest.mark.parametrize("arch", ARCHS, ids=Architecture.describe)
def test_flatten_and_unflatten_are_inverse(arch: Architecture) -> None:
    params = init_params(arch, np.random.default_rng(1))
    theta = flatten(arch, params)
    assert theta.shape == (arch.n_params,)
    restored = unflatten(arch, theta)
    assert list(restored) == list(arch.param_names)
    for name in arch.param_names:
        np.testing.assert_array_equal(restored[name], params[name])


def test_descend_updates_all_but_frozen_and_returns_new_arrays() -> None:
    params = {"W1": np.ones((2, 2)), "b1": np.array(1.0)}
    grads = {"W1": np.full((2, 2), 2.0), "b1": np.array(4.0)}
    new = descend(params, grads, 0.5, frozenset({"b1"}))
    np.testing.assert_array_equal(new["W1"], np.zeros((2, 2)))
    assert new["b1"] == 1.0 and new["b1"] is not params["b1"]
    np.testing.assert_array_equal(params["W1"], np.ones((2, 2)))

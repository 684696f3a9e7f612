"""The float64 torch mirror: Mazur's printed numbers, the loss definitions, kinks, threads."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from manualbp import mazur
from manualbp import torch_mirror as mirror
from manualbp.architecture import Architecture
from manualbp.errors import ParameterError, UsageError

# Mazur (2015): W1 = [[w1, w2], [w3, w4]], W2 = [[w5, w6], [w7, w8]], shared biases.
MAZUR_PARAMS = {
    "W1": np.array([[0.15, 0.20], [0.25, 0.30]]),
    "b1": np.array(0.35),
    "W2": np.array([[0.40, 0.45], [0.50, 0.55]]),
    "b2": np.array(0.60),
}
MAZUR_X = np.array([[0.05, 0.10]])
MAZUR_Y = np.array([[0.01, 0.99]])


def printed(value: float, text: str) -> bool:
    """Agreement within half a unit of the last printed decimal of ``text``."""
    decimals = len(text.split(".")[1])
    return abs(value - float(text)) <= 0.5 * 10.0**-decimals


def test_mirror_reproduces_mazurs_forward_and_backward_numbers() -> None:
    result = mirror.backprop(mazur.ARCHITECTURE, MAZUR_PARAMS, MAZUR_X, MAZUR_Y)
    assert printed(result.a[0][0, 0], "0.593269992")  # out_h1
    assert printed(result.a[0][0, 1], "0.596884378")  # out_h2
    assert printed(result.z[1][0, 0], "1.105905967")  # net_o1
    assert printed(result.a[1][0, 0], "0.75136507")  # out_o1
    assert printed(result.a[1][0, 1], "0.772928465")  # out_o2
    assert printed(result.loss, "0.298371109")  # E_total
    assert printed(result.delta[1][0, 0], "0.138498562")  # ∂E/∂net_o1
    assert printed(result.derivative[1][0, 0], "0.186815602")  # ∂out_o1/∂net_o1
    assert printed(result.derivative[0][0, 0], "0.241300709")  # ∂out_h1/∂net_h1
    assert printed(result.gradients["W2"][0, 0], "0.082167041")  # ∂E/∂w5
    assert printed(result.gradients["W1"][0, 0], "0.000438568")  # ∂E/∂w1


def test_mirror_step_with_frozen_biases_reproduces_mazurs_updated_weights() -> None:
    updated = mirror.step(
        mazur.ARCHITECTURE, MAZUR_PARAMS, MAZUR_X, MAZUR_Y, 0.5, frozenset({"b1", "b2"})
    )
    for value, text in zip(
        updated["W2"].ravel(),
        ("0.35891648", "0.408666186", "0.511301270", "0.561370121"),
        strict=True,
    ):
        assert printed(value, text)
    for value, text in zip(
        updated["W1"].ravel(),
        ("0.149780716", "0.19956143", "0.24975114", "0.29950229"),
        strict=True,
    ):
        assert printed(value, text)
    assert updated["b1"] == MAZUR_PARAMS["b1"] and updated["b2"] == MAZUR_PARAMS["b2"]


def one_layer(activation: str, loss: str, reduction: str = "sum") -> Architecture:
    return Architecture((2, 3), (activation,), loss=loss, bias="none", reduction=reduction)


X = np.array([[0.5, -1.0], [2.0, 0.25]])
W = {"W1": np.array([[1.0, 0.5], [-0.5, 2.0], [0.25, -1.5]])}


def test_squared_losses_follow_the_definitions_in_the_engine_docstring() -> None:
    z = X @ W["W1"].T
    y = np.array([[0.1, 0.9, 0.3], [0.7, 0.2, 0.5]])
    sse_per_sample = np.sum((z - y) ** 2, axis=1)
    expected = {
        "half_sse": 0.5 * sse_per_sample.sum(),
        "sse": sse_per_sample.sum(),
        "mse": (sse_per_sample / 3).sum(),
    }
    for loss, value in expected.items():
        assert mirror.loss(one_layer("identity", loss), W, X, y) == pytest.approx(value, rel=1e-14)
    mean = mirror.loss(one_layer("identity", "mse", "mean"), W, X, y)
    assert mean == pytest.approx(expected["mse"] / 2, rel=1e-14)


def test_cross_entropies_follow_the_general_forms() -> None:
    z = X @ W["W1"].T
    y = np.array([[0.2, 0.3, 0.9], [1.0, 0.0, 0.4]])
    sigma = 1.0 / (1.0 + np.exp(-z))
    bce = -np.sum(y * np.log(sigma) + (1 - y) * np.log(1 - sigma))
    assert mirror.loss(one_layer("sigmoid", "bce"), W, X, y) == pytest.approx(bce, rel=1e-13)
    # unnormalised targets: (Σ_k y_k)·logsumexp(z) - Σ_k y_k z_k
    lse = np.log(np.sum(np.exp(z), axis=1))
    softmax_ce = np.sum(y.sum(axis=1) * lse - np.sum(y * z, axis=1))
    value = mirror.loss(one_layer("identity", "softmax_ce"), W, X, y)
    assert value == pytest.approx(softmax_ce, rel=1e-13)


def test_softplus_is_exact_beyond_torchs_threshold() -> None:
    arch = Architecture((1, 1), ("softplus",), loss="half_sse", bias="none")
    result = mirror.backprop(arch, {"W1": np.array([[25.0]])}, np.array([[1.0]]), np.array([[0]]))
    assert result.a[0][0, 0] == 25.0 + math.log1p(math.exp(-25.0))
    assert result.derivative[0][0, 0] == pytest.approx(1.0 / (1.0 + math.exp(-25.0)), abs=0)


def test_shared_bias_and_mean_reduction_are_mirrored() -> None:
    arch = Architecture((2, 3), ("identity",), loss="half_sse", bias="shared", reduction="mean")
    params = {"W1": W["W1"], "b1": np.array(0.5)}
    y = np.zeros((2, 3))
    result = mirror.backprop(arch, params, X, y)
    z = X @ W["W1"].T + 0.5
    np.testing.assert_allclose(result.delta[0], z / 2, rtol=1e-15)
    assert result.gradients["b1"].shape == ()
    assert result.gradients["b1"] == pytest.approx(z.sum() / 2, rel=1e-14)


KINK_ARCH = Architecture((1, 2), ("relu",), loss="half_sse", bias="none")
KINK_PARAMS = {"W1": np.array([[0.0], [1.0]])}  # unit 1 has z = 0 exactly


@pytest.mark.parametrize(
    ("activation", "left"), [("relu", 0.0), ("leaky_relu", mirror.LEAKY_SLOPE)]
)
def test_kink_derivative_is_pytorchs_left_one_unless_chosen(activation: str, left: float) -> None:
    arch = Architecture((1, 2), (activation,), loss="half_sse", bias="none")
    x, y = np.array([[2.0]]), np.array([[0.5, 0.5]])
    torch_choice = mirror.backprop(arch, KINK_PARAMS, x, y)
    mask = (np.array([[True, False]]),)
    right = mirror.backprop(arch, KINK_PARAMS, x, y, kinks=mirror.KinkChoice("right", mask))
    forced_left = mirror.backprop(arch, KINK_PARAMS, x, y, kinks=mirror.KinkChoice("left", mask))
    assert torch_choice.derivative[0][0, 0] == left
    assert right.derivative[0][0, 0] == 1.0
    assert forced_left.derivative[0][0, 0] == left
    assert right.derivative[0][0, 1] == torch_choice.derivative[0][0, 1] == 1.0
    assert right.loss == torch_choice.loss


def test_bad_kink_choice_and_complex_parameters_are_rejected() -> None:
    x, y = np.array([[2.0]]), np.array([[0.5, 0.5]])
    with pytest.raises(UsageError, match=r"kinks\.side"):
        mirror.backprop(KINK_ARCH, KINK_PARAMS, x, y, kinks=mirror.KinkChoice("middle", (None,)))
    with pytest.raises(UsageError, match=r"kinks\.masks"):
        mirror.backprop(KINK_ARCH, KINK_PARAMS, x, y, kinks=mirror.KinkChoice("left", ()))
    with pytest.raises(ParameterError, match="W1: got a complex array"):
        mirror.loss(KINK_ARCH, {"W1": KINK_PARAMS["W1"] + 1e-20j}, x, y)


def test_protocol_functions_agree_with_backprop_and_do_not_mutate() -> None:
    arch = mazur.ARCHITECTURE
    before = {k: v.copy() for k, v in MAZUR_PARAMS.items()}
    value, grads = mirror.gradients(arch, MAZUR_PARAMS, MAZUR_X, MAZUR_Y)
    inner = mirror.intermediates(arch, MAZUR_PARAMS, MAZUR_X, MAZUR_Y)
    full = mirror.backprop(arch, MAZUR_PARAMS, MAZUR_X, MAZUR_Y)
    assert value == full.loss == mirror.loss(arch, MAZUR_PARAMS, MAZUR_X, MAZUR_Y)
    assert all(np.array_equal(grads[k], full.gradients[k]) for k in arch.param_names)
    assert all(np.array_equal(d, e) for d, e in zip(inner["delta"], full.delta, strict=True))
    assert all(np.array_equal(before[k], MAZUR_PARAMS[k]) for k in before)


def test_threads_limits_torch_inside_and_restores_after() -> None:
    before = torch.get_num_threads()
    with mirror.threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with mirror.threads(None):
        assert torch.get_num_threads() == before


def test_mirror_imports_torch_lazily_and_never_the_engine() -> None:
    code = (
        "import sys, numpy as np\n"
        "import manualbp.torch_mirror as m, manualbp.checks.autograd\n"
        "print('torch' in sys.modules)\n"
        "from manualbp.architecture import Architecture\n"
        "arch = Architecture((1, 1), ('tanh',))\n"
        "one = np.ones((1, 1))\n"
        "m.backprop(arch, {'W1': one, 'b1': np.zeros(1)}, one, one)\n"
        "print('torch' in sys.modules, 'manualbp.engine' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "True", "False"]

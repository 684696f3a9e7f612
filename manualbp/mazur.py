"""Mazur's 2-2-2 network written out formula by formula: a second, independent implementation.

Matt Mazur, "A Step by Step Backpropagation Example" (2015): inputs i1, i2; sigmoid hidden
units h1, h2; sigmoid outputs o1, o2; one bias per layer shared by its units (b1, b2);
E = Σ_o ½(target_o - out_o)². Wiring (matrix form, rows = receiving unit)::

    W1 = [[w1, w2],      net_h1 = w1·i1 + w2·i2 + b1
          [w3, w4]]      net_h2 = w3·i1 + w4·i2 + b1
    W2 = [[w5, w6],      net_o1 = w5·out_h1 + w6·out_h2 + b2
          [w7, w8]]      net_o2 = w7·out_h1 + w8·out_h2 + b2

Every partial derivative is the chain-rule product of the post, with the sigmoid
derivative written in terms of the unit's output, out(1 - out). Nothing here uses
:mod:`manualbp.engine`; the two implementations are compared against each other in tests.
Batches of several rows sum E over the rows. Only the architecture :data:`ARCHITECTURE`
is supported; any other raises ``NotImplementedError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from manualbp.architecture import Architecture
from manualbp.params import check_batch, check_frozen, check_params, descend

name = "manualbp.mazur"
supports_complex = True

ARCHITECTURE = Architecture(
    sizes=(2, 2, 2),
    activations=("sigmoid", "sigmoid"),
    loss="half_sse",
    bias="shared",
    reduction="sum",
)
architectures = (ARCHITECTURE,)


def supports(arch: Architecture) -> bool:
    """Only Mazur's 2-2-2 sigmoid network with shared biases and E = Σ ½(t - out)²."""
    return arch == ARCHITECTURE


def _logistic(net: Any) -> Any:
    return 1.0 / (1.0 + np.exp(-net))


@dataclass(frozen=True)
class Sample:
    """Every forward and backward quantity of the post for one input row (names as in it)."""

    net_h1: Any
    net_h2: Any
    out_h1: Any
    out_h2: Any
    net_o1: Any
    net_o2: Any
    out_o1: Any
    out_o2: Any
    E_total: Any
    dE_dnet_o1: Any
    dE_dnet_o2: Any
    dE_dnet_h1: Any
    dE_dnet_h2: Any
    grads: dict[str, Any]


def one_sample(p: Mapping[str, np.ndarray], i1: Any, i2: Any, t1: Any, t2: Any) -> Sample:
    """Forward and backward pass of the post for one input (i1, i2) and target (t1, t2)."""
    w1, w2, w3, w4 = p["W1"][0, 0], p["W1"][0, 1], p["W1"][1, 0], p["W1"][1, 1]
    w5, w6, w7, w8 = p["W2"][0, 0], p["W2"][0, 1], p["W2"][1, 0], p["W2"][1, 1]
    b1, b2 = p["b1"][()], p["b2"][()]

    # forward pass
    net_h1 = w1 * i1 + w2 * i2 + b1
    net_h2 = w3 * i1 + w4 * i2 + b1
    out_h1 = _logistic(net_h1)
    out_h2 = _logistic(net_h2)
    net_o1 = w5 * out_h1 + w6 * out_h2 + b2
    net_o2 = w7 * out_h1 + w8 * out_h2 + b2
    out_o1 = _logistic(net_o1)
    out_o2 = _logistic(net_o2)
    E_o1 = 0.5 * (t1 - out_o1) ** 2
    E_o2 = 0.5 * (t2 - out_o2) ** 2

    # output layer: ∂E/∂net_o = ∂E/∂out_o · ∂out_o/∂net_o
    dE_dout_o1 = -(t1 - out_o1)
    dE_dout_o2 = -(t2 - out_o2)
    dout_o1_dnet_o1 = out_o1 * (1 - out_o1)
    dout_o2_dnet_o2 = out_o2 * (1 - out_o2)
    dE_dnet_o1 = dE_dout_o1 * dout_o1_dnet_o1
    dE_dnet_o2 = dE_dout_o2 * dout_o2_dnet_o2
    # ∂E/∂w5 = ∂E/∂net_o1 · ∂net_o1/∂w5, with ∂net_o1/∂w5 = out_h1, and so on
    dE_dw5 = dE_dnet_o1 * out_h1
    dE_dw6 = dE_dnet_o1 * out_h2
    dE_dw7 = dE_dnet_o2 * out_h1
    dE_dw8 = dE_dnet_o2 * out_h2
    dE_db2 = dE_dnet_o1 * 1 + dE_dnet_o2 * 1

    # hidden layer: ∂E/∂out_h1 = ∂E_o1/∂out_h1 + ∂E_o2/∂out_h1 (original w5..w8)
    dE_o1_dout_h1 = dE_dnet_o1 * w5
    dE_o2_dout_h1 = dE_dnet_o2 * w7
    dE_dout_h1 = dE_o1_dout_h1 + dE_o2_dout_h1
    dE_dout_h2 = dE_dnet_o1 * w6 + dE_dnet_o2 * w8
    dout_h1_dnet_h1 = out_h1 * (1 - out_h1)
    dout_h2_dnet_h2 = out_h2 * (1 - out_h2)
    dE_dnet_h1 = dE_dout_h1 * dout_h1_dnet_h1
    dE_dnet_h2 = dE_dout_h2 * dout_h2_dnet_h2
    dE_dw1 = dE_dnet_h1 * i1
    dE_dw2 = dE_dnet_h1 * i2
    dE_dw3 = dE_dnet_h2 * i1
    dE_dw4 = dE_dnet_h2 * i2
    dE_db1 = dE_dnet_h1 * 1 + dE_dnet_h2 * 1

    grads = {
        "W1": np.array([[dE_dw1, dE_dw2], [dE_dw3, dE_dw4]]),
        "b1": np.array(dE_db1),
        "W2": np.array([[dE_dw5, dE_dw6], [dE_dw7, dE_dw8]]),
        "b2": np.array(dE_db2),
    }
    return Sample(
        net_h1,
        net_h2,
        out_h1,
        out_h2,
        net_o1,
        net_o2,
        out_o1,
        out_o2,
        E_o1 + E_o2,
        dE_dnet_o1,
        dE_dnet_o2,
        dE_dnet_h1,
        dE_dnet_h2,
        grads,
    )


def _validated(
    arch: Architecture, params: Mapping[str, Any], x: Any, y: Any
) -> tuple[dict[str, np.ndarray], list[Sample]]:
    """The validated parameters and every row's Sample (validation once per call)."""
    if not supports(arch):
        raise NotImplementedError(
            f"manualbp.mazur implements only {ARCHITECTURE.describe()}, got {arch.describe()}"
        )
    p = check_params(arch, params)
    x_arr, y_arr = check_batch(arch, x, y)
    samples = [
        one_sample(p, row[0], row[1], target[0], target[1])
        for row, target in zip(x_arr, y_arr, strict=True)
    ]
    return p, samples


def _samples(arch: Architecture, params: Mapping[str, Any], x: Any, y: Any) -> list[Sample]:
    return _validated(arch, params, x, y)[1]


def _summed(samples: list[Sample]) -> dict[str, np.ndarray]:
    return {key: sum(s.grads[key] for s in samples) for key in ("W1", "b1", "W2", "b2")}


def loss(arch: Architecture, params: Mapping[str, Any], x: Any, y: Any) -> float | complex:
    """E_total summed over the rows of the batch."""
    return sum(s.E_total for s in _samples(arch, params, x, y)).item()


def gradients(
    arch: Architecture, params: Mapping[str, Any], x: Any, y: Any
) -> tuple[float, dict[str, np.ndarray]]:
    """(E_total, {W1, b1, W2, b2: ∂E_total/∂·}) summed over the rows of the batch."""
    samples = _samples(arch, params, x, y)
    return sum(s.E_total for s in samples).item(), _summed(samples)


def intermediates(
    arch: Architecture, params: Mapping[str, Any], x: Any, y: Any
) -> dict[str, list[np.ndarray]]:
    """z = [net_h, net_o], a = [out_h, out_o], delta = [∂E/∂net_h, ∂E/∂net_o], each (N, 2)."""
    samples = _samples(arch, params, x, y)

    def rows(first: str, second: str) -> np.ndarray:
        return np.array([[getattr(s, first), getattr(s, second)] for s in samples])

    return {
        "z": [rows("net_h1", "net_h2"), rows("net_o1", "net_o2")],
        "a": [rows("out_h1", "out_h2"), rows("out_o1", "out_o2")],
        "delta": [rows("dE_dnet_h1", "dE_dnet_h2"), rows("dE_dnet_o1", "dE_dnet_o2")],
    }


def step(
    arch: Architecture,
    params: Mapping[str, Any],
    x: Any,
    y: Any,
    lr: float,
    frozen: frozenset[str] | set[str] = frozenset(),
) -> dict[str, np.ndarray]:
    """w⁺ = w - η ∂E/∂w for every weight, all eight gradients taken before any update."""
    names = check_frozen(arch, frozen)
    p, samples = _validated(arch, params, x, y)
    return descend(p, _summed(samples), lr, names)

"""The engine as an implementation of the public protocol (see :mod:`manualbp.protocol`).

:class:`EngineImplementation` wraps a :class:`~manualbp.engine.network.Network` class; the
default instance is what ``manualbp.engine`` exposes. Passing a Network subclass that
changes one formula gives an implementation with exactly that change (how the mutant
catalogue is built).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from manualbp.architecture import Architecture
from manualbp.engine.network import BackwardPass, ForwardPass, Network
from manualbp.params import Params, check_batch, check_frozen, check_params, descend


def prepare(
    arch: Architecture, params: Mapping[str, object], x: object, y: object
) -> tuple[Params, np.ndarray, np.ndarray]:
    """Validate params and batch and cast them to their common floating (or complex) dtype."""
    checked = check_params(arch, params)
    x_arr, y_arr = check_batch(arch, x, y)
    dtype = np.result_type(*checked.values(), x_arr, y_arr, np.float32)
    cast = {key: value.astype(dtype, copy=False) for key, value in checked.items()}
    return cast, x_arr.astype(dtype, copy=False), y_arr.astype(dtype, copy=False)


class EngineImplementation:
    """loss / gradients / intermediates / step computed by ``network_class(arch)``.

    Every method validates its input, never mutates it, and computes in the common dtype
    of parameters and batch (complex when a parameter is complex: ``supports_complex``).
    """

    supports_complex = True

    def __init__(self, network_class: type[Network] = Network, name: str = "manualbp.engine"):
        self.network_class = network_class
        self.name = name

    def _backprop(
        self, arch: Architecture, params: Mapping[str, object], x: object, y: object
    ) -> tuple[ForwardPass, BackwardPass, float]:
        cast, x_arr, y_arr = prepare(arch, params, x, y)
        network = self.network_class(arch)
        forward = network.forward(cast, x_arr)
        value = network.loss(forward, y_arr).item()
        return forward, network.backward(forward, y_arr), value

    def loss(
        self, arch: Architecture, params: Mapping[str, object], x: object, y: object
    ) -> float | complex:
        """E(θ) for the batch: a Python float (complex when the parameters are complex)."""
        cast, x_arr, y_arr = prepare(arch, params, x, y)
        network = self.network_class(arch)
        return network.loss(network.forward(cast, x_arr), y_arr).item()

    def gradients(
        self, arch: Architecture, params: Mapping[str, object], x: object, y: object
    ) -> tuple[float, dict[str, np.ndarray]]:
        """(E, {name: ∂E/∂name}) with every gradient of its parameter's shape."""
        _, backward, value = self._backprop(arch, params, x, y)
        return value, backward.gradients

    def intermediates(
        self, arch: Architecture, params: Mapping[str, object], x: object, y: object
    ) -> dict[str, list[np.ndarray]]:
        """{"z": [z_1..z_L], "a": [a_1..a_L], "delta": [δ_1..δ_L]}, each (N, n_l), δ_l = ∂E/∂z_l."""
        forward, backward, _ = self._backprop(arch, params, x, y)
        return {"z": forward.z, "a": forward.a, "delta": backward.delta}

    def step(
        self,
        arch: Architecture,
        params: Mapping[str, object],
        x: object,
        y: object,
        lr: float,
        frozen: frozenset[str] | set[str] = frozenset(),
    ) -> dict[str, np.ndarray]:
        """One gradient-descent step θ' = θ - lr ∂E/∂θ for every parameter not in ``frozen``.

        Returns new arrays; the inputs are not mutated. Frozen parameters come back as copies.
        """
        names = check_frozen(arch, frozen)
        _, grads = self.gradients(arch, params, x, y)
        return descend(check_params(arch, params), grads, lr, names)

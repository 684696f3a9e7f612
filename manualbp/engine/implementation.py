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
from manualbp.engine.batched import batchable, losses_along, perturbed_losses
from manualbp.engine.network import BackwardPass, ForwardPass, Network
from manualbp.errors import ParameterError
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


def _steps(steps: object) -> np.ndarray:
    """Steps t (M,) as a real or complex array; anything else is a ParameterError."""
    t = np.asarray(steps)
    if t.ndim != 1 or t.dtype.kind not in "iufc":
        raise ParameterError(
            f"steps: got shape {t.shape} and dtype {t.dtype}, expected (M,) numbers"
        )
    return t


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

    def perturbed_losses(
        self,
        arch: Architecture,
        params: Mapping[str, object],
        x: object,
        y: object,
        name: str,
        index: object,
        steps: object,
    ) -> np.ndarray:
        """[E(θ + t_m·e_{i_m})] (M,): params[name].flat[index[m]] moved by steps[m] each time.

        index (M,) flat indices into params[name], steps (M,) real or complex; one
        vectorised forward pass from the perturbed layer up (:mod:`manualbp.engine.batched`).
        Raises NotImplementedError when ``network_class`` overrides the forward pass or the
        loss, whose batched form would be another function than :meth:`loss`.
        """
        cast, x_arr, y_arr, network = self._batched_setup(arch, params, x, y)
        if name not in cast:
            raise ParameterError(f"name: got {name!r}, expected one of {', '.join(cast)}")
        flat = np.asarray(index)
        t = _steps(steps)
        if flat.ndim != 1 or flat.dtype.kind not in "iu" or t.shape != flat.shape:
            raise ParameterError(
                f"index: got shape {flat.shape} and dtype {flat.dtype}, expected integers of "
                f"the shape of steps {t.shape}"
            )
        if np.any(flat < 0) or np.any(flat >= cast[name].size):
            raise ParameterError(
                f"index: expected flat indices into {name} in [0, {cast[name].size})"
            )
        return perturbed_losses(network, cast, x_arr, y_arr, name, flat, t)

    def losses_along(
        self,
        arch: Architecture,
        params: Mapping[str, object],
        x: object,
        y: object,
        direction: Mapping[str, object],
        steps: object,
    ) -> np.ndarray:
        """[E(θ + t_m·d)] (M,) along one direction d = {name: array of that parameter's shape}.

        Parameters not named in ``direction`` stay fixed; steps (M,) real or complex; one
        vectorised forward pass from the lowest moved layer up (:mod:`manualbp.engine.batched`).
        Raises NotImplementedError as :meth:`perturbed_losses` does.
        """
        cast, x_arr, y_arr, network = self._batched_setup(arch, params, x, y)
        shapes = arch.param_shapes()
        if not isinstance(direction, Mapping) or not direction:
            raise ParameterError(
                f"direction: got {type(direction).__name__}, expected a non-empty dict of arrays"
            )
        moved = {}
        for key, value in direction.items():
            d = np.asarray(value)
            if key not in shapes or d.shape != shapes[key] or d.dtype.kind not in "iuf":
                raise ParameterError(
                    f"direction[{key!r}]: got shape {d.shape} and dtype {d.dtype}, expected a "
                    f"real array of the shape of one of {', '.join(shapes)}"
                )
            moved[key] = d.astype(np.float64, copy=False)
        return losses_along(network, cast, x_arr, y_arr, moved, _steps(steps))

    def _batched_setup(
        self, arch: Architecture, params: Mapping[str, object], x: object, y: object
    ) -> tuple[Params, np.ndarray, np.ndarray, Network]:
        cast, x_arr, y_arr = prepare(arch, params, x, y)
        network = self.network_class(arch)
        if not batchable(network):
            raise NotImplementedError(
                f"{self.network_class.__name__} overrides the forward pass or the loss"
            )
        return cast, x_arr, y_arr, network

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

        The network runs with error scale s = -lr, so each gradient product it returns is
        already the update -lr ∂E/∂θ in a new array; θ is added into that array. Returns
        new arrays; the inputs are not mutated. Frozen parameters come back as copies. An
        implementation whose ``gradients`` is overridden steps along its own gradients.
        """
        names = check_frozen(arch, frozen)
        if type(self).gradients is not EngineImplementation.gradients:
            _, grads = self.gradients(arch, params, x, y)
            return descend(check_params(arch, params), grads, lr, names)
        cast, x_arr, y_arr = prepare(arch, params, x, y)
        network = self.network_class(arch)
        network.error_scale = -lr
        updates = network.backward(network.forward(cast, x_arr), y_arr).gradients
        return {
            name: value.copy() if name in names else _added(updates[name], value)
            for name, value in cast.items()
        }


def _added(update: np.ndarray, value: np.ndarray) -> np.ndarray:
    """θ + Δθ written into Δθ, a new array of the step's own (never the caller's)."""
    update += value
    return update

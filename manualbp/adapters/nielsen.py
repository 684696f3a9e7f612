"""``from_nielsen``: a network in the style of Nielsen's ``network.py`` / ``network2.py``.

The wrapped class is built from a list of layer sizes, ``Network(sizes)`` (``Network(sizes,
cost=C)`` when a cost class is given), keeps ``weights[l]`` as (next, current) matrices and
``biases[l]`` as (units, 1) columns, and has a per-sample ``backprop(x, y) -> (nabla_b,
nabla_w)`` on column vectors. Those weights are manualbp's W_l exactly (rows = receiving
unit); the biases are b_l as columns. For a batch of N rows:

    E   = Σ_n C(a(x_n), y_n)                (reduction sum; 1/N of it for mean)
    ∂E/∂θ = Σ_n nabla(x_n, y_n)             (1/N of it for mean, as update_mini_batch does)

The cost C is read from the network: ``total_cost(data)`` (network2's average, lmbda = 0)
when it has one, else ``cost.fn(a, y)`` summed over the samples, else ½‖a - y‖² of
``feedforward`` (network.py has no cost function; its ``cost_derivative`` is a - y). ``step``
is ``update_mini_batch(mini_batch, eta)`` with eta = lr for mean and lr·N for sum (it
averages), lmbda = 0 and n = N for network2's signature. ``intermediates`` reads a_l from
``feedforward`` of the first l layers, z_l = W_l a_{l-1} + b_l from it, and δ_l from the
per-sample ``nabla_b`` (which is δ_l for one sample).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from manualbp.adapters.base import (
    Adapter,
    declared_architectures,
    keep_frozen,
    losses,
    one_of,
    parameter_names,
)
from manualbp.architecture import Architecture
from manualbp.errors import ImplementationError, describe
from manualbp.facts import ACTIVATIONS

#: Cost class names (lower case, "cost" dropped) and the loss each computes.
COST_NAMES: dict[str, str] = {
    "quadratic": "half_sse",
    "crossentropy": "bce",
}

Columns = list[tuple[np.ndarray, np.ndarray]]


def _costs(cost: Any) -> dict[str, Any]:
    """{loss name: cost class} from ``cost``: None (the quadratic cost of network.py, no
    class), one class (its loss read from its name) or a dict {loss: class}."""
    if cost is None:
        return {"half_sse": None}
    if isinstance(cost, Mapping):
        losses(tuple(cost), "cost")
        return dict(cost)
    key = getattr(cost, "__name__", "").lower().replace("_", "").removesuffix("cost")
    if key not in COST_NAMES:
        raise ImplementationError(
            f"cost: cannot tell which loss {describe(cost)} computes from its name; give "
            "cost={'bce': CrossEntropyCost} (a dict from loss name to cost class)"
        )
    return {COST_NAMES[key]: cost}


def _loss_source(network_class: type, costs: dict[str, Any]) -> str:
    """Where the loss value comes from: ``total_cost`` of the network, ``fn`` of every cost
    class, or ``adapter`` (½‖a - y‖², network.py's quadratic cost, which has no function)."""
    if callable(getattr(network_class, "total_cost", None)):
        return "total_cost"
    if all(callable(getattr(cost, "fn", None)) for cost in costs.values()):
        return "fn"
    if set(costs) == {"half_sse"}:
        return "adapter"
    raise ImplementationError(
        f"from_nielsen: {network_class.__name__} has no total_cost and a cost class has no "
        "fn(a, y): the value of its loss cannot be computed"
    )


class NielsenAdapter(Adapter):
    """The protocol around a Nielsen-style network class (module docstring)."""

    def __init__(
        self,
        network_class: type,
        costs: dict[str, Any],
        activation: str,
        name: str,
        architectures: tuple[Architecture, ...] | None = None,
    ) -> None:
        self.network_class = network_class
        self.costs = costs
        self.activation = activation
        self.can_step = callable(getattr(network_class, "update_mini_batch", None))
        self.can_report_intermediates = callable(getattr(network_class, "feedforward", None))
        self.loss_source = _loss_source(network_class, costs)
        super().__init__(name, self._assumptions(), architectures)

    def _assumptions(self) -> tuple[str, ...]:
        costs = ", ".join(
            loss if cost is None else f"{loss} ({cost.__name__})"
            for loss, cost in self.costs.items()
        )
        loss = {
            "total_cost": "loss: total_cost(data) with lmbda = 0 (×N for sum)",
            "fn": "loss: Σ cost.fn(a, y)",
            "adapter": "loss: ½‖feedforward(x) - y‖², by the adapter",
        }[self.loss_source]
        said = [
            f"{self.network_class.__name__}(sizes); weights (next, current) as W, biases as "
            "columns",
            f"{self.activation} layers, per-unit biases, {costs}",
            "gradients: Σ per-sample backprop (÷N for mean)",
            loss,
        ]
        if self.can_step:
            said.append("step: update_mini_batch, eta = lr (mean) or lr·N (sum)")
        if self.can_report_intermediates:
            said.append("intermediates: a by feedforward, z = W·a + b, δ = nabla_b")
        return tuple(said)

    def decline(self, arch: Architecture) -> str | None:
        if set(arch.activations) != {self.activation}:
            return f"{self.activation} layers only, got {', '.join(arch.activations)}"
        if arch.loss not in self.costs:
            return f"the costs given compute {', '.join(self.costs)}, not {arch.loss}"
        if arch.bias != "per_unit":
            return f"one bias per unit, not {arch.bias}"
        return None

    # --- the network, the data -----------------------------------------------------------

    def network(self, arch: Architecture, params: Mapping[str, Any]) -> Any:
        """A network of ``arch.sizes`` holding ``params`` (copies) as weights and biases."""
        self.require(arch)
        cost = self.costs[arch.loss]
        if cost is None:
            net = self.network_class(list(arch.sizes))
        else:
            net = self.network_class(list(arch.sizes), cost=cost)
        layers = range(1, arch.depth + 1)
        net.weights = [np.array(params[f"W{k}"], dtype=np.float64) for k in layers]
        net.biases = [np.array(params[f"b{k}"], dtype=np.float64).reshape(-1, 1) for k in layers]
        return net

    @staticmethod
    def columns(x: np.ndarray, y: np.ndarray) -> Columns:
        """The batch as Nielsen's list of (x, y) column pairs (views of the rows)."""
        return [(x[n].reshape(-1, 1), y[n].reshape(-1, 1)) for n in range(len(x))]

    # --- the protocol --------------------------------------------------------------------

    def loss(self, arch: Architecture, params: Mapping[str, Any], x: Any, y: Any) -> float:
        """E of the batch (module docstring)."""
        net = self.network(arch, params)
        data = self.columns(x, y)
        if self.loss_source == "total_cost":
            takes_lmbda = len(parameter_names(net.total_cost)) >= 2
            mean = net.total_cost(data, 0.0) if takes_lmbda else net.total_cost(data)
            return float(mean if arch.reduction == "mean" else mean * len(data))
        if self.loss_source == "fn":
            cost = self.costs[arch.loss]
            total = sum(float(cost.fn(net.feedforward(xn), yn)) for xn, yn in data)
        else:
            total = sum(0.5 * float(np.sum((net.feedforward(xn) - yn) ** 2)) for xn, yn in data)
        return total / len(data) if arch.reduction == "mean" else total

    def _backprop(self, net: Any, data: Columns) -> tuple[list[Any], list[Any], list[list[Any]]]:
        """Σ_n nabla_b, Σ_n nabla_w and each sample's nabla_b (δ of every layer)."""
        samples = [net.backprop(xn, yn) for xn, yn in data]
        for position, returned in enumerate(samples):
            if not isinstance(returned, (tuple, list)) or len(returned) != 2:
                raise ValueError(
                    f"backprop(x, y) of sample {position} returned {describe(returned)}, "
                    "expected (nabla_b, nabla_w)"
                )
        nabla_b = [sum(layer) for layer in zip(*(s[0] for s in samples), strict=True)]
        nabla_w = [sum(layer) for layer in zip(*(s[1] for s in samples), strict=True)]
        return nabla_b, nabla_w, [list(s[0]) for s in samples]

    def gradients(
        self, arch: Architecture, params: Mapping[str, Any], x: Any, y: Any
    ) -> tuple[float, dict[str, np.ndarray]]:
        """(E, ∂E/∂θ): per-sample backprop summed, 1/N of it for mean."""
        net = self.network(arch, params)
        nabla_b, nabla_w, _ = self._backprop(net, self.columns(x, y))
        scale = 1.0 / len(x) if arch.reduction == "mean" else 1.0
        grads = {}
        for k, (nb, nw) in enumerate(zip(nabla_b, nabla_w, strict=True), start=1):
            grads[f"W{k}"] = scale * np.asarray(nw)
            grads[f"b{k}"] = scale * _row(np.asarray(nb))
        return self.loss(arch, params, x, y), grads

    def _step(
        self,
        arch: Architecture,
        params: Mapping[str, Any],
        x: Any,
        y: Any,
        lr: float,
        frozen: frozenset[str] = frozenset(),
    ) -> dict[str, np.ndarray]:
        net = self.network(arch, params)
        data = self.columns(x, y)
        eta = lr if arch.reduction == "mean" else lr * len(data)
        if len(parameter_names(net.update_mini_batch)) >= 4:  # network2: (batch, eta, lmbda, n)
            net.update_mini_batch(data, eta, 0.0, len(data))
        else:
            net.update_mini_batch(data, eta)
        new = {}
        for k, (w, b) in enumerate(zip(net.weights, net.biases, strict=True), start=1):
            new[f"W{k}"] = np.array(w, dtype=np.float64)
            new[f"b{k}"] = _row(np.array(b, dtype=np.float64))
        return keep_frozen(new, params, frozen)

    def _intermediates(
        self, arch: Architecture, params: Mapping[str, Any], x: Any, y: Any
    ) -> dict[str, list[np.ndarray]]:
        net = self.network(arch, params)
        data = self.columns(x, y)
        _, _, per_sample = self._backprop(net, data)
        scale = 1.0 / len(data) if arch.reduction == "mean" else 1.0
        weights, biases = list(net.weights), list(net.biases)
        a_rows, z_rows = [], []
        below = np.asarray(x, dtype=np.float64)
        for k in range(1, arch.depth + 1):
            net.weights, net.biases = weights[:k], biases[:k]
            a = np.stack([np.asarray(net.feedforward(xn)).reshape(-1) for xn, _ in data])
            z_rows.append(below @ weights[k - 1].T + biases[k - 1].reshape(-1))
            a_rows.append(a)
            below = a
        delta = [
            scale * np.stack([_row(np.asarray(sample[k])) for sample in per_sample])
            for k in range(arch.depth)
        ]
        return {"z": z_rows, "a": a_rows, "delta": delta}


def _row(column: np.ndarray) -> np.ndarray:
    """A (units, 1) column as a (units,) row; any other shape as it is (for the check)."""
    return column.reshape(-1) if column.ndim == 2 and column.shape[1] == 1 else column


def from_nielsen(
    network_class: type,
    *,
    cost: Any = None,
    activation: str = "sigmoid",
    architectures: Any = None,
    name: str | None = None,
) -> NielsenAdapter:
    """An implementation of the protocol around a Nielsen-style network class.

    ``network_class(sizes)`` builds the network (``sizes`` input first); it keeps
    ``weights`` (next, current) and ``biases`` (units, 1) and has ``backprop(x, y) ->
    (nabla_b, nabla_w)`` for one column sample x (inputs, 1), y (outputs, 1). ``cost``:
    None for network.py's quadratic cost C = ½‖a - y‖² (``half_sse``), a cost class with
    ``fn(a, y)`` and ``delta(z, a, y)`` whose name says its loss (``QuadraticCost`` →
    half_sse, ``CrossEntropyCost`` → bce; passed as ``cost=`` to the constructor), or a dict
    {loss: cost class}. ``activation``: the activation of every layer (sigmoid in the book).
    Gradients of a ``mean`` batch are 1/N of the summed per-sample ones, as
    ``update_mini_batch`` averages. ``architectures``: a fixed list of Architectures to run
    it on (default: every one it supports). ``name`` names it in reports.

        >>> IMPL = manualbp.adapters.from_nielsen(network.Network)
    """
    if not isinstance(network_class, type):
        raise ImplementationError(
            f"from_nielsen: got {describe(network_class)}, expected the network class itself"
        )
    if not callable(getattr(network_class, "backprop", None)):
        raise ImplementationError(
            f"from_nielsen: {network_class.__name__} has no backprop(x, y) method"
        )
    chosen = one_of(activation, ACTIVATIONS, "activation")
    label = name or f"from_nielsen({network_class.__qualname__})"
    return NielsenAdapter(
        network_class, _costs(cost), chosen, label, declared_architectures(architectures)
    )

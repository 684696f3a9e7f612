"""``from_layers``: hand-written layers chained into a network.

The layers are given as the layer check takes them (:func:`manualbp.checks.layer.subjects_of`):
a ``--layer`` spec such as ``"layers.py"`` (every pair and loss of the file), a module, a
class (Saito's ``Affine``, ``Sigmoid``, ``SoftmaxWithLoss``), a ``(forward, backward)`` pair
or a loss function (CS231n's), a LayerSubject — or a list of these. Each layer is used for
its kind (:data:`manualbp.checks.layer.KINDS`): one ``affine`` layer, any of the
activations ``relu``, ``leaky_relu``, ``sigmoid``, ``tanh``, ``softplus`` (``identity`` needs
none), and one loss, which fixes the loss and its reduction over the batch as the kinds'
conventions say:

    softmax_ce -> softmax_ce, mean     half_sse -> half_sse, sum
    sse        -> sse, sum             mse      -> mse, mean (over all N·K entries)

For an architecture the network is, per layer l = 1..L, an affine layer with W_l transposed
to (in, out) and b_l, then the activation layer of l (none for identity), then the loss
layer; backward runs from the loss's dx through the same layer objects (or caches) in
reverse. Every call goes through the layer check's defensive calls (:class:`LayerCall`).
Bias modes: ``per_unit`` as it is; ``shared`` passes b = β·1 and takes ∂E/∂β = Σ db; ``none``
passes b = 0 and drops db (each is the chain rule through that b). ``intermediates`` are the
layers' own values: z_l the affine output, a_l the activation output, δ_l the dx of the
activation's backward (of the loss, for an identity output).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from manualbp.adapters.base import (
    LABELS,
    Adapter,
    declared_architectures,
    integer_labels,
    keep_frozen,
    one_of,
    optimizer_words,
    update_rule,
)
from manualbp.architecture import Architecture
from manualbp.checks.layer import LayerCase, LayerSubject, subjects_of
from manualbp.checks.layer.calls import LayerCall
from manualbp.errors import ImplementationError, describe

#: The activation kinds a network can use (identity needs no layer).
ACTIVATION_KINDS: tuple[str, ...] = ("relu", "leaky_relu", "sigmoid", "tanh", "softplus")
#: Each loss kind and the (loss, reduction) of the architecture it computes.
LOSS_KINDS: dict[str, tuple[str, str]] = {
    "softmax_ce": ("softmax_ce", "mean"),
    "half_sse": ("half_sse", "sum"),
    "sse": ("sse", "sum"),
    "mse": ("mse", "mean"),
}


#: Every kind a network of :func:`from_layers` is made of.
USED_KINDS: tuple[str, ...] = ("affine", *ACTIVATION_KINDS, *LOSS_KINDS)


def _by_kind(layers: Any) -> dict[str, LayerSubject]:
    """The layers given (module docstring) by kind; kinds no MLP uses are left out, a kind
    given twice is an ImplementationError."""
    items = list(layers) if isinstance(layers, list) else [layers]
    found: dict[str, LayerSubject] = {}
    for item in items:
        for subject in subjects_of(item):
            if subject.kind is None or subject.kind.name not in USED_KINDS:
                continue  # a convolution or a batch norm of the same file: no MLP layer
            kind = subject.kind.name
            if kind in found and found[kind].name != subject.name:
                raise ImplementationError(
                    f"from_layers: two layers of kind {kind}: {found[kind].name} and "
                    f"{subject.name}; give one"
                )
            found[kind] = subject
    return found


class LayersAdapter(Adapter):
    """The protocol computed by chaining the user's layers (module docstring)."""

    can_report_intermediates = True

    def __init__(
        self,
        layers: dict[str, LayerSubject],
        labels: str,
        optimizer: Any,
        name: str,
        architectures: tuple[Architecture, ...] | None = None,
    ) -> None:
        self.layers = layers
        self.labels = labels
        self.optimizer = optimizer
        self.update = update_rule(optimizer) if optimizer is not None else None
        self.can_step = self.update is not None
        self.loss_kinds = [kind for kind in LOSS_KINDS if kind in layers]
        super().__init__(name, self._assumptions(), architectures)

    def _assumptions(self) -> tuple[str, ...]:
        used = ", ".join(
            f"{subject.name.rsplit('/', 1)[-1]} as {kind}" for kind, subject in self.layers.items()
        )
        losses = ", ".join("{} {}".format(*LOSS_KINDS[kind]) for kind in self.loss_kinds)
        said = [
            f"layers: {used}",
            "W (in, out) = W transposed; shared bias as b = β·1, none as b = 0",
            f"losses: {losses}; labels: {self.labels.replace('_', '-')}",
            "intermediates: z, a and δ of the layers themselves",
        ]
        if self.optimizer is not None:
            said.append(optimizer_words(self.optimizer))
        return tuple(said)

    def loss_kind(self, arch: Architecture) -> str | None:
        """The loss layer's kind that computes the loss and reduction of ``arch``, if any."""
        wanted = (arch.loss, arch.reduction)
        return next((k for k in self.loss_kinds if LOSS_KINDS[k] == wanted), None)

    def decline(self, arch: Architecture) -> str | None:
        missing = sorted({a for a in arch.activations if a != "identity"} - set(self.layers))
        if missing:
            return f"no layer of kind {', '.join(missing)}"
        if self.loss_kind(arch) is None:
            have = ", ".join("{} {}".format(*LOSS_KINDS[k]) for k in self.loss_kinds)
            return f"no loss layer computes {arch.loss} {arch.reduction} (the layers give {have})"
        return None

    # --- one pass through the layers ---------------------------------------------------

    def _call(self, kind: str, values: dict[str, np.ndarray], **case: Any) -> LayerCall:
        subject = self.layers[kind]
        layer_case = LayerCase("adapter", 0, kind, values, **case)
        return LayerCall(subject, layer_case, values)

    def _biases(self, arch: Architecture, params: Mapping[str, Any], layer: int) -> np.ndarray:
        units = arch.sizes[layer]
        if arch.bias == "none":
            return np.zeros(units)
        return np.broadcast_to(np.asarray(params[f"b{layer}"], dtype=np.float64), (units,)).copy()

    def passes(
        self, arch: Architecture, params: Mapping[str, Any], x: Any, y: Any
    ) -> tuple[float, dict[str, np.ndarray], dict[str, list[np.ndarray]]]:
        """(E, ∂E/∂θ, {"z", "a", "delta"}) from one forward and one backward pass."""
        self.require(arch)
        loss_kind = self.loss_kind(arch)
        n = len(x)
        a = np.asarray(x, dtype=np.float64)
        calls: list[tuple[LayerCall, LayerCall | None]] = []
        zs, activations = [], []
        for layer in range(1, arch.depth + 1):
            w = np.array(params[f"W{layer}"], dtype=np.float64).T.copy()
            values = {"x": a, "w": w, "b": self._biases(arch, params, layer)}
            affine = self._call("affine", values, out_shape=(n, arch.sizes[layer]))
            z = affine.forward(values)
            activation = arch.activations[layer - 1]
            act = None
            if activation != "identity":
                act = self._call(activation, {"x": z}, out_shape=z.shape)
                a = act.forward({"x": z})
            else:
                a = z
            calls.append((affine, act))
            zs.append(z)
            activations.append(a)
        targets = integer_labels(y) if loss_kind == "softmax_ce" and self.labels == "integer" else y
        loss = self._call(loss_kind, {"x": a}, targets=np.asarray(targets), out_shape=())
        value = float(loss.forward({"x": a}))
        dout = loss.backward(np.float64(1.0))["dx"]
        grads: dict[str, np.ndarray] = {}
        deltas: list[np.ndarray] = [np.empty(0)] * arch.depth
        for layer in range(arch.depth, 0, -1):
            affine, act = calls[layer - 1]
            delta = dout if act is None else act.backward(dout)["dx"]
            deltas[layer - 1] = delta
            returned = affine.backward(delta)
            grads[f"W{layer}"] = np.asarray(returned["dw"]).T.copy()
            if arch.bias == "per_unit":
                grads[f"b{layer}"] = np.asarray(returned["db"])
            elif arch.bias == "shared":
                grads[f"b{layer}"] = np.asarray(np.sum(returned["db"]))
            dout = returned["dx"]
        return value, grads, {"z": zs, "a": activations, "delta": deltas}

    # --- the protocol --------------------------------------------------------------------

    def loss(self, arch: Architecture, params: Mapping[str, Any], x: Any, y: Any) -> float:
        """E from the loss layer at the end of the forward pass."""
        return self.passes(arch, params, x, y)[0]

    def gradients(
        self, arch: Architecture, params: Mapping[str, Any], x: Any, y: Any
    ) -> tuple[float, dict[str, np.ndarray]]:
        """(E, ∂E/∂θ) from one forward and one backward pass through the layers."""
        value, grads, _ = self.passes(arch, params, x, y)
        return value, grads

    def _intermediates(
        self, arch: Architecture, params: Mapping[str, Any], x: Any, y: Any
    ) -> dict[str, list[np.ndarray]]:
        return self.passes(arch, params, x, y)[2]

    def _step(
        self,
        arch: Architecture,
        params: Mapping[str, Any],
        x: Any,
        y: Any,
        lr: float,
        frozen: frozenset[str] = frozenset(),
    ) -> dict[str, np.ndarray]:
        assert self.update is not None
        _, grads, _ = self.passes(arch, params, x, y)
        layout = {name: np.array(value, dtype=np.float64) for name, value in params.items()}
        trainable = {
            name: (value.T.copy() if name.startswith("W") else value)
            for name, value in layout.items()
            if name not in frozen
        }
        in_layout = {name: (g.T if name.startswith("W") else g) for name, g in grads.items()}
        self.update(trainable, in_layout, lr)
        for name, value in trainable.items():
            layout[name] = np.asarray(value).T.copy() if name.startswith("W") else np.asarray(value)
        return keep_frozen(layout, params, frozen)


def from_layers(
    layers: Any,
    *,
    labels: str = "integer",
    optimizer: Any = None,
    architectures: Any = None,
    name: str | None = None,
) -> LayersAdapter:
    """An implementation of the protocol that chains the user's own layers (module
    docstring): an affine layer, activation layers and a loss layer, each in CS231n's or
    Saito's style, given as one spec, module, class, pair or loss function, or a list of them.

    ``labels``: how softmax_ce targets reach the loss layer, ``integer`` (N,) or ``one_hot``
    (N, K). ``optimizer``: the update rule ``step`` checks, in the (in, out) layout — a
    Saito-style class (``SGD``) or a CS231n-style function (``sgd``); without it there is no
    ``step``. ``architectures``: a fixed list of Architectures to run it on.

        >>> IMPL = manualbp.adapters.from_layers([Affine, Relu, SoftmaxWithLoss])
    """
    found = _by_kind(layers)
    if "affine" not in found:
        raise ImplementationError(
            f"from_layers: no affine layer among {describe(layers)} (kinds found: "
            f"{', '.join(found) or 'none'})"
        )
    if not any(kind in found for kind in LOSS_KINDS):
        raise ImplementationError(
            f"from_layers: no loss layer ({', '.join(LOSS_KINDS)}) among the layers given"
        )
    label = name or f"from_layers({', '.join(found)})"
    return LayersAdapter(
        found,
        one_of(labels, LABELS, "labels"),
        optimizer,
        label,
        declared_architectures(architectures),
    )

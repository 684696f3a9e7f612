"""``from_model``: a whole-network model object in Saito's or CS231n's style.

The model keeps its parameters in a dict ``params`` — ``W1, b1, W2, …`` with W_l in the
(in, out) layout of ``x·W + b`` (the transpose of manualbp's) and b_l (out,) — and computes
on row batches. Two styles are understood, told apart by the methods the model has:

saito     ``loss(x, t) -> float`` and ``gradient(x, t) -> {name: array}`` (TwoLayerNet,
          MultiLayerNet of "Deep Learning from Scratch", ch. 5-6);
cs231n    ``loss(X, y) -> (loss, grads)`` (TwoLayerNet, FullyConnectedNet of the course).

For each architecture a fresh model is built — by ``build(arch)`` when given, else by calling
the class with the arguments its signature names: ``input_size``/``input_dim``,
``output_size``/``num_classes``, ``hidden_size``/``hidden_dim`` (one hidden layer) or
``hidden_size_list``/``hidden_dims`` (any number), ``activation`` (the hidden activation's
name), ``weight_decay_lambda``/``reg`` = 0 (regularisation off) and ``dtype`` = float64 —
and the caller's parameters are copied *into* the model's own arrays (its layers may hold
them by reference, as Saito's ``Affine`` does). A model whose regularisation cannot be
turned off declares it: with ``weight_decay=λ`` the adapter removes ½λ Σ_l ‖W_l‖² from the
loss and λW_l from each weight gradient (the convention of both styles), so the data loss
is what is checked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from manualbp.adapters.base import (
    LABELS,
    Adapter,
    activations,
    declared_architectures,
    in_out,
    integer_labels,
    keep_frozen,
    losses,
    one_of,
    optimizer_words,
    out_in,
    parameter_names,
    update_rule,
)
from manualbp.architecture import LOSS_OUTPUT_ACTIVATION, Architecture
from manualbp.errors import ImplementationError, describe

#: Constructor parameters the adapter knows, by the role it gives them.
ROLES: dict[str, tuple[str, ...]] = {
    "input": ("input_size", "input_dim"),
    "output": ("output_size", "num_classes"),
    "hidden": ("hidden_size", "hidden_dim"),
    "hidden_list": ("hidden_size_list", "hidden_dims"),
    "activation": ("activation",),
    "regularisation": ("weight_decay_lambda", "reg"),
    "dtype": ("dtype",),
}


def _roles(model_class: type) -> dict[str, str]:
    """{role: the constructor parameter that plays it} (module docstring)."""
    names = parameter_names(model_class)
    found = {}
    for role, candidates in ROLES.items():
        for candidate in candidates:
            if candidate in names:
                found[role] = candidate
                break
    return found


class ModelAdapter(Adapter):
    """The protocol around a Saito- or CS231n-style model (module docstring)."""

    def __init__(
        self,
        model: Any,
        build: Callable[[Architecture], Any] | None,
        space: dict[str, tuple[str, ...]],
        settings: dict[str, Any],
        name: str,
        architectures: tuple[Architecture, ...] | None = None,
    ) -> None:
        self.model = model
        self.build = build
        self.space = space
        self.labels = settings["labels"]
        self.reduction = settings["reduction"]
        self.weight_decay = float(settings["weight_decay"])
        self.optimizer = settings["optimizer"]
        self.style = "saito" if callable(getattr(model, "gradient", None)) else "cs231n"
        self.roles = {} if build is not None else _roles(model)
        self.update = update_rule(self.optimizer) if self.optimizer is not None else None
        self.can_step = self.update is not None
        super().__init__(name, self._assumptions(), architectures)

    def _assumptions(self) -> tuple[str, ...]:
        made = "build(arch)" if self.build is not None else f"{self.model.__name__}(…) by name"
        methods = (
            "loss(x, t), gradient(x, t)" if self.style == "saito" else "loss(X, y) -> (loss, grads)"
        )
        space = self.space
        said = [
            f"{made}; params W (in, out) = W transposed, b (out,)",
            f"{self.style} style: {methods}",
            f"hidden {'/'.join(space['hidden'])}, {'/'.join(space['loss'])} on "
            f"{'/'.join(space['output'])}, per-unit biases, {self.reduction} over the batch",
            f"labels: {self.labels.replace('_', '-')}",
        ]
        if self.weight_decay:
            said.append(f"declared weight decay ½·{self.weight_decay:g}·Σ‖W‖² removed")
        elif "regularisation" in self.roles:
            said.append(f"regularisation off ({self.roles['regularisation']}=0)")
        if self.optimizer is not None:
            said.append(optimizer_words(self.optimizer))
        return tuple(said)

    def decline(self, arch: Architecture) -> str | None:
        hidden, output = arch.activations[:-1], arch.activations[-1]
        if arch.bias != "per_unit":
            return f"one bias per unit, not {arch.bias}"
        if arch.reduction != self.reduction:
            return f"the model's loss is the {self.reduction} over the batch, not {arch.reduction}"
        if arch.loss not in self.space["loss"]:
            return f"loss {'/'.join(self.space['loss'])} only, not {arch.loss}"
        if output not in self.space["output"]:
            return f"output {'/'.join(self.space['output'])} only, not {output}"
        if not set(hidden) <= set(self.space["hidden"]):
            return f"hidden {'/'.join(self.space['hidden'])} only, got {', '.join(hidden)}"
        if self.build is None:
            return self._decline_by_signature(arch)
        return None

    def _decline_by_signature(self, arch: Architecture) -> str | None:
        hidden = arch.activations[:-1]
        if "hidden" in self.roles and arch.depth != 2:
            return f"{self.model.__name__} has one hidden layer, not {arch.depth - 1}"
        if "hidden" not in self.roles and "hidden_list" not in self.roles and arch.depth != 1:
            return f"{self.model.__name__} takes no hidden sizes"
        if len(set(hidden)) > 1:
            return f"{self.model.__name__} has one activation for every hidden layer"
        return None

    # --- the model -----------------------------------------------------------------------

    def _construct(self, arch: Architecture) -> Any:
        if self.build is not None:
            return self.build(arch)
        roles, kwargs = self.roles, {}
        kwargs[roles["input"]] = arch.sizes[0]
        kwargs[roles["output"]] = arch.sizes[-1]
        if "hidden" in roles:
            kwargs[roles["hidden"]] = arch.sizes[1]
        elif "hidden_list" in roles:
            kwargs[roles["hidden_list"]] = list(arch.sizes[1:-1])
        if "activation" in roles and arch.depth > 1:
            kwargs[roles["activation"]] = arch.activations[0]
        if "regularisation" in roles:
            kwargs[roles["regularisation"]] = 0.0
        if "dtype" in roles:
            kwargs[roles["dtype"]] = np.float64
        return self.model(**kwargs)

    def built(self, arch: Architecture, params: Mapping[str, Any]) -> Any:
        """A fresh model for ``arch`` whose own parameter arrays hold ``params``."""
        self.require(arch)
        model = self._construct(arch)
        own = getattr(model, "params", None)
        if not isinstance(own, Mapping):
            raise TypeError(f"the model's params is {describe(own)}, expected a dict W1, b1, …")
        wanted = in_out(params, arch.depth)
        extra = sorted(str(name) for name in own if name not in wanted)
        if extra:
            raise TypeError(
                f"the model has parameters {', '.join(extra)} beyond {', '.join(wanted)} "
                "(batch normalisation or another layer the adapter does not know)"
            )
        for key, value in wanted.items():
            target = own.get(key)
            if not isinstance(target, np.ndarray) or target.shape != value.shape:
                raise TypeError(
                    f"the model's params[{key!r}] is {describe(target)}, expected an array "
                    f"of shape {value.shape} ((in, out) for a weight)"
                )
            if target.dtype != np.float64:
                raise TypeError(
                    f"the model's params[{key!r}] has dtype {target.dtype}, expected float64 "
                    "(build the model with dtype=np.float64)"
                )
            target[...] = value
        return model

    def targets(self, arch: Architecture, y: Any) -> Any:
        """The targets as the model takes them: integer labels or one-hot rows for
        ``softmax_ce`` (:attr:`labels`), the rows as they are for the other losses."""
        if arch.loss == "softmax_ce" and self.labels == "integer":
            return integer_labels(y)
        return y

    def _evaluate(
        self, arch: Architecture, params: Mapping[str, Any], x: Any, y: Any
    ) -> tuple[Any, float, dict[str, Any]]:
        """(model, E, ∂E/∂θ in the model's layout), regularisation removed when declared."""
        model = self.built(arch, params)
        t = self.targets(arch, y)
        if self.style == "saito":
            grads = model.gradient(x, t)
            value = model.loss(x, t)
        else:
            returned = model.loss(x, t)
            if not isinstance(returned, (tuple, list)) or len(returned) != 2:
                raise TypeError(f"loss(X, y) returned {describe(returned)}, expected (loss, grads)")
            value, grads = returned
        if not isinstance(grads, Mapping):
            raise TypeError(f"the model's gradients are {describe(grads)}, expected a dict")
        grads = dict(grads)
        if self.weight_decay:
            for k in range(1, arch.depth + 1):
                if f"W{k}" in grads:
                    weight = model.params[f"W{k}"]
                    grads[f"W{k}"] = np.asarray(grads[f"W{k}"]) - self.weight_decay * weight
        return model, float(value) - self.penalty(model, arch), grads

    def penalty(self, model: Any, arch: Architecture) -> float:
        """½λ Σ_l ‖W_l‖², the declared regularisation in the model's loss (0 without)."""
        if not self.weight_decay:
            return 0.0
        weights = (model.params[f"W{k}"] for k in range(1, arch.depth + 1))
        return 0.5 * self.weight_decay * sum(float(np.sum(w * w)) for w in weights)

    # --- the protocol --------------------------------------------------------------------

    def loss(self, arch: Architecture, params: Mapping[str, Any], x: Any, y: Any) -> float:
        """E of the batch as the model computes it (declared weight decay removed)."""
        model = self.built(arch, params)
        t = self.targets(arch, y)
        returned = model.loss(x, t)
        value = returned[0] if self.style == "cs231n" and isinstance(returned, tuple) else returned
        return float(value) - self.penalty(model, arch)

    def gradients(
        self, arch: Architecture, params: Mapping[str, Any], x: Any, y: Any
    ) -> tuple[float, dict[str, np.ndarray]]:
        """(E, ∂E/∂θ) from the model, weights transposed back to manualbp's layout."""
        _, value, grads = self._evaluate(arch, params, x, y)
        return value, out_in(grads)

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
        model, _, grads = self._evaluate(arch, params, x, y)
        trainable = {name: model.params[name] for name in model.params if name not in frozen}
        self.update(trainable, grads, lr)
        new = out_in({**model.params, **trainable})
        return keep_frozen(new, params, frozen)


def _space(hidden: Any, loss: Any, output: Any) -> dict[str, tuple[str, ...]]:
    chosen_losses = losses(loss, "loss")
    if output is None:
        needed = {LOSS_OUTPUT_ACTIVATION.get(name) for name in chosen_losses}
        if None in needed:
            raise ImplementationError(
                f"output: loss {'/'.join(chosen_losses)} needs the output activation named, "
                "e.g. output='sigmoid'"
            )
        output = tuple(sorted(needed))
    return {
        "hidden": activations(hidden, "hidden"),
        "loss": chosen_losses,
        "output": activations(output, "output"),
    }


def from_model(
    model: type,
    *,
    build: Callable[[Architecture], Any] | None = None,
    hidden: str | tuple[str, ...] = "relu",
    loss: str | tuple[str, ...] = "softmax_ce",
    output: str | tuple[str, ...] | None = None,
    labels: str = "integer",
    reduction: str = "mean",
    weight_decay: float = 0.0,
    optimizer: Any = None,
    architectures: Any = None,
    name: str | None = None,
) -> ModelAdapter:
    """An implementation of the protocol around a model class with a params dict in the
    (in, out) layout and ``loss``/``gradient`` methods (module docstring).

    ``model``: the class (TwoLayerNet, MultiLayerNet, FullyConnectedNet, …), built by the
    names of its constructor's parameters unless ``build(arch) -> model`` is given. What the
    model computes is declared: ``hidden`` activation(s), ``loss`` name(s), ``output``
    activation(s) (default: what the loss needs, identity for softmax_ce), ``reduction`` of
    the loss over the batch (``mean`` in both styles). ``labels``: how softmax_ce targets
    are passed, ``integer`` (N,) or ``one_hot`` (N, K). ``weight_decay``: λ of a
    regularisation ½λΣ‖W‖² the model adds and cannot turn off (0: none, or turned off by
    the constructor). ``optimizer``: the update rule that ``step`` checks — a Saito-style
    class (``SGD``) or a CS231n-style function (``sgd``); without it there is no ``step``.
    ``architectures``: a fixed list of Architectures to run it on (default: every one it
    supports).

        >>> IMPL = manualbp.adapters.from_model(two_layer_net.TwoLayerNet)
    """
    if not isinstance(model, type):
        raise ImplementationError(
            f"from_model: got {describe(model)}, expected the model class (build the instance "
            "in build=)"
        )
    if not callable(getattr(model, "loss", None)):
        raise ImplementationError(f"from_model: {model.__name__} has no loss method")
    chosen_labels = one_of(labels, LABELS, "labels")
    chosen_reduction = one_of(reduction, ("sum", "mean"), "reduction")
    if isinstance(weight_decay, bool) or not isinstance(weight_decay, (int, float)):
        raise ImplementationError(f"weight_decay: got {describe(weight_decay)}, expected λ >= 0")
    if weight_decay < 0:
        raise ImplementationError(f"weight_decay: got {weight_decay}, expected λ >= 0")
    space = _space(hidden, loss, output)
    if build is None:
        roles = _roles(model)
        missing = [role for role in ("input", "output") if role not in roles]
        if missing:
            raise ImplementationError(
                f"from_model: cannot tell how to build {model.__name__} from its parameters "
                f"({', '.join(parameter_names(model)) or 'none'}); give build=lambda arch: …"
            )
        if "activation" not in roles and len(space["hidden"]) > 1:
            raise ImplementationError(
                f"hidden: {model.__name__} takes no activation, so it has one; got "
                f"{'/'.join(space['hidden'])}"
            )
    elif not callable(build):
        raise ImplementationError(f"build: got {describe(build)}, expected build(arch) -> model")
    settings = {
        "labels": chosen_labels,
        "reduction": chosen_reduction,
        "weight_decay": weight_decay,
        "optimizer": optimizer,
    }
    label = name or f"from_model({model.__qualname__})"
    return ModelAdapter(model, build, space, settings, label, declared_architectures(architectures))

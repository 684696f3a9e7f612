"""What every adapter shares: its name and assumptions, what it supports, and the layouts.

An adapter is an implementation of the protocol (:mod:`manualbp.protocol`) built around code
written in another layout. It says in one line what it assumed (:meth:`Adapter.describe`,
from :attr:`Adapter.assumptions`), declares the architectures it covers (``supports``;
``loss`` and ``gradients`` raise NotImplementedError with the reason for the others) and
offers ``step`` and ``intermediates`` only when the wrapped code makes them possible: the
two are properties that raise AttributeError otherwise, so ``getattr(adapter, "step",
None)`` is None exactly when the adapter cannot step.

Layouts: manualbp keeps W_l as (units_l, units_{l-1}) and batches as rows; the code wrapped
here keeps W as (in, out) (``x·W + b``, Saito and CS231n) or as (out, in) applied to column
vectors (Nielsen). Labels of ``softmax_ce`` are one-hot rows in manualbp and often integers
in the wrapped code (:func:`integer_labels`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from manualbp.architecture import Architecture
from manualbp.errors import ImplementationError, describe
from manualbp.facts import ACTIVATIONS, LOSSES

#: How labels of a classification loss are handed to the wrapped code.
LABELS: tuple[str, ...] = ("integer", "one_hot")


class Adapter:
    """Base of the adapters: ``name``, ``assumptions`` and the declared space.

    Subclasses implement :meth:`decline` (why an architecture is not covered, or None),
    ``loss`` and ``gradients``, and may implement ``_step`` / ``_intermediates`` with
    :attr:`can_step` / :attr:`can_report_intermediates` saying whether they apply.
    """

    supports_complex = False
    can_step = False
    can_report_intermediates = False
    #: A fixed list of architectures the user runs the code on (None: any it supports).
    architectures: tuple[Architecture, ...] | None = None

    def __init__(
        self,
        name: str,
        assumptions: tuple[str, ...],
        architectures: tuple[Architecture, ...] | None = None,
    ) -> None:
        self.name = name
        self.architectures = architectures
        if architectures:
            count = len(architectures)
            assumptions = (*assumptions, f"run on {count} declared architecture(s) only")
        self.assumptions = assumptions

    def describe(self) -> str:
        """One line: the name and every assumption the adapter made."""
        return f"{self.name}: " + "; ".join(self.assumptions)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"

    def decline(self, arch: Architecture) -> str | None:
        """Why ``arch`` is outside what the wrapped code computes (None: it is covered)."""
        raise NotImplementedError

    def supports(self, arch: Architecture) -> bool:
        """True when the wrapped code computes ``arch`` (see :meth:`decline`) and it is one
        of the declared :attr:`architectures`, if any."""
        return self._reason(arch) is None

    def _reason(self, arch: Architecture) -> str | None:
        if self.architectures and arch not in self.architectures:
            return f"{arch.describe()} is not one of the declared architectures"
        return self.decline(arch)

    def require(self, arch: Architecture) -> None:
        """Raise NotImplementedError with the reason when ``arch`` is not covered."""
        reason = self._reason(arch)
        if reason is not None:
            raise NotImplementedError(f"{self.name}: {reason}")

    @property
    def step(self) -> Callable[..., dict[str, np.ndarray]]:
        """``step(arch, params, x, y, lr, frozen=frozenset())`` when the wrapped code has an
        update rule (AttributeError otherwise)."""
        if not self.can_step:
            raise AttributeError(f"{self.name} has no update rule to step with")
        return self._step

    @property
    def intermediates(self) -> Callable[..., dict[str, list[np.ndarray]]]:
        """``intermediates(arch, params, x, y)`` when the wrapped code exposes z, a and δ per
        layer (AttributeError otherwise)."""
        if not self.can_report_intermediates:
            raise AttributeError(f"{self.name} does not expose z, a and δ per layer")
        return self._intermediates

    def _step(self, *args: Any, **kwargs: Any) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def _intermediates(self, *args: Any) -> dict[str, list[np.ndarray]]:
        raise NotImplementedError


def choices(value: str | tuple[str, ...] | list[str], allowed: tuple[str, ...], what: str) -> tuple:
    """``value`` (one name or several) as a tuple of names from ``allowed``, or an
    ImplementationError naming the argument ``what``."""
    names = (value,) if isinstance(value, str) else tuple(value)
    unknown = [name for name in names if name not in allowed]
    if not names or unknown:
        raise ImplementationError(
            f"{what}: got {describe(value)}, expected one or more of {', '.join(allowed)}"
        )
    return names


def one_of(value: object, allowed: tuple[str, ...], what: str) -> str:
    """``value``, one name from ``allowed``, or an ImplementationError naming ``what``."""
    if not isinstance(value, str) or value not in allowed:
        raise ImplementationError(
            f"{what}: got {describe(value)}, expected one of {', '.join(allowed)}"
        )
    return value


def declared_architectures(value: object) -> tuple[Architecture, ...] | None:
    """The ``architectures`` argument of an adapter: None, or a non-empty list of them."""
    if value is None:
        return None
    found = tuple(value) if isinstance(value, (list, tuple)) else ()
    if not found or not all(isinstance(arch, Architecture) for arch in found):
        raise ImplementationError(
            f"architectures: got {describe(value)}, expected a list of Architecture objects"
        )
    return found


def activations(value: str | tuple[str, ...] | list[str], what: str) -> tuple[str, ...]:
    """Activation names (:data:`manualbp.facts.ACTIVATIONS`) given as ``what``."""
    return choices(value, ACTIVATIONS, what)


def losses(value: str | tuple[str, ...] | list[str], what: str) -> tuple[str, ...]:
    """Loss names (:data:`manualbp.facts.LOSSES`) given as ``what``."""
    return choices(value, LOSSES, what)


def integer_labels(y: np.ndarray) -> np.ndarray:
    """The class of each one-hot row of y (N, K) as integers (N,); NotImplementedError when a
    row is not one-hot (integer labels cannot say it)."""
    rows = np.asarray(y)
    one_hot = np.all((rows == 0) | (rows == 1), axis=1) & (rows.sum(axis=1) == 1)
    if not np.all(one_hot):
        raise NotImplementedError("integer labels need one-hot target rows")
    return np.argmax(rows, axis=1)


def in_out(params: Mapping[str, Any], depth: int) -> dict[str, np.ndarray]:
    """manualbp's parameters in the (in, out) layout of ``x·W + b``: W_l transposed (a copy),
    b_l copied; float64."""
    converted = {}
    for layer in range(1, depth + 1):
        converted[f"W{layer}"] = np.array(params[f"W{layer}"], dtype=np.float64).T.copy()
        if f"b{layer}" in params:
            converted[f"b{layer}"] = np.array(params[f"b{layer}"], dtype=np.float64)
    return converted


def out_in(arrays: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Arrays named W1, b1, … in the (in, out) layout back in manualbp's: each W transposed
    (a copy), everything else copied as it is (a wrong shape is left for the check to see)."""
    return {
        name: (np.array(value).T.copy() if name.startswith("W") else np.array(value))
        for name, value in arrays.items()
    }


def keep_frozen(
    new: dict[str, np.ndarray], params: Mapping[str, Any], frozen: frozenset[str]
) -> dict[str, np.ndarray]:
    """``new`` with every frozen parameter put back to its value in ``params`` (the wrapped
    update rules change every parameter)."""
    for name in frozen:
        new[name] = np.array(params[name], dtype=np.float64)
    return new


def parameter_names(function: Callable[..., Any]) -> tuple[str, ...]:
    """The names of a callable's parameters (``self`` excluded for a class), () when they
    cannot be read."""
    try:
        return tuple(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        return ()


def update_rule(optimizer: Any) -> Callable[[dict[str, np.ndarray], dict[str, Any], float], None]:
    """The user's optimizer as ``update(params, grads, lr)``, changing ``params`` in place:

    * a class in Saito's style — built as ``optimizer(lr=lr)`` (or ``optimizer(lr)``), then
      ``.update(params, grads)`` changes the arrays of the dict in place (``SGD``);
    * a function in CS231n's style — ``optimizer(w, dw, config) -> (next_w, config)`` with
      ``config = {"learning_rate": lr}``, called per parameter (``sgd``).
    """
    if isinstance(optimizer, type):
        takes_lr = "lr" in parameter_names(optimizer)

        def by_object(params: dict[str, np.ndarray], grads: dict[str, Any], lr: float) -> None:
            built = optimizer(lr=lr) if takes_lr else optimizer(lr)
            built.update(params, grads)

        return by_object
    if callable(optimizer):

        def by_function(params: dict[str, np.ndarray], grads: dict[str, Any], lr: float) -> None:
            for name in params:
                params[name] = optimizer(params[name], grads[name], {"learning_rate": lr})[0]

        return by_function
    raise ImplementationError(
        f"optimizer: got {describe(optimizer)}, expected a class such as SGD (built with lr, "
        "update(params, grads)) or a function such as sgd(w, dw, config)"
    )


def optimizer_words(optimizer: Any) -> str:
    """How an assumption names the user's optimizer."""
    what = getattr(optimizer, "__qualname__", None) or type(optimizer).__name__
    if isinstance(optimizer, type):
        return f"step: {what}(lr).update(params, grads)"
    return f"step: {what}(w, dw, {{'learning_rate': lr}}) per parameter"

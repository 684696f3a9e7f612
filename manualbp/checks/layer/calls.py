"""Calling a user's layer, in either style, defensively: what every layer check goes through.

:class:`LayerSubject` is one layer as loaded (:mod:`manualbp.checks.layer.loading`); the
functions here call it on a :class:`~manualbp.checks.layer.space.LayerCase` and turn what
it does into values or a :class:`LayerFault` naming the call and what was wrong:

* :func:`forward` — the forward value only (out, or the loss as a 0-d array), with fresh
  copies of every array and fresh state (a new object, a new CS231n setting dict);
* :func:`vjp` — forward then backward(dout): the out and the gradients by name (``dx``,
  ``dw``, ...), also reporting which arguments the layer changed in place;
* :func:`reused_vjp` — the same layer state used for two forward/backward pairs, the
  pattern in which a stale cache or accumulating gradients show.

Dropout is made deterministic here: every forward call of a ``dropout`` layer runs with the
global NumPy generator seeded from the case (and its setting dict carries the same seed),
its previous state restored afterwards — the one place the check touches global random
state, because code such as Saito's ``Dropout`` draws its mask from ``np.random`` without a
seed. The upstream gradient is passed as a copy (Saito's ``Relu.backward`` writes into it).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from manualbp.checks.layer.kinds import Kind
from manualbp.checks.layer.space import LayerCase, Shapes
from manualbp.errors import describe


class LayerFault(Exception):
    """The layer raised, or returned something outside its convention (a ``fail`` Finding):
    ``quantity`` is what it concerns (``forward``, ``backward``, ``dw``), the message says
    what happened and what was expected."""

    def __init__(self, quantity: str, message: str) -> None:
        super().__init__(message)
        self.quantity = quantity


@dataclass(frozen=True)
class LayerSubject:
    """One layer under check.

    ``name`` is the layer as the user wrote it (``my_layers.py:affine``) and labels every
    Finding; ``kind`` fixes shapes and calling convention (None: a functional pair of unknown
    kind, called with arrays of ``shapes`` in that order); ``asserted`` is True when the
    user stated the kind (``--as``), which enables the torch reference and the published
    examples. ``style`` is ``functional`` (``forward``/``backward`` functions, or one loss
    function in ``forward``) or ``object`` (``forward`` is the class). ``attributes`` maps
    each parameter gradient of an object to the attribute holding it (default: the kind's).
    """

    name: str
    kind: Kind | None
    style: str
    forward: Callable[..., Any]
    backward: Callable[..., Any] | None = None
    asserted: bool = False
    shapes: Shapes | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)

    @property
    def arrays(self) -> tuple[str, ...]:
        """The differentiable arrays in calling order (the kind's, or the names of shapes)."""
        return self.kind.arrays if self.kind is not None else tuple(self.shapes or ())

    @property
    def gradients(self) -> tuple[str, ...]:
        """``d`` + each array: the names of what backward computes."""
        return tuple(f"d{name}" for name in self.arrays)

    @property
    def is_loss(self) -> bool:
        """True for a loss layer (scalar output, upstream gradient 1)."""
        return self.kind is not None and self.kind.loss

    def attribute(self, gradient: str) -> str:
        """The object attribute holding parameter gradient ``gradient`` (``dw`` -> ``dW``)."""
        default = self.kind.attributes.get(gradient, gradient) if self.kind else gradient
        return self.attributes.get(gradient, default)


@dataclass
class Result:
    """What one forward + backward returned: ``out`` (the loss as a 0-d array for a loss
    layer), the gradients by name as returned (shapes unchecked), and the names of the
    arguments the call changed in place."""

    out: np.ndarray
    grads: dict[str, np.ndarray]
    mutated: list[str] = field(default_factory=list)


@contextmanager
def seeded_masks(case: LayerCase, kind: Kind | None) -> Iterator[None]:
    """For a dropout layer, run the body with the global NumPy generator seeded from the
    case and restore its state afterwards (module docstring); other kinds run as they are."""
    if kind is None or kind.name != "dropout":
        yield
        return
    state = np.random.get_state()
    np.random.seed(case.config["mask_seed"])
    try:
        yield
    finally:
        np.random.set_state(state)


def setting(kind: Kind, case: LayerCase) -> dict[str, Any]:
    """A fresh CS231n setting dict for the kind (``bn_param``, ``dropout_param``, ...)."""
    c = case.config
    if kind.name == "batchnorm":
        return {"mode": "train", "eps": c["eps"], "momentum": 0.9}
    if kind.name == "dropout":
        return {"mode": "train", "p": c["keep"], "seed": c["mask_seed"]}
    if kind.name == "conv2d":
        return {"stride": c["stride"], "pad": c["pad"]}
    return {"pool_height": c["pool_h"], "pool_width": c["pool_w"], "stride": c["stride"]}


def constructor_args(kind: Kind, case: LayerCase, values: Mapping[str, np.ndarray]) -> tuple:
    """What an object of the kind is built with (Saito's order): parameters, then
    hyper-parameters (conv2d: stride, pad; maxpool2d: pool_h, pool_w, stride, 0; dropout: the
    drop ratio 1 - keep)."""
    c = case.config
    params = tuple(values[name] for name in kind.params)
    if kind.name == "conv2d":
        return (*params, c["stride"], c["pad"])
    if kind.name == "maxpool2d":
        return (c["pool_h"], c["pool_w"], c["stride"], 0)
    if kind.name == "dropout":
        return (1.0 - c["keep"],)
    return params


def _copies(values: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {name: np.array(value, dtype=np.float64, copy=True) for name, value in values.items()}


def _invoke(label: str, quantity: str, function: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    try:
        return function(*args, **kw)
    except Exception as exc:
        raise LayerFault(quantity, f"{label} raised {type(exc).__name__}: {exc}") from None


def _array(label: str, quantity: str, value: Any) -> np.ndarray:
    """``value`` as a finite real float64 array, or LayerFault."""
    try:
        array = np.asarray(value)
    except Exception:
        raise LayerFault(quantity, f"{label} is {describe(value)}, expected an array") from None
    if array.dtype.kind not in "iuf":
        raise LayerFault(
            quantity, f"{label} is {describe(value)} (dtype {array.dtype}), expected real numbers"
        )
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise LayerFault(quantity, f"{label} contains NaN or inf")
    return array


def _train_keywords(method: Callable[..., Any]) -> dict[str, Any]:
    """``train_flg=True`` / ``training=True`` when the method takes such a parameter."""
    try:
        parameters = inspect.signature(method).parameters
    except (TypeError, ValueError):
        return {}
    return {name: True for name in ("train_flg", "training") if name in parameters}


def _takes_argument(method: Callable[..., Any]) -> bool:
    try:
        return bool(inspect.signature(method).parameters)
    except (TypeError, ValueError):
        return True


class LayerCall:
    """One layer state for one case: a built object (Saito), or the cache of the last
    functional forward (CS231n). ``forward`` then ``backward``, as often as wanted."""

    def __init__(self, subject: LayerSubject, case: LayerCase, params: Mapping[str, Any]):
        self.subject = subject
        self.case = case
        self.name = subject.name
        self.cache: Any = None
        self.object: Any = None
        self.targets = None if case.targets is None else np.array(case.targets, copy=True)
        if subject.style == "object":
            assert subject.kind is not None
            args = constructor_args(subject.kind, case, params)
            self.object = _invoke(f"{self.name}(...)", "forward", subject.forward, *args)

    def forward(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        """The forward value for ``values`` (passed as they are), validated against the
        case's ``out_shape``; keeps the cache."""
        subject, kind = self.subject, self.subject.kind
        with seeded_masks(self.case, kind):
            if self.object is not None:
                assert kind is not None
                method = self.object.forward
                args = [values[name] for name in kind.inputs]
                if kind.loss:
                    args.append(self.targets)
                returned = _invoke(
                    f"{self.name}.forward", "forward", method, *args, **_train_keywords(method)
                )
                return self._out(returned, f"{self.name}.forward")
            args = [values[name] for name in subject.arrays]
            if kind is not None and kind.loss:
                returned = _invoke(self.name, "forward", subject.forward, *args, self.targets)
                self.cache = self._pair(returned, "(loss, dx)", self.name)[1]
                return self._out(returned[0], self.name)
            if kind is not None and kind.setting is not None:
                args.append(setting(kind, self.case))
            label = getattr(subject.forward, "__name__", "forward")
            out, self.cache = self._pair(
                _invoke(label, "forward", subject.forward, *args), "(out, cache)", label
            )
            return self._out(out, label)

    def _pair(self, returned: Any, expected: str, label: str) -> tuple[Any, Any]:
        if not isinstance(returned, (tuple, list)) or len(returned) != 2:
            raise LayerFault(
                "forward", f"{label} returned {describe(returned)}, expected {expected}"
            )
        return returned[0], returned[1]

    def _out(self, value: Any, label: str) -> np.ndarray:
        quantity = "loss" if self.subject.is_loss else "out"
        out = _array(f"{label} output", quantity, value)
        expected = self.case.out_shape
        if expected is not None and out.shape != expected:
            what = "a scalar loss" if self.subject.is_loss else f"shape {expected}"
            raise LayerFault(
                quantity, f"{label} returned {quantity} of shape {out.shape}, expected {what}"
            )
        return out

    def backward(self, dout: np.ndarray) -> dict[str, np.ndarray]:
        """The gradients after the last forward, by name, for upstream gradient ``dout``."""
        subject, names = self.subject, self.subject.gradients
        if subject.is_loss and self.object is None:
            return {"dx": _array(f"{self.name} dx", "dx", self.cache)}
        if self.object is not None:
            kind = subject.kind
            assert kind is not None
            method = self.object.backward
            label = f"{self.name}.backward"
            if kind.loss:
                args = (1.0,) if _takes_argument(method) else ()
                returned = _invoke(label, "backward", method, *args)
            else:
                returned = _invoke(label, "backward", method, dout.copy())
            grads = self._unpack(returned, tuple(f"d{n}" for n in kind.inputs), label)
            for gradient in (f"d{n}" for n in kind.params):
                attribute = subject.attribute(gradient)
                if not hasattr(self.object, attribute):
                    raise LayerFault(
                        gradient,
                        f"{self.name} has no attribute {attribute!r} after backward, "
                        f"expected {gradient} there",
                    )
                value = getattr(self.object, attribute)
                grads[gradient] = _array(f"{self.name}.{attribute}", gradient, value)
            return grads
        label = getattr(subject.backward, "__name__", "backward")
        returned = _invoke(label, "backward", subject.backward, dout.copy(), self.cache)
        return self._unpack(returned, names, label)

    def _unpack(self, returned: Any, names: tuple[str, ...], label: str) -> dict[str, np.ndarray]:
        if len(names) == 1 and isinstance(returned, (tuple, list)) and len(returned) == 1:
            returned = returned[0]
        if len(names) == 1 and not isinstance(returned, (tuple, list)):
            return {names[0]: _array(f"{label} {names[0]}", names[0], returned)}
        if not isinstance(returned, (tuple, list)) or len(returned) != len(names):
            count = len(returned) if isinstance(returned, (tuple, list)) else 1
            raise LayerFault(
                "backward",
                f"{label} returned {count} value(s), expected {len(names)}: ({', '.join(names)})",
            )
        return {
            name: _array(f"{label} {name}", name, value)
            for name, value in zip(names, returned, strict=True)
        }


def forward(subject: LayerSubject, case: LayerCase, values: Mapping[str, np.ndarray]) -> np.ndarray:
    """The layer's forward value at ``values`` with fresh state (a new object for the object
    style): out, or the loss as a 0-d array. Raises :class:`LayerFault`."""
    fresh = _copies(values)
    return LayerCall(subject, case, fresh).forward(fresh)


def vjp(
    subject: LayerSubject, case: LayerCase, values: Mapping[str, np.ndarray], dout: np.ndarray
) -> Result:
    """Forward at ``values`` then backward with upstream gradient ``dout`` (ignored by a loss
    layer, whose upstream gradient is 1), with fresh state. Raises :class:`LayerFault`."""
    given = _copies(values)
    call = LayerCall(subject, case, given)
    out = call.forward(given)
    grads = call.backward(np.asarray(dout, dtype=np.float64))
    mutated = [name for name in values if not np.array_equal(given[name], values[name])]
    if case.targets is not None and not np.array_equal(call.targets, case.targets):
        mutated.append("targets")
    return Result(out, grads, mutated)


def reused_vjp(
    subject: LayerSubject,
    case: LayerCase,
    first: Mapping[str, np.ndarray],
    first_dout: np.ndarray,
    values: Mapping[str, np.ndarray],
    dout: np.ndarray,
) -> Result:
    """Two forward/backward pairs on one layer state; the result of the pair at ``values``.

    An object (whose backward follows its latest forward) runs forward(first),
    backward(first_dout), forward(values), backward(dout). Functions keep their state in the
    cache, so they run forward(values), then forward(first) and backward(first_dout), then
    backward(dout) with the cache of ``values``: a backward reading anything but its own
    cache (a module-level copy of the latest input) sees the other pair's values. Raises
    :class:`LayerFault`."""
    first_copies, copies = _copies(first), _copies(values)
    first_dout = np.asarray(first_dout, dtype=np.float64)
    call = LayerCall(subject, case, copies)
    if subject.style == "object":
        call.forward(first_copies)
        call.backward(first_dout)
        out = call.forward(copies)
    else:
        out = call.forward(copies)
        kept = call.cache
        call.forward(first_copies)
        call.backward(first_dout)
        call.cache = kept
    return Result(out, call.backward(np.asarray(dout, dtype=np.float64)))


#: Largest eps read off a batchnorm object's output; anything larger is not an eps.
MAX_EPS = 1e-2
#: An eps read off an output within this relative distance of a power of ten is that power.
SNAP = 1e-6


def batchnorm_eps(subject: LayerSubject, case: LayerCase, out: np.ndarray) -> float:
    """The eps of a batchnorm layer: the one passed in ``bn_param`` for a function; for an
    object (Saito's hard-codes 10e-7) the value its output implies, per feature
    eps = v·(1/mean(x̂²) - 1) with v the batch variance of x and x̂ = (out - beta)/gamma, the
    median over features, taken as the nearest power of ten when within SNAP of it (the
    estimate loses digits where v << eps), if it lies in [0, MAX_EPS]; else the case's eps.
    0 for any other kind."""
    if subject.kind is None or subject.kind.name != "batchnorm":
        return 0.0
    passed = float(case.config["eps"])
    if subject.style != "object" or out.shape != case.values["x"].shape:
        return passed
    x, gamma, beta = case.values["x"], case.values["gamma"], case.values["beta"]
    variance = np.var(x, axis=0)
    usable = (np.abs(gamma) > 1e-3 * np.max(np.abs(gamma))) & (variance > 0)
    if not usable.any():
        return passed
    xhat = (out[:, usable] - beta[usable]) / gamma[usable]
    with np.errstate(divide="ignore", invalid="ignore"):
        eps = float(np.median(variance[usable] * (1.0 / np.mean(xhat**2, axis=0) - 1.0)))
    if not -1e-12 <= eps <= MAX_EPS:
        return passed
    if eps <= 0.0:
        return 0.0  # an eps of 0, read through rounding
    power = 10.0 ** round(math.log10(eps))
    return power if abs(eps - power) <= SNAP * power else eps

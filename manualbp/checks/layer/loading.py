"""Layers from a spec: ``file.py:affine``, ``pkg.mod:Affine``, ``file.py:fwd,bwd``, ``pkg.mod``.

The module part is a dotted module (imported as ``python -m`` would, the working directory
first on the path) or a path to a ``.py`` file (its folder on the path while it runs, for
its sibling imports). The object part says what to check:

``affine``          the functional pair ``affine_forward`` / ``affine_backward`` (CS231n's
                    suffixed names too: ``conv`` finds ``conv_forward_naive`` /
                    ``conv_backward_naive``), or the loss ``affine_loss``;
``softmax_loss``    a loss function ``(x, y) -> (loss, dx)`` named directly;
``Affine``          a class (object style);
``fwd,bwd``         an explicit pair, for any other naming;
(none)              every pair ``X_forward[_s]`` / ``X_backward[_s]`` and every ``X_loss`` of
                    the module.

The kind comes from ``kind`` (``--as``; it also enables the torch reference and the
published examples) or else from the name (:data:`.kinds.FUNCTION_PREFIXES`,
:data:`.kinds.LOSS_PREFIXES`, :func:`.kinds.class_kind`).
A pair whose kind neither says needs ``shapes`` ({array: shape} in calling order).
Everything wrong with the spec raises :class:`~manualbp.errors.ImplementationError` (or
:class:`~manualbp.errors.UsageError` for a bad kind or shapes) with one line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from types import ModuleType
from typing import Any

from manualbp.checks.layer.calls import LayerSubject
from manualbp.checks.layer.kinds import FUNCTION_PREFIXES, LOSS_PREFIXES, class_kind, get_kind
from manualbp.checks.layer.space import Shapes
from manualbp.errors import ImplementationError, UsageError, describe
from manualbp.protocol import import_user_module

_PAIR = re.compile(r"^(?P<prefix>[A-Za-z_]\w*?)_forward(?P<suffix>(_\w+)?)$")


def _function(module: ModuleType, name: str, spec: str) -> Callable[..., Any]:
    target = getattr(module, name, None)
    if target is None:
        raise ImplementationError(f"--layer {spec}: the module has no {name!r}")
    if not callable(target) or isinstance(target, type):
        raise ImplementationError(
            f"--layer {spec}: {name!r} is {describe(target)}, expected a function"
        )
    return target


def check_shapes(shapes: Any) -> dict[str, tuple[int, ...]]:
    """``shapes`` as {array name: shape tuple}, or UsageError."""
    if not isinstance(shapes, Mapping) or not shapes:
        raise UsageError(f"shapes: got {describe(shapes)}, expected {{'x': (4, 3), ...}}")
    checked = {}
    for name, shape in shapes.items():
        ok = isinstance(name, str) and name.isidentifier() and isinstance(shape, (tuple, list))
        if not ok or not all(
            isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape
        ):
            raise UsageError(
                f"shapes: {name!r}: got {describe(shape)}, expected a tuple of positive integers"
            )
        checked[name] = tuple(shape)
    return checked


def _pairs(module: ModuleType) -> list[tuple[str, str, str]]:
    """(prefix, forward name, backward name) of every pair in the module, in module order."""
    found = []
    for name, value in vars(module).items():
        match = _PAIR.match(name)
        if match is None or not callable(value) or isinstance(value, type):
            continue
        backward = f"{match['prefix']}_backward{match['suffix']}"
        if callable(getattr(module, backward, None)):
            found.append((match["prefix"], name, backward))
    return found


def _losses(module: ModuleType) -> list[str]:
    return [
        name
        for name, value in vars(module).items()
        if name.endswith("_loss")
        and not name.startswith("_")
        and callable(value)
        and not isinstance(value, type)
    ]


def _subject(
    name: str,
    kind_name: str | None,
    kind: str | None,
    style: str,
    forward: Callable[..., Any],
    backward: Callable[..., Any] | None = None,
    shapes: Shapes | None = None,
) -> LayerSubject:
    """A subject of the asserted ``kind`` if given, else of the kind its name says."""
    chosen = get_kind(kind) if kind is not None else (get_kind(kind_name) if kind_name else None)
    if chosen is not None and shapes is not None:
        raise UsageError(f"shapes: {name} is of kind {chosen.name}, whose shapes are known")
    if chosen is not None and style == "functional" and chosen.loss != (backward is None):
        expected = (
            "a loss function (x, y) -> (loss, dx)" if chosen.loss else "a forward/backward pair"
        )
        raise ImplementationError(f"--layer {name}: kind {chosen.name} needs {expected}")
    return LayerSubject(name, chosen, style, forward, backward, kind is not None, shapes)


def _discover(module: ModuleType, module_part: str, kind: str | None) -> list[LayerSubject]:
    """Every pair and loss of the module, kinds from their names (or ``kind`` for one)."""
    pairs, losses = _pairs(module), _losses(module)
    labels = [
        f"{module_part}:{prefix}" if fwd == f"{prefix}_forward" else f"{module_part}:{fwd},{bwd}"
        for prefix, fwd, bwd in pairs
    ] + [f"{module_part}:{name}" for name in losses]
    if not labels:
        raise ImplementationError(
            f"--layer {module_part}: no X_forward/X_backward pair and no X_loss function in it"
        )
    if kind is not None and len(labels) > 1:
        raise ImplementationError(
            f"--layer {module_part}: --as {kind} names one layer, the module has "
            f"{len(labels)}; name one of them (e.g. {labels[0]})"
        )
    subjects = [
        _subject(
            label,
            FUNCTION_PREFIXES.get(prefix),
            kind,
            "functional",
            getattr(module, fwd),
            getattr(module, bwd),
        )
        for label, (prefix, fwd, bwd) in zip(labels, pairs, strict=False)
    ]
    return subjects + [
        _subject(
            label,
            LOSS_PREFIXES.get(name.removesuffix("_loss")),
            kind,
            "functional",
            getattr(module, name),
        )
        for label, name in zip(labels[len(pairs) :], losses, strict=True)
    ]


def _class_subject(spec: str, target: type, kind: str | None) -> LayerSubject:
    missing = [m for m in ("forward", "backward") if not callable(getattr(target, m, None))]
    if missing:
        raise ImplementationError(
            f"--layer {spec}: class {target.__name__} has no {' and no '.join(missing)} method; "
            "expected forward(x) and backward(dout)"
        )
    kind_name = class_kind(target.__name__)
    if kind is None and kind_name is None:
        raise ImplementationError(
            f"--layer {spec}: cannot tell the kind of class {target.__name__} from its name; "
            "give it with --as KIND"
        )
    return _subject(spec, kind_name, kind, "object", target)


def _named_pair(spec: str, module: ModuleType, prefix: str) -> tuple[str, str] | None:
    """The pair ``prefix_forward``/``prefix_backward`` or the one suffixed pair of ``prefix``."""
    if callable(getattr(module, f"{prefix}_forward", None)):
        return f"{prefix}_forward", f"{prefix}_backward"
    suffixed = [(f, b) for p, f, b in _pairs(module) if p == prefix]
    if len(suffixed) > 1:
        names = ", ".join(f"{f},{b}" for f, b in suffixed)
        raise ImplementationError(
            f"--layer {spec}: {prefix!r} is ambiguous: {names}; name the pair"
        )
    return suffixed[0] if suffixed else None


def _object_subject(
    spec: str, module: ModuleType, part: str, kind: str | None, shapes: Shapes | None
) -> LayerSubject:
    if "," in part:
        fwd, _, bwd = (p.strip() for p in part.partition(","))
        match = _PAIR.match(fwd)
        inferred = FUNCTION_PREFIXES.get(match["prefix"]) if match else None
        if kind is None and inferred is None and shapes is None:
            raise ImplementationError(
                f"--layer {spec}: the names do not say the kind of {fwd}; give --as KIND, or "
                "shapes={'x': (4, 3), ...} in Python"
            )
        forward, backward = _function(module, fwd, spec), _function(module, bwd, spec)
        return _subject(spec, inferred, kind, "functional", forward, backward, shapes)
    target = getattr(module, part, None)
    if isinstance(target, type):
        if shapes is not None:
            raise UsageError(f"shapes: {spec} is a class; shapes are for a pair of unknown kind")
        return _class_subject(spec, target, kind)
    prefix = part.removesuffix("_forward")
    pair = _named_pair(spec, module, prefix)
    if pair is not None:
        forward, backward = _function(module, pair[0], spec), _function(module, pair[1], spec)
        inferred = FUNCTION_PREFIXES.get(prefix)
        return _subject(spec, inferred, kind, "functional", forward, backward, shapes)
    loss_name = part if part.endswith("_loss") else f"{part}_loss"
    if callable(getattr(module, loss_name, None)):
        if shapes is not None:
            raise UsageError(f"shapes: {spec} is a loss; shapes are for a pair of unknown kind")
        kind_name = LOSS_PREFIXES.get(loss_name.removesuffix("_loss"))
        return _subject(spec, kind_name, kind, "functional", _function(module, loss_name, spec))
    raise ImplementationError(
        f"--layer {spec}: found no class {part!r}, no {prefix}_forward/{prefix}_backward pair "
        f"and no {loss_name} function"
    )


def with_attributes(
    subjects: list[LayerSubject], attributes: Mapping[str, str] | None
) -> list[LayerSubject]:
    """The subjects with object attributes ``attributes`` ({gradient: attribute}, e.g.
    ``{"dw": "grad_W"}``) where an object keeps a parameter gradient elsewhere than the
    kind's default (``dW``, ``db``, ``dgamma``, ``dbeta``); UsageError for a name that is
    no parameter gradient of a subject's kind."""
    if not attributes:
        return subjects
    changed = []
    for subject in subjects:
        known = {f"d{name}" for name in subject.kind.params} if subject.kind else set()
        unknown = sorted(str(name) for name in attributes if name not in known)
        if unknown or not all(isinstance(v, str) and v for v in attributes.values()):
            raise UsageError(
                f"attributes: {subject.name} keeps no parameter gradient "
                f"{', '.join(unknown) or describe(attributes)}; expected some of "
                f"{', '.join(sorted(known)) or 'none (its kind has no parameters)'}"
            )
        changed.append(replace(subject, attributes=dict(attributes)))
    return changed


def load_layers(
    spec: str,
    kind: str | None = None,
    *,
    shapes: Shapes | None = None,
    attributes: Mapping[str, str] | None = None,
) -> list[LayerSubject]:
    """The layers a spec names (module docstring), each a :class:`LayerSubject` named by the
    spec as written; ``kind`` asserts the kind (``--as``); ``shapes`` gives the arrays of a
    pair of unknown kind; ``attributes`` where an object keeps its parameter gradients
    (:func:`with_attributes`). Raises ImplementationError or UsageError with one line."""
    return with_attributes(_load(spec, kind, shapes), attributes)


def _load(spec: str, kind: str | None, shapes: Shapes | None) -> list[LayerSubject]:
    if not isinstance(spec, str) or not spec.strip():
        raise ImplementationError(f"--layer: got {describe(spec)}, expected file.py:name")
    if kind is not None:
        get_kind(kind)
    checked = check_shapes(shapes) if shapes is not None else None
    module_part, _, part = spec.strip().partition(":")
    module = import_user_module(module_part, f"--layer {spec}")
    if not part:
        if checked is not None:
            raise UsageError("shapes: give them for one named pair, not a whole module")
        return _discover(module, module_part, kind)
    return [_object_subject(spec.strip(), module, part.strip(), kind, checked)]


def _layer_of_kind(module: Any, kind: str) -> str:
    """The object part naming the layer of ``kind`` in a module: a pair or loss whose name
    says that kind, else a class whose name does (exact kind names first)."""
    pairs = [
        prefix if fwd == f"{prefix}_forward" else f"{fwd},{bwd}"
        for prefix, fwd, bwd in _pairs(module)
        if FUNCTION_PREFIXES.get(prefix) == kind
    ]
    losses = [n for n in _losses(module) if LOSS_PREFIXES.get(n.removesuffix("_loss")) == kind]
    classes = [
        name
        for name, value in vars(module).items()
        if isinstance(value, type) and class_kind(name) == kind
    ]
    found = pairs + losses + classes
    if not found:
        raise ImplementationError(
            f"{getattr(module, '__name__', module)}: no layer of kind {kind} (no pair, loss or "
            "class whose name says it)"
        )
    exact = [part for part in found if part in (kind, f"{kind}_loss")]
    return (exact or found)[0]


def subjects_of(
    layers: Any,
    kind: str | None = None,
    *,
    shapes: Shapes | None = None,
    attributes: Mapping[str, str] | None = None,
) -> list[LayerSubject]:
    """The layers of a spec string (:func:`load_layers`), an imported module (with ``kind``:
    its layer of that kind; without: every pair and loss), a class, a (forward, backward)
    pair of functions, a loss function, or a LayerSubject (``kind`` given: asserted);
    ``shapes`` and ``attributes`` as for :func:`load_layers`."""
    return with_attributes(_subjects_of(layers, kind, shapes), attributes)


def _subjects_of(layers: Any, kind: str | None, shapes: Shapes | None) -> list[LayerSubject]:
    if isinstance(layers, str):
        return _load(layers, kind, shapes)
    if kind is not None:
        get_kind(kind)
    if isinstance(layers, LayerSubject):
        if kind is None:
            return [layers]
        return [replace(layers, kind=get_kind(kind), asserted=True, shapes=None)]
    checked = check_shapes(shapes) if shapes is not None else None
    if isinstance(layers, ModuleType):
        if kind is None and checked is None:
            return _discover(layers, layers.__name__, None)
        if kind is None:
            raise UsageError("shapes: give them with a (forward, backward) pair, not a module")
        part = _layer_of_kind(layers, kind)
        return [_object_subject(f"{layers.__name__}:{part}", layers, part, kind, None)]
    if isinstance(layers, type):
        return [_class_subject(f"{layers.__module__}:{layers.__qualname__}", layers, kind)]
    if isinstance(layers, tuple) and len(layers) == 2 and all(map(callable, layers)):
        fwd, bwd = layers
        name = f"{fwd.__module__}:{fwd.__name__},{bwd.__name__}"
        match = _PAIR.match(fwd.__name__)
        inferred = FUNCTION_PREFIXES.get(match["prefix"]) if match else None
        if kind is None and inferred is None and checked is None:
            raise ImplementationError(
                f"{name}: the names do not say the kind; give kind= or shapes="
            )
        return [_subject(name, inferred, kind, "functional", fwd, bwd, checked)]
    if callable(layers):
        name = f"{layers.__module__}:{layers.__name__}"
        inferred = LOSS_PREFIXES.get(layers.__name__.removesuffix("_loss"))
        if kind is None and inferred is None:
            raise ImplementationError(f"{name}: the name does not say the kind; give kind=")
        return [_subject(name, inferred, kind, "functional", layers)]
    raise ImplementationError(
        f"layers: got {describe(layers)}, expected a spec, a module, a class, a (forward, "
        "backward) pair or a loss function"
    )

"""The implementation protocol: what any backprop implementation provides to be checked.

An implementation is any object (a module, a class instance, a namespace) with::

    loss(arch, params, x, y) -> float
    gradients(arch, params, x, y) -> (loss, {name: array of the parameter's shape})

and optionally::

    step(arch, params, x, y, lr, frozen=frozenset()) -> new params   # θ - lr ∂E/∂θ
    intermediates(arch, params, x, y) -> {"z": [...], "a": [...], "delta": [...]}
    supports_complex = True        # complex parameters flow through ``loss``
    supports(arch) -> bool         # False: this architecture is not implemented
    name = "..."                   # how reports name it
    perturbed_losses(arch, params, x, y, name, index, steps) -> (M,) array
    losses_along(arch, params, x, y, direction, steps) -> (M,) array

The last two let the finite-difference check evaluate many perturbed losses at once.
Entry m of ``perturbed_losses`` is ``loss`` with ``params[name].flat[index[m]]`` moved to
``fl(value + steps[m])`` (index (M,) integers); entry m of ``losses_along`` is ``loss`` with
every ``params[k]`` named in ``direction`` (a dict of real arrays of the parameters'
shapes) moved to ``fl(params[k] + fl(steps[m]·direction[k]))``. Steps are (M,), real or
complex; complex steps need complex results. Both must equal M calls of ``loss`` to
rounding; an implementation that cannot batch a case raises ``NotImplementedError`` and the
check calls ``loss`` per perturbation, as it does for implementations without them.

``arch`` is an :class:`~manualbp.architecture.Architecture`; params, x and y are as in
:mod:`manualbp.params`. Per-layer lists hold layers 1..L in order (entry ``l - 1`` is layer
l) and δ_l = ∂E/∂z_l. An implementation that raises ``NotImplementedError`` for an
architecture (or whose ``supports`` returns False) gets that case reported as ``skipped``.

This module loads implementations by name and calls them defensively, turning what a
misbehaving implementation does into :class:`ImplementationFault` (reported as ``fail``)
and what it does not implement into :class:`Unsupported` (reported as ``skipped``).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import math
import os
import sys
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol, runtime_checkable

import numpy as np

from manualbp.architecture import Architecture
from manualbp.errors import ImplementationError, describe


@runtime_checkable
class Implementation(Protocol):
    """The two required functions of the protocol (see the module docstring for the rest)."""

    def loss(self, arch: Architecture, params: Mapping[str, Any], x: Any, y: Any) -> float:
        """E(θ) on the batch."""
        ...

    def gradients(
        self, arch: Architecture, params: Mapping[str, Any], x: Any, y: Any
    ) -> tuple[float, dict[str, np.ndarray]]:
        """(E, {name: ∂E/∂name})."""
        ...


class Unsupported(Exception):
    """The implementation does not cover this architecture (the case is ``skipped``)."""


class ImplementationFault(Exception):
    """The implementation raised, or returned something outside the protocol (``fail``).

    ``trace`` holds the implementation's own frames of the exception it raised, innermost
    last (:func:`user_frames`), empty when it returned something wrong instead.
    """

    def __init__(self, message: str, trace: tuple[dict[str, Any], ...] = ()) -> None:
        super().__init__(message)
        self.trace = trace


#: Frames kept of an implementation's traceback (the innermost ones).
MAX_FRAMES = 8


def user_frames(error: BaseException) -> tuple[dict[str, Any], ...]:
    """The frames of ``error``'s traceback below :func:`call` (the implementation's own code),
    innermost last, at most :data:`MAX_FRAMES`: {"file", "line", "function", "code"}."""
    frames = traceback.extract_tb(error.__traceback__)[1:]
    return tuple(
        {"file": frame.filename, "line": frame.lineno, "function": frame.name, "code": frame.line}
        for frame in frames[-MAX_FRAMES:]
    )


def fault_detail(error: Exception) -> dict[str, Any]:
    """What a Finding keeps of an ImplementationFault: its traceback frames, if any."""
    trace = getattr(error, "trace", ())
    return {"traceback": list(trace)} if trace else {}


#: Called with the name of each protocol method as it starts and with "" when it returns
#: (:func:`call`); a supervised worker process sets it to say where a hang or crash happened.
_call_tracker: Callable[[str], None] | None = None


def track_calls(tracker: Callable[[str], None] | None) -> None:
    """Have :func:`call` report every protocol method it enters (and "" when it leaves)."""
    global _call_tracker
    _call_tracker = tracker


@dataclass(frozen=True)
class Capabilities:
    """Which optional parts of the protocol an implementation provides; ``graph_node`` and
    ``affine_layer`` let the worked examples of kind graph and affine run through it,
    ``reset`` is called before every unit of work (the state-keeping mutants have it)."""

    step: bool = False
    intermediates: bool = False
    complex: bool = False
    perturbed_losses: bool = False
    losses_along: bool = False
    graph_node: bool = False
    affine_layer: bool = False
    reset: bool = False


def capabilities(impl: object) -> Capabilities:
    """Read the optional parts of the protocol off ``impl``."""
    offered = {
        name: callable(getattr(impl, name, None))
        for name in (
            "step",
            "intermediates",
            "perturbed_losses",
            "losses_along",
            "graph_node",
            "affine_layer",
            "reset",
        )
    }
    return Capabilities(complex=getattr(impl, "supports_complex", False) is True, **offered)


def implementation_name(impl: object, default: str = "") -> str:
    """The name reports use: ``impl.name``, else ``default``, else the object's own name."""
    name = getattr(impl, "name", None)
    if isinstance(name, str) and name:
        return name
    if default:
        return default
    return getattr(impl, "__name__", type(impl).__name__)


def _import_file(path: Path, option: str) -> ModuleType:
    """Import the file ``path`` once per resolved location and version (two specs of one
    file share its classes; an edited file is imported again), its folder on ``sys.path``
    while it runs (so it can import its siblings, as ``python file.py`` would let it)."""
    resolved = path.resolve()
    version = f"{resolved}:{resolved.stat().st_mtime_ns}"
    digest = hashlib.sha1(version.encode()).hexdigest()[:8]
    module_name = f"manualbp_user_{path.stem}_{digest}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    loader_spec = importlib.util.spec_from_file_location(module_name, resolved)
    if loader_spec is None or loader_spec.loader is None:
        raise ImplementationError(f"{option}: cannot load {str(path)!r} as a Python file")
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[module_name] = module
    folder = str(resolved.parent)
    sys.path.insert(0, folder)
    try:
        loader_spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    finally:
        sys.path.remove(folder)
    return module


def import_user_module(module_part: str, option: str) -> ModuleType:
    """The user's module named by the part of an ``--impl``/``--layer`` spec before ``:``: a
    file (``path/to/file.py``, its folder on ``sys.path`` while it loads) or a dotted module
    (imported as ``python -m`` would, the working directory on ``sys.path``). Any failure
    of the user's code while importing is an :class:`ImplementationError` naming ``option``
    and the spec (bad input, exit 2 at the CLI)."""
    try:
        if module_part.endswith(".py") or os.sep in module_part or "/" in module_part:
            path = Path(module_part)
            if not path.is_file():
                raise ImplementationError(f"{option}: file {module_part!r} does not exist")
            return _import_file(path, option)
        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())  # as `python -m` would: the user's own package
        return importlib.import_module(module_part)
    except ImplementationError:
        raise
    except Exception as exc:  # any import-time failure of user code is bad input here
        raise ImplementationError(
            f"{option}: cannot import {module_part!r} ({type(exc).__name__}: {exc})"
        ) from None


def load_implementation(spec: str) -> Any:
    """Load ``package.module``, ``package.module:object`` or ``path/to/file.py[:object]``.

    A class named as the object is instantiated without arguments. Raises
    :class:`ImplementationError` when the target cannot be imported or lacks ``loss`` or
    ``gradients``.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ImplementationError(f"--impl: got {describe(spec)}, expected package.module[:object]")
    module_part, _, object_part = spec.partition(":")
    target: Any = import_user_module(module_part, f"--impl {spec}")
    if object_part:
        for attribute in object_part.split("."):
            if not hasattr(target, attribute):
                raise ImplementationError(
                    f"--impl {spec}: {module_part!r} has no attribute {object_part!r}"
                )
            target = getattr(target, attribute)
        if isinstance(target, type):
            try:
                target = target()
            except Exception as exc:
                raise ImplementationError(
                    f"--impl {spec}: cannot instantiate {object_part} without arguments "
                    f"({type(exc).__name__}: {exc})"
                ) from None
    missing = [name for name in ("loss", "gradients") if not callable(getattr(target, name, None))]
    if missing:
        raise ImplementationError(
            f"--impl {spec}: lacks {' and '.join(missing)}; expected loss(arch, params, x, y) "
            "and gradients(arch, params, x, y)"
        )
    return target


def unsupported_reason(impl: object, arch: Architecture) -> str | None:
    """Why ``impl`` declares it cannot run ``arch`` (via ``supports``), or None if it can."""
    supports = getattr(impl, "supports", None)
    if not callable(supports):
        return None
    try:
        verdict = supports(arch)
    except Exception as exc:
        raise ImplementationFault(f"supports() raised {type(exc).__name__}: {exc}") from None
    if verdict:
        return None
    return f"the implementation declares it does not support {arch.describe()}"


def call(impl: object, method: str, *args: Any, **kwargs: Any) -> Any:
    """Call ``impl.method(*args)``.

    NotImplementedError becomes :class:`Unsupported`; any other exception, ``sys.exit()``
    included, :class:`ImplementationFault` carrying the implementation's frames; a
    MemoryError says that the memory limit was exceeded.
    """
    function: Callable[..., Any] = getattr(impl, method)
    if _call_tracker is not None:
        _call_tracker(method)
    try:
        return function(*args, **kwargs)
    except NotImplementedError as exc:
        raise Unsupported(f"{method}() raised NotImplementedError: {exc}".rstrip(": ")) from None
    except MemoryError as exc:
        raise ImplementationFault(
            f"{method}() exceeded the memory limit (MemoryError)", user_frames(exc)
        ) from None
    except SystemExit as exc:
        raise ImplementationFault(
            f"{method}() called sys.exit({exc.code!r}): the implementation tried to end the run",
            user_frames(exc),
        ) from None
    except Exception as exc:
        raise ImplementationFault(
            f"{method}() raised {type(exc).__name__}: {exc}", user_frames(exc)
        ) from None
    finally:
        if _call_tracker is not None:
            _call_tracker("")


def as_loss(value: Any, method: str = "loss", finite: bool = True) -> float | complex:
    """A loss value as a Python number; non-numbers and non-scalars are an ImplementationFault,
    and so is a non-finite real value when ``finite`` (the loss at a case's own point must be
    finite; a perturbed evaluation may overflow, and the check decides what that means)."""
    if isinstance(value, (bool, str, bytes)) or value is None:
        raise ImplementationFault(f"{method}() returned {describe(value)}, expected a float")
    try:
        array = np.asarray(value)
    except Exception:
        raise ImplementationFault(
            f"{method}() returned {describe(value)}, expected a float"
        ) from None
    if array.shape != () or array.dtype.kind not in "iufc":
        raise ImplementationFault(
            f"{method}() returned {describe(value)} (shape {array.shape}, dtype {array.dtype}), "
            "expected a float"
        )
    number = array.item()
    if finite and array.dtype.kind != "c" and not math.isfinite(float(number)):
        raise ImplementationFault(f"{method}() returned {number}, expected a finite float")
    return number


def checked_losses(
    result: Any, count: int, complex_steps: bool, method: str = "perturbed_losses"
) -> np.ndarray:
    """Validate what ``perturbed_losses()`` (or ``losses_along()``) returned: ``count``
    losses, (M,); non-finite ones (a perturbation that overflows) are kept for the check to
    judge.

    Complex steps need complex losses (their imaginary parts are the derivatives); the
    array comes back as complex128 then, as float64 (real parts) otherwise.
    """
    try:
        array = np.asarray(result)
    except Exception:
        raise ImplementationFault(
            f"{method}() returned {describe(result)}, expected an array"
        ) from None
    if array.shape != (count,) or array.dtype.kind not in "iufc":
        raise ImplementationFault(
            f"{method}() returned {describe(result)} (shape {array.shape}, dtype "
            f"{array.dtype}), expected {count} losses"
        )
    if complex_steps and array.dtype.kind != "c":
        raise ImplementationFault(
            f"{method}() returned dtype {array.dtype} for complex steps, expected complex losses"
        )
    return array.astype(np.complex128) if complex_steps else np.real(array).astype(np.float64)


def checked_gradients(arch: Architecture, result: Any) -> tuple[float, dict[str, np.ndarray]]:
    """Validate what ``gradients()`` returned: (finite float, one finite array per parameter).

    Raises :class:`ImplementationFault` naming the first problem (not a tuple, missing or
    extra names, wrong shape, NaN/inf).
    """
    if not isinstance(result, tuple) or len(result) != 2:
        raise ImplementationFault(
            f"gradients() returned {describe(result)}, expected a (loss, {{name: array}}) tuple"
        )
    value = as_loss(result[0], "gradients")
    grads = result[1]
    if not isinstance(grads, Mapping):
        raise ImplementationFault(
            f"gradients() returned {describe(grads)} as gradients, expected a dict of arrays"
        )
    shapes = arch.param_shapes()
    missing = [name for name in shapes if name not in grads]
    extra = sorted(str(name) for name in grads if name not in shapes)
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if extra:
            parts.append(f"unexpected {', '.join(extra)}")
        raise ImplementationFault(
            f"gradients() returned names with {'; '.join(parts)}; expected {', '.join(shapes)}"
        )
    checked: dict[str, np.ndarray] = {}
    for name, shape in shapes.items():
        try:
            array = np.asarray(grads[name])
        except Exception:
            raise ImplementationFault(f"gradient {name} is not an array") from None
        if array.dtype.kind not in "iufc":
            raise ImplementationFault(f"gradient {name} has dtype {array.dtype}, expected float")
        if array.shape != shape:
            raise ImplementationFault(f"gradient {name} has shape {array.shape}, expected {shape}")
        if not np.all(np.isfinite(array)):
            raise ImplementationFault(f"gradient {name} contains NaN or inf")
        checked[name] = array
    return float(np.real(value)), checked

"""Parameters and batches: validation, initialisation, and flattening to one vector θ.

Parameters are a dict ``{"W1": (n1, n0), "b1": (n1,) or (), "W2": ..., ...}`` (see
:meth:`Architecture.param_shapes`). Batches are rows: x (N, sizes[0]), y (N, sizes[-1]).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from math import prod

import numpy as np

from manualbp.architecture import Architecture
from manualbp.errors import BatchError, ParameterError

Params = dict[str, np.ndarray]


def _as_array(name: str, value: object, error: type[Exception]) -> np.ndarray:
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise error(f"{name}: cannot be read as a numeric array ({exc})") from None
    if array.dtype == object or array.dtype.kind not in "biufc":
        raise error(f"{name}: got dtype {array.dtype}, expected a real or complex number array")
    if array.dtype.kind in "biu":
        array = array.astype(np.float64)
    return array


def all_finite(array: np.ndarray) -> bool:
    """True when no entry of ``array`` (any shape, real or complex) is NaN or ±inf.

    One pass, and no array allocated for a contiguous array: Σ v² over the entries (a BLAS
    dot product) is finite exactly when every entry is, unless the sum overflows (entries
    beyond ~1e154), in which case the entries are tested one by one.
    """
    flat = array.ravel(order="K")
    with np.errstate(over="ignore", invalid="ignore"):
        total = flat @ flat
    return bool(np.isfinite(total)) or bool(np.isfinite(array).all())


@lru_cache(maxsize=256)
def param_table(arch: Architecture) -> tuple[tuple[str, tuple[int, ...], int], ...]:
    """(name, shape, number of entries) of every parameter, in the order of
    :meth:`Architecture.param_shapes`; computed once per architecture (it is hashable)."""
    return tuple((name, shape, prod(shape)) for name, shape in arch.param_shapes().items())


def check_params(arch: Architecture, params: Mapping[str, object]) -> Params:
    """Validate ``params`` against ``arch`` and return them as numeric arrays (not copied).

    Raises :class:`ParameterError` naming the missing, extra, misshaped or non-finite entry.
    Integer arrays are converted to float64; float and complex dtypes are kept.
    """
    if not isinstance(params, Mapping):
        raise ParameterError(
            f"params: got {type(params).__name__}, expected a dict of arrays "
            f"{', '.join(arch.param_names)}"
        )
    table = param_table(arch)
    shapes = tuple(name for name, _, _ in table)
    missing = [name for name in shapes if name not in params]
    if missing:
        raise ParameterError(
            f"params: missing {', '.join(missing)} (expected {', '.join(shapes)} for bias "
            f"mode {arch.bias!r})"
        )
    extra = sorted(str(name) for name in params if name not in shapes)
    if extra:
        raise ParameterError(
            f"params: unexpected {', '.join(extra)} (expected only {', '.join(shapes)} for "
            f"bias mode {arch.bias!r})"
        )
    checked: Params = {}
    for name, shape, _ in table:
        array = _as_array(name, params[name], ParameterError)
        if array.shape != shape:
            raise ParameterError(f"{name}: got shape {array.shape}, expected {shape}")
        if not all_finite(array):
            raise ParameterError(f"{name}: contains NaN or inf, expected finite values")
        checked[name] = array
    return checked


def check_frozen(arch: Architecture, frozen: object) -> frozenset[str]:
    """Validate a set of parameter names to keep fixed in a gradient-descent step."""
    if isinstance(frozen, str):
        raise ParameterError(
            f"frozen: got the string {frozen!r}, expected a set of parameter names"
        )
    names = frozenset(frozen)  # type: ignore[arg-type]
    unknown = sorted(str(name) for name in names - set(arch.param_names))
    if unknown:
        raise ParameterError(
            f"frozen: unknown parameter(s) {', '.join(unknown)}, expected names among "
            f"{', '.join(arch.param_names)}"
        )
    return names


def check_batch(arch: Architecture, x: object, y: object) -> tuple[np.ndarray, np.ndarray]:
    """Validate a batch and return (x, y) as numeric arrays of shapes (N, inputs), (N, outputs).

    Targets must lie in [0, 1] for ``bce`` and be non-negative for ``softmax_ce``.
    Raises :class:`BatchError` naming what was wrong.
    """
    x_arr = _as_array("x", x, BatchError)
    y_arr = _as_array("y", y, BatchError)
    if x_arr.ndim != 2 or x_arr.shape[1] != arch.inputs or x_arr.shape[0] < 1:
        raise BatchError(
            f"x: got shape {x_arr.shape}, expected (N, {arch.inputs}) with N >= 1 "
            "(one row per sample)"
        )
    if y_arr.shape != (x_arr.shape[0], arch.outputs):
        raise BatchError(
            f"y: got shape {y_arr.shape}, expected ({x_arr.shape[0]}, {arch.outputs}) "
            "(one row per sample of x)"
        )
    for name, array in (("x", x_arr), ("y", y_arr)):
        if not all_finite(array):
            raise BatchError(f"{name}: contains NaN or inf, expected finite values")
    if arch.loss == "bce" and (np.any(y_arr.real < 0) or np.any(y_arr.real > 1)):
        raise BatchError("y: loss 'bce' needs targets in [0, 1]")
    if arch.loss == "softmax_ce" and np.any(y_arr.real < 0):
        raise BatchError("y: loss 'softmax_ce' needs non-negative targets (class probabilities)")
    return x_arr, y_arr


def init_params(
    arch: Architecture,
    rng: np.random.Generator,
    scale: float | None = None,
    dtype: np.dtype | type = np.float64,
) -> Params:
    """Draw parameters from N(0, scale²); ``scale=None`` uses 1/sqrt(fan_in) per layer.

    Biases get the same scale as their layer's weights.
    """
    params: Params = {}
    for name, shape in arch.param_shapes().items():
        layer = int(name[1:])
        sigma = scale if scale is not None else 1.0 / np.sqrt(arch.sizes[layer - 1])
        params[name] = (sigma * rng.standard_normal(shape)).astype(dtype)
    return params


def flatten(arch: Architecture, params: Mapping[str, np.ndarray]) -> np.ndarray:
    """Concatenate every parameter, in the order of :attr:`Architecture.param_names`, to θ."""
    return np.concatenate([np.ravel(params[name]) for name in arch.param_names])


def unflatten(arch: Architecture, theta: np.ndarray) -> Params:
    """Inverse of :func:`flatten`: split θ (P,) into named arrays (views where possible)."""
    params: Params = {}
    start = 0
    for name, shape, count in param_table(arch):
        params[name] = theta[start : start + count].reshape(shape)
        start += count
    if start != theta.shape[0]:
        raise ParameterError(f"theta: got {theta.shape[0]} values, expected {start}")
    return params


def descend(
    params: Mapping[str, np.ndarray],
    grads: Mapping[str, np.ndarray],
    lr: float,
    frozen: frozenset[str] = frozenset(),
) -> Params:
    """One plain gradient-descent update θ' = θ - lr·∂E/∂θ, new arrays; frozen names copied."""
    return {
        key: np.array(value, copy=True) if key in frozen else value - lr * np.asarray(grads[key])
        for key, value in params.items()
    }

"""A float64 PyTorch mirror of any Architecture: the reference of the autograd check.

The mirror builds the network of an :class:`~manualbp.architecture.Architecture` from torch
operations and lets autograd differentiate it, so it shares no backprop code with the
implementation under test (it never imports :mod:`manualbp.engine`). For l = 1..L,

    z_l = a_{l-1} W_l^T + b_l,    a_l = f_l(z_l),    a_0 = x,
    E = Σ_n ℓ_n (reduction ``sum``)  or  (1/N) Σ_n ℓ_n (``mean``),

with b_l a vector (``per_unit``), one scalar broadcast over the layer (``shared``) or absent
(``none``). Activations: sigmoid and tanh from ``exp`` in forms whose autograd derivative
stays accurate in saturation (:func:`_sigmoid`), ``relu``, ``leaky_relu`` (slope
0.01), softplus as ``logaddexp(z, 0)`` (exact for every z, unlike ``F.softplus``, which
returns z itself above its threshold of 20), identity. Per-sample losses ℓ_n, K outputs:

    half_sse    Σ_k ½(a_k - y_k)²          sse     Σ_k (a_k - y_k)²
    mse         (1/K) Σ_k (a_k - y_k)²
    bce         Σ_k binary_cross_entropy_with_logits(z_k, y_k)
    softmax_ce  -Σ_k y_k log_softmax(z)_k = (Σ_k y_k) logsumexp(z) - Σ_k y_k z_k

Autograd returns ∂E/∂θ for every parameter and δ_l = ∂E/∂z_l for every layer (the
pre-activations are passed to ``torch.autograd.grad`` as inputs, which is what
``retain_grad`` on each of them would give, without leaving state on the tensors).

At a ReLU kink (z exactly 0) PyTorch takes the left derivative, relu'(0) = 0 and
leaky_relu'(0) = 0.01. A :class:`KinkChoice` marks entries to treat as lying on the kink
and picks the left or the right derivative (1) there, so a check can tell a different
convention at the kink from a wrong formula.

The module is itself an implementation of the protocol (:func:`loss`, :func:`gradients`,
:func:`intermediates`, :func:`step`, the update θ - lr·g done in torch by :func:`descend`).
torch is imported on first use only, so importing this module (and ``manualbp``) stays fast.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from manualbp.architecture import Architecture
from manualbp.errors import ParameterError, UsageError
from manualbp.facts import KINK_SLOPES, LEAKY_SLOPE
from manualbp.params import Params, check_batch, check_frozen, check_params

__all__ = [
    "KINK_SIDES",
    "KINK_SLOPES",
    "LEAKY_SLOPE",
    "Backprop",
    "KinkChoice",
    "activation_derivative",
    "backprop",
    "descend",
    "gradients",
    "intermediates",
    "loss",
    "output_loss_gradient",
    "output_loss_terms",
    "step",
    "threads",
]

name = "manualbp.torch_mirror"
supports_complex = False

#: The one-sided derivatives a :class:`KinkChoice` can take at a ReLU or leaky ReLU kink.
KINK_SIDES: tuple[str, ...] = ("left", "right")


def _torch() -> Any:
    import torch  # deferred: a second of import time, paid only when the mirror runs

    return torch


@dataclass(frozen=True)
class Backprop:
    """What the mirror computes for one case: E, ∂E/∂θ by name, and per layer z_l, a_l,
    δ_l = ∂E/∂z_l and the activation's derivative f_l'(z_l) (lists of length L, entry
    l - 1 is layer l, each (N, n_l))."""

    loss: float
    gradients: dict[str, np.ndarray]
    z: list[np.ndarray]
    a: list[np.ndarray]
    delta: list[np.ndarray]
    derivative: list[np.ndarray]


@dataclass(frozen=True)
class KinkChoice:
    """Entries of each z_l to treat as lying on the ReLU kink, and the one-sided derivative
    to take there: ``side="left"`` gives relu' = 0, leaky_relu' = 0.01 (PyTorch's choice at
    exactly 0), ``"right"`` gives 1. ``masks[l - 1]`` is a boolean (N, n_l) array or None."""

    side: str
    masks: tuple[np.ndarray | None, ...]


def _kinked(torch: Any, z: Any, slope: float, at_kink: Any | None, side: str) -> Any:
    """z for z > 0, slope·z for z < 0; at the ``at_kink`` entries the derivative is the
    ``side`` one (the value there moves by at most |z|, which is within rounding of 0)."""
    if at_kink is None:
        functional = torch.nn.functional
        return functional.relu(z) if slope == 0.0 else functional.leaky_relu(z, slope)
    mask = torch.as_tensor(at_kink)
    positive = z > 0
    positive = positive | mask if side == "right" else positive & ~mask
    return torch.where(positive, z, slope * z)


def _logistic_parts(torch: Any, z: Any) -> tuple[Any, Any]:
    """(s, e): s = +1 where z >= 0, else -1 (a constant to autograd), e = exp(-s·z) <= 1."""
    s = torch.where(z >= 0, 1.0, -1.0).to(z.dtype)
    return s, torch.exp(-s * z)


def _sigmoid(torch: Any, z: Any) -> Any:
    """σ(z) = 1/(1 + e) for z >= 0, e/(1 + e) below, e = exp(-|z|), built from plain
    operations so that autograd's derivative is e/(1 + e)², accurate to rounding even where
    the unit saturates. ``torch.sigmoid``'s backward is y(1 - y), in which 1 - y cancels:
    at z ≈ 34 it is off by ~4 % (seen in the false-alarm campaign, where the complex step
    sided with the engine's accurate derivative)."""
    s, e = _logistic_parts(torch, z)
    return torch.where(s > 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _tanh(torch: Any, z: Any) -> Any:
    """tanh(z) = s·(1 - e)/(1 + e), e = exp(-2|z|): autograd's derivative is 4e/(1 + e)²,
    accurate where ``torch.tanh``'s backward 1 - y² cancels (see :func:`_sigmoid`).
    Near z = 0, 1 - e is taken as -expm1(-2|z|), which keeps the value's digits there;
    not everywhere, because expm1's backward, 1 + expm1(x), rounds to 0 for x < -37."""
    s, e = _logistic_parts(torch, 2.0 * z)
    one_minus_e = torch.where(e > 0.5, -torch.expm1(-2.0 * s * z), 1.0 - e)
    return s * one_minus_e / (1.0 + e)


_SMOOTH: dict[str, Callable[[Any, Any], Any]] = {
    "sigmoid": _sigmoid,
    "tanh": _tanh,
    "softplus": lambda torch, z: torch.logaddexp(z, torch.zeros_like(z)),
    "identity": lambda torch, z: z,
}
#: Per-output loss terms ℓ_k (N, K) of the losses that are sums over the outputs.
_OUTPUT_TERMS: dict[str, Callable[[Any, Any, Any, Any], Any]] = {
    "half_sse": lambda torch, z, a, y: 0.5 * (a - y) ** 2,
    "sse": lambda torch, z, a, y: (a - y) ** 2,
    "mse": lambda torch, z, a, y: (a - y) ** 2 / a.shape[-1],
    "bce": lambda torch, z, a, y: torch.nn.functional.binary_cross_entropy_with_logits(
        z, y, reduction="none"
    ),
}


def _per_sample_loss(torch: Any, loss_name: str, z: Any, a: Any, y: Any) -> Any:
    """ℓ_n (N,) from the output pre-activations z, activations a and targets y (N, K)."""
    if loss_name == "softmax_ce":
        return -(y * torch.nn.functional.log_softmax(z, dim=-1)).sum(dim=-1)
    return _OUTPUT_TERMS[loss_name](torch, z, a, y).sum(dim=-1)


def _real(name: str, array: np.ndarray) -> np.ndarray:
    if np.iscomplexobj(array):
        raise ParameterError(f"{name}: got a complex array, expected real (the mirror is float64)")
    return np.asarray(array, dtype=np.float64)


def _leaves(torch: Any, arch: Architecture, params: Mapping[str, object]) -> dict[str, Any]:
    checked = check_params(arch, params)
    return {
        key: torch.tensor(_real(key, value), dtype=torch.float64, requires_grad=True)
        for key, value in checked.items()
    }


def _activate(torch: Any, arch: Architecture, layer: int, z: Any, kinks: KinkChoice | None) -> Any:
    """a_l = f_l(z_l) for layer ``layer`` (1-based), with the kink choice if one is given."""
    activation = arch.activations[layer - 1]
    if activation not in KINK_SLOPES:
        return _SMOOTH[activation](torch, z)
    at_kink = kinks.masks[layer - 1] if kinks is not None else None
    return _kinked(torch, z, KINK_SLOPES[activation], at_kink, kinks.side if kinks else "left")


def _forward(
    torch: Any,
    arch: Architecture,
    theta: Mapping[str, Any],
    x: Any,
    y: Any,
    kinks: KinkChoice | None,
) -> tuple[Any, list[Any], list[Any]]:
    """E, [z_1..z_L], [a_1..a_L] as torch tensors in the autograd graph of ``theta``."""
    zs, activations = [], []
    a = x
    for layer in range(1, arch.depth + 1):
        z = a @ theta[f"W{layer}"].T
        if arch.bias != "none":
            z = z + theta[f"b{layer}"]
        a = _activate(torch, arch, layer, z, kinks)
        zs.append(z)
        activations.append(a)
    per_sample = _per_sample_loss(torch, arch.loss, zs[-1], a, y)
    E = per_sample.sum() if arch.reduction == "sum" else per_sample.mean()
    return E, zs, activations


def _batch(torch: Any, arch: Architecture, x: object, y: object) -> tuple[Any, Any]:
    x_arr, y_arr = check_batch(arch, x, y)
    return (
        torch.tensor(_real("x", x_arr), dtype=torch.float64),
        torch.tensor(_real("y", y_arr), dtype=torch.float64),
    )


def _check_kinks(arch: Architecture, kinks: KinkChoice | None) -> None:
    if kinks is None:
        return
    if kinks.side not in KINK_SIDES:
        raise UsageError(f"kinks.side: got {kinks.side!r}, expected one of {', '.join(KINK_SIDES)}")
    if len(kinks.masks) != arch.depth:
        raise UsageError(f"kinks.masks: got {len(kinks.masks)} entries, expected {arch.depth}")


def backprop(
    arch: Architecture,
    params: Mapping[str, object],
    x: object,
    y: object,
    *,
    kinks: KinkChoice | None = None,
) -> Backprop:
    """E, ∂E/∂θ, and z_l, a_l, δ_l = ∂E/∂z_l, f_l'(z_l) per layer, by torch autograd.

    params as :meth:`Architecture.param_shapes`; x (N, inputs), y (N, outputs). Gradients
    come back with their parameter's shape, per-layer arrays as (N, n_l). ``kinks`` chooses
    the derivative at entries on a ReLU kink (default: PyTorch's, the left one at z = 0).
    """
    _check_kinks(arch, kinks)
    torch = _torch()
    theta = _leaves(torch, arch, params)
    x_t, y_t = _batch(torch, arch, x, y)
    E, zs, activations = _forward(torch, arch, theta, x_t, y_t, kinks)
    derivatives = torch.autograd.grad(E, [*theta.values(), *zs])
    grads = derivatives[: len(theta)]
    deltas = derivatives[len(theta) :]
    return Backprop(
        loss=float(E.item()),
        gradients={key: g.numpy() for key, g in zip(theta, grads, strict=True)},
        z=[z.detach().numpy() for z in zs],
        a=[a.detach().numpy() for a in activations],
        delta=[d.numpy() for d in deltas],
        derivative=_slopes(torch, arch, zs, kinks),
    )


def _slopes(torch: Any, arch: Architecture, zs: list[Any], kinks: KinkChoice | None) -> list:
    """f_l'(z_l) for every layer by one autograd call on detached copies of the z_l (the
    activations act element-wise, so the gradient of Σ f(z) is f'(z))."""
    leaves = [z.detach().requires_grad_() for z in zs]
    total = sum(
        _activate(torch, arch, layer, z, kinks).sum() for layer, z in enumerate(leaves, start=1)
    )
    return [slope.numpy() for slope in torch.autograd.grad(total, leaves)]


def activation_derivative(activation: str, z: np.ndarray) -> np.ndarray:
    """f'(z) of ``activation`` at every entry of ``z`` (any shape, real), by autograd (the
    left derivative, PyTorch's, at a kink)."""
    torch = _torch()
    leaf = torch.tensor(_real("z", np.asarray(z)), dtype=torch.float64, requires_grad=True)
    arch_layer = Architecture(sizes=(1, 1), activations=(activation,), loss="half_sse")
    (slope,) = torch.autograd.grad(_activate(torch, arch_layer, 1, leaf, None).sum(), [leaf])
    return slope.numpy()


def _batch_factor(arch: Architecture, n: int) -> float:
    return 1.0 / n if arch.reduction == "mean" else 1.0


def output_loss_terms(
    arch: Architecture, z: np.ndarray, a: np.ndarray, y: np.ndarray
) -> np.ndarray:
    """r·ℓ_k (N, K) at the given output z_L, a_L and targets y, r = 1 (sum) or 1/N (mean):
    the terms that sum to E, for the losses that are sums over the outputs (not softmax_ce)."""
    if arch.loss not in _OUTPUT_TERMS:
        raise UsageError(f"loss {arch.loss!r} is not a sum of per-output terms")
    torch = _torch()
    z_t, a_t, y_t = (
        torch.tensor(_real(k, np.asarray(v))) for k, v in (("z", z), ("a", a), ("y", y))
    )
    terms = _OUTPUT_TERMS[arch.loss](torch, z_t, a_t, y_t)
    return _batch_factor(arch, y_t.shape[0]) * terms.numpy()


def output_loss_gradient(
    arch: Architecture, z: np.ndarray, a: np.ndarray, y: np.ndarray
) -> np.ndarray:
    """r·∂ℓ/∂a_L (N, K) at the given output a_L and targets y, by autograd of the loss written
    in a (bce as -[y log a + (1 - y) log(1 - a)]; softmax_ce, a loss of the logits, is
    differentiated in z = a)."""
    torch = _torch()
    a_t = torch.tensor(_real("a", np.asarray(a)), dtype=torch.float64, requires_grad=True)
    y_t = torch.tensor(_real("y", np.asarray(y)), dtype=torch.float64)
    if arch.loss == "bce":
        per_sample = -(y_t * torch.log(a_t) + (1.0 - y_t) * torch.log1p(-a_t)).sum(dim=-1)
    else:
        per_sample = _per_sample_loss(torch, arch.loss, a_t, a_t, y_t)
    (gradient,) = torch.autograd.grad(per_sample.sum(), [a_t])
    return _batch_factor(arch, y_t.shape[0]) * gradient.numpy()


def descend(
    params: Mapping[str, np.ndarray],
    grads: Mapping[str, np.ndarray],
    lr: float,
    frozen: frozenset[str] = frozenset(),
) -> Params:
    """θ' = θ - lr·g computed in torch for every name not in ``frozen`` (those are copied).

    Written here rather than borrowed, so that the update rule is checked independently.
    """
    torch = _torch()
    updated: Params = {}
    for key, value in params.items():
        theta = torch.tensor(_real(key, np.asarray(value)), dtype=torch.float64)
        if key not in frozen:
            theta = theta - lr * torch.tensor(np.asarray(grads[key]), dtype=torch.float64)
        updated[key] = theta.numpy()
    return updated


@contextmanager
def threads(count: int | None) -> Iterator[None]:
    """Run the body with torch limited to ``count`` intra-op threads (None: unchanged).

    Alternating NumPy (OpenBLAS) and torch (OpenMP) calls in one process makes the two
    thread pools spin against each other on a small machine; one torch thread avoids it.
    """
    if count is None:
        yield
        return
    torch = _torch()
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def loss(arch: Architecture, params: Mapping[str, object], x: object, y: object) -> float:
    """E(θ) on the batch (protocol ``loss``)."""
    torch = _torch()
    theta = _leaves(torch, arch, params)
    x_t, y_t = _batch(torch, arch, x, y)
    with torch.no_grad():
        E, _, _ = _forward(torch, arch, theta, x_t, y_t, None)
    return float(E.item())


def gradients(
    arch: Architecture, params: Mapping[str, object], x: object, y: object
) -> tuple[float, dict[str, np.ndarray]]:
    """(E, {name: ∂E/∂name}) by autograd (protocol ``gradients``)."""
    result = backprop(arch, params, x, y)
    return result.loss, result.gradients


def intermediates(
    arch: Architecture, params: Mapping[str, object], x: object, y: object
) -> dict[str, list[np.ndarray]]:
    """{"z": [z_l], "a": [a_l], "delta": [δ_l]} for l = 1..L, each (N, n_l)."""
    result = backprop(arch, params, x, y)
    return {"z": result.z, "a": result.a, "delta": result.delta}


def step(
    arch: Architecture,
    params: Mapping[str, object],
    x: object,
    y: object,
    lr: float,
    frozen: frozenset[str] | set[str] = frozenset(),
) -> Params:
    """One gradient-descent step θ - lr·∂E/∂θ, names in ``frozen`` unchanged (protocol
    ``step``)."""
    names = check_frozen(arch, frozen)
    checked = check_params(arch, params)
    return descend(checked, backprop(arch, checked, x, y).gradients, lr, names)

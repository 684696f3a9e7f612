"""The float64 torch reference of each layer kind, its tolerance, and where it has kinks.

For a case, :func:`reference` builds the kind's forward from torch operations (listed in
:func:`_forward`) on the case's arrays, and lets autograd compute the vector-Jacobian
product Jᵀ·dout (the gradient of the loss for a loss layer). It shares nothing with the
layer under check, nor with manualbp's own layers. Two inputs come from the layer's own
output, because they are not functions of the case: dropout's mask (the entries the layer
zeroed; the reference then scales the others by 1/keep) and the eps of a batchnorm object
(:func:`~manualbp.checks.layer.calls.batchnorm_eps`).

Tolerance, as in the MLP autograd check: |impl - ref| <= atol + rtol·|ref| with
rtol = 16·n·eps, n = (entries of out) + (entries of the largest array), the longest chain
of roundings, and atol = rtol·S, S the largest magnitude of the terms summed into the
quantity — for the kinds built from sums of products (affine, conv2d, the nodes, relu,
leaky_relu, dropout, maxpool2d) the same computation on |arrays| and |dout|; for the others
a bound written out in :func:`_bounds`.

Kinks (:func:`kink_masks`): the entries of a gradient whose value the derivative does not
define — x = 0 for relu and leaky_relu, x = y for max, the tied entries of a maxpool window,
every entry of an svm row with a margin within rounding of 0. A comparison that fails only
there is ``inconclusive``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from manualbp.checks.layer.calls import LayerSubject, batchnorm_eps
from manualbp.checks.layer.kinds import LEAKY_SLOPE, SVM_MARGIN
from manualbp.checks.layer.space import LayerCase

SAFETY = 16.0
_EPS = float(np.finfo(np.float64).eps)
#: Kinds whose term magnitudes are the same computation on absolute values.
ABSOLUTE_KINDS = frozenset(
    {"affine", "conv2d", "add", "multiply", "max", "maxpool2d", "relu", "leaky_relu", "dropout"}
)


@dataclass(frozen=True)
class Reference:
    """The reference of one case: ``out`` (the loss as 0-d for a loss), gradients by name
    (``dx``, ...), term scales S by quantity, rtol and n, and the kink masks by gradient."""

    out: np.ndarray
    grads: dict[str, np.ndarray]
    scales: dict[str, float]
    rtol: float
    n: int
    kinks: dict[str, np.ndarray]


def _torch() -> Any:
    import torch  # deferred, as in manualbp.torch_mirror: paid only when a reference runs

    return torch


def _labels(targets: np.ndarray) -> np.ndarray:
    return np.argmax(targets, axis=1) if targets.ndim == 2 else targets.astype(np.int64)


def _forward(
    torch: Any, kind: str, t: dict[str, Any], case: LayerCase, extra: dict[str, Any]
) -> Any:
    """The kind's forward in torch on tensors ``t`` (kinds.py states each formula)."""
    functional = torch.nn.functional
    x, c = t["x"], case.config
    if kind == "affine":
        return x.reshape(x.shape[0], -1) @ t["w"] + t["b"]
    if kind == "conv2d":
        return functional.conv2d(x, t["w"], t["b"], stride=c["stride"], padding=c["pad"])
    if kind == "maxpool2d":
        return functional.max_pool2d(x, (c["pool_h"], c["pool_w"]), stride=c["stride"])
    if kind == "batchnorm":
        centred = x - x.mean(dim=0)
        variance = (centred**2).mean(dim=0)
        return t["gamma"] * centred / torch.sqrt(variance + extra["eps"]) + t["beta"]
    if kind == "dropout":
        return x * extra["mask"] / c["keep"]
    if kind in ("add", "multiply", "max"):
        y = t["y"]
        return {"add": x + y, "multiply": x * y, "max": torch.maximum(x, y)}[kind]
    if kind in ("softmax_ce", "svm"):
        labels = torch.as_tensor(_labels(case.targets))
        if kind == "softmax_ce":
            return functional.cross_entropy(x, labels)
        correct = x.gather(1, labels[:, None])
        margins = torch.clamp(x - correct + SVM_MARGIN, min=0.0)
        others = torch.ones_like(x).scatter(1, labels[:, None], 0.0)
        return (margins * others).sum() / x.shape[0]
    if kind in ("half_sse", "sse", "mse"):
        squares = (x - torch.as_tensor(case.targets, dtype=torch.float64)) ** 2
        return {"half_sse": 0.5 * squares.sum(), "sse": squares.sum(), "mse": squares.mean()}[kind]
    return {
        "relu": torch.relu,
        "leaky_relu": lambda z: functional.leaky_relu(z, LEAKY_SLOPE),
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "softplus": lambda z: torch.logaddexp(z, torch.zeros_like(z)),
    }[kind](x)


def _vjp(
    torch: Any,
    kind: str,
    values: dict[str, np.ndarray],
    case: LayerCase,
    dout: np.ndarray,
    extra: dict[str, Any],
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(out, {d<name>: gradient}) of the torch forward at ``values`` for upstream ``dout``."""
    leaves = {
        name: torch.tensor(value, dtype=torch.float64, requires_grad=True)
        for name, value in values.items()
    }
    out = _forward(torch, kind, leaves, case, extra)
    target = out if out.ndim == 0 else (out * torch.as_tensor(dout)).sum()
    grads = torch.autograd.grad(target, list(leaves.values()), allow_unused=True)
    named = {
        f"d{name}": np.zeros_like(values[name]) if g is None else g.detach().numpy()
        for name, g in zip(leaves, grads, strict=True)
    }
    return out.detach().numpy(), named


def _bounds(
    kind: str, case: LayerCase, dout: np.ndarray, out: np.ndarray, eps: float
) -> dict[str, float]:
    """S for the kinds not in ABSOLUTE_KINDS (module docstring)."""
    x = case.values["x"]
    if kind in ("sigmoid", "tanh", "softplus"):
        return {"out": float(np.max(np.abs(out))) + 1.0, "dx": 2.0 * float(np.max(np.abs(dout)))}
    if kind == "batchnorm":
        gamma, beta = np.abs(case.values["gamma"]), np.abs(case.values["beta"])
        sigma = np.sqrt(np.var(x, axis=0) + eps)
        xhat = (np.abs(x) + np.abs(x.mean(axis=0))) / sigma
        ad = np.abs(dout)
        return {
            "out": float(np.max(gamma * xhat + beta)),
            "dgamma": float(np.max(np.sum(ad * xhat, axis=0))),
            "dbeta": float(np.max(np.sum(ad, axis=0))),
            "dx": float(
                np.max(gamma / sigma * (ad + ad.mean(axis=0) + xhat * (ad * xhat).mean(axis=0)))
            ),
        }
    n, k = x.shape
    ax = np.abs(x)
    if kind == "softmax_ce":
        loss = float(np.mean(2.0 * ax.max(axis=1))) + math.log(k) + 1.0
        return {"loss": loss, "dx": (1.0 + 2.0 * float(ax.max())) / n}
    if kind == "svm":
        correct = ax[np.arange(n), _labels(case.targets)][:, None]
        return {"loss": float(np.sum(ax + correct + SVM_MARGIN)) / n, "dx": k / n}
    spread = ax + np.abs(case.targets)
    factor = {
        "half_sse": (0.5, 1.0),
        "sse": (1.0, 2.0),
        "mse": (1.0 / spread.size, 2.0 / spread.size),
    }
    loss_factor, slope_factor = factor[kind]
    return {
        "loss": loss_factor * float(np.sum(spread**2)),
        "dx": slope_factor * float(spread.max()),
    }


def kink_masks(kind: str, case: LayerCase) -> dict[str, np.ndarray]:
    """{gradient: entries at a kink} (module docstring); empty for kinds without kinks."""
    x = case.values["x"]
    if kind in ("relu", "leaky_relu"):
        return {"dx": x == 0.0}
    if kind == "max":
        tie = x == case.values["y"]
        return {"dx": tie, "dy": tie}
    if kind == "maxpool2d":
        return {"dx": _pool_ties(x, case.config)}
    if kind == "svm":
        n = x.shape[0]
        labels = _labels(case.targets)
        correct = x[np.arange(n), labels][:, None]
        margins = x - correct + SVM_MARGIN
        band = 4.0 * _EPS * (np.abs(x) + np.abs(correct) + SVM_MARGIN)
        at_kink = np.abs(margins) <= band
        at_kink[np.arange(n), labels] = False
        return {"dx": np.repeat(at_kink.any(axis=1, keepdims=True), x.shape[1], axis=1)}
    return {}


def _pool_ties(x: np.ndarray, c: dict[str, Any]) -> np.ndarray:
    """The entries equal to their window's maximum in windows where it occurs twice or more."""
    mask = np.zeros(x.shape, dtype=bool)
    ph, pw, s = c["pool_h"], c["pool_w"], c["stride"]
    for i in range((x.shape[2] - ph) // s + 1):
        for j in range((x.shape[3] - pw) // s + 1):
            window = x[:, :, i * s : i * s + ph, j * s : j * s + pw]
            top = window.max(axis=(2, 3), keepdims=True)
            tied = window == top
            several = tied.sum(axis=(2, 3), keepdims=True) > 1
            mask[:, :, i * s : i * s + ph, j * s : j * s + pw] |= tied & several
    return mask


def reference(
    subject: LayerSubject, case: LayerCase, dout: np.ndarray, impl_out: np.ndarray
) -> Reference:
    """The torch reference of the subject's kind at the case (module docstring); ``impl_out``
    is the layer's own output (for dropout's mask and a batchnorm object's eps)."""
    assert subject.kind is not None
    torch = _torch()
    kind = subject.kind.name
    values = {name: case.values[name] for name in subject.arrays}
    eps = batchnorm_eps(subject, case, impl_out)
    extra: dict[str, Any] = {"eps": eps}
    if kind == "dropout":
        extra["mask"] = torch.as_tensor((impl_out != 0.0).astype(np.float64))
    out, grads = _vjp(torch, kind, values, case, dout, extra)
    if kind in ABSOLUTE_KINDS:
        absolute = {name: np.abs(value) for name, value in values.items()}
        abs_out, abs_grads = _vjp(torch, kind, absolute, case, np.abs(dout), extra)
        scales = {"out": float(np.max(np.abs(abs_out)))}
        scales |= {name: float(np.max(np.abs(g), initial=0.0)) for name, g in abs_grads.items()}
    else:
        scales = _bounds(kind, case, dout, out, eps)
    n = out.size + max(value.size for value in values.values())
    return Reference(out, grads, scales, SAFETY * n * _EPS, n, kink_masks(kind, case))

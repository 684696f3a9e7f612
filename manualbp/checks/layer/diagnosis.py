"""Diagnosis of a failing layer quantity: the usual layer bug, named in the layer's own words.

:func:`diagnose` reads one failing tensor (``out``, ``loss``, ``dx``, ``dw``, ``dgamma``, ...)
against its reference — finite differences of the layer's own forward, or the torch
reference — and the case (x, the parameters, dout), and names the most likely bug, trying:

- shapes: ``not_summed_over_batch`` (impl summed over some axes is the reference: db not
  summed over the batch), ``transposed`` (impl = refᵀ), ``wrong_shape``;
- ``dropout_not_rescaled`` (impl = keep × ref), ``loss_not_divided_by_N`` (a loss N × the
  reference, or dx 1/N × the derivative of the layer's own loss);
- the constant factors and zero of :func:`manualbp.factors.factor_pattern` (sign_flip,
  factor_2, factor_half, factor_N, factor_1/N, factor_K, zero), ``transposed`` (square);
- per kind: ``mask_dropped`` (relu, leaky_relu, max, dropout: dx = dout everywhere),
  ``maxpool_gradient_to_every_element``, ``derivative_at_output`` (sigmoid, tanh, softplus:
  f' evaluated at out), ``batchnorm_mean_terms_missing`` (dx without the terms through the
  batch mean and variance), ``swapped_inputs`` (multiply: dx = dout·x), ``flipped_kernel``
  (conv2d: dw = the reference with both kernel axes reversed);
- ``other`` when nothing fits.

The consistency findings carry their own kinds: ``stale_cache``,
``inconsistent_between_calls``, ``inputs_mutated``; a forward value that fits no pattern is
``wrong_forward``; one within :data:`SMALL` of its largest entry (far beyond rounding, yet
close) is ``small_discrepancy``. Matching uses :func:`manualbp.factors.matches` (|a - b|
<= 1e-6 of the largest entry).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from manualbp.checks.layer.calls import LayerSubject
from manualbp.checks.layer.space import LayerCase
from manualbp.factors import constant_factor, factor_pattern, matches
from manualbp.findings import Finding

#: Every kind this module (and the consistency checks) can name.
LAYER_DIAGNOSES: tuple[str, ...] = (
    "not_summed_over_batch",
    "transposed",
    "wrong_shape",
    "dropout_not_rescaled",
    "loss_not_divided_by_N",
    "sign_flip",
    "factor_2",
    "factor_half",
    "factor_N",
    "factor_1/N",
    "factor_K",
    "zero",
    "mask_dropped",
    "maxpool_gradient_to_every_element",
    "derivative_at_output",
    "batchnorm_mean_terms_missing",
    "swapped_inputs",
    "flipped_kernel",
    "stale_cache",
    "inconsistent_between_calls",
    "inputs_mutated",
    "wrong_forward",
    "small_discrepancy",
    "other",
)

#: A failing quantity within this fraction of its largest entry is a ``small_discrepancy``:
#: far beyond rounding (~1e-13), far below the order-one errors of a wrong formula.
SMALL = 1e-4

#: Kinds whose reference divides the loss by the batch size N.
MEAN_LOSSES = ("softmax_ce", "svm", "mse")


@dataclass(frozen=True)
class Diagnosis:
    """A kind of :data:`LAYER_DIAGNOSES` and the sentence that starts with it."""

    kind: str
    sentence: str


def attach(finding: Finding, diagnosis: Diagnosis) -> Finding:
    """Write ``diagnosis`` on a failing Finding (``diagnosis``, ``detail["diagnosis_kind"]``)."""
    finding.diagnosis = diagnosis.sentence
    finding.detail["diagnosis_kind"] = diagnosis.kind
    return finding


def _found(kind: str, text: str) -> Diagnosis:
    return Diagnosis(kind, f"{kind}: {text}")


def _summed_axes(impl: np.ndarray, ref: np.ndarray) -> tuple[int, ...] | None:
    """Axes of ``impl`` whose sum has ref's shape and values (None if no such axes)."""
    extra = impl.ndim - ref.ndim
    if extra < 1:
        return None
    for axes in itertools.combinations(range(impl.ndim), extra):
        summed = impl.sum(axis=axes)
        if summed.shape == ref.shape and matches(summed, ref):
            return axes
    return None


def shape_diagnosis(
    quantity: str, impl: np.ndarray, ref: np.ndarray | None, array: str
) -> Diagnosis:
    """The pattern of a gradient of the wrong shape (``ref`` None: no reference values)."""
    expected = ref.shape if ref is not None else None
    if ref is not None:
        axes = _summed_axes(impl, ref)
        if axes is not None:
            return _found(
                "not_summed_over_batch",
                f"{quantity} has shape {impl.shape}: not summed over axis "
                f"{', '.join(map(str, axes))} (the batch); its sum over "
                f"{'that axis' if len(axes) == 1 else 'those axes'} is the reference",
            )
        if impl.ndim == 2 and impl.shape == ref.shape[::-1] and matches(impl.T, ref):
            return _found(
                "transposed", f"{quantity} has shape {impl.shape}: it is the reference transposed"
            )
    return _found(
        "wrong_shape",
        f"{quantity} has shape {impl.shape}, expected "
        f"{expected if expected is not None else 'the shape'} of {array}",
    )


def _candidates(
    subject: LayerSubject, case: LayerCase, quantity: str, dout: np.ndarray, eps: float
) -> list[tuple[str, np.ndarray, str]]:
    """(kind, what a buggy layer would return, in words) for the kind's usual bugs."""
    kind = subject.kind.name if subject.kind else None
    v, c = case.values, case.config
    x = v["x"]
    found: list[tuple[str, np.ndarray, str]] = []
    if quantity == "dx" and kind in ("relu", "leaky_relu", "max", "dropout"):
        what = {"relu": "x > 0", "leaky_relu": "x > 0", "max": "x > y", "dropout": "mask"}[kind]
        found.append(
            ("mask_dropped", dout, f"dx = dout on every entry: the {what} mask is dropped")
        )
        if kind == "dropout":
            found.append(("mask_dropped", dout / c["keep"], "dx = dout/keep: the mask is dropped"))
    if quantity == "dy" and kind == "max":
        found.append(("mask_dropped", dout, "dy = dout on every entry: the x < y mask is dropped"))
    if quantity == "dx" and kind in _ACTIVATIONS:
        f, slope = _ACTIVATIONS[kind]
        found.append(
            (
                "derivative_at_output",
                dout * slope(f(x)),
                "dx = dout·f'(out): the derivative is evaluated at the output, not at x",
            )
        )
    if quantity == "dx" and kind == "maxpool2d":
        found.append(
            (
                "maxpool_gradient_to_every_element",
                _every_element(x.shape, dout, c),
                "dx gives each window's dout to every element of the window, not to its maximum",
            )
        )
    if quantity == "dx" and kind == "batchnorm":
        found += _batchnorm_candidates(x, v["gamma"], dout, eps)
    if quantity in ("dx", "dy") and kind == "multiply":
        own = x if quantity == "dx" else v["y"]
        found.append(
            (
                "swapped_inputs",
                dout * own,
                f"{quantity} = dout·{quantity[1]}: each input gets its own value, not the other's",
            )
        )
    return found


def _batchnorm_candidates(
    x: np.ndarray, gamma: np.ndarray, dout: np.ndarray, eps: float
) -> list[tuple[str, np.ndarray, str]]:
    """dx of batchnorm with terms through the batch statistics left out."""
    centred = x - x.mean(axis=0)
    sigma = np.sqrt(np.mean(centred**2, axis=0) + eps)
    xhat = centred / sigma
    scale = gamma / sigma
    mean_dout = dout.mean(axis=0)
    mean_dout_xhat = (dout * xhat).mean(axis=0)
    kind = "batchnorm_mean_terms_missing"
    return [
        (
            kind,
            scale * dout,
            "dx = gamma·dout/σ: both terms through the batch mean and variance "
            "(-mean(dout) and -x̂·mean(dout·x̂)) are missing",
        ),
        (
            kind,
            scale * (dout - mean_dout),
            "dx = gamma·(dout - mean(dout))/σ: the term through "
            "the batch variance (-x̂·mean(dout·x̂)) is missing",
        ),
        (
            kind,
            scale * (dout - xhat * mean_dout_xhat),
            "dx = gamma·(dout - x̂·mean(dout·x̂))/σ: "
            "the term through the batch mean (-mean(dout)) is missing",
        ),
    ]


def _every_element(shape: tuple[int, ...], dout: np.ndarray, c: dict[str, Any]) -> np.ndarray:
    """Each window's dout added to every element of the window."""
    dx = np.zeros(shape)
    ph, pw, s = c["pool_h"], c["pool_w"], c["stride"]
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            dx[:, :, i * s : i * s + ph, j * s : j * s + pw] += dout[:, :, i : i + 1, j : j + 1]
    return dx


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


_ACTIVATIONS = {
    "sigmoid": (_sigmoid, lambda z: _sigmoid(z) * _sigmoid(-z)),
    "tanh": (np.tanh, lambda z: 1.0 - np.tanh(z) ** 2),
    "softplus": (lambda z: np.logaddexp(z, 0.0), _sigmoid),
}


def _scaled(
    subject: LayerSubject,
    case: LayerCase,
    quantity: str,
    impl: np.ndarray,
    ref: np.ndarray,
    check: str,
) -> Diagnosis | None:
    """``dropout_not_rescaled`` and ``loss_not_divided_by_N``: factors with a layer meaning."""
    kind = subject.kind.name if subject.kind else None
    c = constant_factor(impl, ref)
    if c is None:
        return None
    n = case.batch_size
    if kind == "dropout" and abs(c - case.config["keep"]) <= 1e-6:
        return _found(
            "dropout_not_rescaled",
            f"{quantity} = keep × reference (keep = {case.config['keep']:g}): kept entries are "
            "not divided by keep (inverted dropout scales by 1/keep)",
        )
    if kind in MEAN_LOSSES and n > 1:
        if quantity == "loss" and abs(c - n) <= 1e-6 * n:
            return _found(
                "loss_not_divided_by_N",
                f"loss = N × reference (N = {n}): the loss is summed over the batch, not averaged",
            )
        if quantity == "dx" and check == "fd" and abs(c * n - 1) <= 1e-6:
            return _found(
                "loss_not_divided_by_N",
                f"dx = 1/N × the derivative of the layer's own loss (N = {n}): the loss is not "
                "divided by N while dx is (or dx is divided twice)",
            )
    return None


def _small(quantity: str, impl: np.ndarray, ref: np.ndarray) -> Diagnosis | None:
    """``small_discrepancy`` when impl is within SMALL of the largest entry of ref."""
    scale = max(float(np.max(np.abs(ref), initial=0.0)), float(np.max(np.abs(impl), initial=0.0)))
    relative = float(np.max(np.abs(impl - ref), initial=0.0)) / scale if scale else 0.0
    if not (np.isfinite(relative) and relative <= SMALL):
        return None
    return _found(
        "small_discrepancy",
        f"{quantity} agrees with the reference to {relative:.2g} of its largest entry, far "
        "beyond rounding: the layer computes a slightly different function (a small constant "
        "such as 1e-7 added inside a log or a square root is the usual cause)",
    )


def diagnose(
    subject: LayerSubject,
    case: LayerCase,
    quantity: str,
    impl: np.ndarray,
    ref: np.ndarray,
    *,
    dout: np.ndarray,
    eps: float = 0.0,
    check: str = "fd",
) -> Diagnosis:
    """The likeliest bug behind ``impl`` != ``ref`` for ``quantity`` (module docstring).

    ``dout`` is the upstream gradient the case used; ``eps`` batchnorm's eps; ``check`` says
    whose reference ``ref`` is (``fd``: the layer's own forward; ``autograd``: torch).
    """
    array = quantity[1:] if quantity.startswith("d") else quantity
    if impl.shape != ref.shape:
        return shape_diagnosis(quantity, impl, ref, array)
    small = _small(quantity, impl, ref)
    if small is not None:
        return small
    found = _scaled(subject, case, quantity, impl, ref, check)
    if found is not None:
        return found
    facts: dict[str, Any] = {"batch_size": case.batch_size}
    if subject.is_loss and impl.ndim == 2:
        facts |= {"sizes": [impl.shape[1]], "loss": subject.kind.name if subject.kind else ""}
    pattern = factor_pattern(impl.ravel(), ref.ravel(), facts, quantity)
    if pattern is not None and pattern.kind != "other":
        return _found(pattern.kind, pattern.explanation)
    if impl.ndim == 2 and impl.shape[0] == impl.shape[1] and matches(impl, ref.T):
        return _found("transposed", f"{quantity} = (reference)ᵀ on every entry")
    conv_dw = subject.kind is not None and subject.kind.name == "conv2d" and quantity == "dw"
    if conv_dw and impl.shape[-1] > 1 and matches(impl, ref[..., ::-1, ::-1]):
        return _found(
            "flipped_kernel",
            "dw = the reference with both kernel axes reversed: convolution and "
            "cross-correlation mixed up",
        )
    for kind, candidate, words in _candidates(subject, case, quantity, dout, eps):
        if candidate.shape == impl.shape and matches(impl, candidate):
            return _found(kind, words)
    if quantity in ("out", "loss"):
        return _found(
            "wrong_forward", f"{quantity} disagrees: the forward computes another function"
        )
    if pattern is not None:
        return _found(pattern.kind, pattern.explanation)
    return _found("other", f"{quantity} disagrees with no recognised pattern")

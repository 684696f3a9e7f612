"""Activation functions a = f(z) and their derivatives f'(z), element-wise.

Every function accepts real or complex arrays and is analytic wherever the real function is
differentiable, so the complex-step check can differentiate through it. Branches (ReLU,
the overflow-free forms of sigmoid and softplus) are chosen on the real part of z, which a
complex step of size ih does not change.

Derivatives take both z and the cached output a = f(z). sigmoid' and tanh' are computed
from z as e/(1 + e)² with e = e^{-|z|} (:func:`logistic_slope`), not as a(1 - a) and
1 - a²: where a unit saturates, 1 - a cancels catastrophically (at z = 32, 1 - σ(z) ≈ 1e-14
keeps about two correct digits), and a gradient that flows through such a unit is wrong in
its second digit. The forms in a are those the articles use; they are exact only away from
saturation.

Speed: on real arrays every branch is taken by ``np.maximum``/``np.minimum``/``np.abs``
(ReLU is max(z, 0), σ(z) = e^{min(z,0)} / (1 + e^{-|z|})) and masks enter products as 0/1
factors, never through ``np.where``, whose data-dependent branches make it about ten times
slower than an element-wise product on random signs. Complex arrays take the ``np.where``
forms on Re z, which agree with the real forms on the real axis. Temporaries are written in
place (``out=``): every NumPy pass costs about a nanosecond per entry, and a new large array
its page faults too. The sigmoid takes one exponential, e = e^{-|z|}, and its forward pass
keeps e and 1 + e for the backward pass, which then forms σ' = e/(1 + e)² without a second
one (:class:`SlopeKeepingForward`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from manualbp.facts import LEAKY_SLOPE

#: f'(z) as a function of values a forward pass kept (see :class:`SlopeKeepingForward`).
Slope = Callable[[], np.ndarray]


def _real_sign(z: np.ndarray) -> np.ndarray:
    """+1 where Re z >= 0, -1 elsewhere (so that s·z has a non-negative real part)."""
    return np.where(np.real(z) >= 0, 1.0, -1.0)


def logistic_slope(z: np.ndarray) -> np.ndarray:
    """σ'(z) = σ(z)·σ(-z) = e / (1 + e)² with e = e^{-|z|} (e^{-s·z}, s the sign of Re z, for
    complex z): one exponential, no cancellation, no overflow. tanh'(z) = 4·σ'(2z)."""
    if np.iscomplexobj(z):
        e = np.exp(-_real_sign(z) * z)
        return e / (1.0 + e) ** 2
    e = _exp_minus_abs(z)
    denominator = np.add(e, 1.0, out=_new(z))
    return _slope(e, denominator, out=denominator)


def _slope(e: np.ndarray, denominator: np.ndarray, out: np.ndarray) -> np.ndarray:
    """σ' = e / denominator² with denominator = 1 + e, written into ``out``."""
    np.square(denominator, out=out)
    return np.divide(e, out, out=out)


def _new(z: np.ndarray) -> np.ndarray:
    """An uninitialised real array of z's shape and floating dtype, for a result written with
    ``out=`` (an array even when z is 0-d, where a ufunc would return a scalar)."""
    return np.empty_like(z, dtype=np.result_type(z, 0.0))


def _exp_minus_abs(z: np.ndarray) -> np.ndarray:
    """e = e^{-|z|} for real z, in one new array: -|z| is z with its sign set negative
    (``copysign``, one pass), then exponentiated in place."""
    e = np.copysign(z, -1.0, out=_new(z))
    return np.exp(e, out=e)


def _logistic_parts(z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(σ(z), e, 1 + e) for real z, with e = e^{-|z|}: σ(z) = e^{min(z, 0)} / (1 + e), whose
    numerator is e where z < 0 and 1 elsewhere, that is max(e, [z >= 0]) as e <= 1, bit for
    bit the same number as the exponential would give."""
    e = _exp_minus_abs(z)
    denominator = np.add(e, 1.0, out=_new(z))
    a = np.maximum(e, z >= 0, out=_new(z))
    return np.divide(a, denominator, out=a), e, denominator


def sigmoid(z: np.ndarray) -> np.ndarray:
    """σ(z) = 1 / (1 + e^{-z}) = e^{min(z, 0)} / (1 + e^{-|z|}): no exponent is positive, so
    nothing overflows (complex z: the same forms with the sign of Re z). Real z takes one
    exponential (:func:`_logistic_parts`)."""
    if not np.iscomplexobj(z):
        return _logistic_parts(z)[0]
    s = _real_sign(z)
    e = np.exp(-s * z)
    r = 1.0 / (1.0 + e)
    return np.where(s > 0, r, e * r)


def sigmoid_derivative(z: np.ndarray, a: np.ndarray) -> np.ndarray:
    """σ'(z) from z (:func:`logistic_slope`); a is not used: a(1 - a) cancels in saturation."""
    return logistic_slope(z)


def sigmoid_with_slope(z: np.ndarray) -> tuple[np.ndarray, Slope | None]:
    """σ(z), and σ'(z) = e / (1 + e)² as a function of the same e = e^{-|z|} and 1 + e, so
    that the backward pass takes no second exponential (bit for bit :func:`logistic_slope`).
    Complex z: no such function (None), σ' is computed from z."""
    if np.iscomplexobj(z):
        return sigmoid(z), None
    a, e, denominator = _logistic_parts(z)
    return a, lambda: _slope(e, denominator, out=_new(z))


def softplus(z: np.ndarray) -> np.ndarray:
    """softplus(z) = log(1 + e^z) = max(z, 0) + log(1 + e^{-|z|}), without overflow."""
    if not np.iscomplexobj(z):
        return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))
    s = _real_sign(z)
    return np.where(s > 0, z, 0.0) + np.log1p(np.exp(-s * z))


def relu(z: np.ndarray) -> np.ndarray:
    """relu(z) = max(z, 0); for complex z, z where Re z > 0, else 0."""
    if np.iscomplexobj(z):
        return np.where(np.real(z) > 0, z, 0.0)
    return np.maximum(z, 0.0)


def relu_derivative(z: np.ndarray, a: np.ndarray) -> np.ndarray:
    """relu'(z) = 1 where z > 0, else 0 (0 at the kink z = 0, as PyTorch)."""
    return (np.real(z) > 0).astype(np.result_type(z, np.float64))


def leaky_relu(z: np.ndarray) -> np.ndarray:
    """leaky_relu(z) = z where z > 0, else 0.01·z; for real z that is max(z, 0.01·z)."""
    if np.iscomplexobj(z):
        return np.where(np.real(z) > 0, z, LEAKY_SLOPE * z)
    return np.maximum(z, LEAKY_SLOPE * z)


def leaky_relu_derivative(z: np.ndarray, a: np.ndarray) -> np.ndarray:
    """leaky_relu'(z) = 0.01 + 0.99·[z > 0]: 1 where z > 0, else 0.01 (0.01 at the kink, as
    PyTorch); both values are exact in float64 (0.99 + 0.01 rounds to 1.0)."""
    return LEAKY_SLOPE + (1.0 - LEAKY_SLOPE) * relu_derivative(z, a)


@dataclass(frozen=True)
class SlopeKeepingForward:
    """``evaluate(z) -> (a, slope)``: f(z), computed so that ``slope()`` gives f'(z) from its
    intermediate values, equal bit for bit to ``forward`` and ``derivative`` — the pair it
    was written for (slope None: no such values for this z)."""

    forward: Callable[[np.ndarray], np.ndarray]
    derivative: Callable[[np.ndarray, np.ndarray], np.ndarray]
    evaluate: Callable[[np.ndarray], tuple[np.ndarray, Slope | None]]


@dataclass(frozen=True)
class Activation:
    """An element-wise activation: ``forward(z) -> a`` and ``derivative(z, a) -> f'(z)``.

    ``kinks`` lists the points where f is not differentiable (ReLU and leaky ReLU at 0).
    ``fused`` (optional) computes both from shared intermediate values (the sigmoid's e).
    """

    name: str
    forward: Callable[[np.ndarray], np.ndarray]
    derivative: Callable[[np.ndarray, np.ndarray], np.ndarray]
    kinks: tuple[float, ...] = ()
    fused: SlopeKeepingForward | None = None

    def forward_with_slope(self, z: np.ndarray) -> tuple[np.ndarray, Slope | None]:
        """(a = f(z), slope): slope() = f'(z) from the forward pass's own values when ``fused``
        was written for this very ``forward`` and ``derivative`` (a copy with either one
        replaced, as a mutant is, gets None); else None, and f'(z) is ``derivative(z, a)``."""
        fused = self.fused
        if (
            fused is not None
            and fused.forward is self.forward
            and fused.derivative is self.derivative
        ):
            return fused.evaluate(z)
        return self.forward(z), None


ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": Activation(
        "sigmoid",
        sigmoid,
        sigmoid_derivative,
        fused=SlopeKeepingForward(sigmoid, sigmoid_derivative, sigmoid_with_slope),
    ),
    "tanh": Activation("tanh", np.tanh, lambda z, a: 4.0 * logistic_slope(2.0 * z)),
    "relu": Activation("relu", relu, relu_derivative, kinks=(0.0,)),
    "leaky_relu": Activation("leaky_relu", leaky_relu, leaky_relu_derivative, kinks=(0.0,)),
    "softplus": Activation("softplus", softplus, lambda z, a: sigmoid(z)),
    "identity": Activation("identity", lambda z: z, lambda z, a: np.ones_like(z)),
}

"""The autograd check's tolerance: the magnitude of the terms behind each compared quantity.

Two correct float64 implementations differ by rounding, and rounding is proportional to the
terms summed into a result, not to the result (see :func:`term_scales` and the package
docstring).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from manualbp import torch_mirror as mirror
from manualbp.architecture import Architecture
from manualbp.facts import LOSS_FACTS, TRANSCENDENTAL
from manualbp.params import Params

#: Multiple of the rounding bound n·eps allowed (see the module docstring).
SAFETY = 16.0
EPS = float(np.finfo(np.float64).eps)


def rounding_rtol(arch: Architecture, batch_size: int) -> float:
    """rtol = SAFETY·n·eps with n = Σ sizes + N, the longest chain of roundings."""
    return SAFETY * (sum(arch.sizes) + batch_size) * EPS


@dataclass(frozen=True)
class TermScales:
    """Magnitudes of the terms behind each quantity of one case (see :func:`term_scales`).

    ``scale`` maps ``loss``, ``grad.<name>`` and ``delta.<l>`` to a non-negative float;
    ``z_terms[l - 1]`` is Ẑ_l (N, n_l), the magnitude of the terms of z_l.
    """

    scale: dict[str, float]
    z_terms: list[np.ndarray]


def _output_terms(
    arch: Architecture, ref: mirror.Backprop, y: np.ndarray, Z: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(ŝ (N,), D̂ (N, K)): loss and output-error term magnitudes before the batch factor."""
    z, a, y = np.abs(ref.z[-1]), np.abs(ref.a[-1]), np.abs(y)
    K = arch.outputs
    if arch.loss == "softmax_ce":
        total = y.sum(axis=1)
        D = total[:, None] * (1.0 + Z.max(axis=1, keepdims=True)) + y
        s = total * (2.0 * z.max(axis=1) + 2.0 * Z.max(axis=1) + math.log(K))
        return s, D
    if arch.loss == "bce":
        return np.sum((1.0 + y) * (z + Z) + math.log(2.0), axis=1), a + y + Z
    facts = LOSS_FACTS[arch.loss]
    factor = facts.factor / (K if facts.per_output_mean else 1)
    return factor * np.sum((a + y + Z) ** 2, axis=1), 2.0 * factor * (a + y + Z)


def term_scales(
    arch: Architecture, params: Params, x: np.ndarray, y: np.ndarray, ref: mirror.Backprop
) -> TermScales:
    """Running magnitudes of every term summed into the loss, the gradients and the δ_l.

    Forward (N, n_l):  Â_0 = |x|,  Ẑ_l = Â_{l-1}|W_l|^T + |b_l|,  Â_l = |a_l| + |f_l'|⊙Ẑ_l + ρ_l,
    ρ_l = 1 for the activations in TRANSCENDENTAL, whose usual formulas (1 - σ(-z),
    (1 + tanh(z/2))/2, log(1 + e^z)) are accurate to eps absolutely, not relatively; else 0.
    Output: D̂_L = r·κ(|a_L| + |y| + Ẑ_L) (κ = 1, 2, 2/K, 1 for half_sse, sse, mse, bce),
    r·((Σ_k|y_k|)(1 + max_k Ẑ_L) + |y|) for softmax_ce; r = 1 (sum) or 1/N (mean).
    Hidden:  D̂_l = (D̂_{l+1}|W_{l+1}|)⊙|f_l'| + (|δ_{l+1}||W_{l+1}|)⊙(1 + 2|f_l'|⊙Ẑ_l),
    the first term carrying the error of δ_{l+1}, the second the error of f_l' (computed
    from terms of size 1, e.g. a(1 - a), and moved by the error of z_l; |f''| <= 2|f'|).
    Scales: S(δ_l) = max D̂_l, S(W_l) = max D̂_l^T Â_{l-1}, S(b_l) = max Σ_n D̂_l
    (Σ_{n,k} when shared), S(E) = r Σ_n ŝ_n with ŝ the loss's own terms (:func:`_output_terms`).
    Constants of order one are left to the safety factor of :func:`rounding_rtol`.
    Overflow (parameters an implementation blew up) gives inf scales, without warnings.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        A, Z = _forward_terms(arch, params, x, ref)
        D, s = _backward_terms(arch, params, y, ref, Z)
        scale = {"loss": float(np.sum(s))}
        for layer in range(1, arch.depth + 1):
            terms = D[layer - 1]
            scale[f"delta.{layer}"] = float(terms.max())
            scale[f"grad.W{layer}"] = float((terms.T @ A[layer - 1]).max())
            if arch.bias == "per_unit":
                scale[f"grad.b{layer}"] = float(terms.sum(axis=0).max())
            elif arch.bias == "shared":
                scale[f"grad.b{layer}"] = float(terms.sum())
    return TermScales(scale, Z)


def _forward_terms(
    arch: Architecture, params: Params, x: np.ndarray, ref: mirror.Backprop
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """[Â_0..Â_L] and [Ẑ_1..Ẑ_L] of :func:`term_scales`."""
    A = [np.abs(x)]
    Z = []
    for layer in range(1, arch.depth + 1):
        bias = np.abs(params[f"b{layer}"]) if arch.bias != "none" else 0.0
        Z.append(A[-1] @ np.abs(params[f"W{layer}"]).T + bias)
        rounding = 1.0 if arch.activations[layer - 1] in TRANSCENDENTAL else 0.0
        A.append(np.abs(ref.a[layer - 1]) + np.abs(ref.derivative[layer - 1]) * Z[-1] + rounding)
    return A, Z


def _backward_terms(
    arch: Architecture,
    params: Params,
    y: np.ndarray,
    ref: mirror.Backprop,
    Z: list[np.ndarray],
) -> tuple[list[np.ndarray], np.ndarray]:
    """[D̂_1..D̂_L] and r·ŝ (N,) of :func:`term_scales`."""
    r = 1.0 / y.shape[0] if arch.reduction == "mean" else 1.0
    s, D_out = _output_terms(arch, ref, y, Z[-1])
    D = [np.empty(0)] * arch.depth
    D[-1] = r * D_out
    for layer in range(arch.depth - 1, 0, -1):
        W = np.abs(params[f"W{layer + 1}"])
        slope = np.abs(ref.derivative[layer - 1])
        carried = (D[layer] @ W) * slope
        moved = (np.abs(ref.delta[layer]) @ W) * (1.0 + 2.0 * slope * Z[layer - 1])
        D[layer - 1] = carried + moved
    return D, r * s


def tolerance_reason(rtol: float, n: int, scale: float) -> str:
    return (
        f"float64 rounding: rtol = {SAFETY:g}·n·eps = {rtol:.3g} with n = {n} (Σ sizes + N); "
        f"atol = rtol × {scale:.3g}, the magnitude of the terms summed into this quantity"
    )

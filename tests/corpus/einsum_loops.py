"""Corpus subject: an MLP whose sums run in another order -- einsum and explicit loops.

User code as written by someone who does not trust matrix products: the forward pass is
``np.einsum``, the error terms are computed unit by unit and sample by sample in Python
loops, and the weight gradients are accumulated one sample at a time. W is (out, in), rows
are samples. Naive derivatives: σ' = a(1 - a), tanh' = 1 - a², masks for ReLU and leaky
ReLU. Activations relu, leaky_relu, sigmoid, tanh, identity; squared losses (half_sse, sse,
mse); per-unit and shared biases; both reductions. Anything else raises
NotImplementedError. Provides ``intermediates``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from manualbp.architecture import Architecture


def f(name, z):
    """Activation ``name`` applied elementwise to the array z."""
    if name == "relu":
        return np.where(z > 0, z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, 0.01 * z)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    return z


class LoopMLP:
    supports_complex = False

    def __init__(self, name="corpus/einsum_loops"):
        self.name = name

    def slope(self, name, z, a):
        """f'(z) of one unit, given its pre-activation z and activation a (floats)."""
        if name == "relu":
            return 1.0 if z > 0 else 0.0
        if name == "leaky_relu":
            return 1.0 if z > 0 else 0.01
        if name == "sigmoid":
            return a * (1.0 - a)
        if name == "tanh":
            return 1.0 - a * a
        return 1.0

    def output_gradient(self, loss, a, y, K):
        """∂ℓ/∂a of one output unit (K outputs)."""
        if loss == "half_sse":
            return a - y
        if loss == "sse":
            return 2.0 * (a - y)
        return 2.0 * (a - y) / K  # mse

    def bias_gradient(self, bias, delta_n, db):
        """Add one sample's error terms to the bias gradient db."""
        if bias == "per_unit":
            db += delta_n
        else:  # shared: one number for the layer
            db += delta_n.sum()
        return db

    def weight_gradient(self, delta, a_in):
        """∂E/∂W = Σ_n δ_n a_nᵀ, one sample at a time."""
        dW = np.zeros((delta.shape[1], a_in.shape[1]))
        for n in range(delta.shape[0]):
            dW += np.einsum("j,i->ji", delta[n], a_in[n])
        return dW

    @staticmethod
    def _check(arch):
        if not set(arch.activations) <= {"relu", "leaky_relu", "sigmoid", "tanh", "identity"}:
            raise NotImplementedError(f"activation not written: {arch.activations}")
        if arch.loss not in ("half_sse", "sse", "mse"):
            raise NotImplementedError(f"loss not written: {arch.loss}")
        if arch.bias not in ("per_unit", "shared"):
            raise NotImplementedError(f"bias mode not written: {arch.bias}")

    def forward(self, arch, params, x):
        self._check(arch)
        zs, acts = [], [np.asarray(x, dtype=float)]
        for k in range(1, len(arch.sizes)):
            z = np.einsum("ji,ni->nj", params[f"W{k}"], acts[-1]) + params[f"b{k}"]
            zs.append(z)
            acts.append(f(arch.activations[k - 1], z))
        return zs, acts

    def loss(self, arch: Architecture, params: dict[str, Any], x: Any, y: Any) -> float:
        _, acts = self.forward(arch, params, x)
        r = acts[-1] - y
        total = 0.0
        for n in range(r.shape[0]):
            if arch.loss == "half_sse":
                total += 0.5 * np.einsum("k,k->", r[n], r[n])
            elif arch.loss == "sse":
                total += np.einsum("k,k->", r[n], r[n])
            else:
                total += np.einsum("k,k->", r[n], r[n]) / r.shape[1]
        if arch.reduction == "mean":
            total /= r.shape[0]
        return float(total)

    def _backward(self, arch, params, x, y):
        zs, acts = self.forward(arch, params, x)
        N, L = len(x), len(arch.sizes) - 1
        K = arch.sizes[-1]
        scale = 1.0 / N if arch.reduction == "mean" else 1.0
        deltas = [None] * L
        # output layer, unit by unit
        out = arch.activations[-1]
        delta = np.zeros_like(zs[-1])
        for n in range(N):
            for k in range(K):
                a = acts[-1][n, k]
                dE_da = self.output_gradient(arch.loss, a, y[n, k], K)
                delta[n, k] = scale * dE_da * self.slope(out, zs[-1][n, k], a)
        deltas[-1] = delta
        # hidden layers: δ_l[n, i] = Σ_j δ_{l+1}[n, j] W_{l+1}[j, i] · f'(z_l[n, i])
        for layer in range(L - 1, 0, -1):
            W_next, delta_next = params[f"W{layer + 1}"], deltas[layer]
            z, a = zs[layer - 1], acts[layer]
            delta = np.zeros_like(z)
            for n in range(N):
                for i in range(z.shape[1]):
                    s = 0.0
                    for j in range(delta_next.shape[1]):
                        s += delta_next[n, j] * W_next[j, i]
                    delta[n, i] = s * self.slope(arch.activations[layer - 1], z[n, i], a[n, i])
            deltas[layer - 1] = delta
        grads = {}
        for layer in range(1, L + 1):
            grads[f"W{layer}"] = self.weight_gradient(deltas[layer - 1], acts[layer - 1])
            db = np.zeros(np.shape(params[f"b{layer}"]))
            for n in range(N):
                db = self.bias_gradient(arch.bias, deltas[layer - 1][n], db)
            grads[f"b{layer}"] = db
        return grads, zs, acts, deltas

    def gradients(
        self, arch: Architecture, params: dict[str, Any], x: Any, y: Any
    ) -> tuple[float, dict[str, np.ndarray]]:
        grads, _, _, _ = self._backward(arch, params, x, y)
        return self.loss(arch, params, x, y), grads

    def intermediates(
        self, arch: Architecture, params: dict[str, Any], x: Any, y: Any
    ) -> dict[str, list[np.ndarray]]:
        _, zs, acts, deltas = self._backward(arch, params, x, y)
        return {"z": zs, "a": acts[1:], "delta": deltas}


IMPL = LoopMLP()


# ---------------------------------------------------------------------------------------
# bugs, one line each
# ---------------------------------------------------------------------------------------


class _MseWithoutOneOverK(LoopMLP):
    def output_gradient(self, loss, a, y, K):
        if loss == "half_sse":
            return a - y
        if loss == "sse":
            return 2.0 * (a - y)
        return 2.0 * (a - y)  # BUG: mse's 1/K forgotten


class _WeightGradientAssigned(LoopMLP):
    def weight_gradient(self, delta, a_in):
        dW = np.zeros((delta.shape[1], a_in.shape[1]))
        for n in range(delta.shape[0]):
            dW = np.einsum("j,i->ji", delta[n], a_in[n])  # BUG: = for +=
        return dW


class _SharedBiasFirstUnit(LoopMLP):
    def bias_gradient(self, bias, delta_n, db):
        if bias == "per_unit":
            db += delta_n
        else:
            db += delta_n[0]  # BUG: only the first unit's error term
        return db


class _LeakySlopeZero(LoopMLP):
    def slope(self, name, z, a):
        if name in ("relu", "leaky_relu"):  # BUG: leaky ReLU given ReLU's slope 0 below 0
            return 1.0 if z > 0 else 0.0
        return super().slope(name, z, a)


class _TanhSlopeAtOutput(LoopMLP):
    def slope(self, name, z, a):
        if name == "tanh":
            return 1.0 - math.tanh(a) ** 2  # BUG: tanh'(a) for tanh'(z)
        return super().slope(name, z, a)


BUG_MSE_WITHOUT_ONE_OVER_K = _MseWithoutOneOverK("corpus/einsum_loops:BUG_MSE_WITHOUT_ONE_OVER_K")
BUG_WEIGHT_GRADIENT_ASSIGNED = _WeightGradientAssigned(
    "corpus/einsum_loops:BUG_WEIGHT_GRADIENT_ASSIGNED"
)
BUG_SHARED_BIAS_FIRST_UNIT = _SharedBiasFirstUnit("corpus/einsum_loops:BUG_SHARED_BIAS_FIRST_UNIT")
BUG_LEAKY_SLOPE_ZERO = _LeakySlopeZero("corpus/einsum_loops:BUG_LEAKY_SLOPE_ZERO")
BUG_TANH_SLOPE_AT_OUTPUT = _TanhSlopeAtOutput("corpus/einsum_loops:BUG_TANH_SLOPE_AT_OUTPUT")

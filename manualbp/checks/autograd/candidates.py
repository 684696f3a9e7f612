"""The classic error-term bugs, read at the gradients of an implementation that shows no δ.

Without ``intermediates`` an implementation shows its error terms δ_l only through its
gradients (∂E/∂W_l = δ_lᵀ a_{l-1}, ∂E/∂b_l = Σ_n δ_l). For each wrong recurrence the
diagnosis names at a δ, this module builds the δ_l it would give — from the reference's
δ_{l+1}, so at the first wrong layer going backwards it is exactly what the bug computes —
and the gradient that δ_l gives; the autograd check records which of them the
implementation's gradient matches (``detail["candidates"]``):

=================================  ==================================================
``missing_activation_derivative``  δ_l = δ_{l+1} W_{l+1} (the f'(z_l) factor dropped);
                                   at the output of a squared loss δ_L = ∂E/∂a
``derivative_at_output``           the same times f'(a_l) instead of f'(z_l)
``transposed``                     δ_l = (δ_{l+1} W_{l+1}ᵀ) ⊙ f'(z_l) (square W_{l+1})
``wrong_layer_matrix``             δ_l = (δ_{l+1} W_lᵀ) ⊙ f'(z_l) (when the shapes allow)
=================================  ==================================================

A candidate that equals the right δ_l (f' = 1 of an identity layer) is left out.
"""

from __future__ import annotations

import numpy as np

from manualbp import torch_mirror as mirror
from manualbp.architecture import Architecture
from manualbp.checks.autograd.reference import Reference
from manualbp.factors import matches
from manualbp.facts import LOSS_FACTS
from manualbp.params import Params


def candidate_deltas(
    arch: Architecture, params: Params, y: np.ndarray, reference: Reference, layer: int
) -> dict[str, np.ndarray]:
    """The δ_l (N, n_l) of each wrong recurrence at ``layer`` (module docstring)."""
    main = reference.main
    dz = main.derivative[layer - 1]
    da = mirror.activation_derivative(arch.activations[layer - 1], main.a[layer - 1])
    found: dict[str, np.ndarray] = {}
    if layer < arch.depth:
        delta_next, W_next, W = main.delta[layer], params[f"W{layer + 1}"], params[f"W{layer}"]
        carried = delta_next @ W_next
        found["missing_activation_derivative"] = carried
        found["derivative_at_output"] = carried * da
        if W_next.shape[0] == W_next.shape[1]:
            found["transposed"] = (delta_next @ W_next.T) * dz
        if W.shape[1] == delta_next.shape[1]:
            found["wrong_layer_matrix"] = (delta_next @ W.T) * dz
    elif LOSS_FACTS[arch.loss].squared:
        dE_da = mirror.output_loss_gradient(arch, main.z[-1], main.a[-1], y)
        found["missing_activation_derivative"] = dE_da
        found["derivative_at_output"] = dE_da * da
    right = main.delta[layer - 1]
    return {kind: delta for kind, delta in found.items() if not matches(delta, right)}


def candidate_gradients(
    arch: Architecture,
    params: Params,
    x: np.ndarray,
    y: np.ndarray,
    reference: Reference,
    name: str,
) -> dict[str, np.ndarray]:
    """∂E/∂``name`` (a W_l or b_l) as each candidate δ_l of its layer would give it."""
    layer = int(name[1:])
    a_prev = x if layer == 1 else reference.main.a[layer - 2]
    gradients = {}
    for kind, delta in candidate_deltas(arch, params, y, reference, layer).items():
        if name.startswith("W"):
            gradients[kind] = delta.T @ a_prev
        elif arch.bias == "per_unit":
            gradients[kind] = delta.sum(axis=0)
        else:
            gradients[kind] = np.asarray(delta.sum())
    return gradients


def candidate_matches(
    impl: np.ndarray, arch: Architecture, params: Params, x: np.ndarray, y: np.ndarray,
    reference: Reference, name: str,
) -> dict[str, bool]:  # fmt: skip
    """Which candidate gradients of ``name`` the implementation's ``impl`` matches."""
    impl = np.asarray(impl, dtype=np.float64)
    return {
        kind: bool(candidate.shape == impl.shape and matches(impl, candidate))
        for kind, candidate in candidate_gradients(arch, params, x, y, reference, name).items()
    }

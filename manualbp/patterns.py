"""Patterns of wrong tensors: how a failing comparison reads against its reference.

Each reader looks at the two sides of failing tensors (kept by the checks) and names the
pattern that explains them, if one does: a constant factor, a transpose, whole units wrong,
and at an error term δ_l the classic formula bugs (see :mod:`manualbp.diagnosis`).
Matching uses a relative tolerance of :data:`MATCH` of the tensor's largest entry: the
candidates differ from each other by order one, the rounding of both sides by ~1e-13.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from manualbp.factors import Pattern, accounts_for, factor_pattern, matches
from manualbp.facts import ACTIVATION_FACTS
from manualbp.findings import Finding
from manualbp.localisation import Tensor, values


def _flat(tensors: list[Tensor]) -> tuple[np.ndarray, np.ndarray]:
    return (
        np.concatenate([t.impl.ravel() for t in tensors]),
        np.concatenate([t.ref.ravel() for t in tensors]),
    )


def _names(tensors: list[Tensor]) -> str:
    return ", ".join(t.quantity for t in tensors)


def transposed_pattern(tensors: list[Tensor]) -> Pattern | None:
    """``transposed`` when every tensor is square and impl = refᵀ."""
    square = all(t.impl.ndim == 2 and t.impl.shape[0] == t.impl.shape[1] for t in tensors)
    if square and all(matches(t.impl, t.ref.T) for t in tensors):
        return Pattern("transposed", f"{_names(tensors)} = (reference)ᵀ on every entry")
    return None


def partial_pattern(tensor: Tensor) -> Pattern | None:
    """``partial_units`` when whole columns (units) or whole rows are wrong and the rest right.

    An entry counts for a wrong column only when it is informative (:attr:`Tensor.informative`:
    a zeroed unit still matches where the reference is ~0). A column of one entry (a batch of
    one) or a row of one entry says nothing about units: that axis is not read.
    """
    if tensor.impl.ndim != 2:
        return None
    ok, informative = tensor.ok, tensor.informative
    for axis, unit in ((0, "column"), (1, "row")):
        if tensor.impl.shape[axis] < 2:
            continue
        right = np.all(ok, axis=axis)
        wrong = np.all(~ok | ~informative, axis=axis) & np.any(~ok, axis=axis)
        if np.all(right | wrong) and right.any() and wrong.any():
            listed = ", ".join(str(int(i)) for i in np.flatnonzero(wrong))
            return Pattern(
                "partial_units",
                f"only some {unit}s of {tensor.quantity} wrong: {unit}(s) {listed}, "
                f"the other {int(right.sum())} agree",
            )
    return None


def _kept(tensor: Tensor, key: str) -> np.ndarray | None:
    """An array a failing δ Finding kept in ``detail[key]``, in δ_l's shape, or None."""
    kept = values(tensor.finding.detail, key)
    if kept is None or kept.size != tensor.impl.size:
        return None
    return kept.reshape(tensor.impl.shape)


def _activation(tensor: Tensor) -> tuple[str, np.ndarray] | None:
    """(name of f_l, reference z_l in δ_l's shape) that a failing δ Finding kept, or None."""
    name, z = tensor.finding.detail.get("activation"), _kept(tensor, "z")
    if name not in ACTIVATION_FACTS or z is None:
        return None
    return name, z


def _derivatives(tensor: Tensor) -> tuple[np.ndarray, np.ndarray] | None:
    """(f'(z_l), f'(a_l)) with a_l = f(z_l), both computed by the reference (the torch
    mirror) and kept by the autograd check with a failing δ, or None."""
    dz, da = _kept(tensor, "dz"), _kept(tensor, "da")
    if dz is None or da is None:
        return None
    return dz, da


def _recurrence(tensor: Tensor, dz: np.ndarray) -> list[tuple[str, np.ndarray, str]]:
    """The wrong recurrences to try at a hidden δ_l (N, n_l): (kind, candidate, in words)."""
    detail = tensor.finding.detail
    delta_next = values(detail, "delta_next")
    W_next, W = values(detail, "W_next"), values(detail, "W")
    n, units = tensor.impl.shape
    if delta_next is None or W_next is None or W is None or delta_next.size % n or W.size % units:
        return []
    delta_next = delta_next.reshape(n, -1)
    if W_next.size != delta_next.shape[1] * units:
        return []
    W_next = W_next.reshape(delta_next.shape[1], units)
    W = W.reshape(units, -1)
    candidates = []
    if W_next.shape[0] == W_next.shape[1]:
        candidates.append(
            ("transposed", (delta_next @ W_next.T) * dz, "(δ_{l+1} W_{l+1}ᵀ) ⊙ f'(z_l)")
        )
    if W.shape[1] == delta_next.shape[1]:
        candidates.append(
            (
                "wrong_layer_matrix",
                (delta_next @ W.T) * dz,
                "(δ_{l+1} W_lᵀ) ⊙ f'(z_l), the layer's own matrix",
            )
        )
    return candidates


def delta_pattern(tensor: Tensor, facts: dict[str, Any]) -> Pattern:
    """The pattern of a wrong δ_l (module docstring), ``other`` when none fits."""
    impl, ref = tensor.impl, tensor.ref
    found = factor_pattern(impl.ravel(), ref.ravel(), facts, tensor.quantity)
    if found is not None and found.kind != "other":
        return found
    slopes = _derivatives(tensor)
    if slopes is not None:
        dz, da = slopes
        if accounts_for(impl * dz, ref, impl * dz, ref * dz):
            return Pattern(
                "missing_activation_derivative",
                f"{tensor.quantity} ⊙ f'(z) = reference: the factor f'(z) is missing",
            )
        if accounts_for(impl * dz, ref * da, impl * dz, ref * dz):
            return Pattern(
                "derivative_at_output",
                f"{tensor.quantity} = reference × f'(a)/f'(z): the derivative is taken at the "
                "output a instead of the input z",
                "activation_derivative",
            )
        for kind, candidate, words in _recurrence(tensor, dz):
            if matches(impl, candidate):
                return Pattern(kind, f"{tensor.quantity} = {words}")
    return (
        found
        or kink_side_pattern(tensor)
        or partial_pattern(tensor)
        or Pattern("other", f"{tensor.quantity} disagrees with no recognised pattern")
    )


def kink_side_pattern(tensor: Tensor) -> Pattern | None:
    """At a ReLU-like layer: δ_l wrong exactly on the informative entries of one side of the
    kink (z < 0 or z > 0) and right elsewhere, so f' is wrong on that side."""
    kept = _activation(tensor)
    if kept is None or not ACTIVATION_FACTS[kept[0]].has_kink:
        return None
    name, z = kept
    wrong = ~tensor.ok
    for side, region in (("z < 0", z < 0), ("z > 0", z > 0)):
        if wrong.any() and np.array_equal(wrong, region & tensor.informative):
            return Pattern(
                "other",
                f"{tensor.quantity} wrong exactly where {side} and right elsewhere: the "
                f"derivative of {name} is wrong on that side of the kink",
                "activation_derivative",
            )
    return None


def gradient_pattern(tensors: list[Tensor], facts: dict[str, Any]) -> Pattern:
    """The pattern of wrong gradients: factor or zero over all of them, transposed, the
    gradient of a classic wrong error term (:func:`candidate_pattern`), partial."""
    impl, ref = _flat(tensors)
    found = factor_pattern(impl, ref, facts, _names(tensors))
    if found is not None and found.kind != "other":
        return found
    return (
        transposed_pattern(tensors)
        or candidate_pattern([t.finding for t in tensors], _names(tensors))
        or found
        or partial_pattern(tensors[0])
        or Pattern("other", f"{_names(tensors)} disagree with no recognised pattern")
    )


#: How each wrong error term reads when it is seen through the gradients it gives.
CANDIDATE_WORDS: dict[str, tuple[str, str | None]] = {
    "missing_activation_derivative": (
        "its error term without the factor f'(z) (δ_l = δ_(l+1) W_(l+1), or ∂E/∂a at the output)",
        None,
    ),
    "derivative_at_output": (
        "its error term with the derivative taken at the output a instead of the input z",
        "activation_derivative",
    ),
    "transposed": ("its error term with W_(l+1)ᵀ where W_(l+1) belongs", None),
    "wrong_layer_matrix": ("its error term with the layer's own matrix W_l", None),
}


def candidate_pattern(findings: Sequence[Finding], what: str) -> Pattern | None:
    """The wrong error term every failing gradient is the gradient of, as the autograd
    check read it (``detail["candidates"]``), or None."""
    readings = [f.detail.get("candidates") for f in findings]
    if not readings or any(not isinstance(r, dict) for r in readings):
        return None
    for kind, (words, formula) in CANDIDATE_WORDS.items():
        if all(reading.get(kind) for reading in readings):  # type: ignore[union-attr]
            return Pattern(kind, f"{what} = the gradient of {words}", formula)
    return None


def step_pattern(tensors: list[Tensor], facts: dict[str, Any]) -> Pattern:
    """The pattern of wrong steps, read on Δθ = θ' - θ (θ kept as ``start``)."""
    starts = [values(t.finding.detail, "start") for t in tensors]
    usable = [
        (t, s.reshape(t.ref.shape))
        for t, s in zip(tensors, starts, strict=True)
        if s is not None and s.size == t.ref.size
    ]
    if not usable:
        return Pattern("other", f"{_names(tensors)} disagree with the reference step")
    moved_impl = np.concatenate([(t.impl - s).ravel() for t, s in usable])
    moved_ref = np.concatenate([(t.ref - s).ravel() for t, s in usable])
    names = _names([t for t, _ in usable])
    if np.all(moved_impl == 0.0) and np.any(moved_ref != 0.0):
        return Pattern(
            "update_not_applied", f"{names}: θ' = θ, the update is computed but not applied"
        )
    found = factor_pattern(moved_impl, moved_ref, facts, f"Δθ of {names}")
    return found or Pattern("other", f"{names}: Δθ disagrees with -lr·∂E/∂θ")


def summary_pattern(
    findings: Sequence[Finding], facts: dict[str, Any], what: str
) -> Pattern | None:
    """The pattern of failing tensors too large to keep, read from the summaries the checks
    kept of them (:func:`manualbp.factors.tensor_summary`, and at a δ the activation-derivative
    readings): all zero, one named factor over all of them, all transposed, or at a δ a
    missing derivative or one taken at the output. None when a summary is missing or none
    fits."""
    summaries = [f.detail.get("summary") for f in findings]
    if not summaries or any(not isinstance(s, dict) for s in summaries):
        return None
    slopes = [f.detail.get("slopes") or {} for f in findings]
    if all(s.get("zero") for s in summaries):
        return Pattern("zero", f"{what} = 0 on every entry where the reference is not")
    factors = np.array([s.get("factor") for s in summaries], dtype=object)
    if all(isinstance(c, (int, float)) for c in factors):
        values = factors.astype(np.float64)
        if matches(values, np.full_like(values, values[0])):
            found = factor_pattern(values[:1], np.ones(1), facts, what)
            if found is not None and found.kind != "other":
                return found
    if all(s.get("transposed") for s in summaries):
        return Pattern("transposed", f"{what} = (reference)ᵀ on every entry")
    candidate = candidate_pattern(findings, what)
    if candidate is not None:
        return candidate
    for kind, words, formula in (
        ("missing_activation_derivative", "⊙ f'(z) = reference: the factor f'(z) is missing", None),
        (
            "derivative_at_output",
            "= reference × f'(a)/f'(z): the derivative is taken at the output a instead of z",
            "activation_derivative",
        ),
    ):
        if all(slope.get(kind) for slope in slopes):
            return Pattern(kind, f"{what} {words}", formula)
    return None

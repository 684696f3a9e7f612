"""Diagnosis: the most likely bug behind the failing Findings of one case.

:func:`annotate` groups Findings by (implementation, case); for each failing group
:func:`diagnose` finds the first disagreement (:func:`manualbp.localisation.locate`) and
reads the pattern of the tensors there against the reference:

- a constant factor, impl = c·ref on every entry: ``sign_flip`` (c = -1), ``factor_2``,
  ``factor_half``, ``factor_N``, ``factor_1/N`` (N rows in the batch), ``factor_K`` (K
  outputs); ``zero`` (impl = 0); ``transposed`` (impl = refᵀ);
- at an error term δ_l (z_l and, below the output, δ_{l+1}, W_{l+1}, W_l kept by the
  autograd check): ``missing_activation_derivative`` (impl ⊙ f'(z_l) = ref),
  ``derivative_at_output`` (impl ⊙ f'(z_l) = ref ⊙ f'(a_l)), ``transposed``
  (impl = (δ_{l+1} W_{l+1}ᵀ) ⊙ f'(z_l)), ``wrong_layer_matrix`` (impl = (δ_{l+1} W_lᵀ) ⊙ f'(z_l));
- ``partial_units``: whole units (columns) or rows wrong, the others right;
- for a step θ' = θ - lr·g: the factor of Δθ = θ' - θ, ``update_not_applied`` (Δθ = 0 where
  the reference moves), ``frozen_updated`` (a frozen parameter moved);
- ``inputs_mutated``, ``inconsistent_between_calls`` (a second call differs, or gradients
  right on a fresh call and wrong later), ``wrong_forward`` (the loss value is wrong by no
  named factor), and ``other`` when nothing fits.

Matching uses a relative tolerance of :data:`MATCH` of the tensor's largest entry: the
candidates differ from each other by order one, the rounding of both sides by ~1e-13.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from manualbp.factors import Pattern, factor_pattern
from manualbp.findings import Finding
from manualbp.localisation import (
    Evidence,
    Localisation,
    Site,
    Tensor,
    base_quantity,
    localisation,
    locate,
)
from manualbp.patterns import (
    candidate_pattern,
    delta_pattern,
    gradient_pattern,
    step_pattern,
    summary_pattern,
)
from manualbp.quantity import Quantity

#: Failing patterns, as the diagnosis names them.
KINDS: tuple[str, ...] = (
    "sign_flip",
    "factor_2",
    "factor_half",
    "factor_N",
    "factor_1/N",
    "factor_K",
    "transposed",
    "zero",
    "missing_activation_derivative",
    "derivative_at_output",
    "partial_units",
    "inconsistent_between_calls",
    "inputs_mutated",
    "wrong_forward",
    "wrong_layer_matrix",
    "update_not_applied",
    "frozen_updated",
    "other",
)


@dataclass(frozen=True)
class Diagnosis:
    """The most likely bug of one failing case: a kind of :data:`KINDS`, a one-line sentence
    beginning with the kind, and where it sits (None when the Findings cannot say)."""

    kind: str
    sentence: str
    localisation: Localisation | None


def _tensors(findings: tuple[Finding, ...]) -> list[Tensor]:
    return [t for t in (Tensor.of(f) for f in findings) if t is not None]


def _loss_pattern(site: Site, facts: dict[str, Any]) -> Pattern:
    loss = next((f for f in site.findings if base_quantity(f.quantity) == "loss"), site.findings[0])
    if loss.impl_value is not None and loss.ref_value:
        ratio = loss.impl_value / loss.ref_value
        found = factor_pattern(
            np.array([loss.impl_value]), np.array([loss.ref_value]), facts, "the loss"
        )
        if found is not None and found.kind != "other":
            return found
        what = (
            f"{loss.quantity} = {loss.impl_value:.6g}, reference {loss.ref_value:.6g} "
            f"(ratio {ratio:.4g})"
        )
    else:
        what = f"{loss.quantity} disagrees"
    return Pattern("wrong_forward", f"{what}: the forward pass computes another function")


def _site_pattern(site: Site, evidence: Evidence) -> Pattern:
    facts = evidence.facts
    first = site.findings[0]
    if site.stage == "inputs":
        return Pattern("inputs_mutated", first.reason or "gradients() changed its inputs")
    if site.stage == "repeat":
        return Pattern(
            "inconsistent_between_calls",
            f"a second gradients() call returned other values ({base_quantity(first.quantity)}: "
            f"{first.impl_value:.6g} after {first.ref_value:.6g})",
        )
    if site.stage == "state":
        later = "later steps" if first.check == "autograd" else "its own loss() when perturbed"
        return Pattern(
            "inconsistent_between_calls",
            f"gradients() agree with autograd on a fresh call but not with {later} "
            f"({_names_of(site.findings)}): results depend on earlier calls",
        )
    if site.stage == "loss":
        return _loss_pattern(site, facts)
    if site.stage == "frozen":
        return Pattern(
            "frozen_updated", f"frozen parameters moved in the step ({_names_of(site.findings)})"
        )
    if site.stage == "gradient":  # the first wrong layer going backwards reads exactly
        candidate = candidate_pattern(site.findings, _names_of(site.findings))
        if candidate is not None:
            return candidate
    tensors = _tensors(site.findings)
    if not tensors:
        kept = tuple(evidence.failing_grads()) if site.stage == "gradient" else site.findings
        return summary_pattern(kept or site.findings, facts, _names_of(site.findings)) or Pattern(
            "other", f"{_names_of(site.findings)} disagree with no recognised pattern"
        )
    readers: dict[str, Callable[[], Pattern]] = {
        "delta": lambda: delta_pattern(tensors[0], facts),
        "gradient": lambda: gradient_pattern(
            _tensors(tuple(evidence.failing_grads())) or tensors, facts
        ),
        "step": lambda: step_pattern(tensors, facts),
    }
    return readers[site.stage]()


def _names_of(findings: tuple[Finding, ...]) -> str:
    return ", ".join(dict.fromkeys(base_quantity(f.quantity) for f in findings))


def diagnose(findings: list[Finding]) -> Diagnosis | None:
    """The diagnosis of one case's Findings (every check's), None when none fails.

    The sentence is "<kind>: <what the pattern is>; <where>", e.g. "factor_2: constant
    factor 2: delta.3 = 2 × reference (every entry); first wrong going backwards: delta.3
    (layer 3 of 3, output) → loss_gradient".
    """
    evidence = Evidence.of(findings)
    if not evidence.failing:
        return None
    site = locate(evidence)
    if site is None:
        first = evidence.failing[0]
        if _shape_error(first):
            return Diagnosis(
                "transposed",
                f"transposed: {first.quantity} failed on a shape mismatch ({first.reason}): "
                "the error a product with W where Wᵀ belongs (or the reverse) raises on a "
                "layer that is not square; on a square layer the same line returns the "
                "transpose",
                None,
            )
        return Diagnosis("other", f"other: {first.quantity} disagrees ({first.reason})", None)
    pattern = _site_pattern(site, evidence)
    if site.stage == "loss" and pattern.kind != "wrong_forward":
        site = replace(site, layer=evidence.depth)  # the batch reduction of E, at the output
    where = localisation(site, pattern.kind, evidence, pattern.formula)
    return Diagnosis(
        pattern.kind, f"{pattern.kind}: {pattern.explanation}; {where.sentence}", where
    )


#: Words of the exceptions NumPy raises for a product or a sum of mismatched shapes.
SHAPE_ERRORS = ("not aligned", "mismatch in its core dimension", "could not be broadcast",
                "size mismatch")  # fmt: skip


def _shape_error(finding: Finding) -> bool:
    """True when a protocol call raised on a shape mismatch (``gradients() raised
    ValueError: shapes (3,4) and (3,2) not aligned``)."""
    kind = Quantity.parse(finding.quantity).kind
    raised = " raised " in finding.reason  # not a gradient returned in the wrong shape
    return kind == "call" and raised and any(words in finding.reason for words in SHAPE_ERRORS)


def localise(findings: list[Finding]) -> Localisation | None:
    """Where one failing case first goes wrong (layer and formula), None when nothing fails."""
    found = diagnose(findings)
    return found.localisation if found is not None else None


def annotate(findings: list[Finding]) -> None:
    """Diagnose every failing (implementation, case) group and write the result, in place, on
    its failing Findings: ``diagnosis`` (the sentence), ``detail["diagnosis_kind"]`` and
    ``detail["localisation"]`` ({"layer", "position", "formula", "sentence"})."""
    groups: dict[tuple[str, str], list[Finding]] = {}
    for finding in findings:
        if "diagnosis_kind" not in finding.detail:  # the layer check diagnoses its own
            groups.setdefault((finding.impl, finding.case), []).append(finding)
    for group in groups.values():
        found = diagnose(group)
        if found is None:
            continue
        for finding in group:
            if finding.verdict != "fail":
                continue
            finding.diagnosis = found.sentence
            finding.detail["diagnosis_kind"] = found.kind
            if found.localisation is not None:
                finding.detail["localisation"] = found.localisation.to_dict()

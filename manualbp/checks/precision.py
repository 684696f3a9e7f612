"""``imprecise``: when float64, not the formula, is what disagrees — and the evidence for it.

Textbook formulas lose digits where units saturate: σ'(z) = a(1 - a) keeps two correct
digits at z = 32, log(1 - σ(z)) is log(0) from z = 37, 1/(1 + e^-z) overflows for complex
z, an unshifted softmax overflows. An implementation written that way is *right*, and its
float64 evaluation is imprecise; a gate that calls it a bug cries wolf. But "it is only
rounding" must never be an excuse for a wrong formula, so a failing case is called
``imprecise`` only with positive evidence (:func:`judge`):

1. the case is stressed (:func:`stress`, the places named with the unstable formula and
   its stable form, from :mod:`manualbp.facts`): some unit where a known unstable formula
   lives is saturated or overflows, or a BCE output has z > 0 large enough that the
   textbook ∂ℓ/∂a, (1 - y)/(1 - a), amplifies the relative rounding of δ by more than
   :data:`AMPLIFIED` (about e^z); and every failing Finding is numeric (a value that
   disagrees, or a non-finite value or arithmetic error — never a shape, a key, an input
   changed in place);
2. the discrepancy is what the stress explains: at a saturated place the formula can lose
   every digit or overflow, and any numeric failure qualifies; short of saturation, every
   failing entry must lie within the check's own allowance with its relative part
   multiplied by that amplification (:func:`within_bound`);
3. the same architecture and batch at a tamer point — every parameter scaled by 2^-k until
   every |z| <= :data:`TAME_Z` — passes the same check: the formula is right where float64
   has digits to spare.

Without all three, the findings stay ``fail``. The place and the evidence go in
``detail["precision"]``, and the digits lost (log10 of the relative error over eps) with
them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np

from manualbp import torch_mirror as mirror
from manualbp.case import Case
from manualbp.facts import ACTIVATION_FACTS, LOSS_FACTS
from manualbp.findings import Finding
from manualbp.quantity import Quantity

#: Amplification of the relative rounding of δ beyond which an output is stressed: the
#: checks' rounding tolerances keep a safety factor of 16 for constants of order one, and
#: no more.
AMPLIFIED = 16.0
#: |z| beyond which a transcendental unit (or a cross-entropy output) is saturated: 1 - σ(z)
#: is below 6e-6 there, so a(1 - a) has lost more than five of its sixteen digits.
SATURATED_Z = 12.0
#: Spread of a softmax's logits beyond which the probability of the smallest underflows
#: towards 0 and log of it loses its digits.
SPREAD_Z = 30.0
#: |z| beyond which e^z overflows float64 (log of the largest float): an unshifted softmax
#: returns inf/inf there even over a single class, whatever the spread.
OVERFLOW_Z = float(np.log(np.finfo(np.float64).max))
#: A tamer point has every |z| at most this.
TAME_Z = 4.0
#: Largest exponent of e^(k·z) evaluated (e^709 is near the largest float64).
MAX_EXPONENT = 700.0
#: Halvings of the parameters tried to reach a tamer point.
MAX_HALVINGS = 40
#: Kinds of quantity whose disagreement can be float64's doing (values, not protocol).
NUMERIC_KINDS = ("loss", "loss.from_gradients", "grad", "delta", "step", "frozen_step")
#: What a fault's reason says when float64 arithmetic, not the code's logic, raised.
NUMERIC_FAULTS = (
    "returned inf",
    "returned -inf",
    "returned nan",
    "NaN or inf",
    "OverflowError",
    "ZeroDivisionError",
    "FloatingPointError",
    "math domain error",
    "nan+nanj",
    "expected a finite",
)


@dataclass(frozen=True)
class Stress:
    """One place where float64 is stretched: ``where`` (layer or output), the largest
    ``measure`` there (|z|, or a softmax's logit spread), whether it is saturated (the
    formula may lose every digit or overflow), how much the unstable formula amplifies the
    relative rounding of δ there (None where the loss is absolute, see
    :class:`manualbp.facts.LossFacts`), and the unstable formula and its stable form."""

    where: str
    magnitude: float
    saturated: bool
    amplification: float | None
    unstable: str
    stable: str
    measure: str = "|z|"

    def sentence(self) -> str:
        amplified = (
            f", relative rounding amplified up to {self.amplification:.2g}×"
            if self.amplification is not None
            else ""
        )
        size = f"{self.measure} up to {self.magnitude:.3g}{amplified}"
        return f"{self.where} ({size}): {self.unstable}; stable form: {self.stable}"

    def as_json(self) -> dict[str, object]:
        return asdict(self)


def stress(case: Case) -> list[Stress]:
    """Where ``case`` stretches float64 (from the torch mirror's forward pass): saturated
    transcendental layers and outputs (|z| > :data:`SATURATED_Z`), a softmax whose logits
    spread past :data:`SPREAD_Z` or reach :data:`OVERFLOW_Z`, and an output whose loss
    amplifies the relative rounding of δ (``growth``) by more than :data:`AMPLIFIED`."""
    arch = case.arch
    z = mirror.intermediates(arch, case.params, case.x, case.y)["z"]
    places = []
    for layer, (name, values) in enumerate(zip(arch.activations, z, strict=True), start=1):
        facts = ACTIVATION_FACTS[name]
        peak = float(np.max(np.abs(values), initial=0.0))
        if facts.unstable and peak > SATURATED_Z:
            where = f"layer {layer} ({name})"
            places.append(Stress(where, peak, True, None, facts.unstable, facts.stable))
    loss = LOSS_FACTS[arch.loss]
    output = z[-1]
    peak = float(np.max(np.abs(output), initial=0.0))
    if arch.loss == "softmax_ce":
        spread = float(np.max(np.ptp(output, axis=1), initial=0.0))
        if spread > SPREAD_Z or peak > OVERFLOW_Z:
            measure, magnitude = ("logit spread", spread) if spread > SPREAD_Z else ("|z|", peak)
            where = "output (softmax_ce)"
            places.append(Stress(where, magnitude, True, None, loss.unstable, loss.stable, measure))
    elif loss.unstable:
        rising = float(np.max(output, initial=0.0))
        factor = math.exp(min(loss.growth * rising, MAX_EXPONENT)) if loss.growth else None
        saturated = peak > SATURATED_Z
        if saturated or (factor is not None and factor > AMPLIFIED):
            where = f"output ({arch.loss})"
            places.append(Stress(where, peak, saturated, factor, loss.unstable, loss.stable))
    return places


def _tame_enough(case: Case) -> bool:
    z = mirror.intermediates(case.arch, case.params, case.x, case.y)["z"]
    return all(float(np.max(np.abs(values), initial=0.0)) <= TAME_Z for values in z)


def tamer(case: Case) -> Case | None:
    """``case`` with every parameter scaled by the largest 2^-k (k >= 1) that leaves every
    |z| <= :data:`TAME_Z`, or None when no such k <= :data:`MAX_HALVINGS` is found (the
    inputs alone saturate a unit)."""
    for k in range(1, MAX_HALVINGS + 1):
        scale = 2.0**-k
        params = {name: value * scale for name, value in case.params.items()}
        tamed = replace(
            case,
            case_id=f"{case.case_id}-tamed",
            params=params,
            meta={**case.meta, "tamed_by": scale},
        )
        if _tame_enough(tamed):
            return tamed
    return None


def numeric(finding: Finding) -> bool:
    """True when float64 could be what makes ``finding`` fail: a value of a numeric kind
    that disagrees, or a call that returned a non-finite value or raised an arithmetic
    error."""
    if Quantity.parse(finding.quantity).kind in NUMERIC_KINDS:
        return True
    return any(words in finding.reason for words in NUMERIC_FAULTS)


def digits_lost(finding: Finding) -> float | None:
    """log10(relative error / eps), clipped to [0, 16]: how many digits float64 lost."""
    error = finding.rel_error
    if error is None or not math.isfinite(error) or error <= 0:
        return None if error is None or error == 0 else 16.0
    return float(min(16.0, max(0.0, math.log10(error / np.finfo(np.float64).eps))))


def within_bound(finding: Finding, factor: float) -> bool:
    """True when the worst entry of ``finding`` is within the check's own allowance with its
    relative part amplified by ``factor``: |impl - ref| <= atol + factor·tolerance·|ref|,
    every number finite. (The absolute part, atol, already covers rounding against terms
    of size 1; only the relative rounding of δ is amplified.)"""
    numbers = (finding.abs_error, finding.tolerance, finding.atol, finding.ref_value)
    if not all(isinstance(n, float) and math.isfinite(n) for n in numbers):
        return False
    relative = finding.tolerance * abs(finding.ref_value)  # type: ignore[operator]
    return finding.abs_error <= finding.atol + factor * relative  # type: ignore[operator]


Rerun = Callable[[Case], Sequence[Finding]]


def judge(findings: list[Finding], case: Case, rerun: Rerun) -> list[Finding]:
    """``findings`` of one check on ``case``, with its failing ones made ``imprecise`` when
    the module docstring's evidence holds (``rerun`` runs the same check on another case).
    """
    failing = [f for f in findings if f.verdict == "fail"]
    if not failing or not all(numeric(f) for f in failing):
        return findings
    places = stress(case)
    if not places:
        return findings
    saturated = any(place.saturated for place in places)
    factor = max(place.amplification or 1.0 for place in places)
    if not saturated and not all(within_bound(f, factor) for f in failing):
        return findings
    tame = tamer(case)
    if tame is None or any(f.verdict == "fail" for f in rerun(tame)):
        return findings
    scale = tame.meta["tamed_by"]
    evidence = (
        f"the same architecture and batch with every parameter × {scale:g} (every |z| <= "
        f"{TAME_Z:g}) passes this check: the formula is right, float64 is not enough here"
    )
    if not saturated:
        evidence += (
            f", and the discrepancy is within the check's allowance with its relative part "
            f"× {factor:.2g}"
        )
    for finding in failing:
        finding.verdict = "imprecise"
        finding.reason = (
            f"{finding.reason}; imprecise, not wrong: {evidence}; digits lost at "
            + "; ".join(place.sentence() for place in places)
        )
        finding.detail["precision"] = {
            "places": [place.as_json() for place in places],
            "evidence": evidence,
            "tamed_by": scale,
            "bound": None if saturated else factor,
            "digits_lost": digits_lost(finding),
        }
        finding.diagnosis = None
        finding.reproduce = None
    return findings

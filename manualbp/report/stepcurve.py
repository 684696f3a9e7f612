"""The finite-difference error against the step: which curves to draw, and what they show.

A Taylor finding keeps ``detail["step_curve"]`` = {"h": [...], "error": [...], "chosen_h"}:
|D(h) − gᵀv| of the central difference D along a direction against the implementation's
slope gᵀv, for a ladder of steps h. For a right gradient it is the V of truncation
(falling with h) against round-off (rising as h shrinks); for a wrong one it is flat at
|∇f·v − gᵀv|, the gap that no step closes. Each curve is read (:func:`read_shape`) and
its caption written from the numbers; a curve is drawn only next to one with a V (a flat
line alone has nothing to show that its sentence does not say).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from markupsafe import Markup

from manualbp.findings import Finding
from manualbp.report import plots

FLAT = 10.0
"""Largest ratio of a curve's largest to smallest error for which it is called flat."""
NEAR = 10.0
"""A chosen step within this factor of the curve's minimum is "near the bottom"."""


@dataclass(frozen=True)
class Curve:
    """One finding's error against step, read."""

    finding: Finding
    steps: list[float]
    errors: list[float]
    chosen: float | None
    flat: bool
    caption: str


def _slope(h: np.ndarray, e: np.ndarray) -> float | None:
    """Least-squares slope of log e against log h (None with fewer than 3 points)."""
    if h.size < 3:
        return None
    return float(np.polyfit(np.log10(h), np.log10(e), 1)[0])


def read_shape(steps: Sequence[float], errors: Sequence[float], chosen: float | None) -> str:
    """A sentence saying what the curve shows: flat (the gap no step closes), or where its
    minimum lies, how it rises on each side (orders fitted on log-log axes) and where the
    chosen step sits against the minimum."""
    h = np.asarray(steps, dtype=float)
    e = np.maximum(np.asarray(errors, dtype=float), plots.ERROR_FLOOR)
    low, high = float(e.min()), float(e.max())
    span = f"h from {h.min():.2g} to {h.max():.2g}"
    if high / low <= FLAT:
        return (
            f"flat: the error stays between {low:.2g} and {high:.2g} for {span}; it does not "
            "come from the difference quotient (that would change with h) but is the gap "
            "between the implementation's slope and the loss's"
        )
    at = int(np.argmin(e))
    parts = [f"minimum {low:.2g} at h = {h[at]:.2g} ({span})"]
    right, left = h > h[at], h < h[at]
    above = _slope(h[right], e[right])
    below = _slope(h[left], e[left])
    if above is not None and above > 0.5:
        parts.append(f"above it the error grows like h^{above:.1f} (truncation)")
    if below is not None and below < -0.5:
        parts.append(f"below it like h^{below:.1f} (round-off)")
    if chosen is not None:
        error = float(np.interp(math.log10(chosen), np.log10(h[::-1]), e[::-1]))
        factor = max(chosen, h[at]) / min(chosen, h[at])
        where = (
            "near the bottom"
            if factor <= NEAR
            else f"{factor:.2g}× {'above' if chosen > h[at] else 'below'} the minimum"
        )
        parts.append(f"the chosen step {chosen:.2g} sits {where}, error {error:.2g} there")
    return "; ".join(parts)


def read_curve(finding: Finding) -> Curve | None:
    """The curve of ``finding``'s ``detail["step_curve"]``, None when it has no usable one
    (fewer than 2 points, lengths differ, a step not positive or a value not finite)."""
    curve = finding.detail.get("step_curve")
    if not isinstance(curve, Mapping):
        return None
    try:
        steps = [float(h) for h in curve["h"]]
        errors = [float(e) for e in curve["error"]]
        chosen = curve.get("chosen_h")
        chosen = None if chosen is None else float(chosen)
    except (KeyError, TypeError, ValueError):
        return None
    values = steps + errors
    if len(steps) < 2 or len(steps) != len(errors) or not all(map(math.isfinite, values)):
        return None
    if min(steps) <= 0 or min(errors) < 0:
        return None
    if chosen is not None and not (math.isfinite(chosen) and chosen > 0):
        chosen = None
    floor = [max(e, plots.ERROR_FLOOR) for e in errors]
    return Curve(
        finding,
        steps,
        errors,
        chosen,
        max(floor) / min(floor) <= FLAT,
        read_shape(steps, errors, chosen),
    )


def _dynamic_range(curve: Curve) -> float:
    floor = [max(e, plots.ERROR_FLOOR) for e in curve.errors]
    return max(floor) / min(floor)


@dataclass(frozen=True)
class StepSection:
    """What the step-size section shows: a plot of the drawn curves (None: no curve has a
    V, so nothing is drawn) and every curve described, drawn or not."""

    plot: Markup | None
    curves: list[Curve]


def step_section(findings: list[Finding]) -> StepSection | None:
    """The most telling curves: the passing one with the deepest V, and the first curve of
    a failing finding; None when no finding has a curve."""
    curves = [c for c in map(read_curve, findings) if c is not None]
    if not curves:
        return None
    passing = [c for c in curves if c.finding.verdict == "pass" and not c.flat]
    failing = [c for c in curves if c.finding.verdict == "fail"]
    chosen = [max(passing, key=_dynamic_range)] if passing else []
    chosen += failing[:1]
    if not chosen:
        chosen = [max(curves, key=_dynamic_range)]
    if all(c.flat for c in chosen):
        return StepSection(None, chosen)
    lines = [(c.steps, c.errors, f"{i}: {c.finding.verdict}") for i, c in enumerate(chosen, 1)]
    marked = next((c.chosen for c in chosen if c.chosen is not None), None)
    return StepSection(Markup(plots.step_curve(lines, marked)), chosen)

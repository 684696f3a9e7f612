"""The step-size-free verdict: how the Taylor remainder shrinks as the step halves.

Along a random unit direction v supported on one parameter tensor, with the actual
displacement Δ(h) = fl(θ + h·v) - θ,

    r(h) = |f(θ + Δ(h)) - f(θ) - gᵀΔ(h)|  =  h²|vᵀ∇²f v|/2 + O(h³)   when g = ∇f,
                                          ≈  h·|(g - ∇f)ᵀv|           when g is wrong,

so r(h)/r(h/2) tends to 4 for a correct gradient and to 2 for a wrong one, whatever the
step. The ladder divides the step by 4 per rung (two halvings: r(h)/r(h/4) tends to 16 or
4), from |θ|/8 down to 2^-26 of that in 14 rungs — half the loss evaluations of a ladder of
halvings, which matters for implementations that compute one loss per call — and reports
the ratio per halving (the square root). The ratios are read at the smallest steps where r
stays above ``taylor_margin`` times its round-off 2·ε_f (so noise moves each ratio by
< 2 %). The ladder runs on both sides (±v): a kink crossed on one side leaves the other
side quadratic, and a correct gradient at a kink equals one of the one-sided derivatives.
When neither side decays quadratically the direction is re-examined with central
differences at shrinking steps before anything fails.

One Finding per tensor: the direction lives in that tensor, so a wrong formula is named by
the parameter it feeds and a small tensor (a shared bias) is not diluted by the others.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from manualbp.checks.fd.case import CaseContext, relative_error
from manualbp.checks.fd.lines import (
    CBRT_EPS,
    KINK_REASON,
    KINK_STENCIL_REASON,
    OVERFLOW_REASON,
    ROUGH_REASON,
    LineVerdict,
    examine,
)
from manualbp.checks.fd.objective import EPS, unit_direction
from manualbp.findings import Finding

#: Largest step of the ladder, relative to max(1, |θ_tensor|_∞).
LADDER_START = 2.0**-3
#: Each rung of the ladder divides the step by this (two halvings).
LADDER_FACTOR = 4.0
#: Number of ratios read at the small-step end of the range above round-off.
WINDOW = 3
#: Observed orders p = log_4(ratio of rungs) = log2(ratio per halving): >= QUADRATIC decays
#: like h², <= LINEAR like h.
QUADRATIC = 1.5
LINEAR = 1.25


@dataclass(frozen=True)
class Side:
    """The remainder ladder on one side: its ratios at the small-step end and their order."""

    remainder: list[float]
    ratios: list[float]
    order: float | None

    @property
    def shape(self) -> str:
        """``flat`` (too close to round-off to read), ``quadratic``, ``linear`` or ``unclear``."""
        if self.order is None:
            return "flat"
        if self.order >= QUADRATIC:
            return "quadratic"
        return "linear" if self.order <= LINEAR else "unclear"


def read_side(remainder: np.ndarray, threshold: float) -> Side:
    """Ratios r(h_k)/r(h_k+1) of consecutive rungs over the last WINDOW + 1 consecutive steps
    above ``threshold``, and the order they show."""
    above = np.flatnonzero(remainder > threshold)
    ratios: list[float] = []
    if above.size:
        end = int(above[-1])
        start = end
        while start > 0 and start - 1 >= end - WINDOW and remainder[start - 1] > threshold:
            start -= 1
        window = remainder[start : end + 1]
        ratios = [float(window[i] / window[i + 1]) for i in range(window.size - 1)]
    order = math.log(float(np.median(ratios)), LADDER_FACTOR) if len(ratios) >= 2 else None
    return Side([float(r) for r in remainder], ratios, order)


#: Detail entries with the whole ladder: kept in the case's first Taylor Finding (its
#: representative step curve) and in every one that does not pass, dropped elsewhere.
LADDER_KEYS = ("h", "remainder_plus", "remainder_minus", "step_curve")


def taylor_findings(ctx: CaseContext) -> Iterator[Finding]:
    """One Taylor-remainder Finding per parameter tensor (2·taylor_steps evaluations each)."""
    for position, (name, part, _) in enumerate(ctx.tensors()):
        v = np.zeros(ctx.objective.size)
        v[part] = unit_direction(ctx.rng, part.stop - part.start)
        finding = _tensor_finding(ctx, name, part, v)
        if position > 0 and finding.verdict == "pass":
            for key in LADDER_KEYS:
                del finding.detail[key]
        yield finding


def _tensor_finding(ctx: CaseContext, name: str, part: slice, v: np.ndarray) -> Finding:
    objective = ctx.objective
    theta_scale = max(1.0, float(np.max(np.abs(objective.theta[part]))))
    steps = LADDER_START * theta_scale * LADDER_FACTOR ** -np.arange(ctx.options.taylor_steps)
    signed = {}
    for sign in (1.0, -1.0):
        values = objective.along(v, sign * steps)
        linear = np.array([ctx.g @ (objective.point(v, sign * h) - objective.theta) for h in steps])
        signed[sign] = values - ctx.f0 - linear
    threshold = ctx.options.taylor_margin * 2.0 * ctx.model.noise
    # a step whose perturbed loss overflows (large steps of a naive exp) is left out: the
    # ratios are read on the steps that remain, which are the small ones that matter
    overflowed = {sign: ~np.isfinite(signed[sign]) for sign in signed}
    plus = read_side(np.where(overflowed[1.0], np.nan, np.abs(signed[1.0])), threshold)
    minus = read_side(np.where(overflowed[-1.0], np.nan, np.abs(signed[-1.0])), threshold)
    chosen = CBRT_EPS * theta_scale
    slope = float(ctx.g @ v)
    detail = {
        "h": [float(h) for h in steps],
        "remainder_plus": plus.remainder,
        "remainder_minus": minus.remainder,
        "ratios_plus": plus.ratios,
        "ratios_minus": minus.ratios,
        "order_plus": plus.order,
        "order_minus": minus.order,
        "overflowed_steps": int(overflowed[1.0].sum() + overflowed[-1.0].sum()),
        "step_curve": {
            "h": [float(h) for h in steps],
            "error": [float(e) for e in np.abs(signed[1.0] - signed[-1.0]) / (2.0 * steps)],
            "chosen_h": chosen,
        },
        **ctx.model.describe(),
    }
    best = plus if _rank(plus) >= _rank(minus) else minus
    detail["order"] = best.order
    # per halving (the square root of the ratio of rungs), ≈ 4 when right, ≈ 2 when wrong
    detail["ratio"] = 2.0**best.order if best.order is not None else None
    fields = {
        "quantity": f"grad.{name}",
        "impl_value": slope,
        "atol": threshold,
        "tolerance_reason": (
            f"step-size-free: the remainder |f(θ+Δ) - f(θ) - gᵀΔ| must shrink like h² (order "
            f">= {QUADRATIC}, ratio ≈ 4 per halving) on at least one side, read where it "
            f"exceeds {ctx.options.taylor_margin:g}x its round-off 2·ε_f"
        ),
        "method": "taylor",
    }
    shapes = {plus.shape, minus.shape}
    if "quadratic" in shapes:
        return ctx.finding(verdict="pass", detail=detail, **fields)
    if "flat" in shapes:
        detectable = 4.0 * threshold / float(steps[0])
        reason = (
            f"remainder under {ctx.options.taylor_margin:g}x round-off below the largest steps: "
            f"any first-order error |(g - ∇f)ᵀv| above {detectable:.3g} would have shown"
        )
        return ctx.finding(verdict="pass", reason=reason, detail=detail, **fields)
    verdict = examine(
        lambda offsets: objective.along(v, offsets),
        slope,
        ctx.f0,
        chosen,
        ctx.line_noise(part),
        ctx.model,
        l1=float(np.sum(np.abs(v))),
        min_step=64.0 * EPS * theta_scale,
        levels=ctx.options.refine_levels,
        kinked=ctx.kinked,
        kinks=ctx.kinks(v),
    )
    detail["examined"] = {"outcome": verdict.outcome, **verdict.detail}
    return ctx.finding(
        verdict=verdict.verdict,
        reason=_reason(verdict, shapes, detail),
        ref_value=verdict.ref,
        abs_error=abs(slope - verdict.ref),
        rel_error=relative_error(abs(slope - verdict.ref), verdict.ref),
        detail=detail,
        **fields,
    )


def _reason(verdict: LineVerdict, shapes: set[str], detail: dict[str, Any]) -> str:
    """Why neither side decayed like h², given what the central differences along v found."""
    if verdict.verdict == "pass":
        cause = (
            "because the steps cross kinks"
            if verdict.detail.get("kinked", True)
            else "(the loss rounds in steps at these sizes)"
        )
        return (
            f"the remainder is not quadratic on either side {cause}; "
            f"the derivative along v at step {verdict.step:.3g} agrees with gᵀv"
        )
    if verdict.outcome == "kink":
        return KINK_REASON
    if verdict.outcome == "rough":
        return ROUGH_REASON
    if verdict.outcome == "overflow":
        return OVERFLOW_REASON
    if verdict.outcome == "kink_in_stencil":
        return f"{KINK_STENCIL_REASON}: {verdict.detail['kink_in_stencil']}"
    if shapes == {"linear"}:
        return (
            f"the remainder shrinks like h (ratio {detail['ratio']:.3g} per halving, order "
            f"{detail['order']:.2f}) on both sides: gᵀv is not the derivative along v"
        )
    orders = ", ".join(
        "unreadable" if p is None else f"{p:.2f}"
        for p in (detail["order_plus"], detail["order_minus"])
    )
    return (
        f"the remainder does not shrink like h² (orders {orders} on the two sides) and "
        "central differences along v refute gᵀv"
    )


def _rank(side: Side) -> int:
    return {"quadratic": 3, "flat": 2, "unclear": 1, "linear": 0}[side.shape]

"""Central differences, complex step and random directions: g compared slope by slope.

Each method computes a reference slope for every parameter entry (or every random direction),
compares it with the implementation's under one allowance per tensor, and re-examines the
slopes outside it along their line (:func:`~manualbp.checks.fd.lines.examine`): those the
re-examination settles at a smaller step or at a kink get a Finding of their own and are left
out of the tensor's comparison; those it refutes stay in and fail it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from manualbp.checks.fd.case import CaseContext, relative_error
from manualbp.checks.fd.lines import (
    CBRT_EPS,
    KINK_REASON,
    ErrorModel,
    LineFunction,
    LineVerdict,
    central,
    central_steps,
    examine,
    stencil_offsets,
)
from manualbp.checks.fd.objective import EPS, unit_direction
from manualbp.findings import Finding, index_label, tensor_finding

#: Imaginary step of the complex-step derivative (a power of two, so dividing is exact);
#: its truncation h²φ'''/6 is ~1e-40 relative, far below rounding.
COMPLEX_STEP = 2.0**-66


def _central_reason(model: ErrorModel) -> str:
    return (
        "fourth-order central difference, h_i = cbrt(eps)·max(|θ_i|,1): round-off only, "
        f"|g - D| <= κ(γ|D| + E_g + 1.5ε/h), ε = ε_f + eps|g_i θ_i|/2; {_numbers(model)}; atol "
        "is the tensor's largest; entries outside were re-examined at halved steps"
    )


def _complex_reason(model: ErrorModel) -> str:
    return (
        "complex step Im f(θ + i·h·e_i)/h, h = 2^-66 (no cancellation): rounding only, "
        f"|g - ref| <= κ(γ|ref| + E_g); {_numbers(model)}"
    )


def _numbers(model: ErrorModel) -> str:
    return (
        f"κ={model.safety:g} ε_f={model.noise:.2g} γ={model.rounding:.2g} "
        f"E_g={model.gradient_error:.2g} (manualbp.checks.fd.lines)"
    )


def _verdict_reason(verdict: LineVerdict, method: str) -> str:
    step = f"{verdict.step:.3g}"
    if verdict.outcome == "agrees":
        return (
            f"disagreed with the {method} reference; the central difference at step {step} "
            "agrees (the first comparison straddled a kink or a steep curvature)"
        )
    if verdict.outcome == "smooth":
        return (
            f"disagreed with the {method} reference; matches the one-sided derivatives at step "
            f"{step} within their truncation (the central difference is too steep here)"
        )
    if verdict.outcome == "one_sided":
        return f"{KINK_REASON}: the gradient matches a one-sided derivative at step {step}"
    if verdict.outcome == "kink":
        return f"{KINK_REASON}: the gradient lies between the one-sided derivatives"
    if verdict.outcome == "kink_far":
        return "the gradient lies far outside the one-sided derivatives around a kink"
    return f"the loss is smooth at step {step} and its slope differs from the gradient"


def entry_finding(
    ctx: CaseContext, quantity: str, method: str, impl: float, verdict: LineVerdict
) -> Finding:
    """The Finding of one slope settled by :func:`examine` (its own allowance and step)."""
    error = abs(impl - verdict.ref)
    return ctx.finding(
        quantity=quantity,
        verdict=verdict.verdict,
        impl_value=impl,
        ref_value=verdict.ref,
        abs_error=error,
        rel_error=relative_error(error, verdict.ref),
        tolerance=0.0,
        atol=verdict.allowance,
        tolerance_reason=(
            "one-sided three-point differences, allowance κ·(E_g + 4ε/t) + 2τ, τ their truncation"
            if verdict.outcome in ("smooth", "one_sided", "kink", "kink_far")
            else "fourth-order central difference at the step shown, allowance "
            "κ·(γ·|D| + E_g + 1.5ε/t)"
        ),
        reason=_verdict_reason(verdict, method),
        method=method,
        detail={"outcome": verdict.outcome, **verdict.detail},
    )


def masked_tensor_finding(
    ctx: CaseContext,
    *,
    quantity: str,
    method: str,
    impl: np.ndarray,
    ref: np.ndarray,
    rtol: float,
    atol: float,
    excluded: np.ndarray,
    tolerance_reason: str,
    detail: dict[str, Any],
) -> Finding | None:
    """tensor_finding over the entries not settled separately (None when none are left).

    Excluded entries get an infinite allowance, so they can neither fail the comparison nor
    be named as its worst entry; the Finding records the scalar ``atol`` of the others.
    """
    if np.all(excluded):
        return None
    detail = {**detail, "settled_separately": int(np.count_nonzero(excluded))}
    compared = np.flatnonzero(~excluded.ravel())
    if np.all(impl.ravel()[compared] == ref.ravel()[compared]):
        # every compared entry is exact: name the first one (ties would name entry 0)
        first = int(compared[0])
        return ctx.finding(
            quantity=quantity + index_label(ref.shape, first),
            verdict="pass",
            impl_value=float(impl.ravel()[first]),
            ref_value=float(ref.ravel()[first]),
            abs_error=0.0,
            rel_error=0.0,
            tolerance=rtol,
            atol=atol,
            tolerance_reason=tolerance_reason,
            method=method,
            detail={**detail, "entries": int(ref.size), "bad_entries": 0},
        )
    finding = tensor_finding(
        check="fd",
        case=ctx.case.case_id,
        quantity=quantity,
        impl=impl,
        ref=ref,
        rtol=rtol,
        atol=np.where(excluded, np.inf, atol),  # type: ignore[arg-type]
        tolerance_reason=tolerance_reason,
        method=method,
        seed=ctx.case.seed,
        impl_name=ctx.impl_name,
        detail=detail,
    )
    return replace(finding, atol=atol)


def _coordinate_line(ctx: CaseContext, index: int) -> LineFunction:
    def line(offsets: np.ndarray) -> np.ndarray:
        return ctx.objective.coordinates(np.full(offsets.shape, index), offsets)

    return line


def _examine_coordinate(ctx: CaseContext, index: int) -> LineVerdict:
    theta = ctx.objective.theta
    return examine(
        _coordinate_line(ctx, index),
        float(ctx.g[index]),
        ctx.f0,
        float(central_steps(theta[index : index + 1])[0]),
        ctx.line_noise(slice(index, index + 1)),
        ctx.model,
        min_step=64.0 * EPS * max(1.0, abs(float(theta[index]))),
        levels=ctx.options.refine_levels,
    )


#: Outcomes of a re-examination that settle a slope on their own. Against central
#: differences every outcome but a refutation does; against the complex step (exact where
#: the loss is analytic) only a kink does: real differences agreeing to their coarser
#: allowance cannot overrule it.
SETTLES_CENTRAL = frozenset({"agrees", "smooth", "one_sided", "kink", "kink_far"})
SETTLES_EXACT = frozenset({"one_sided", "kink", "kink_far"})

EXACT_NOTE = (
    "; real central differences agree with these entries only to their coarser allowance "
    "(if loss() is not complex-analytic, e.g. uses abs or comparisons on complex values, it "
    "should not declare supports_complex)"
)


@dataclass
class Reexamined:
    """Slopes outside a comparison's allowance, after :func:`examine`: the Findings of those
    settled on their own, their positions, and the labels real differences agree with only
    coarsely (kept in the comparison, noted in its Finding)."""

    findings: list[Finding] = field(default_factory=list)
    settled: list[int] = field(default_factory=list)
    coarse: list[str] = field(default_factory=list)

    def add(
        self,
        ctx: CaseContext,
        method: str,
        position: int,
        label: str,
        slope: float,
        verdict: LineVerdict,
        settles: frozenset[str],
    ) -> None:
        """File one examined slope."""
        if verdict.outcome in settles:
            self.settled.append(position)
            self.findings.append(entry_finding(ctx, label, method, slope, verdict))
        elif verdict.verdict == "pass":
            self.coarse.append(label)

    def noted(self, finding: Finding | None) -> Finding | None:
        """``finding`` with the coarse agreements in its detail and reason."""
        if finding is not None and self.coarse:
            finding.detail["central_agrees_coarsely"] = self.coarse
            finding.reason += EXACT_NOTE
        return finding


def _compare_entries(
    ctx: CaseContext,
    method: str,
    ref: np.ndarray,
    rtol: float,
    atol: np.ndarray,
    reason: str,
    settles: frozenset[str],
) -> Iterator[Finding]:
    """One Finding per tensor (plus one per entry settled separately); ``atol`` (P,)."""
    for name, part, shape in ctx.tensors():
        g, d = ctx.g[part], ref[part]
        tensor_atol = float(np.max(atol[part]))
        outside = np.flatnonzero(np.abs(g - d) > tensor_atol + rtol * np.abs(d))
        examined = Reexamined()
        for offset in map(int, outside):
            verdict = _examine_coordinate(ctx, part.start + offset)
            label = f"grad.{name}{index_label(shape, offset)}"
            examined.add(ctx, method, offset, label, float(g[offset]), verdict, settles)
        yield from examined.findings
        excluded = np.zeros(g.shape, dtype=bool)
        excluded[examined.settled] = True
        finding = masked_tensor_finding(
            ctx,
            quantity=f"grad.{name}",
            method=method,
            impl=g.reshape(shape),
            ref=d.reshape(shape),
            rtol=rtol,
            atol=tensor_atol,
            excluded=excluded.reshape(shape),
            tolerance_reason=reason,
            detail={**ctx.model.describe(), "norm_rel_error": _norm_rel_error(g, d)},
        )
        if finding is not None:
            yield examined.noted(finding)


def _norm_rel_error(g: np.ndarray, ref: np.ndarray) -> float | None:
    """|g - ref|_2 / |ref|_2 (0 when both are 0, None when only ref is: undefined)."""
    difference = float(np.linalg.norm(g - ref))
    norm = float(np.linalg.norm(ref))
    if norm:
        return difference / norm
    return 0.0 if difference == 0 else None


def central_findings(ctx: CaseContext) -> Iterator[Finding]:
    """Fourth-order central differences for every entry, 4P loss evaluations."""
    theta = ctx.objective.theta
    size = ctx.objective.size
    h = central_steps(theta)
    offsets = stencil_offsets(1.0)[:, None] * h[None, :]
    values = ctx.objective.coordinates(np.tile(np.arange(size), 4), offsets.ravel())
    ref = central(values.reshape(4, size), h)
    noise = ctx.model.noise + 0.5 * EPS * np.abs(ctx.g * theta)
    model = ctx.model
    atol = model.safety * (model.gradient_error + 1.5 * noise / h)
    yield from _compare_entries(
        ctx,
        "central",
        ref,
        model.safety * model.rounding,
        atol,
        _central_reason(model),
        SETTLES_CENTRAL,
    )


def complex_step_findings(ctx: CaseContext) -> Iterator[Finding]:
    """Complex-step derivatives Im f(θ + i·h·e_i)/h for every entry, P loss evaluations."""
    size = ctx.objective.size
    steps = np.full(size, 1j * COMPLEX_STEP)
    ref = np.imag(ctx.objective.coordinates(np.arange(size), steps)) / COMPLEX_STEP
    model = ctx.model
    rtol = model.safety * model.rounding
    yield from _compare_entries(
        ctx,
        "complex_step",
        ref,
        rtol,
        np.full(size, model.safety * model.gradient_error),
        _complex_reason(model),
        SETTLES_EXACT,
    )


def directional_findings(ctx: CaseContext, use_complex: bool) -> Iterator[Finding]:
    """gᵀv against the derivative of f along K random unit directions v (O(K) evaluations).

    The derivative is Im f(θ + i·h·v)/h when ``use_complex``, else the fourth-order central
    difference with h = cbrt(eps)·max(1, |θ|_∞). One Finding names the worst direction.
    """
    objective, model = ctx.objective, ctx.model
    count = ctx.options.directions
    directions = np.stack([unit_direction(ctx.rng, objective.size) for _ in range(count)])
    slopes = directions @ ctx.g
    l1 = float(np.max(np.sum(np.abs(directions), axis=1)))
    noise = ctx.line_noise(slice(None))
    theta_scale = max(1.0, float(np.max(np.abs(objective.theta), initial=0.0)))
    step = CBRT_EPS * theta_scale
    if use_complex:
        ref = (
            np.array(
                [np.imag(objective.along(v, np.array([1j * COMPLEX_STEP]))[0]) for v in directions]
            )
            / COMPLEX_STEP
        )
        rtol, atol = model.safety * model.rounding, model.safety * model.gradient_error * l1
        reason = (
            f"{_complex_reason(model)}; along unit directions v, E_g·max|v|_1 (|v|_1 <= {l1:.3g})"
        )
    else:
        offsets = stencil_offsets(step)
        ref = np.array([central(objective.along(v, offsets), step) for v in directions])
        rtol = model.safety * model.rounding
        atol = float(model.allowance(0.0, step, noise, l1))
        reason = (
            f"fourth-order central difference along unit directions v, h = {step:.3g}: "
            f"|gᵀv - D| <= κ(γ|D| + E_g|v|_1 + 1.5ε/h), ε = ε_f + eps·Σ|g θ|/2; "
            f"{_numbers(model)}"
        )
    method = "directional"
    examined = Reexamined()
    for k in map(int, np.flatnonzero(np.abs(slopes - ref) > atol + rtol * np.abs(ref))):
        v = directions[k]
        verdict = examine(
            lambda offsets, v=v: objective.along(v, offsets),
            float(slopes[k]),
            ctx.f0,
            step,
            noise,
            model,
            l1=l1,
            min_step=64.0 * EPS * theta_scale,
            levels=ctx.options.refine_levels,
        )
        settles = SETTLES_EXACT if use_complex else SETTLES_CENTRAL
        examined.add(ctx, method, k, f"grad·v[{k}]", float(slopes[k]), verdict, settles)
    yield from examined.findings
    excluded = np.zeros(count, dtype=bool)
    excluded[examined.settled] = True
    finding = masked_tensor_finding(
        ctx,
        quantity="grad·v",
        method=method,
        impl=slopes,
        ref=ref,
        rtol=rtol,
        atol=atol,
        excluded=excluded,
        tolerance_reason=reason,
        detail={
            **model.describe(),
            "directions": count,
            "reference": "complex_step" if use_complex else "central",
        },
    )
    if finding is not None:
        yield examined.noted(finding)

"""Central differences, complex step and random directions: g compared slope by slope.

Each method computes a reference slope for every parameter entry (or every random direction),
compares it with the implementation's under one allowance per tensor, and re-examines the
slopes outside it along their line (:func:`~manualbp.checks.fd.lines.examine`): those the
re-examination settles at a smaller step or at a kink get a Finding of their own and are left
out of the tensor's comparison; those it refutes stay in and fail it.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from manualbp.checks.fd.case import CaseContext
from manualbp.checks.fd.entries import (
    REFUTED_ENOUGH,
    SETTLES_CENTRAL,
    SETTLES_EXACT,
    Reexamined,
    masked_tensor_finding,
    worst_first,
)
from manualbp.checks.fd.lines import (
    CBRT_EPS,
    ErrorModel,
    LineFunction,
    LineVerdict,
    central,
    central_steps,
    examine,
    stencil_offsets,
)
from manualbp.checks.fd.objective import EPS, unit_direction
from manualbp.findings import Finding, index_label

#: Imaginary step of the complex-step derivative (a power of two, so dividing is exact);
#: its truncation h²φ'''/6 is ~1e-40 relative, far below rounding.
COMPLEX_STEP = 2.0**-66


def _central_reason(model: ErrorModel) -> str:
    return (
        "fourth-order central difference, h_i = cbrt(eps)·max(|θ_i|,1): round-off only, "
        f"|g - D| <= κ(γ|D| + E_g + 1.5ε/h), ε = ε_f + eps|g_i θ_i|/2; {_numbers(model)}; atol "
        "is the tensor's largest; entries outside were re-examined at halved steps"
    )


def _complex_reason(model: ErrorModel, relative_noise: float = 0.0) -> str:
    return (
        "complex step Im f(θ + i·h·e_i)/h, h = 2^-66 (no cancellation): rounding only, "
        f"|g - ref| <= κ((γ + ρ)|ref| + E_g), ρ = {relative_noise:.2g} the loss's own relative "
        f"noise; {_numbers(model)}"
    )


def _numbers(model: ErrorModel) -> str:
    return (
        f"κ={model.safety:g} ε_f={model.noise:.2g} γ={model.rounding:.2g} "
        f"E_g={model.gradient_error:.2g} (manualbp.checks.fd.lines)"
    )


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
        kinked=ctx.kinked,
        kinks=ctx.kinks(_unit(ctx.objective.size, index)),
    )


def _unit(size: int, index: int) -> np.ndarray:
    """e_index (size,)."""
    e = np.zeros(size)
    e[index] = 1.0
    return e


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
        # not-within, so that a reference that overflowed (NaN) is re-examined too
        outside = np.flatnonzero(~(np.abs(g - d) <= tensor_atol + rtol * np.abs(d)))
        examined = Reexamined()
        for offset in map(int, worst_first(g, d, outside)):
            verdict = _examine_coordinate(ctx, part.start + offset)
            label = f"grad.{name}{index_label(shape, offset)}"
            examined.add(ctx, method, offset, label, float(g[offset]), verdict, settles)
            if examined.refuted >= REFUTED_ENOUGH and not examined.settled:
                break  # a wrong formula: the tensor fails whatever the other entries show
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


def central_slopes(ctx: CaseContext, entries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(D, allowance) of the fourth-order central difference of the given θ entries (4 loss
    evaluations each): D_i and κ(E_g + 1.5ε_i/h_i) with ε_i = ε_f + eps|g_i θ_i|/2."""
    theta = ctx.objective.theta[entries]
    h = central_steps(theta)
    offsets = stencil_offsets(1.0)[:, None] * h[None, :]
    values = ctx.objective.coordinates(np.tile(entries, 4), offsets.ravel())
    ref = central(values.reshape(4, entries.size), h)
    noise = ctx.model.noise + 0.5 * EPS * np.abs(ctx.g[entries] * theta)
    model = ctx.model
    return ref, model.safety * (model.gradient_error + 1.5 * noise / h)


def central_findings(ctx: CaseContext) -> Iterator[Finding]:
    """Fourth-order central differences for every entry, 4P loss evaluations."""
    model = ctx.model
    ref, atol = central_slopes(ctx, np.arange(ctx.objective.size))
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
    """Complex-step derivatives Im f(θ + i·h·e_i)/h for every entry, P loss evaluations.

    The allowance is the rounding of g plus the relative noise ρ of the loss itself: a
    loss computed through cancelling formulas (log(1 - σ(z)) of a saturated unit) passes
    its relative error on to its complex-step derivative. An entry whose complex
    evaluation is not finite (the implementation's exp overflows for complex arguments
    where the real path does not) falls back to central differences, and says so.
    """
    size = ctx.objective.size
    steps = np.full(size, 1j * COMPLEX_STEP)
    values = ctx.objective.coordinates(np.arange(size), steps)
    ref = np.imag(values) / COMPLEX_STEP
    model = ctx.model
    rtol = model.safety * (model.rounding + ctx.relative_noise)
    atol = np.full(size, model.safety * model.gradient_error)
    reason = _complex_reason(model, ctx.relative_noise)
    overflowed = np.flatnonzero(~np.isfinite(values))
    if overflowed.size:
        ref[overflowed], atol[overflowed] = central_slopes(ctx, overflowed)
        reason += (
            f"; on {overflowed.size} of {size} entries loss() overflowed for complex "
            "parameters (nan or inf), and central differences were used there"
        )
    yield from _compare_entries(ctx, "complex_step", ref, rtol, atol, reason, SETTLES_EXACT)


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
    for k in map(int, np.flatnonzero(~(np.abs(slopes - ref) <= atol + rtol * np.abs(ref)))):
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
            kinked=ctx.kinked,
            kinks=ctx.kinks(v),
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

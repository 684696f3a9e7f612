"""The ``fd`` check of a layer: its backward against finite differences of its own forward.

For a case with arrays θ = (x, w, b, ...) (flattened in calling order), an upstream gradient
dout (1 for a loss) and the forward f, backward claims the vector-Jacobian product
g = Jᵀ·dout, the slopes of

    φ(θ) = ⟨dout, f(θ)⟩        (φ = the loss for a loss layer).

Every entry of every gradient is compared with the fourth-order central difference of φ
along its coordinate (4 forward calls each) when θ has at most ``max_elementwise`` entries;
above, ⟨g, v⟩ is compared with the central difference along ``directions`` random unit
directions v of each array (4 calls each, whatever its size), one Finding per array
(``dw·v``). Steps and allowances are those of the MLP check (:mod:`manualbp.checks.fd.lines`):
h_i = cbrt(eps)·max(|θ_i|, 1), and a slope agrees when |g_i - D_i| <= κ(γ|D_i| + E_g +
1.5ε_i/h_i), with ε_f the rounding noise of φ (ECnoise along three random directions),
γ = n·eps for n = (entries of out) + (entries of the largest array) — each entry of Jᵀ·dout
sums one rounded term per output entry, each from at most one array's entries — and
E_g = max(γ·G, 2σ_g) with σ_g the measured noise of backward (entries that jump across a kink
along the probe left out). A slope outside is re-examined at halved steps and by one-sided
differences (:func:`lines.examine`): a perturbation crossing the layer's kink (relu at 0,
a max tie, an SVM margin at 0) is ``inconclusive`` or matched against a one-sided
derivative, never a false ``fail``.

Before that, three consistency checks: a second call with the same input returns the same
values (``repeat.*``), one layer state used for two forward/backward pairs returns the
second pair's gradients (``reuse.*``: a stale cache or accumulating gradients fail it), and
the call leaves its arguments unchanged (``inputs``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from manualbp.checks.fd.lines import (
    CBRT_EPS,
    LineVerdict,
    central,
    central_steps,
    examine,
    stencil_offsets,
)
from manualbp.checks.fd.objective import EPS, unit_direction
from manualbp.checks.layer.calls import (
    LayerFault,
    LayerSubject,
    Result,
    batchnorm_eps,
    forward,
    vjp,
)
from manualbp.checks.layer.consistency import CHECK, FDContext, consistency_findings
from manualbp.checks.layer.diagnosis import attach, diagnose, shape_diagnosis
from manualbp.checks.layer.objective import (
    CaseModel,
    Phi,
    coordinate_line,
    error_model,
    numbers,
)
from manualbp.checks.layer.space import LayerCase
from manualbp.errors import UsageError
from manualbp.findings import Finding, index_label, tensor_finding


@dataclass(frozen=True)
class LayerFDOptions:
    """max_elementwise: largest θ checked entry by entry (above: random directions);
    directions: per array, in the directional mode (a wrong gradient moves ⟨g, v⟩ for almost
    every v, so a few suffice: 4 per array, 12 for a conv2d layer, where the MLP check uses
    8 in all); safety: κ; refine_levels: how often a disagreeing slope is re-examined at a
    halved step."""

    max_elementwise: int = 1000
    directions: int = 4
    safety: float = 10.0
    refine_levels: int = 30

    def __post_init__(self) -> None:
        for name, low in (("max_elementwise", 0), ("directions", 1), ("refine_levels", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise UsageError(f"{name}: got {value!r}, expected an integer >= {low}")
        if not self.safety >= 1.0:
            raise UsageError(f"safety: got {self.safety!r}, expected a number >= 1")


def _reason(outcome: str, kink: str) -> str:
    return {
        "agrees": "outside the first allowance; the central difference at a smaller step agrees",
        "smooth": "matches the one-sided derivatives (φ smooth there, the central step too steep)",
        "one_sided": f"the perturbation crosses {kink}: the gradient matches a one-sided "
        "derivative",
        "kink": f"the perturbation crosses {kink}: the gradient lies between the one-sided "
        "derivatives",
        "kink_far": f"the gradient lies far outside the one-sided derivatives around {kink}",
        "refuted": "φ is smooth at the finest step and its slope differs from the gradient",
    }[outcome]


def _settled(ctx: FDContext, quantity: str, slope: float, verdict: LineVerdict) -> Finding:
    kink = ctx.subject.kind.kink if ctx.subject.kind and ctx.subject.kind.kink else None
    error = abs(slope - verdict.ref)
    return ctx.finding(
        quantity,
        verdict.verdict,
        _reason(verdict.outcome, f"a kink ({kink})" if kink else "a non-differentiable point"),
        impl_value=slope,
        ref_value=verdict.ref,
        abs_error=error,
        rel_error=error / abs(verdict.ref) if verdict.ref else (0.0 if error == 0 else np.inf),
        tolerance=0.0,
        atol=verdict.allowance,
        tolerance_reason="re-examined by examine(): central difference at the step shown, or "
        "one-sided three-point differences, allowance κ·(E_g + 4ε/t) + 2τ",
        method="central",
        detail={"outcome": verdict.outcome, **verdict.detail},
    )


def _tensor(
    ctx: FDContext,
    quantity: str,
    impl: np.ndarray,
    ref: np.ndarray,
    rtol: float,
    atol: np.ndarray,
    excluded: np.ndarray,
    reason: str,
    method: str,
) -> Finding | None:
    """tensor_finding over the entries not settled on their own (None when none is left)."""
    if np.all(excluded):
        return None
    finding = tensor_finding(
        check=CHECK,
        case=ctx.case.case_id,
        quantity=quantity,
        impl=impl,
        ref=ref,
        rtol=rtol,
        atol=np.where(excluded, np.inf, atol),
        tolerance_reason=reason,
        method=method,  # type: ignore[arg-type]
        seed=ctx.case.seed,
        impl_name=ctx.subject.name,
        detail={"settled_separately": int(np.count_nonzero(excluded))},
    )
    return replace(finding, atol=float(np.max(atol[~excluded])))


def _elementwise(
    ctx: FDContext, phi: Phi, m: CaseModel, name: str, ref: np.ndarray, h: np.ndarray
) -> list[Finding]:
    """The Findings of one correctly shaped gradient against the central differences."""
    part, shape = phi.slices[name], phi.shapes[name]
    model, theta = m.model, phi.theta
    g, d = m.g[part], ref[part]
    line_noise = model.noise + 0.5 * EPS * np.abs(g * theta[part])
    atol = model.safety * (model.gradient_error + 1.5 * line_noise / h[part])
    rtol = model.safety * model.rounding
    findings, excluded = [], np.zeros(g.shape, dtype=bool)
    for offset in map(int, np.flatnonzero(np.abs(g - d) > atol + rtol * np.abs(d))):
        index = part.start + offset
        verdict = examine(
            coordinate_line(phi, index),
            float(g[offset]),
            m.f0,
            float(h[index]),
            float(line_noise[offset]),
            model,
            min_step=64.0 * EPS * max(1.0, abs(float(theta[index]))),
            levels=ctx.options.refine_levels,
        )
        if verdict.outcome != "refuted":
            excluded[offset] = True
            findings.append(
                _settled(ctx, f"d{name}{index_label(shape, offset)}", float(g[offset]), verdict)
            )
    reason = (
        "fourth-order central difference of φ = ⟨dout, f⟩, h_i = cbrt(eps)·max(|θ_i|,1): "
        f"|g - D| <= κ(γ|D| + E_g + 1.5ε_i/h_i), ε_i = ε_f + eps|g_i θ_i|/2; {numbers(model)}; "
        "atol is the tensor's largest; entries outside were re-examined at halved steps"
    )
    finding = _tensor(
        ctx,
        f"d{name}",
        g.reshape(shape),
        d.reshape(shape),
        rtol,
        atol.reshape(shape),
        excluded.reshape(shape),
        reason,
        "central",
    )
    if finding is not None:
        findings.append(finding)
    return findings


def _directional(ctx: FDContext, phi: Phi, m: CaseModel, name: str) -> list[Finding]:
    """⟨g, v⟩ against the central difference along K random unit directions of one array."""
    part, model = phi.slices[name], m.model
    rng = np.random.default_rng((ctx.case.seed, 5, phi.names.index(name)))
    count, size = ctx.options.directions, part.stop - part.start
    directions = np.zeros((count, phi.theta.size))
    directions[:, part] = np.stack([unit_direction(rng, size) for _ in range(count)])
    slopes = directions @ m.g
    l1 = float(np.max(np.sum(np.abs(directions), axis=1)))
    noise = model.noise + 0.5 * EPS * float(np.sum(np.abs(m.g[part] * phi.theta[part])))
    theta_scale = max(1.0, float(np.max(np.abs(phi.theta), initial=0.0)))
    step = CBRT_EPS * theta_scale
    ref = np.array([central(phi.along(v, stencil_offsets(step)), step) for v in directions])
    rtol = model.safety * model.rounding
    atol = float(model.allowance(0.0, step, noise, l1))
    findings, excluded = [], np.zeros(count, dtype=bool)
    for k in map(int, np.flatnonzero(np.abs(slopes - ref) > atol + rtol * np.abs(ref))):
        v = directions[k]
        verdict = examine(
            lambda offsets, v=v: phi.along(v, offsets),
            float(slopes[k]),
            m.f0,
            step,
            noise,
            model,
            l1=l1,
            min_step=64.0 * EPS * theta_scale,
            levels=ctx.options.refine_levels,
        )
        if verdict.outcome != "refuted":
            excluded[k] = True
            findings.append(_settled(ctx, f"d{name}·v[{k}]", float(slopes[k]), verdict))
    reason = (
        f"fourth-order central difference of φ along {count} random unit directions v of "
        f"{name}, h = {step:.3g}: |⟨d{name}, v⟩ - D| <= κ(γ|D| + E_g|v|_1 + 1.5ε/h); "
        f"{numbers(model)}"
    )
    finding = _tensor(
        ctx, f"d{name}·v", slopes, ref, rtol, np.full(count, atol), excluded, reason, "directional"
    )
    return [*findings, finding] if finding is not None else findings


def _shape_findings(ctx: FDContext, phi: Phi, base: Result, ref: np.ndarray | None) -> list[str]:
    """Names of the arrays whose gradient has the right shape; a fail Finding for each other."""
    valid = []
    for name in phi.names:
        gradient = base.grads[f"d{name}"]
        if gradient.shape == phi.shapes[name]:
            valid.append(name)
            continue
        expected = None if ref is None else ref[phi.slices[name]].reshape(phi.shapes[name])
        finding = ctx.finding(
            f"d{name}",
            "fail",
            f"d{name} has shape {gradient.shape}, expected {phi.shapes[name]} (that of {name})",
            method="central" if ref is not None else "directional",
        )
        ctx.shape_failures.append(
            attach(finding, shape_diagnosis(f"d{name}", gradient, expected, name))
        )
    return valid


def check_case(
    subject: LayerSubject, case: LayerCase, options: LayerFDOptions | None = None
) -> list[Finding]:
    """Every Finding of the fd check on one case (module docstring); what the layer raises
    or returns outside its convention is a ``fail`` Finding naming the call."""
    ctx = FDContext(subject, case, options or LayerFDOptions())
    findings: list[Finding] = []
    try:
        out_shape = (
            case.out_shape
            if case.out_shape is not None
            else forward(subject, case, case.values).shape
        )
        dout = np.ones(()) if subject.is_loss else case.dout(out_shape)
        base = vjp(subject, case, case.values, dout)
        rtol = (
            ctx.options.safety * EPS * (base.out.size + max(v.size for v in case.values.values()))
        )
        consistent, checkable = consistency_findings(ctx, base, dout, rtol)
        findings += consistent
        if not checkable:
            return findings
        phi = Phi(subject, case, dout)
        elementwise = phi.theta.size <= ctx.options.max_elementwise
        ref = h = None
        if elementwise:
            h = central_steps(phi.theta)
            offsets = stencil_offsets(1.0)[:, None] * h[None, :]
            size = phi.theta.size
            moved = np.tile(phi.theta, (4 * size, 1))
            moved[np.arange(4 * size), np.tile(np.arange(size), 4)] += offsets.ravel()
            ref = central(phi(moved).reshape(4, size), h)
        valid = _shape_findings(ctx, phi, base, ref)
        m = error_model(phi, base, valid, ctx.options.safety)
        for name in valid:
            if elementwise:
                findings += _elementwise(ctx, phi, m, name, ref, h)
            else:
                findings += _directional(ctx, phi, m, name)
        findings += ctx.shape_failures
    except LayerFault as fault:  # what was found before the fault stands
        return [*findings, ctx.fault(fault)]
    if ref is not None:
        _diagnose_failures(ctx, phi, base, ref, dout, findings)
    return findings


def _diagnose_failures(
    ctx: FDContext,
    phi: Phi,
    base: Result,
    ref: np.ndarray,
    dout: np.ndarray,
    findings: list[Finding],
) -> None:
    """Attach a diagnosis to each failing gradient Finding of the element-wise mode."""
    eps = batchnorm_eps(ctx.subject, ctx.case, base.out)
    for finding in findings:
        name = finding.quantity.split("[")[0]
        if (
            finding.verdict != "fail"
            or finding.detail.get("diagnosis_kind")
            or name[1:] not in phi.slices
        ):
            continue
        array = name[1:]
        expected = ref[phi.slices[array]].reshape(phi.shapes[array])
        attach(
            finding,
            diagnose(
                ctx.subject,
                ctx.case,
                name,
                base.grads[name],
                expected,
                dout=dout,
                eps=eps,
                check=CHECK,
            ),
        )

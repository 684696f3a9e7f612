"""The ``fd`` check of a layer: its backward against finite differences of its own forward.

For a case with arrays θ = (x, w, b, ...) (flattened in calling order), an upstream gradient
dout (1 for a loss) and the forward f, backward claims the vector-Jacobian product
g = Jᵀ·dout, the slopes of

    φ(θ) = ⟨dout, f(θ)⟩        (φ = the loss for a loss layer).

Every entry of every gradient is compared with the fourth-order central difference of φ
along its coordinate (4 forward calls each) when θ has at most ``max_elementwise`` entries;
above, ⟨g, v⟩ is compared with the central difference along ``directions`` random unit
directions v of each array (4 calls each, whatever its size), one Finding per array
(``dw·v``). Steps and allowances are those of the MLP check (:mod:`manualbp.checks.fd_lines`):
h_i = cbrt(eps)·max(|θ_i|, 1), and a slope agrees when |g_i - D_i| <= κ(γ|D_i| + E_g +
1.5ε_i/h_i), with ε_f the rounding noise of φ (ECnoise along three random directions),
γ = n·eps for n = (entries of out) + (entries of the largest array) — each entry of Jᵀ·dout
sums one rounded term per output entry, each from at most one array's entries — and
E_g = max(γ·G, 2σ_g) with σ_g the measured noise of backward (entries that jump across a kink
along the probe left out). A slope outside is
re-examined at halved steps and by one-sided differences (:func:`fd_lines.examine`): a
perturbation crossing the layer's kink (relu at 0, a max tie, an SVM margin at 0) is
``inconclusive`` or matched against a one-sided derivative, never a false ``fail``.

Before that, three consistency checks: a second call with the same input returns the same
values (``repeat.*``), one layer state used for two forward/backward pairs returns the
second pair's gradients (``reuse.*``: a stale cache or accumulating gradients fail it), and
the call leaves its arguments unchanged (``inputs``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from manualbp.checks.fd_lines import (
    CBRT_EPS,
    ErrorModel,
    LineVerdict,
    central,
    central_steps,
    examine,
    stencil_offsets,
)
from manualbp.checks.fd_objective import EPS, ecnoise, unit_direction
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
from manualbp.checks.layer.space import LayerCase
from manualbp.errors import UsageError
from manualbp.findings import Finding, index_label, tensor_finding

#: ECnoise probe: 9 points spaced δ = 2^-40·max(1, |θ|_∞), along NOISE_DIRECTIONS directions.
NOISE_SPACING = 2.0**-40
NOISE_DIRECTIONS = 3
#: A gradient entry moving by more than this fraction of the gradient's scale between two
#: probe points (2^-40 apart) jumped across a kink: far beyond any rounding noise.
JUMP = 1e-6


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


class Phi:
    """φ(θ) = ⟨dout, f(θ)⟩ of one case: θ (P,) the arrays flattened in calling order."""

    def __init__(self, subject: LayerSubject, case: LayerCase, dout: np.ndarray) -> None:
        self.subject, self.case, self.dout = subject, case, dout
        self.names = subject.arrays
        self.shapes = {name: case.values[name].shape for name in self.names}
        self.slices, start = {}, 0
        for name in self.names:
            size = case.values[name].size
            self.slices[name] = slice(start, start + size)
            start += size
        self.theta = np.concatenate([case.values[name].ravel() for name in self.names])

    def values(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        """The arrays of θ in their shapes."""
        return {name: theta[self.slices[name]].reshape(self.shapes[name]) for name in self.names}

    def __call__(self, thetas: np.ndarray) -> np.ndarray:
        """φ at each row of ``thetas`` (M, P) -> (M,)."""
        return np.array(
            [
                float(np.sum(self.dout * forward(self.subject, self.case, self.values(t))))
                for t in thetas
            ]
        )

    def along(self, direction: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """φ(θ + t·v) for every offset t (M,)."""
        return self(self.theta[None, :] + offsets[:, None] * direction[None, :])


def _noise(phi: Phi, f0: float, base: Result, rng: np.random.Generator) -> tuple[float, float]:
    """(ε_f, σ_g): ECnoise of φ along 3 directions (floored at eps·max(|φ|, 1)) and the
    largest ECnoise of an entry of backward along one direction, leaving out the entries
    that jump along the probe (a step larger than JUMP of the gradient's scale: the probe
    crossed a kink, relu at 0 or a max tie, and a jump is not rounding noise)."""
    delta = NOISE_SPACING * max(1.0, float(np.max(np.abs(phi.theta), initial=0.0)))
    offsets = (np.arange(9) - 4) * delta
    size = phi.theta.size
    sigmas = [
        float(ecnoise(phi.along(unit_direction(rng, size), offsets)))
        for _ in range(NOISE_DIRECTIONS)
    ]
    noise = max(float(np.median(sigmas)), EPS * max(abs(f0), 1.0))
    u = unit_direction(rng, size)
    names = list(base.grads)
    gradients = []
    for t in offsets:
        grads = vjp(phi.subject, phi.case, phi.values(phi.theta + t * u), phi.dout).grads
        gradients.append(np.concatenate([np.ravel(grads[name]) for name in names]))
    samples = np.stack(gradients)
    steps = np.max(np.abs(np.diff(samples, axis=0)), axis=0, initial=0.0)
    smooth = steps <= JUMP * max(1.0, float(np.max(np.abs(samples), initial=0.0)))
    return noise, float(np.max(ecnoise(samples[:, smooth]), initial=0.0))


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


def _line(phi: Phi, index: int) -> Callable[[np.ndarray], np.ndarray]:
    """φ along coordinate ``index``: offsets (M,) -> φ(θ + t·e_index) (M,)."""

    def line(offsets: np.ndarray) -> np.ndarray:
        direction = np.zeros_like(phi.theta)
        direction[index] = 1.0
        return phi.along(direction, offsets)

    return line


@dataclass
class _Model:
    """The error model of one case and the gradients it judges (flat, in θ's order)."""

    model: ErrorModel
    g: np.ndarray
    f0: float


def _model(ctx: FDContext, phi: Phi, base: Result, valid: list[str]) -> _Model:
    """ε_f, γ, G and σ_g of the case (module docstring); g holds the correctly shaped
    gradients (0 where a gradient has the wrong shape: it is compared separately)."""
    g = np.zeros_like(phi.theta)
    for name in valid:
        g[phi.slices[name]] = base.grads[f"d{name}"].ravel()
    f0 = float(np.sum(phi.dout * base.out))
    noise, gradient_noise = _noise(phi, f0, base, np.random.default_rng((ctx.case.seed, 4)))
    largest = max(value.size for value in phi.values(phi.theta).values())
    theta_scale = max(1.0, float(np.max(np.abs(phi.theta), initial=0.0)))
    model = ErrorModel(
        noise=noise,
        rounding=EPS * (base.out.size + largest),
        scale=max(float(np.max(np.abs(g), initial=0.0)), noise / (EPS * theta_scale)),
        gradient_noise=gradient_noise,
        safety=ctx.options.safety,
    )
    return _Model(model, g, f0)


def _numbers(model: ErrorModel) -> str:
    return (
        f"κ={model.safety:g} ε_f={model.noise:.2g} γ={model.rounding:.2g} "
        f"E_g={model.gradient_error:.2g}"
    )


def _elementwise(
    ctx: FDContext, phi: Phi, m: _Model, name: str, ref: np.ndarray, h: np.ndarray
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
            _line(phi, index),
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
        f"|g - D| <= κ(γ|D| + E_g + 1.5ε_i/h_i), ε_i = ε_f + eps|g_i θ_i|/2; {_numbers(model)}; "
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


def _directional(ctx: FDContext, phi: Phi, m: _Model, name: str) -> list[Finding]:
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
        f"{_numbers(model)}"
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
        findings, checkable = consistency_findings(ctx, base, dout, rtol)
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
        m = _model(ctx, phi, base, valid)
        for name in valid:
            if elementwise:
                findings += _elementwise(ctx, phi, m, name, ref, h)
            else:
                findings += _directional(ctx, phi, m, name)
        findings += ctx.shape_failures
    except LayerFault as fault:
        return [ctx.fault(fault)]
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

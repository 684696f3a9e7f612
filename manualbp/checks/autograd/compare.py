"""Comparisons of one case: the loss, every gradient and every error term δ against the mirror."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from manualbp import torch_mirror as mirror
from manualbp.architecture import Architecture
from manualbp.case import Case
from manualbp.checks.autograd.candidates import candidate_matches
from manualbp.checks.autograd.reference import Pick, Reference
from manualbp.checks.autograd.tolerance import tolerance_reason
from manualbp.factors import matches
from manualbp.findings import Finding, compact_values, tensor_finding
from manualbp.params import Params
from manualbp.protocol import (
    ImplementationFault,
    Unsupported,
    as_loss,
    call,
    checked_gradients,
    fault_detail,
)

CHECK_NAME = "autograd"
METHOD = "torch autograd, float64"


@dataclass(frozen=True)
class CaseContext:
    """What every Finding of one case shares."""

    case: Case
    impl_name: str

    def finding(self, quantity: str, verdict: str, reason: str, **fields: Any) -> Finding:
        return Finding(
            check=CHECK_NAME,
            case=self.case.case_id,
            quantity=quantity,
            verdict=verdict,
            reason=reason,
            seed=self.case.seed,
            impl=self.impl_name,
            **fields,
        )

    def fault(self, quantity: str, fault: Exception) -> Finding:
        return self.finding(quantity, "fail", str(fault), method=METHOD, detail=fault_detail(fault))

    def compare(
        self,
        quantity: str,
        impl: np.ndarray,
        ref: np.ndarray,
        *,
        rtol: float,
        atol: float,
        tolerance_reason: str,
    ) -> Finding:
        return tensor_finding(
            check=CHECK_NAME,
            case=self.case.case_id,
            quantity=quantity,
            impl=impl,
            ref=ref,
            rtol=rtol,
            atol=atol,
            tolerance_reason=tolerance_reason,
            method=METHOD,
            seed=self.case.seed,
            impl_name=self.impl_name,
        )


def bracketed(
    impl: np.ndarray, left: np.ndarray, right: np.ndarray, rtol: float, atol: float
) -> bool:
    """Every entry of impl within [min(left, right), max(left, right)] ± the allowance."""
    allowance = atol + rtol * np.maximum(np.abs(left), np.abs(right))
    low = np.minimum(left, right) - allowance
    high = np.maximum(left, right) + allowance
    return bool(np.all((impl >= low) & (impl <= high)))


def compare_quantity(
    context: CaseContext,
    reference: Reference,
    quantity: str,
    impl: np.ndarray,
    pick: Pick,
    scale: float | None = None,
) -> Finding:
    """Compare ``impl`` with ``pick`` of the reference pass under rtol and atol = rtol·scale
    (default scale: the term scale of ``quantity``). A fail on a case with kinks becomes
    ``inconclusive`` when the passes with the left and the right derivative at the kink
    bracket every entry of ``impl``."""
    if scale is None:
        scale = reference.scales.scale[quantity]
    rtol = reference.rtol
    finding = context.compare(
        quantity,
        impl,
        pick(reference.main),
        rtol=rtol,
        atol=rtol * scale,
        tolerance_reason=tolerance_reason(rtol, reference.n, scale),
    )
    if finding.verdict == "fail" and reference.has_kinks:
        left, right = pick(reference.side("left")), pick(reference.side("right"))
        if bracketed(np.asarray(impl, dtype=np.float64), left, right, rtol, rtol * scale):
            finding.verdict = "inconclusive"
            finding.reason = reference.kink_reason()
    if finding.verdict == "fail":
        finding.detail.update(case_evidence(context.case))
    return finding


def case_evidence(case: Case) -> dict[str, Any]:
    """What :mod:`manualbp.diagnosis` needs of a failing case besides the two tensors: the
    batch size N, the layer sizes (K outputs last), the loss and the reduction."""
    arch = case.arch
    return {
        "batch_size": case.batch_size,
        "sizes": list(arch.sizes),
        "loss": arch.loss,
        "reduction": arch.reduction,
    }


def delta_evidence(
    case: Case, reference: Reference, layer: int, delta: np.ndarray
) -> dict[str, Any]:
    """For a failing ``delta.l``: the activation, the reference z_l (N, n_l) and the slopes
    f'(z_l) and f'(a_l) (the derivative at the input and, as a classic bug takes it, at the
    output of the activation), and below the output what the recurrence
    δ_l = (δ_{l+1} W_{l+1}) ⊙ f'(z_l) multiplies: the reference δ_{l+1} (N, n_{l+1}),
    W_{l+1} (n_{l+1}, n_l) and W_l (n_l, n_{l-1}) (flat, C order). A δ too large to keep
    (more than MAX_VALUES entries) has the activation-derivative patterns read here, where
    the arrays are (``summary``: whether δ ⊙ f'(z) is the reference, and δ ⊙ f'(z) the
    reference ⊙ f'(a))."""
    activation = case.arch.activations[layer - 1]
    dz = reference.main.derivative[layer - 1]
    da = mirror.activation_derivative(activation, reference.main.a[layer - 1])
    evidence: dict[str, Any] = {
        "activation": activation,
        "z": compact_values(reference.main.z[layer - 1]),
        "dz": compact_values(dz),
        "da": compact_values(da),
    }
    if evidence["z"] is None:
        ref = reference.main.delta[layer - 1]
        evidence["slopes"] = {
            "missing_activation_derivative": not matches(dz, np.ones_like(dz))
            and matches(delta * dz, ref),
            "derivative_at_output": not matches(da, dz) and matches(delta * dz, ref * da),
        }
    if layer < case.arch.depth:
        evidence["delta_next"] = compact_values(reference.main.delta[layer])
        evidence["W_next"] = compact_values(case.params[f"W{layer + 1}"])
        evidence["W"] = compact_values(case.params[f"W{layer}"])
    return evidence


def copy_params(params: Params) -> Params:
    return {key: np.array(value, copy=True) for key, value in params.items()}


def loss_and_gradient_findings(
    impl: object, context: CaseContext, reference: Reference
) -> list[Finding]:
    """Findings for loss(), the loss from gradients() and every gradient. Unsupported
    (NotImplementedError) propagates: the whole case is skipped."""
    case = context.case
    findings = []
    try:
        value = as_loss(call(impl, "loss", case.arch, copy_params(case.params), case.x, case.y))
        findings.append(
            compare_quantity(
                context, reference, "loss", np.float64(np.real(value)), lambda b: np.float64(b.loss)
            )
        )
    except ImplementationFault as fault:
        findings.append(context.fault("loss()", fault))
    try:
        result = call(impl, "gradients", case.arch, copy_params(case.params), case.x, case.y)
        value, grads = checked_gradients(case.arch, result)
    except ImplementationFault as fault:
        return [*findings, context.fault("gradients()", fault)]
    findings.append(
        compare_quantity(
            context,
            reference,
            "loss.from_gradients",
            np.float64(value),
            lambda b: np.float64(b.loss),
            reference.scales.scale["loss"],
        )
    )
    for name in case.arch.param_names:
        finding = compare_quantity(
            context, reference, f"grad.{name}", grads[name], lambda b, k=name: b.gradients[k]
        )
        if finding.verdict == "fail":
            finding.detail["candidates"] = candidate_matches(
                grads[name], case.arch, case.params, case.x, case.y, reference, name
            )
        findings.append(finding)
    return findings


def _checked_deltas(arch: Architecture, n: int, result: Any) -> list[np.ndarray]:
    """The δ list of what ``intermediates()`` returned, or ImplementationFault."""
    deltas = result.get("delta") if isinstance(result, dict) else None
    if not isinstance(deltas, (list, tuple)) or len(deltas) != arch.depth:
        raise ImplementationFault(
            f"intermediates() returned no 'delta' list of {arch.depth} arrays "
            f"(got {type(result).__name__})"
        )
    checked = []
    for layer, delta in enumerate(deltas, start=1):
        array = np.asarray(delta)
        shape = (n, arch.sizes[layer])
        if array.shape != shape or array.dtype.kind not in "iuf":
            raise ImplementationFault(
                f"intermediates() delta[{layer - 1}] has shape {array.shape} and dtype "
                f"{array.dtype}, expected real {shape}"
            )
        if not np.all(np.isfinite(array)):
            raise ImplementationFault(f"intermediates() delta[{layer - 1}] contains NaN or inf")
        checked.append(array)
    return checked


def delta_findings(impl: object, context: CaseContext, reference: Reference) -> list[Finding]:
    """One Finding per layer comparing δ_l = ∂E/∂z_l (``delta.l``)."""
    case = context.case
    try:
        result = call(impl, "intermediates", case.arch, copy_params(case.params), case.x, case.y)
        deltas = _checked_deltas(case.arch, case.batch_size, result)
    except Unsupported as exc:
        return [context.finding("delta", "skipped", str(exc))]
    except ImplementationFault as fault:
        return [context.fault("intermediates()", fault)]
    findings = []
    for layer, delta in enumerate(deltas, start=1):
        finding = compare_quantity(
            context, reference, f"delta.{layer}", delta, lambda b, i=layer - 1: b.delta[i]
        )
        if finding.verdict == "fail":
            finding.detail.update(delta_evidence(case, reference, layer, np.asarray(delta)))
        findings.append(finding)
    return findings

"""The ``autograd`` check of a layer: its forward and backward against the torch reference.

Runs when the layer's kind is asserted (``--as KIND``): the layer is claimed to BE that
function, so its forward value (``out``, or ``loss``) and every gradient (``dx``, ``dw``,
...) are compared with :func:`~manualbp.checks.layer.reference.reference` on the same case
and the same upstream gradient, under that module's rounding tolerance. A gradient that
disagrees only at the kind's kinks is ``inconclusive``; a failing quantity gets the
diagnosis of :mod:`manualbp.checks.layer.diagnosis`.
"""

from __future__ import annotations

import numpy as np

from manualbp.checks.layer.calls import LayerFault, LayerSubject, batchnorm_eps, vjp
from manualbp.checks.layer.diagnosis import attach, diagnose, shape_diagnosis
from manualbp.checks.layer.reference import Reference, reference
from manualbp.checks.layer.space import LayerCase
from manualbp.findings import Finding, tensor_finding

CHECK = "autograd"
METHOD = "torch autograd, float64"


def _tolerance_reason(ref: Reference, scale: float) -> str:
    return (
        f"float64 rounding: rtol = 16·n·eps = {ref.rtol:.3g} with n = {ref.n} (entries of out "
        f"+ of the largest array); atol = rtol × {scale:.3g}, the magnitude of the terms summed "
        "into this quantity"
    )


def _compare(
    subject: LayerSubject,
    case: LayerCase,
    quantity: str,
    impl: np.ndarray,
    ref: Reference,
    expected: np.ndarray,
) -> Finding:
    scale = ref.scales[quantity]
    finding = tensor_finding(
        check=CHECK,
        case=case.case_id,
        quantity=quantity,
        impl=impl,
        ref=expected,
        rtol=ref.rtol,
        atol=ref.rtol * scale,
        tolerance_reason=_tolerance_reason(ref, scale),
        method=METHOD,
        seed=case.seed,
        impl_name=subject.name,
    )
    mask = ref.kinks.get(quantity)
    if finding.verdict == "fail" and mask is not None:
        bad = np.abs(impl - expected) > ref.rtol * (scale + np.abs(expected))
        if np.all(mask[bad]):
            finding.verdict = "inconclusive"
            kink = subject.kind.kink if subject.kind else "a kink"
            finding.reason = (
                f"every disagreeing entry lies at {kink}, where the derivative is not defined: "
                "the layer and PyTorch may pick different one-sided values there"
            )
    return finding


def check_case(subject: LayerSubject, case: LayerCase) -> list[Finding]:
    """The autograd Findings of one case: the forward value and every gradient."""
    dout = np.ones(()) if subject.is_loss else case.dout(case.out_shape or ())
    try:
        result = vjp(subject, case, case.values, dout)
    except LayerFault as fault:
        return [
            Finding(
                check=CHECK,
                case=case.case_id,
                quantity=fault.quantity,
                verdict="fail",
                reason=str(fault),
                method="call",
                seed=case.seed,
                impl=subject.name,
            )
        ]
    ref = reference(subject, case, dout, result.out)
    eps = batchnorm_eps(subject, case, result.out)
    out_name = "loss" if subject.is_loss else "out"
    pairs = [(out_name, result.out, ref.out)] + [
        (name, result.grads[name], ref.grads[name]) for name in subject.gradients
    ]
    findings = []
    for quantity, impl, expected in pairs:
        if impl.shape != expected.shape:
            finding = Finding(
                check=CHECK,
                case=case.case_id,
                quantity=quantity,
                verdict="fail",
                reason=f"{quantity} has shape {impl.shape}, expected {expected.shape}",
                method=METHOD,
                seed=case.seed,
                impl=subject.name,
            )
            findings.append(
                attach(finding, shape_diagnosis(quantity, impl, expected, quantity[1:]))
            )
            continue
        finding = _compare(subject, case, quantity, impl, ref, expected)
        if finding.verdict == "fail":
            attach(
                finding,
                diagnose(subject, case, quantity, impl, expected, dout=dout, eps=eps, check=CHECK),
            )
        findings.append(finding)
    return findings

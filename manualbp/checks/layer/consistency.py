"""Consistency of a layer's calls: the first part of the ``fd`` check of each case.

* ``repeat.*`` — a second forward/backward with the same input, on a fresh layer, returns
  the same values (a layer that keeps state between calls fails);
* ``reuse.*`` — two forward/backward pairs, at another input x1 and at x, on ONE layer
  state (:func:`~manualbp.checks.layer.calls.reused_vjp`: an object used for x1 then x; for
  functions, backward(dout, cache of x) after a forward and backward at x1) return for x what
  a fresh layer returns: a stale cache (backward using another forward's values) or
  gradients accumulating across backward calls fail it;
* ``inputs`` — the call leaves its arguments unchanged (dout excepted: Saito's
  ``Relu.backward`` writes into it, and the check passes a copy).

Every comparison allows the rounding of the same computation done again: |a - b| <=
rtol·(|b| + max|b|), rtol = κ·n·eps with n as in :mod:`manualbp.checks.layer.fd`. A dropout
layer whose mask does not repeat under the check's seeding cannot be checked (``skipped``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from manualbp.checks.layer.calls import LayerFault, LayerSubject, Result, reused_vjp, vjp
from manualbp.checks.layer.diagnosis import Diagnosis, attach, matches
from manualbp.checks.layer.space import LayerCase
from manualbp.findings import Finding, tensor_finding

CHECK = "fd"


class FDContext:
    """What every Finding of one case shares, and how it is made."""

    def __init__(self, subject: LayerSubject, case: LayerCase, options: Any) -> None:
        self.subject, self.case, self.options = subject, case, options
        #: fail Findings of gradients of the wrong shape, reported after the others
        self.shape_failures: list[Finding] = []

    def finding(self, quantity: str, verdict: str, reason: str = "", **fields: Any) -> Finding:
        """A Finding of check ``fd`` labelled with this case, its seed and the layer."""
        return Finding(
            check=CHECK,
            case=self.case.case_id,
            quantity=quantity,
            verdict=verdict,
            reason=reason,
            seed=self.case.seed,
            impl=self.subject.name,
            **fields,
        )

    def fault(self, fault: LayerFault) -> Finding:
        """The ``fail`` Finding of a call that raised or broke the layer's convention."""
        return self.finding(fault.quantity, "fail", str(fault), method="call")


def _same(
    ctx: FDContext, quantity: str, impl: np.ndarray, ref: np.ndarray, rtol: float, reason: str
) -> Finding:
    """impl = ref within rounding (rtol, atol = rtol·max|ref|): the consistency comparisons."""
    if impl.shape != ref.shape:
        return ctx.finding(quantity, "fail", f"shape {impl.shape} after {ref.shape}")
    scale = float(np.max(np.abs(ref), initial=0.0))
    return tensor_finding(
        check=CHECK,
        case=ctx.case.case_id,
        quantity=quantity,
        impl=impl,
        ref=ref,
        rtol=rtol,
        atol=rtol * scale,
        tolerance_reason=reason,
        method="consistency",
        seed=ctx.case.seed,
        impl_name=ctx.subject.name,
    )


def _new_mask(subject: LayerSubject, result: Result, base: Result) -> bool:
    """True for a dropout layer whose output differs from the first call's: another mask."""
    if subject.kind is None or subject.kind.name != "dropout":
        return False
    return result.out.shape != base.out.shape or not np.array_equal(result.out, base.out)


def consistency_findings(
    ctx: FDContext, base: Result, dout: np.ndarray, rtol: float
) -> tuple[list[Finding], bool]:
    """repeat, reuse and inputs Findings; the flag is False when the case cannot be checked
    (a dropout layer whose mask the check cannot make repeat)."""
    subject, case = ctx.subject, ctx.case
    reason = f"rounding: rtol = κ·n·eps = {rtol:.3g}, atol = rtol × the largest entry"
    findings: list[Finding] = []
    if base.mutated:
        findings.append(
            attach(
                ctx.finding(
                    "inputs", "fail", f"the call changed {', '.join(base.mutated)} in place"
                ),
                Diagnosis(
                    "inputs_mutated",
                    f"inputs_mutated: forward or backward writes into "
                    f"{', '.join(base.mutated)}; a layer must leave its inputs unchanged",
                ),
            )
        )
    again = vjp(subject, case, case.values, dout)
    if _new_mask(subject, again, base):
        note = (
            "the forward draws another mask on every call although the global NumPy "
            "generator and dropout_param['seed'] are reseeded: it draws from a generator "
            "the check cannot reseed, so its mask cannot be replayed"
        )
        return [*findings, ctx.finding("case", "skipped", note)], False
    repeated = [("out", again.out, base.out)] + [
        (name, again.grads[name], base.grads[name]) for name in base.grads
    ]
    for name, impl, ref in repeated:
        finding = _same(ctx, f"repeat.{name}", impl, ref, rtol, reason)
        if finding.verdict == "fail":
            attach(
                finding,
                Diagnosis(
                    "inconsistent_between_calls",
                    f"inconsistent_between_calls: a second call with the same input returned "
                    f"another {name}: the layer keeps state between calls",
                ),
            )
        findings.append(finding)
    findings += _reuse(ctx, base, dout, rtol, reason)
    return findings, True


def _reuse(
    ctx: FDContext, base: Result, dout: np.ndarray, rtol: float, reason: str
) -> list[Finding]:
    """The second pair of forward/backward on one layer state against a fresh call."""
    subject, case = ctx.subject, ctx.case
    inputs = subject.kind.inputs if subject.kind else subject.arrays[:1]
    first = case.other(inputs)
    first_dout = dout if subject.is_loss else case.dout(dout.shape, stream=3)
    reused = reused_vjp(subject, case, first, first_dout, case.values, dout)
    if _new_mask(subject, reused, base):
        note = (
            "the layer drew another mask for its second forward call (a generator of "
            "its own), so its mask cannot be replayed: its second pair of calls cannot be "
            "compared with a fresh layer's"
        )
        return [ctx.finding("reuse", "skipped", note)]
    findings = []
    stale = accumulated = None
    for name in base.grads:
        finding = _same(ctx, f"reuse.{name}", reused.grads[name], base.grads[name], rtol, reason)
        if finding.verdict == "fail":
            if stale is None:
                stale = vjp(subject, case, first, dout).grads
                accumulated = vjp(subject, case, first, first_dout).grads
            attach(
                finding,
                _reuse_diagnosis(
                    name, reused.grads[name], base.grads[name], stale[name], accumulated[name]
                ),
            )
        findings.append(finding)
    return findings


def _reuse_diagnosis(
    name: str, reused: np.ndarray, fresh: np.ndarray, stale: np.ndarray, earlier: np.ndarray
) -> Diagnosis:
    if reused.shape == stale.shape and matches(reused, stale):
        return Diagnosis(
            "stale_cache",
            f"stale_cache: after two forward calls, backward returns "
            f"the {name} of the first input: it uses a cache of an earlier forward",
        )
    if reused.shape == fresh.shape and matches(reused, fresh + earlier):
        return Diagnosis(
            "inconsistent_between_calls",
            f"inconsistent_between_calls: {name} of "
            "a second backward = its own + the first one's: gradients accumulate",
        )
    return Diagnosis(
        "inconsistent_between_calls",
        f"inconsistent_between_calls: {name} of a "
        "second forward/backward on one layer differs from a fresh layer's",
    )

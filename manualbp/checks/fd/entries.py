"""Settling the slopes a comparison could not: their re-examination and their Findings.

A slope outside its comparison's allowance is re-examined along its line
(:func:`~manualbp.checks.fd.lines.examine`); :class:`Reexamined` files the outcome: an
entry settled on its own (a kink, a rough loss, a smaller step that agrees) gets a Finding
of its own (:func:`entry_finding`) and leaves the tensor's comparison
(:func:`masked_tensor_finding`); an entry refuted stays in it and fails it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from manualbp.checks.fd.case import CaseContext, relative_error
from manualbp.checks.fd.lines import (
    KINK_REASON,
    KINK_STENCIL_REASON,
    OVERFLOW_REASON,
    ROUGH_REASON,
    LineVerdict,
)
from manualbp.findings import Finding, index_label, tensor_finding


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
        where = "around a kink" if verdict.detail.get("kinked", True) else "(a rough loss)"
        return f"the gradient lies far outside the one-sided derivatives {where}"
    if verdict.outcome == "rough":
        return ROUGH_REASON + f" (one-sided differences at step {step} disagree)"
    if verdict.outcome == "overflow":
        return OVERFLOW_REASON
    if verdict.outcome == "kink_in_stencil":
        return f"{KINK_STENCIL_REASON}: {verdict.detail['kink_in_stencil']}"
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


#: Outcomes of a re-examination that settle a slope on their own. Against central
#: differences every outcome but a refutation does; against the complex step (exact where
#: the loss is analytic) only a kink does: real differences agreeing to their coarser
#: allowance cannot overrule it.
SETTLES_CENTRAL = frozenset(
    {"agrees", "smooth", "one_sided", "kink", "kink_far", "rough", "overflow", "kink_in_stencil"}
)
SETTLES_EXACT = frozenset({"one_sided", "kink", "kink_far", "overflow", "kink_in_stencil"})

EXACT_NOTE = (
    "; real central differences agree with these entries only to their coarser allowance "
    "(if loss() is not complex-analytic, e.g. uses abs or comparisons on complex values, it "
    "should not declare supports_complex)"
)


#: Entries refuted (none settled) after which a tensor's other disagreeing entries are not
#: re-examined one by one: the tensor fails anyway, and each re-examination costs up to
#: 4·refine_levels loss evaluations (minutes for a slow implementation with a wrong formula).
REFUTED_ENOUGH = 4


def worst_first(g: np.ndarray, d: np.ndarray, outside: np.ndarray) -> np.ndarray:
    """The disagreeing entries, largest disagreement first (an overflowed reference first)."""
    gap = np.abs(g[outside] - d[outside])
    return outside[np.argsort(-np.where(np.isfinite(gap), gap, np.inf), kind="stable")]


@dataclass
class Reexamined:
    """Slopes outside a comparison's allowance, after :func:`examine`: the Findings of those
    settled on their own, their positions, and the labels real differences agree with only
    coarsely (kept in the comparison, noted in its Finding)."""

    findings: list[Finding] = field(default_factory=list)
    settled: list[int] = field(default_factory=list)
    coarse: list[str] = field(default_factory=list)
    refuted: int = 0

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
        else:
            self.refuted += 1

    def noted(self, finding: Finding | None) -> Finding | None:
        """``finding`` with the coarse agreements in its detail and reason."""
        if finding is not None and self.coarse:
            finding.detail["central_agrees_coarsely"] = self.coarse
            finding.reason += EXACT_NOTE
        return finding

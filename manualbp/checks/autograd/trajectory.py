"""Gradient-descent trajectories: each step of the implementation against the mirror's step."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from manualbp import torch_mirror as mirror
from manualbp.architecture import Architecture
from manualbp.case import Case
from manualbp.checks.autograd.compare import CaseContext, compare_quantity, copy_params
from manualbp.checks.autograd.options import AutogradOptions
from manualbp.checks.autograd.reference import Reference
from manualbp.errors import ManualbpError
from manualbp.findings import Finding, compact_values
from manualbp.params import Params, check_params, flatten
from manualbp.protocol import (
    ImplementationFault,
    Unsupported,
    call,
)

#: Default learning rate: the first step moves θ by this fraction of ‖θ‖, at most MAX_LR.
STEP_FRACTION = 0.1
MAX_LR = 0.5
MAX_HALVINGS = 30


def finite(params: Params) -> bool:
    return all(np.all(np.isfinite(value)) for value in params.values())


def learning_rate(reference: Reference) -> float:
    """The step size of the trajectories: STEP_FRACTION·‖θ‖/‖∂E/∂θ‖ at most MAX_LR (MAX_LR
    when the gradient is 0), halved (up to MAX_HALVINGS times) until one step of the mirror
    does not increase the loss, so that θ moves visibly and five steps stay in float64."""
    arch, theta, grads = reference.arch, reference.params, reference.main.gradients
    norm_g = float(np.linalg.norm(flatten(arch, grads)))
    lr = MAX_LR
    if norm_g > 0.0:
        lr = min(MAX_LR, STEP_FRACTION * float(np.linalg.norm(flatten(arch, theta))) / norm_g)
    for _ in range(MAX_HALVINGS):
        trial = mirror.descend(theta, grads, lr)
        if finite(trial) and mirror.loss(arch, trial, reference.x, reference.y) <= (
            reference.main.loss
        ):
            break
        lr /= 2.0
    return lr


def frozen_names(arch: Architecture) -> frozenset[str]:
    """What the second trajectory freezes: the biases (Mazur never updates them), or W1."""
    biases = frozenset(name for name in arch.param_names if name.startswith("b"))
    return biases or frozenset({"W1"})


def _step_findings(
    context: CaseContext,
    reference: Reference,
    theta_next: Params,
    lr: float,
    frozen: frozenset[str],
    prefix: str,
) -> list[Finding]:
    """Compare one step of the implementation with the mirror's step from the same point:
    θ - lr·g within the rounding of θ and of lr·g; a frozen parameter exactly unchanged."""
    findings = []
    for name in context.case.arch.param_names:
        quantity = f"{prefix}.{name}"
        if name in frozen:
            findings.append(
                context.compare(
                    quantity,
                    theta_next[name],
                    reference.params[name],
                    rtol=0.0,
                    atol=0.0,
                    tolerance_reason="a frozen parameter must come back unchanged, bit for bit",
                )
            )
            continue

        def pick(b: mirror.Backprop, k: str = name) -> np.ndarray:
            return mirror.descend({k: reference.params[k]}, {k: b.gradients[k]}, lr)[k]

        theta = reference.params[name]
        scale = float(np.max(np.abs(theta))) + lr * reference.scales.scale[f"grad.{name}"]
        finding = compare_quantity(context, reference, quantity, theta_next[name], pick, scale)
        if finding.verdict == "fail":
            finding.detail["start"] = compact_values(theta)  # θ before the step, for Δθ
        findings.append(finding)
    return findings


def _summarise_trajectory(per_step: list[list[Finding]], detail: dict[str, Any]) -> list[Finding]:
    """Per parameter: the first failing step, else the first inconclusive one, else the last."""
    chosen = []
    for column in zip(*per_step, strict=True):
        pick = next((f for f in column if f.verdict == "fail"), None)
        pick = pick or next((f for f in column if f.verdict == "inconclusive"), column[-1])
        chosen.append(replace(pick, detail={**pick.detail, **detail}))
    return chosen


def _checked_step(arch: Architecture, result: Any) -> Params:
    """What ``step()`` returned as validated parameters, or ImplementationFault."""
    try:
        return check_params(arch, result)
    except ManualbpError as exc:
        raise ImplementationFault(f"step() returned bad parameters: {exc}") from None


def _changed_inputs(params: Params, case: Case, given: dict[str, Any]) -> list[str]:
    """Names of the inputs of a ``step()`` call that differ from what was passed in:
    parameters (``given["params"]``, copies of ``params``), ``x`` and ``y``."""
    changed = [
        name
        for name, value in params.items()
        if not np.array_equal(given["params"].get(name), value)
    ]
    changed += [extra for extra in given["params"] if extra not in params]
    return changed + [
        name for name in ("x", "y") if not np.array_equal(given[name], getattr(case, name))
    ]


def _trajectory(
    impl: object,
    context: CaseContext,
    start: Reference,
    lr: float,
    steps: int,
    frozen: frozenset[str],
    label: str,
) -> list[Finding]:
    """Run ``steps`` steps of the implementation from its own iterates, comparing each with
    the mirror's step from the same point; summarised by :func:`_summarise_trajectory`."""
    case = context.case
    reference = start
    per_step: list[list[Finding]] = []
    detail = {"lr": lr, "steps": steps, "frozen": sorted(frozen)}
    stop: Finding | None = None
    for k in range(1, steps + 1):
        if not (math.isfinite(reference.main.loss) and finite(reference.main.gradients)):
            overflow = (
                f"the reference loss or gradient is not finite at the iterate before step {k}: "
                "the trajectory left the float64 range, nothing further to compare"
            )
            stop = context.finding(f"{label}{k}", "inconclusive", overflow, detail=detail)
            break
        given = {"params": copy_params(reference.params), "x": case.x.copy(), "y": case.y.copy()}
        try:
            result = call(
                impl, "step", case.arch, given["params"], given["x"], given["y"], lr, frozen
            )
            theta = _checked_step(case.arch, result)
        except Unsupported as exc:
            return [context.finding(label, "skipped", str(exc), detail=detail)]
        except ImplementationFault as fault:
            stop = context.fault(f"{label}{k}", fault)
            break
        changed = _changed_inputs(reference.params, case, given)
        if changed:
            stop = context.finding(
                "inputs",
                "fail",
                f"step() changed {', '.join(changed)} in place; it must return new parameters "
                "and leave its inputs unchanged",
                detail=detail,
            )
            break
        per_step.append(_step_findings(context, reference, theta, lr, frozen, f"{label}{k}"))
        if k < steps:
            reference = Reference(case.arch, theta, case.x, case.y)
    summary = _summarise_trajectory(per_step, detail)
    return summary if stop is None else [*summary, stop]


def trajectory_findings(
    impl: object, context: CaseContext, reference: Reference, options: AutogradOptions
) -> list[Finding]:
    """Two trajectories of ``options.steps`` steps: nothing frozen, then biases frozen."""
    if options.steps == 0:
        return []
    arch = context.case.arch
    lr = options.learning_rate or learning_rate(reference)
    findings = _trajectory(impl, context, reference, lr, options.steps, frozenset(), "step")
    findings += _trajectory(
        impl, context, reference, lr, options.steps, frozen_names(arch), "frozen_step"
    )
    return findings

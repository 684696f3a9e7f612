"""The autograd check: compare an implementation with a float64 PyTorch mirror of the network.

For every case, the reference is :mod:`manualbp.torch_mirror` on the same architecture,
parameters and batch, and the check compares

* the loss, from ``loss()`` (``loss``) and from ``gradients()`` (``loss.from_gradients``);
* every gradient, one Finding per parameter named by its worst entry (``grad.W2[1,0]``);
* every error term δ_l = ∂E/∂z_l when the implementation has ``intermediates`` (``delta.2``);
* five gradient-descent steps when it has ``step``: one trajectory with nothing frozen
  (``step3.W1``) and one with the biases frozen, as in Mazur (``frozen_step3.b1``; W1 is
  frozen when the network has no bias), reported per parameter at the first step that
  disagrees (else the last). Each step starts from the implementation's own previous
  iterate and is compared with the mirror's step from that same point, so the rounding of
  earlier steps is not amplified; a frozen parameter must come back bit for bit. The step
  size is chosen per case so that the mirror's loss descends (:func:`learning_rate`).

Tolerance. Two correct float64 implementations differ by rounding, and rounding errors are
proportional to the magnitude of the *terms* summed into a result, not to the result: the
shared bias gradient of a softmax output layer is exactly 0 in exact arithmetic and
rounding noise of order eps in both. The rule for each tensor is therefore

    |impl - ref| <= atol + rtol·|ref|,   rtol = 16·n·eps,   atol = rtol·S,

with eps the float64 machine epsilon, n = Σ sizes + N the length of the longest chain of
roundings (the γ_n of a running error bound), 16 a safety factor for implementations that
order their sums differently (the engine's worst error is 2·eps·S over 13,000 random cases)
and S the largest entry of the magnitude of the terms (:func:`term_scales`).

Kinks. PyTorch takes relu'(0) = 0 and leaky_relu'(0) = 0.01; an implementation may choose
otherwise. When a comparison fails and some pre-activation of a ReLU layer lies within
rounding of 0, the mirror is rerun with the left and with the right derivative on those
entries; if every entry of the implementation lies between the two results the Finding is
``inconclusive`` with that reason, and otherwise it stays ``fail``.

Threads. torch runs with one intra-op thread while the check runs (``torch_threads``): on a
small machine its OpenMP pool and NumPy's OpenBLAS pool otherwise spin against each other.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from manualbp import torch_mirror as mirror
from manualbp.case import Case
from manualbp.checks import precision
from manualbp.checks.autograd.compare import (
    CHECK_NAME,
    CaseContext,
    delta_findings,
    loss_and_gradient_findings,
)
from manualbp.checks.autograd.options import AutogradOptions
from manualbp.checks.autograd.reference import Reference
from manualbp.checks.autograd.trajectory import trajectory_findings
from manualbp.checks.base import case_units, prepare_case
from manualbp.findings import Finding
from manualbp.plan import Plan, SubjectPlan, Unit
from manualbp.protocol import (
    ImplementationFault,
    Unsupported,
    capabilities,
    implementation_name,
    unsupported_reason,
)

__all__ = ["CHECK", "AutogradCheck", "AutogradOptions", "check_case", "has_failure", "run"]


def check_case(
    impl: object,
    case: Case,
    options: AutogradOptions | None = None,
    impl_name: str = "",
    judge_precision: bool = True,
) -> list[Finding]:
    """Every Finding of the autograd check for one case (see the module docstring).

    An unsupported case gives one ``skipped`` Finding (quantity ``case``); anything the
    implementation raises or returns outside the protocol gives a ``fail`` Finding naming
    the call, and the other comparisons go on. Failing ones are ``imprecise`` when
    :func:`manualbp.checks.precision.judge` finds the evidence (rerunning the check at a
    tamer point, without judging again).
    """
    findings = _findings(impl, case, options or AutogradOptions(), impl_name)
    if not judge_precision:
        return findings
    return precision.judge(
        findings, case, lambda tame: check_case(impl, tame, options, impl_name, False)
    )


def _findings(impl: object, case: Case, options: AutogradOptions, impl_name: str) -> list[Finding]:
    context = CaseContext(case, impl_name or implementation_name(impl))
    try:
        reason = unsupported_reason(impl, case.arch)
    except ImplementationFault as fault:
        return [context.fault("supports()", fault)]
    if reason is not None:
        return [context.finding("case", "skipped", reason)]
    reference = Reference(case.arch, case.params, case.x, case.y)
    try:
        findings = loss_and_gradient_findings(impl, context, reference)
    except Unsupported as exc:
        return [context.finding("case", "skipped", str(exc))]
    available = capabilities(impl)
    if available.intermediates:
        findings += delta_findings(impl, context, reference)
    if available.step:
        findings += trajectory_findings(impl, context, reference, options)
    return findings


def run(
    impl: object,
    cases: Iterable[Case],
    *,
    impl_name: str = "",
    options: AutogradOptions | None = None,
) -> Iterator[Finding]:
    """Yield the Findings of the autograd check for every case, one case at a time."""
    options = options or AutogradOptions()
    with mirror.threads(options.torch_threads):
        for case in cases:
            yield from check_case(impl, case, options, impl_name)


class AutogradCheck:
    """The autograd check as a :class:`~manualbp.checks.base.Check`: one unit per random
    case."""

    name = CHECK_NAME

    def __init__(self, options: AutogradOptions | None = None) -> None:
        self.options = options or AutogradOptions()

    def units(self, subject: SubjectPlan, plan: Plan) -> list[Unit]:
        """One unit per random case of the plan."""
        return case_units(self.name, subject, plan)

    def run(self, unit: Unit, impl: object, subject: SubjectPlan) -> list[Finding]:
        """The Findings of one random case (a ``skipped`` one when no case can be drawn)."""
        with mirror.threads(self.options.torch_threads):
            case = prepare_case(self.name, unit, impl, subject)
            if isinstance(case, Finding):
                return [case]
            return check_case(impl, case, self.options, subject.name)


CHECK = AutogradCheck()


def has_failure(impl: object, case: Case, options: AutogradOptions | None = None) -> bool:
    """True when the autograd check reports a ``fail`` on ``case`` (the predicate that
    :func:`manualbp.strategies.shrink_failure` uses by default)."""
    options = options or AutogradOptions()
    with mirror.threads(options.torch_threads):
        return any(finding.verdict == "fail" for finding in check_case(impl, case, options))

"""The finite-difference check: any implementation's gradients against its own loss.

Only ``loss`` and ``gradients`` are needed. For each case, on f(θ) = loss(θ):

``consistency``   gradients() is a well-behaved function (:mod:`.consistency`);
``central``       fourth-order central differences for every entry, step scaled to the entry;
``complex_step``  Im f(θ + i·h·e_i)/h for every entry, to rounding level (supports_complex);
``directional``   K random unit directions: gᵀv against the derivative along v, in O(K)
                  evaluations (instead of the two above when P > ``max_elementwise``);
``taylor``        the step-size-free verdict from the decay of the Taylor remainder.

Tolerances come from an error model of each method (:mod:`.lines`): the rounding noise
of the loss and of the gradient (both measured), the a-priori rounding γ of the gradient,
κ = ``safety``; every Finding writes its rule in ``tolerance_reason``. Perturbations that
cross a kink (ReLU at 0) are recognised from the one-sided derivatives and never produce a
false ``fail``.

Cases of at most ``max_elementwise`` parameters run with ``blas_threads`` OpenBLAS threads
(one by default: their many small products only wait for cores otherwise, see
:mod:`.threads`). Perturbed losses are evaluated through the implementation's optional
``perturbed_losses`` and ``losses_along`` when it has them (many perturbations per
vectorised forward pass; see :mod:`manualbp.protocol`), else one ``loss`` call each: same
function, same verdicts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import numpy as np

from manualbp.case import Case
from manualbp.checks import precision
from manualbp.checks.base import case_units, prepare_case
from manualbp.checks.fd.case import METHODS, CaseContext, FDOptions
from manualbp.checks.fd.consistency import call_gradients, consistency_findings
from manualbp.checks.fd.elementwise import (
    central_findings,
    complex_step_findings,
    directional_findings,
)
from manualbp.checks.fd.objective import Objective, gradient_noise, loss_noise
from manualbp.checks.fd.taylor import taylor_findings
from manualbp.checks.fd.threads import blas_threads
from manualbp.findings import Finding
from manualbp.plan import Plan, SubjectPlan, Unit
from manualbp.protocol import (
    ImplementationFault,
    Unsupported,
    capabilities,
    fault_detail,
    unsupported_reason,
)

__all__ = ["CHECK", "METHODS", "FDCheck", "FDOptions", "check_case", "run"]


def run(
    impl: object,
    cases: Iterable[Case],
    *,
    impl_name: str = "",
    options: FDOptions | None = None,
) -> Iterator[Finding]:
    """Yield the Findings (check ``fd``) of every case, one case after another.

    A case the implementation does not support gives one ``skipped`` Finding; an
    implementation that raises or breaks the protocol gives a ``fail`` Finding saying what
    it did, and the check goes on with the next method or case.
    """
    options = options or FDOptions()
    for case in cases:
        yield from check_case(impl, case, impl_name, options)


def check_case(
    impl: object,
    case: Case,
    impl_name: str = "",
    options: FDOptions | None = None,
    judge_precision: bool = True,
) -> list[Finding]:
    """Every Finding of the finite-difference check on one case (see :func:`run`); failing
    ones are ``imprecise`` when :func:`manualbp.checks.precision.judge` finds the evidence
    (rerunning the check at a tamer point, without judging again)."""
    options = options or FDOptions()
    small = case.arch.n_params <= options.max_elementwise
    with blas_threads(options.blas_threads if small else None):
        findings = list(_run_case(impl, case, impl_name, options))
    if not judge_precision:
        return findings
    return precision.judge(
        findings, case, lambda tame: check_case(impl, tame, impl_name, options, False)
    )


class FDCheck:
    """The finite-difference check as a :class:`~manualbp.checks.base.Check`: one unit per
    random case."""

    name = "fd"

    def __init__(self, options: FDOptions | None = None) -> None:
        self.options = options or FDOptions()

    def units(self, subject: SubjectPlan, plan: Plan) -> list[Unit]:
        """One unit per random case of the plan."""
        return case_units(self.name, subject, plan)

    def run(self, unit: Unit, impl: object, subject: SubjectPlan) -> list[Finding]:
        """The Findings of one random case (a ``skipped`` one when no case can be drawn)."""
        case = prepare_case(self.name, unit, impl, subject)
        if isinstance(case, Finding):
            return [case]
        return check_case(impl, case, subject.name, self.options)


CHECK = FDCheck()


def _problem(
    case: Case, impl_name: str, error: Exception, quantity: str, method: str = ""
) -> Finding:
    """``skipped`` for Unsupported (quantity "case", or the method when only it is
    unsupported), ``fail`` naming ``quantity`` (e.g. "loss()") for an ImplementationFault."""
    skipped = isinstance(error, Unsupported)
    return Finding(
        check="fd",
        case=case.case_id,
        quantity=(method or "case") if skipped else quantity,
        verdict="skipped" if skipped else "fail",
        reason=str(error),
        method=method,
        seed=case.seed,
        impl=impl_name,
        detail=fault_detail(error),
    )


#: A loss at least this large (about the square root of the largest float) is rounded in
#: units so coarse that no finite difference of it resolves a gradient: comparing would be
#: vacuous, so the case is ``inconclusive``.
HUGE_LOSS = 1e154


def _vacuous(case: Case, impl_name: str, f0: float) -> Finding:
    return Finding(
        check="fd",
        case=case.case_id,
        quantity="case",
        verdict="inconclusive",
        reason=(
            f"the loss is {f0:.3g}: its rounding (about {abs(f0) * 2.2e-16:.2g}) swamps any "
            "difference of it, so finite differences cannot resolve the gradient (a "
            "comparison would pass vacuously)"
        ),
        seed=case.seed,
        impl=impl_name,
    )


def _run_case(impl: object, case: Case, impl_name: str, options: FDOptions) -> Iterator[Finding]:
    try:
        reason = unsupported_reason(impl, case.arch)
    except ImplementationFault as error:
        yield _problem(case, impl_name, error, "supports()")
        return
    if reason is not None:
        yield _problem(case, impl_name, Unsupported(reason), "case")
        return
    objective = Objective(impl, case)
    try:
        f0 = float(objective.value(objective.theta))
    except (ImplementationFault, Unsupported) as error:
        yield _problem(case, impl_name, error, "loss()")
        return
    if abs(f0) >= HUGE_LOSS:
        yield _vacuous(case, impl_name, f0)
        return
    try:
        first = call_gradients(impl, case)
    except (ImplementationFault, Unsupported) as error:
        yield _problem(case, impl_name, error, "gradients()")
        return
    rng = np.random.default_rng([options.seed, case.seed if case.seed is not None else 0])
    try:
        noise, measured_noise = loss_noise(objective, f0, rng)
    except (ImplementationFault, Unsupported) as error:
        yield _problem(case, impl_name, error, "loss()")
        return
    try:
        noise_g = gradient_noise(objective, rng)
    except (ImplementationFault, Unsupported) as error:
        yield _problem(case, impl_name, error, "gradients()")
        return
    ctx = CaseContext(
        case, impl_name, options, objective, f0, first.grads, noise, noise_g, rng, measured_noise
    )
    methods: dict[str, Callable[[], Iterable[Finding]]] = {
        "consistency": lambda: consistency_findings(ctx, first, impl),
        "central": lambda: central_findings(ctx),
        "complex_step": lambda: complex_step_findings(ctx),
        "directional": lambda: directional_findings(ctx, capabilities(impl).complex),
        "taylor": lambda: taylor_findings(ctx),
    }
    for method in options.planned(objective.size, capabilities(impl).complex):
        try:
            yield from methods[method]()
        except (ImplementationFault, Unsupported) as error:
            called = "gradients()" if method == "consistency" else "loss()"
            yield _problem(case, impl_name, error, called, method)

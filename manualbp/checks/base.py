"""The Check protocol, and the random cases every case-based check runs on.

A check is an object with a ``name``, ``units(subject, plan)`` — the units of work it has for
one subject under one plan (:mod:`manualbp.plan`) — and ``run(unit, impl, subject)`` — the
Findings of one unit, computed in whatever process holds the implementation. Checks share
nothing but these types; :data:`manualbp.checks.REGISTRY` lists them.

Random cases are drawn *inside the space the implementation supports*: case i of a run is
drawn from ``case_seed(run seed, i)``; when the implementation declines it (``supports``
returns False, or ``loss`` raises NotImplementedError) the case is redrawn from a seed of its
own, up to :data:`MAX_DRAWS` times, so ``--cases N`` means N cases verified wherever N can
be drawn. The seed a case was finally drawn from is the one its Findings carry, so
``--case-seed`` rebuilds it directly.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from manualbp.case import Case
from manualbp.findings import Finding
from manualbp.plan import Plan, SubjectPlan, Unit
from manualbp.protocol import (
    ImplementationFault,
    Unsupported,
    as_loss,
    call,
    unsupported_reason,
)
from manualbp.quantity import Quantity
from manualbp.space import case_seed, random_case

#: Draws of a case index before the run gives up finding an architecture the subject supports.
MAX_DRAWS = 64


class Check(Protocol):
    """A check: its units of work for a subject, and the Findings of one unit."""

    name: str

    def units(self, subject: SubjectPlan, plan: Plan) -> list[Unit]:
        """Every unit this check runs on ``subject`` under ``plan``."""
        ...

    def run(self, unit: Unit, impl: object, subject: SubjectPlan) -> list[Finding]:
        """The Findings of ``unit``, with ``impl`` the loaded implementation of ``subject``."""
        ...


def case_units(check: str, subject: SubjectPlan, plan: Plan) -> list[Unit]:
    """One unit of ``check`` per random case slot of ``plan`` (:meth:`Plan.case_slots`)."""
    return [
        Unit(
            check=check,
            subject=subject.key,
            label=case.case_id if case is not None else f"case-{index}",
            index=index,
            run_seed=plan.seed,
            seed=seed,
            case=case,
        )
        for index, seed, case in plan.case_slots()
    ]


def draw_seed(run_seed: int, index: int, attempt: int) -> int:
    """The seed of draw ``attempt`` of case ``index``: :func:`~manualbp.space.case_seed` for
    the first draw (so supported cases are those ``--seed`` always drew), then independent
    streams of their own."""
    if attempt == 0:
        return case_seed(run_seed, index)
    return int(np.random.SeedSequence([run_seed, index, attempt]).generate_state(1)[0])


def declined(impl: object, case: Case) -> str | None:
    """Why ``impl`` declines ``case`` — ``supports(arch)`` is False or ``loss`` raises
    NotImplementedError — or None when it takes it (a loss() that fails otherwise takes it:
    the checks report that failure)."""
    reason = unsupported_reason(impl, case.arch)
    if reason is not None:
        return reason
    params = {name: np.array(value, copy=True) for name, value in case.params.items()}
    try:
        as_loss(call(impl, "loss", case.arch, params, case.x.copy(), case.y.copy()))
    except Unsupported as exc:
        return str(exc)
    except ImplementationFault:
        return None
    return None


def prepare_case(check: str, unit: Unit, impl: object, subject: SubjectPlan) -> Case | Finding:
    """:func:`unit_case`, then ``impl.reset()`` when the subject keeps state between calls
    (the draw may have called ``loss``), so the check starts from a fresh implementation."""
    case = unit_case(check, unit, impl, subject)
    if subject.capabilities.reset:
        impl.reset()  # type: ignore[attr-defined]
    return case


def _skipped(
    check: str, unit: Unit, subject: SubjectPlan, reason: str, seed: int | None
) -> Finding:
    return Finding(
        check=check,
        case=unit.label,
        quantity=Quantity.word("case").format(),
        verdict="skipped",
        reason=reason,
        seed=seed,
        impl=subject.name,
    )


def unit_case(check: str, unit: Unit, impl: object, subject: SubjectPlan) -> Case | Finding:
    """The case of a random-case unit, or a ``skipped`` Finding saying why there is none.

    An explicit case or seed is taken as it is (declined: skipped). Otherwise the case is
    drawn from the subject's space until the implementation takes it (:func:`declined`), at
    most :data:`MAX_DRAWS` times; a ``supports()`` that raises is reported as a ``fail``.
    """
    try:
        if unit.case is not None or unit.seed is not None:
            case = unit.case or random_case(unit.seed, subject.space, case_id=unit.label)  # type: ignore[arg-type]
            reason = declined(impl, case)
            return case if reason is None else _skipped(check, unit, subject, reason, case.seed)
        reason = ""
        for attempt in range(MAX_DRAWS):
            seed = draw_seed(unit.run_seed, unit.index or 0, attempt)
            case = random_case(seed, subject.space, case_id=unit.label)
            reason = declined(impl, case) or ""
            if not reason:
                return case
    except ImplementationFault as fault:
        return Finding(
            check=check,
            case=unit.label,
            quantity=Quantity.call("supports").format(),
            verdict="fail",
            reason=str(fault),
            impl=subject.name,
        )
    return _skipped(
        check,
        unit,
        subject,
        f"no case the implementation takes in {MAX_DRAWS} draws from its space (the last: "
        f"{reason})",
        None,
    )

"""The one loop that runs checks: describe the subjects, run their units, label the Findings.

``manualbp verify``, ``manualbp selftest``, the pytest plugin, the Python API
(:func:`manualbp.check`) and the false-alarm campaign all go through :func:`describe` and
:func:`run_subject`: units come from the registered checks (:mod:`manualbp.checks`), are
performed by an executor (in supervised worker processes, or in process), and every Finding
comes back labelled with its random case's index and, when it does not pass, with the
command that reruns exactly its case.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from typing import Any

from manualbp.case import Case
from manualbp.checks import get_check
from manualbp.checks.published.file import BUILTIN_PREFIX
from manualbp.errors import ManualbpError
from manualbp.findings import Finding
from manualbp.pipeline.executors import Death, Executor
from manualbp.pipeline.work import SubjectRequest
from manualbp.plan import Plan, SubjectPlan, Unit
from manualbp.quantity import Quantity

#: ``progress(label, done, total)``: called after every unit (see the CLI's progress line).
Progress = Callable[[str, int, int], None]


def raise_bad_input(result: Any) -> Any:
    if isinstance(result, ManualbpError):
        raise result
    return result


def _import_failure(request: SubjectRequest, death: Death) -> Finding:
    return Finding(
        check="load",
        case="import",
        quantity=Quantity.word("import").format(),
        verdict="fail",
        reason=f"implementation {death.what} while being loaded ({request.spec})",
        impl=request.name or request.spec,
        detail={"traceback": list(death.trace)} if death.trace else {},
    )


def describe(
    requests: Sequence[SubjectRequest], executor: Executor
) -> tuple[list[SubjectPlan], list[Finding]]:
    """Load and describe every subject (bad input raises its ManualbpError); a subject whose
    loading ends its process, or calls ``sys.exit``, gives a ``fail`` Finding instead."""
    results = dict(executor.map([("describe", request) for request in requests]))
    subjects, failures = [], []
    for position, request in enumerate(requests):
        result = raise_bad_input(results[position])
        if isinstance(result, Death):
            failures.append(_import_failure(request, result))
        else:
            subjects.append(result)
    return subjects, failures


def reproduce_command(subject: SubjectPlan, finding: Finding) -> str | None:
    """The command that reruns exactly the case behind ``finding``, or None when the subject
    has no ``--impl`` spec (an object handed to the Python API)."""
    if not subject.spec:
        return None
    parts = ["manualbp", "verify", "--impl", subject.spec, "--checks", finding.check]
    if finding.check == "published":
        source = str(finding.detail.get("source", ""))
        if source and not source.startswith(BUILTIN_PREFIX):  # built-ins run by default
            parts += ["--reference", source]
    elif finding.seed is not None:
        parts += ["--case-seed", str(finding.seed), *subject.space_args]
    return shlex.join(parts)


def death_finding(unit: Unit, subject: SubjectPlan, death: Death) -> Finding:
    """The ``fail`` Finding of a unit whose work ended without an answer."""
    quantity = Quantity.call(death.method) if death.method else Quantity.word("case")
    return Finding(
        check=unit.check,
        case=unit.label,
        quantity=quantity.format(),
        verdict="fail",
        reason=death.sentence(unit.label),
        seed=unit.seed if unit.seed is not None else (unit.case.seed if unit.case else None),
        impl=subject.name,
        detail={"traceback": list(death.trace)} if death.trace else {},
    )


def label(findings: list[Finding], unit: Unit, subject: SubjectPlan) -> list[Finding]:
    """Name the subject, the random case's index and, for every Finding that does not pass
    or is not an erratum, the command that reruns its case."""
    for finding in findings:
        finding.impl = finding.impl or subject.name
        if unit.index is not None:
            finding.detail.setdefault("case_index", unit.index)
        if finding.verdict in ("fail", "inconclusive") and finding.reproduce is None:
            finding.reproduce = reproduce_command(subject, finding)
    return findings


def units_of(subject: SubjectPlan, plan: Plan) -> list[Unit]:
    """Every unit of every selected check for ``subject``."""
    return [unit for name in plan.checks for unit in get_check(name).units(subject, plan)]


def run_subject(
    subject: SubjectPlan,
    plan: Plan,
    executor: Executor,
    progress: Progress | None = None,
    timings: dict[str, float] | None = None,
) -> list[Finding]:
    """Every Finding of ``plan`` on ``subject``, each labelled (:func:`label`); a unit whose
    work died becomes one ``fail`` Finding saying what happened (:func:`death_finding`).
    ``timings`` (if given) accumulates the seconds of each ``subject:check``."""
    units = units_of(subject, plan)
    findings: list[Finding] = []
    for done, (position, result) in enumerate(
        executor.map([("unit", subject, unit) for unit in units]), start=1
    ):
        unit = units[position]
        result = raise_bad_input(result)
        if isinstance(result, Death):
            result = [death_finding(unit, subject, result)]
        findings += label(result, unit, subject)
        if progress is not None:
            progress(f"{subject.name} {unit.check}", done, len(units))
    return findings


def shrink_first_failure(
    subject: SubjectPlan, findings: Sequence[Finding], executor: Executor
) -> dict[str, Any] | None:
    """The smallest failing case below the first random case on which the autograd check
    failed (see :meth:`~manualbp.pipeline.work.Workbench.shrink`), or None."""
    from manualbp.space import random_case

    first = next(
        (
            f
            for f in findings
            if f.impl == subject.name
            and f.check == "autograd"
            and f.verdict == "fail"
            and f.seed is not None
        ),
        None,
    )
    if first is None:
        return None
    case: Case = random_case(first.seed, subject.space, case_id=first.case)  # type: ignore[arg-type]
    ((_, result),) = list(executor.map([("shrink", subject, case)]))
    return None if isinstance(result, Death) else raise_bad_input(result)

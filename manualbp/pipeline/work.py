"""What runs where the implementation lives: loading subjects and performing tasks.

The supervisor (:mod:`manualbp.pipeline.supervisor`) runs these in its worker processes, the
in-process executor (:mod:`manualbp.pipeline.executors`) in the calling process. A task is a
small picklable tuple; :class:`Workbench` loads each subject once per process and keeps it.

Tasks:

``("describe", request)``      load the subject and describe it (:class:`SubjectPlan`)
``("unit", subject, unit)``    the Findings of one unit of one check
``("shrink", subject, case)``  the smallest failing case below ``case`` (a dict) or None
``("layers", requests, settings)``  the layer check on every layer of the requests
``("layer_mutant", name, settings)``  the layer check on one layer mutant (selftest)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from manualbp.architecture import Architecture
from manualbp.case import Case
from manualbp.checks import get_check
from manualbp.checks.base import declined
from manualbp.checks.support import supported_space
from manualbp.findings import Finding
from manualbp.plan import SubjectPlan, Unit
from manualbp.protocol import capabilities, implementation_name, load_implementation
from manualbp.space import ArchSpace

#: Distinct cases the shrinker may run the autograd check on, per implementation.
SHRINK_BUDGET = 150


@dataclass(frozen=True)
class SubjectRequest:
    """An implementation to check, before it is loaded: its ``--impl`` ``spec`` (or the
    object ``obj`` itself, with a ``name`` for reports), and the space its cases come from;
    ``token`` makes the key of an object unique (worker processes cache by key)."""

    spec: str
    space: ArchSpace = field(default_factory=ArchSpace)
    obj: Any = None
    name: str = ""
    token: str = ""

    @property
    def key(self) -> str:
        """How the run names this subject internally (its spec, or the object's name)."""
        return ":".join(part for part in (self.spec or self.name, self.token) if part)


class Workbench:
    """The implementations loaded in this process, by subject key."""

    def __init__(self) -> None:
        self._loaded: dict[str, object] = {}

    def implementation(self, key: str, spec: str, obj: Any) -> object:
        """The implementation of subject ``key``, loaded on first use."""
        if key not in self._loaded:
            self._loaded[key] = obj if obj is not None else load_implementation(spec)
        return self._loaded[key]

    def describe(self, request: SubjectRequest) -> SubjectPlan:
        """Load ``request`` and describe it: name, capabilities, and its case space narrowed
        to the architectures it declares (``architectures``, unless the run fixed them) and
        to the choices it takes (:func:`manualbp.checks.support.supported_space`)."""
        impl = self.implementation(request.key, request.spec, request.obj)
        space = request.space
        declared = getattr(impl, "architectures", None)
        if declared and not space.fixed:
            fixed = tuple(a for a in declared if isinstance(a, Architecture))
            if fixed:
                space = replace(space, fixed=fixed)
        space = supported_space(space, lambda case: declined(impl, case) is None)
        return SubjectPlan(
            key=request.key,
            spec=request.spec,
            name=implementation_name(impl, request.name or request.spec),
            space=space,
            space_args=request.space.to_cli(),
            capabilities=capabilities(impl),
            obj=request.obj,
        )

    def unit(self, subject: SubjectPlan, unit: Unit) -> list[Finding]:
        """The Findings of ``unit``, with ``impl.reset()`` first when the subject has it."""
        impl = self.implementation(subject.key, subject.spec, subject.obj)
        if subject.capabilities.reset:
            impl.reset()  # type: ignore[attr-defined]
        return get_check(unit.check).run(unit, impl, subject)

    def shrink(self, subject: SubjectPlan, case: Case) -> dict[str, Any] | None:
        """The smallest case below ``case`` on which the autograd check still fails *with the
        same diagnosis* (searched by Hypothesis, :func:`manualbp.strategies.shrink_failure`),
        as a dict, or None: a smaller case failing for another reason would send the user
        after another bug. Failing means what the gate says, ``imprecise`` judged: a case
        where only float64 disagrees is not one the user can rerun to see the bug."""
        from manualbp import torch_mirror as mirror
        from manualbp.checks.autograd import check_case
        from manualbp.diagnosis import diagnose
        from manualbp.strategies import rebuild_hint, shrink_failure, space_below

        impl = self.implementation(subject.key, subject.spec, subject.obj)

        def kind_on(target: Case) -> str | None:
            found = diagnose(check_case(impl, target))
            return None if found is None else found.kind

        with mirror.threads(1):
            kind = kind_on(case)
            if kind is None:
                return None
            smallest = shrink_failure(
                impl,
                fails=lambda _, target: kind_on(target) == kind,
                space=space_below(case),
                budget=SHRINK_BUDGET,
            )
        if smallest is None:  # the failure did not recur on the cases drawn below it
            return None
        return {
            "impl": subject.name,
            "from_case": case.case_id,
            "from_seed": case.seed,
            "diagnosis_kind": kind,
            "arch": smallest.arch.to_dict(),
            "batch_size": smallest.batch_size,
            "scale": smallest.meta.get("scale"),
            "seed": smallest.seed,
            "rebuild": rebuild_hint(smallest),
        }

    def layers(self, requests: Sequence[Any], settings: Any) -> list[Finding]:
        """The layer check on every layer the ``--layer`` requests name (graph nodes see each
        other), on ``settings.cases`` random cases or exactly the ``settings.case_seeds``."""
        from manualbp.checks.layer import draw_case, load_layers, run, run_many

        subjects = [s for r in requests for s in load_layers(r.spec, r.kind)]
        options = {"checks": settings.checks, "seed": settings.seed, "space": settings.space}
        if not settings.case_seeds:
            return list(run_many(subjects, cases=settings.cases, **options))
        findings: list[Finding] = []
        for subject in subjects:
            cases = [
                draw_case(subject.kind, seed, settings.space, f"layer-case-{i}", subject.shapes)
                for i, seed in enumerate(settings.case_seeds)
            ]
            findings += run(subject, cases=cases, **options)
        return findings

    def layer_mutant(self, name: str, settings: Any) -> list[Finding]:
        """The layer check on the layer mutant ``name``, on cases of its own space."""
        from manualbp.mutants.layers import LAYER_MUTANTS, mutant_findings

        return mutant_findings(
            LAYER_MUTANTS[name], cases=settings.cases, seed=settings.seed, checks=settings.checks
        )

    def perform(self, task: tuple[Any, ...]) -> Any:
        """Dispatch one task (module docstring)."""
        kind, *arguments = task
        if kind == "describe":
            return self.describe(*arguments)
        if kind == "unit":
            return self.unit(*arguments)
        if kind == "shrink":
            return self.shrink(*arguments)
        if kind == "layers":
            return self.layers(*arguments)
        if kind == "layer_mutant":
            return self.layer_mutant(*arguments)
        raise ValueError(f"unknown task {kind!r}")

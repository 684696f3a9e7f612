"""The published-numbers check: every number a worked example prints, at its printed precision.

Each reference file (reference/README.md) describes a worked example — an MLP, a scalar
computational graph or one affine layer — and lists every number the source prints, as
printed. :func:`run` computes each one and yields one Finding per printed number:

* ``mlp`` examples are computed by the implementation under test, through the protocol
  (:mod:`manualbp.checks.published.values`); an implementation that declines the example
  (``supports`` is False, or ``loss`` raises NotImplementedError on its network and batch)
  gets one ``skipped`` Finding (quantity ``case``) — not one per figure, and no figure it
  never computed counts as its pass — a quantity that needs a
  method it lacks is ``skipped``, and one that raises or breaks the protocol is ``fail``.
* ``graph`` and ``affine`` examples are computed with the implementation's own scalar nodes
  (``graph_node``) or affine layer (``affine_layer``) when it has them, as manualbp's engine
  does; they do not apply to an implementation without them.

Verdicts follow :func:`manualbp.checks.published.rules.judge`: agreement within half a unit
of the last printed decimal (or the quantity's declared ``int`` / ``truncated`` / ``rounded``
rule) passes; a known erratum of the source is ``erratum`` while the implementation gives
the correct value and ``fail`` if it ever matches the printed mistake. A disagreement that
is no recorded erratum is explained when the usual causes in a source reproduce it
(:mod:`manualbp.checks.published.explain`): its diagnosis then says so, and the entry to put
in the reference file is in ``detail["suggested_entry"]``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from manualbp.case import Case
from manualbp.checks.base import declined
from manualbp.checks.published.explain import Explainer
from manualbp.checks.published.explanation import annotate
from manualbp.checks.published.file import default_references, load_reference, parse_reference
from manualbp.checks.published.paths import Interval, Path
from manualbp.checks.published.problems import (
    AffineProblem,
    GraphProblem,
    MLPProblem,
    PublishedQuantity,
    ReferenceExample,
)
from manualbp.checks.published.rules import judge, parse_printed
from manualbp.checks.published.values import MLPValues, affine_values, graph_values
from manualbp.findings import Finding
from manualbp.plan import Plan, SubjectPlan, Unit
from manualbp.protocol import ImplementationFault, Unsupported, fault_detail

__all__ = [
    "Explainer",
    "ReferenceExample",
    "case_finding",
    "default_references",
    "load_reference",
    "parse_reference",
    "run",
]

CHECK = "published"
PROTOCOL_EVALUATOR = "the implementation under test, through the protocol"


def evaluate(quantity: PublishedQuantity, leaf: Callable[[Path], float]) -> tuple[float, float]:
    """(value, spread): the quantity's expression with every path read by ``leaf``, and the
    most that the rule's rounded intermediates (each ± half a unit of its decimals) can move
    it (0 unless the rule is ``rounded``)."""
    expression = quantity.expression
    value = expression.evaluate(lambda path: Interval.point(leaf(path)))
    if not quantity.rule.rounded:
        return value.lo, 0.0

    def widened(path: Path) -> Interval:
        places = quantity.rule.rounded.get(path.text)
        radius = 0.0 if places is None else 0.5 * 10.0**-places
        return Interval.around(leaf(path), radius)

    return value.lo, expression.evaluate(widened).radius_about(value.lo)


def _detail(
    reference: ReferenceExample, quantity: PublishedQuantity, evaluator: str
) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "label": quantity.label,
        "path": quantity.expression.text,
        "printed": quantity.printed,
        "rule": quantity.rule.kind,
        "citation": reference.citation.text(),
        "source": reference.source,
        "evaluated_by": evaluator,
    }
    if quantity.rule.rounded:
        detail["rounded_intermediates"] = dict(quantity.rule.rounded)
    if quantity.note:
        detail["note"] = quantity.note
    erratum = quantity.erratum
    if erratum is not None:
        detail["correct"] = erratum.correct
        detail["explanation"] = erratum.explanation
        detail["evidence"] = dict(erratum.evidence)
        if erratum.reproduced_by:
            detail["reproduced_by"] = erratum.reproduced_by
    return detail


def quantity_finding(
    reference: ReferenceExample,
    quantity: PublishedQuantity,
    leaf: Callable[[Path], float],
    impl: str,
    evaluator: str,
    explainer: Explainer | None = None,
) -> Finding:
    """Compute one printed quantity with ``leaf`` and judge it; never raises for what an
    implementation does (Unsupported → ``skipped``, ImplementationFault → ``fail``).

    ``impl`` names who computed it in the Finding, ``evaluator`` says how (in ``detail``).
    A disagreement that is no recorded erratum is handed to ``explainer``: what it finds
    replaces the likely bug (:mod:`manualbp.checks.published.explain`).
    """
    printed = float(parse_printed(quantity.printed))
    base = {
        "check": CHECK,
        "case": reference.id,
        "quantity": quantity.name,
        "ref_value": printed,
        "method": quantity.rule.kind,
        "impl": impl,
        "detail": _detail(reference, quantity, evaluator),
    }
    try:
        value, spread = evaluate(quantity, leaf)
    except Unsupported as exc:
        return Finding(verdict="skipped", reason=str(exc), **base)
    except ImplementationFault as exc:
        base["detail"].update(fault_detail(exc))
        return Finding(verdict="fail", reason=f"the implementation misbehaved: {exc}", **base)
    verdict, reason = judge(value, quantity.printed, quantity.rule, spread, quantity.erratum)
    error = abs(value - printed)
    relative = 0.0 if error == 0 else (error / abs(printed) if printed else float("inf"))
    finding = Finding(
        verdict=verdict,
        reason=reason,
        impl_value=value,
        abs_error=error,
        rel_error=relative,
        tolerance=0.0,
        atol=quantity.rule.atol(quantity.printed, spread),
        tolerance_reason=quantity.rule.describe(quantity.printed, spread),
        **base,
    )
    if verdict == "fail" and quantity.erratum is None and explainer is not None:
        explanation = explainer.explain(quantity, value)
        if explanation is not None:
            annotate(finding, explanation)
    return finding


def case_finding(reference: ReferenceExample, impl: str, verdict: str, reason: str) -> Finding:
    """The one Finding (quantity ``case``) of a worked example not computed as a whole."""
    return Finding(
        check=CHECK,
        case=reference.id,
        quantity="case",
        verdict=verdict,
        reason=reason,
        impl=impl,
        detail={"citation": reference.citation.text(), "source": reference.source},
    )


def _run_mlp(impl: object, reference: ReferenceExample, impl_name: str) -> Iterator[Finding]:
    problem = reference.problem
    assert isinstance(problem, MLPProblem)
    case = Case(reference.id, problem.arch, problem.params, problem.x, problem.y)
    try:
        reason = declined(impl, case)
    except ImplementationFault as exc:
        yield case_finding(reference, impl_name, "fail", str(exc))
        return
    if reason is not None:
        yield case_finding(reference, impl_name, "skipped", reason)
        return
    values = MLPValues(impl, problem)
    explainer = Explainer(reference, values.value, values)
    for quantity in reference.quantities:
        yield quantity_finding(
            reference, quantity, values.value, impl_name, PROTOCOL_EVALUATOR, explainer
        )


def _run_example(
    impl: object, reference: ReferenceExample, impl_name: str, capability: str
) -> Iterator[Finding]:
    """A graph or affine example computed with the subject's ``graph_node`` factory or
    ``affine_layer`` (``capability``)."""
    problem = reference.problem
    maker = getattr(impl, capability)
    evaluator = f"the implementation's {capability}"
    try:
        if isinstance(problem, GraphProblem):
            leaf = graph_values(problem, maker)
        else:
            assert isinstance(problem, AffineProblem)
            leaf = affine_values(problem, maker)
    except Exception as exc:  # anything the subject's nodes raise, e.g. 1/0 in a reciprocal
        yield case_finding(reference, impl_name, "fail", f"{capability} raised {exc!r}")
        return
    explainer = Explainer(reference, leaf)
    for quantity in reference.quantities:
        yield quantity_finding(reference, quantity, leaf, impl_name, evaluator, explainer)


#: The capability a worked example of each non-MLP kind needs of the subject.
CAPABILITY_OF_KIND: dict[str, str] = {"graph": "graph_node", "affine": "affine_layer"}


def applies(reference: ReferenceExample, subject: SubjectPlan) -> bool:
    """True when ``subject`` can compute ``reference``: every MLP example (an unsupported
    architecture is reported as skipped), graph and affine examples only through a subject
    that offers nodes or an affine layer (manualbp's engine does)."""
    capability = CAPABILITY_OF_KIND.get(reference.kind)
    return capability is None or getattr(subject.capabilities, capability)


def run_reference(impl: object, reference: ReferenceExample, impl_name: str) -> list[Finding]:
    """One Finding per printed quantity of ``reference`` (one ``case`` Finding when the
    architecture is not supported or the subject cannot compute the example)."""
    if reference.kind == "mlp":
        return list(_run_mlp(impl, reference, impl_name))
    capability = CAPABILITY_OF_KIND[reference.kind]
    if not callable(getattr(impl, capability, None)):
        reason = f"a {reference.kind} example needs the implementation's {capability}"
        return [case_finding(reference, impl_name, "skipped", reason)]
    return list(_run_example(impl, reference, impl_name, capability))


def run(
    impl: object, references: Iterable[ReferenceExample], *, impl_name: str = ""
) -> Iterator[Finding]:
    """Compare every printed number of every reference with what ``impl`` computes.

    Yields one Finding per printed quantity (one ``case`` Finding when the architecture is
    not supported, or a graph or affine example finds no nodes or affine layer on ``impl``).
    """
    for reference in references:
        yield from run_reference(impl, reference, impl_name or "implementation")


class PublishedCheck:
    """The published-numbers check as a :class:`~manualbp.checks.base.Check`: one unit per
    worked example that applies to the subject, in the run's first shard."""

    name = CHECK

    def units(self, subject: SubjectPlan, plan: Plan) -> list[Unit]:
        """One unit per applicable worked example of the plan (none outside shard 1)."""
        if not plan.first_shard:
            return []
        return [
            Unit(check=self.name, subject=subject.key, label=reference.id, reference=reference)
            for reference in plan.references
            if applies(reference, subject)
        ]

    def run(self, unit: Unit, impl: object, subject: SubjectPlan) -> list[Finding]:
        """The Findings of one worked example."""
        return run_reference(impl, unit.reference, subject.name)


PUBLISHED = PublishedCheck()

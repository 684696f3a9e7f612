"""The published-numbers check: every number a worked example prints, at its printed precision.

Each reference file (reference/README.md) describes a worked example — an MLP, a scalar
computational graph or one affine layer — and lists every number the source prints, as
printed. :func:`run` computes each one and yields one Finding per printed number:

* ``mlp`` examples are computed by the implementation under test, through the protocol
  (:mod:`manualbp.checks.published_values`); an implementation that does not support the
  architecture gets one ``skipped`` Finding (quantity ``case``), a quantity that needs a
  method it lacks is ``skipped``, and one that raises or breaks the protocol is ``fail``.
* ``graph`` and ``affine`` examples are computed with manualbp's own graph nodes and Affine
  layer, whatever the implementation: their Findings name that in ``impl``.

Verdicts follow :func:`manualbp.checks.published_rules.judge`: agreement within half a unit
of the last printed decimal (or the quantity's declared ``int`` / ``rounded`` rule) passes;
a known erratum of the source is ``erratum`` while the implementation gives the correct
value and ``fail`` if it ever matches the printed mistake.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from manualbp.checks.published_file import (
    AffineProblem,
    GraphProblem,
    MLPProblem,
    PublishedQuantity,
    ReferenceExample,
    default_references,
    load_reference,
    parse_reference,
)
from manualbp.checks.published_paths import Interval, Path
from manualbp.checks.published_rules import judge, parse_printed
from manualbp.checks.published_values import MLPValues, affine_values, graph_values
from manualbp.errors import UsageError
from manualbp.findings import Finding
from manualbp.protocol import ImplementationFault, Unsupported, unsupported_reason

__all__ = [
    "ReferenceExample",
    "default_references",
    "load_reference",
    "parse_reference",
    "run",
]

CHECK = "published"
PROTOCOL_EVALUATOR = "the implementation under test, through the protocol"
GRAPH_EVALUATOR = "manualbp.engine.graph"
AFFINE_EVALUATOR = "manualbp.engine.layers.Affine"


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
) -> Finding:
    """Compute one printed quantity with ``leaf`` and judge it; never raises for what an
    implementation does (Unsupported → ``skipped``, ImplementationFault → ``fail``).

    ``impl`` names who computed it in the Finding, ``evaluator`` says how (in ``detail``).
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
        return Finding(verdict="fail", reason=f"the implementation misbehaved: {exc}", **base)
    verdict, reason = judge(value, quantity.printed, quantity.rule, spread, quantity.erratum)
    error = abs(value - printed)
    relative = 0.0 if error == 0 else (error / abs(printed) if printed else float("inf"))
    return Finding(
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


def _case_finding(reference: ReferenceExample, impl: str, verdict: str, reason: str) -> Finding:
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
    try:
        reason = unsupported_reason(impl, problem.arch)
    except ImplementationFault as exc:
        yield _case_finding(reference, impl_name, "fail", str(exc))
        return
    if reason is not None:
        yield _case_finding(reference, impl_name, "skipped", reason)
        return
    values = MLPValues(impl, problem)
    for quantity in reference.quantities:
        yield quantity_finding(reference, quantity, values.value, impl_name, PROTOCOL_EVALUATOR)


def _run_builtin(reference: ReferenceExample, impl_name: str) -> Iterator[Finding]:
    problem = reference.problem
    evaluator = GRAPH_EVALUATOR if isinstance(problem, GraphProblem) else AFFINE_EVALUATOR
    label = f"{evaluator} (built-in, not {impl_name})"
    try:
        if isinstance(problem, GraphProblem):
            leaf = graph_values(problem)
        else:
            assert isinstance(problem, AffineProblem)
            leaf = affine_values(problem)
    except ArithmeticError as exc:  # e.g. a reciprocal node of 0 in the file's graph
        yield _case_finding(reference, label, "fail", f"{evaluator} raised {exc!r}")
        return
    for quantity in reference.quantities:
        yield quantity_finding(reference, quantity, leaf, label, evaluator)


def run(
    impl: object,
    references: Iterable[ReferenceExample],
    *,
    impl_name: str = "",
    options: object | None = None,
) -> Iterator[Finding]:
    """Compare every printed number of every reference with what is computed.

    ``impl`` computes the ``mlp`` references (through the protocol); ``graph`` and
    ``affine`` references are computed by manualbp's own nodes and layer. ``options`` exists
    for the common check interface; this check takes none (pass None). Yields one Finding per
    printed quantity (one ``case`` Finding when the architecture is not supported).
    """
    if options is not None:
        raise UsageError(f"published check: got options {options!r}, expected None")
    name = impl_name or "implementation"
    for reference in references:
        if reference.kind == "mlp":
            yield from _run_mlp(impl, reference, impl_name)
        else:
            yield from _run_builtin(reference, name)

"""What an explanation of a printed figure says, and the reference entry it suggests.

:mod:`manualbp.checks.published.explain` finds why a printed figure disagrees; this module
holds what it finds — an :class:`Explanation` of one of the :data:`KINDS`, the
:class:`Confirmation` that the implementation's value is right — the entries it suggests for
the reference file (the quantity with a rule, a path or an erratum), and :func:`annotate`,
which writes an explanation on the failing Finding instead of a likely bug.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from manualbp.checks.published.paths import Expression, Path
from manualbp.checks.published.problems import PublishedQuantity
from manualbp.checks.published.rules import ROUNDOFF, decimals, half_unit, parse_printed
from manualbp.findings import Finding

KINDS: tuple[str, ...] = (
    "source_truncated",
    "source_rounded_intermediates",
    "source_sign_convention",
    "source_off_by_one_update",
    "source_loss_factor",
    "source_update_order",
    "source_unexplained",
)
REPRODUCED = "the printed figure is reproduced"


@dataclass(frozen=True)
class Explanation:
    """What a printed figure's disagreement comes from: ``kind`` (:data:`KINDS`), the
    ``sentence`` to show, the ``value`` that reproduces the figure (None when unexplained)
    and the quantity entry to put in the reference file (``suggested``)."""

    kind: str
    sentence: str
    value: float | None
    suggested: dict[str, Any]
    mirror: float | None = None


@dataclass
class Confirmation:
    """Whether the implementation's ``value`` is right, how that was established, the
    mirror's value (None when not computed) and the evidence for an erratum."""

    confirmed: bool
    words: str
    value: float
    mirror: float | None = None
    evidence: dict[str, str] = field(default_factory=dict)

    @property
    def right(self) -> float:
        """The right value: the mirror's when it was computed, else the implementation's."""
        return self.value if self.mirror is None else self.mirror


def single_path(expression: Expression) -> tuple[float, Path] | None:
    """(sign, path) when the expression is one path or its negation, else None."""
    body = expression.tree.body
    sign = 1.0
    if isinstance(body, ast.UnaryOp) and isinstance(body.op, (ast.USub, ast.UAdd)):
        sign = -1.0 if isinstance(body.op, ast.USub) else 1.0
        body = body.operand
    if isinstance(body, ast.Name):
        return sign, expression.leaves[body.id]
    return None


def agrees(value: float, printed: str) -> bool:
    """|value - printed| within half a unit of the last printed decimal (and round-off)."""
    target = float(parse_printed(printed))
    return abs(value - target) <= half_unit(printed) + ROUNDOFF * max(1.0, abs(target))


def show(value: float, printed: str) -> str:
    """``value`` with three more decimals than the printed figure."""
    places = decimals(printed)
    return f"{value:.{places + 3}f}" if places >= 0 else f"{value:.6g}"


def entry(quantity: PublishedQuantity, **changes: Any) -> dict[str, Any]:
    """The quantity's entry of a reference file, with ``changes``."""
    found: dict[str, Any] = {
        "label": quantity.label,
        "path": quantity.expression.text,
        "printed": quantity.printed,
    }
    if quantity.note:
        found["note"] = quantity.note
    return {**found, **changes}


def erratum_entry(
    quantity: PublishedQuantity, value: float, reproduced_by: str, evidence: dict[str, str]
) -> dict[str, Any]:
    """The entry with an erratum: the correct ``value`` to one more decimal than printed."""
    places = max(decimals(quantity.printed) + 1, 0)
    correct = str(Decimal(repr(value)).quantize(Decimal(1).scaleb(-places)))
    erratum = {
        "correct": correct,
        "explanation": f"{quantity.label} is {correct}; the source prints {quantity.printed}",
        "evidence": evidence,
    }
    if reproduced_by:
        erratum["reproduced_by"] = reproduced_by
    return entry(quantity, erratum=erratum)


def annotate(finding: Finding, explanation: Explanation) -> Finding:
    """Write ``explanation`` on a failing Finding: its diagnosis (instead of a likely bug),
    ``detail["diagnosis_kind"]``, ``reproduced_by`` (or ``explanation`` when unexplained),
    ``suggested_entry`` and the mirror's value."""
    finding.diagnosis = f"{explanation.kind}: {explanation.sentence}"
    finding.detail["diagnosis_kind"] = explanation.kind
    key = "explanation" if explanation.value is None else "reproduced_by"
    finding.detail[key] = explanation.sentence
    finding.detail["suggested_entry"] = explanation.suggested
    if explanation.mirror is not None:
        finding.detail["torch_mirror"] = explanation.mirror
    return finding

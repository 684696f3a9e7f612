"""Failing cases, localised layer by layer: which tensors disagree, where, and by how much.

A failing case (one implementation, check and case) is summarised by the worst finding of
each per-layer tensor — weight gradient ``grad.Wl``, bias gradient ``grad.bl``, error term
``delta.l`` — as a table (output layer first, the first layer whose δ disagrees flagged),
a grid of heat maps of per-entry relative error, and a bar chart by layer. The page draws
one case per root cause: its smallest (:mod:`manualbp.report.causes`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from markupsafe import Markup

from manualbp.findings import Finding
from manualbp.quantity import Quantity
from manualbp.report import plots
from manualbp.report.causes import Cause

CASE_LIMIT = 4
"""Root causes whose smallest case is drawn with heat maps."""
LAYER_LIMIT = 8
"""Layers drawn per failing case: those with a failing tensor first, then the others."""
SEVERITY = ("fail", "imprecise", "inconclusive", "erratum", "skipped", "pass")
"""Verdicts from the most to the least in need of attention."""


def layer_quantity(quantity: str) -> tuple[str, int] | None:
    """``("W", 2)`` for ``grad.W2[1,0]``, ``("b", 1)`` for ``grad.b1``, ``("delta", 2)`` for
    ``delta.2[0,1]``; None for any other quantity."""
    parsed = Quantity.parse(quantity)
    layer = parsed.layer_number
    if layer is None or layer < 1:
        return None
    if parsed.kind == "grad" and parsed.parameter:
        return parsed.parameter[0], layer
    if parsed.kind == "delta":
        return "delta", layer
    return None


def is_finite(*values: float | None) -> bool:
    """True when every value is a finite number (not None, NaN or infinite)."""
    return all(v is not None and math.isfinite(v) for v in values)


def tolerance_share(finding: Finding) -> float | None:
    """|impl - ref| / (atol + rtol·|ref|): the share of its tolerance a finding's error uses
    (above 1 it disagrees); None when a number is missing, non-finite or the share is
    undefined."""
    ref, error, rtol = finding.ref_value, finding.abs_error, finding.tolerance
    atol = finding.atol if finding.atol is not None else 0.0
    if not is_finite(ref, error, rtol, atol):
        return None
    allowance = atol + rtol * abs(ref)
    if allowance > 0:
        return error / allowance
    return 0.0 if error == 0 else None


def _attention(finding: Finding) -> tuple[int, float]:
    """Sort key of how much a finding needs attention: verdict (:data:`SEVERITY`), then
    relative error (NaN counts as the largest, none as the smallest)."""
    error = finding.rel_error
    if error is None:
        error = -1.0
    elif math.isnan(error):
        error = math.inf
    return -SEVERITY.index(finding.verdict), error


def worst_of(findings: list[Finding]) -> Finding:
    """The first of ``findings`` that needs attention most (see :func:`_attention`)."""
    return max(findings, key=_attention)


@dataclass(frozen=True)
class LayerRow:
    """One layer of a failing case: the worst Finding of δ, W and b (None: not compared)."""

    layer: int
    delta: Finding | None
    weight: Finding | None
    bias: Finding | None
    first_bad: bool


@dataclass(frozen=True)
class FailingCase:
    """A failing case of one implementation and check, localised layer by layer."""

    anchor: str
    cause: str
    """Anchor of the root cause this case stands for."""
    impl: str
    check: str
    case: str
    seed: int | None
    diagnoses: list[str]
    reproduce: str | None
    layers: list[LayerRow]
    heatmap: Markup
    bars: Markup


def rel_errors(finding: Finding) -> np.ndarray | None:
    """The per-entry relative errors of a failing tensor finding, shaped as the tensor,
    or None when ``detail`` lacks them or they do not fit ``detail["shape"]``."""
    values, shape = finding.detail.get("rel_errors"), finding.detail.get("shape")
    if not isinstance(values, list) or not isinstance(shape, list):
        return None
    try:
        array = np.array([float(v) for v in values], dtype=float)
        return array.reshape([int(n) for n in shape])
    except (TypeError, ValueError):
        return None


def _tensor(finding: Finding) -> np.ndarray | str:
    """What a heat-map panel shows: per-entry errors when known, else the worst error of a
    failing finding as one cell, else the verdict."""
    errors = rel_errors(finding)
    if errors is not None:
        return errors
    if finding.verdict == "fail" and finding.rel_error is not None:
        return np.array([finding.rel_error])
    return finding.verdict


def _worst_by_layer(members: list[Finding]) -> dict[tuple[str, int], Finding]:
    """The worst finding of each per-layer tensor ((kind, layer) of :func:`layer_quantity`)."""
    by_layer: dict[tuple[str, int], list[Finding]] = {}
    for finding in members:
        key = layer_quantity(finding.quantity)
        if key is not None:
            by_layer.setdefault(key, []).append(finding)
    return {key: worst_of(group) for key, group in by_layer.items()}


def _layer_rows(worst: dict[tuple[str, int], Finding]) -> list[LayerRow]:
    """One row per layer present, output layer first, the first failing δ flagged."""
    bad = [layer for (kind, layer), f in worst.items() if kind == "delta" and f.verdict == "fail"]
    first_bad = max(bad, default=None)
    return [
        LayerRow(
            layer,
            worst.get(("delta", layer)),
            worst.get(("W", layer)),
            worst.get(("b", layer)),
            layer == first_bad,
        )
        for layer in sorted({layer for _, layer in worst}, reverse=True)
    ]


def _drawn(worst: dict[tuple[str, int], Finding]) -> dict[tuple[str, int], Finding]:
    """The tensors of at most :data:`LAYER_LIMIT` layers, failing layers first."""
    failing = {layer for (_, layer), f in worst.items() if f.verdict == "fail"}
    layers = sorted({layer for _, layer in worst}, key=lambda layer: (layer not in failing, layer))
    kept = set(layers[:LAYER_LIMIT])
    return {key: f for key, f in sorted(worst.items(), key=lambda i: i[0][1]) if key[1] in kept}


def _failing_case(position: int, cause: str, members: list[Finding]) -> FailingCase:
    """Localise one failing case from all its findings (``members``)."""
    worst = _worst_by_layer(members)
    failing = [f for f in members if f.verdict == "fail"]
    rtol = max((f.tolerance for f in failing if is_finite(f.tolerance)), default=1e-7)
    drawn = _drawn(worst)
    bars = [
        (layer, kind, share if share is not None else math.inf, f.verdict)
        for (kind, layer), f in drawn.items()
        if (share := tolerance_share(f)) is not None or f.verdict == "fail"
    ]
    first = members[0]
    return FailingCase(
        anchor=f"case-{position}",
        cause=cause,
        impl=first.impl,
        check=first.check,
        case=first.case,
        seed=first.seed,
        diagnoses=list(dict.fromkeys(f.diagnosis for f in failing if f.diagnosis)),
        reproduce=next((f.reproduce for f in failing if f.reproduce), None),
        layers=_layer_rows(worst),
        heatmap=Markup(plots.layer_heatmaps({k: _tensor(f) for k, f in drawn.items()}, rtol)),
        bars=Markup(plots.layer_errors(bars)),
    )


def failing_cases(findings: list[Finding], causes: list[Cause]) -> list[FailingCase]:
    """The smallest case of each of the first :data:`CASE_LIMIT` root causes that has
    per-layer quantities, localised (by the autograd check when it ran there: it compares
    the error terms δ too)."""
    by_case: dict[tuple[str, str, str], list[Finding]] = {}
    for finding in findings:
        by_case.setdefault((finding.impl, finding.check, finding.case), []).append(finding)
    drawn: list[FailingCase] = []
    for cause in causes:
        if len(drawn) == CASE_LIMIT:
            break
        checks = sorted(cause.smallest.checks, key=lambda check: check != "autograd")
        for check in checks:
            members = by_case.get((cause.impl, check, cause.smallest.case), [])
            if any(f.verdict == "fail" and layer_quantity(f.quantity) for f in members):
                drawn.append(_failing_case(len(drawn) + 1, cause.anchor, members))
                break
    return drawn

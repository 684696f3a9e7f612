"""How numbers are written for a person: enough digits to see a difference, and errors
that say why a passing finding can show a large relative error.

Shared by the page, the terminal summary, the Markdown summary and the JUnit file, so the
same finding reads the same everywhere.
"""

from __future__ import annotations

import json
import math
from typing import Any

from manualbp.findings import Finding

MIN_DIGITS = 6
"""Significant digits a value is written with at least."""
MAX_DIGITS = 17
"""Significant digits that tell any two different float64 values apart."""


def number(value: float | None, spec: str = ".10g") -> str:
    """``value`` in ``spec``; ``—`` for no value, ``nan``, ``inf`` and ``-inf`` as such."""
    if value is None:
        return "—"
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return format(value, spec)


def pair(impl: float | None, ref: float | None) -> tuple[str, str]:
    """Both values with the same number of significant digits — :data:`MIN_DIGITS`, or as
    many more as it takes for two different values to print differently."""
    if impl is None or ref is None or not (math.isfinite(impl) and math.isfinite(ref)):
        return number(impl, f".{MIN_DIGITS}g"), number(ref, f".{MIN_DIGITS}g")
    for digits in range(MIN_DIGITS, MAX_DIGITS + 1):
        spec = f".{digits}g"
        shown = format(impl, spec), format(ref, spec)
        if impl == ref or shown[0] != shown[1]:
            return shown
    return format(impl, f".{MAX_DIGITS}g"), format(ref, f".{MAX_DIGITS}g")


def gap(finding: Finding) -> str:
    """|impl − ref| of ``finding`` in three significant digits (its abs_error when the
    values are missing)."""
    if finding.impl_value is not None and finding.ref_value is not None:
        return number(abs(finding.impl_value - finding.ref_value), ".3g")
    return number(finding.abs_error, ".3g")


def atol_governed(finding: Finding) -> bool:
    """True when the absolute tolerance, not the relative one, decided ``finding``: its
    reference is so small (0 included) that atol exceeds rtol·|ref|."""
    ref, atol, rtol = finding.ref_value, finding.atol, finding.tolerance
    if ref is None or not atol or rtol is None or not math.isfinite(ref):
        return False
    return atol > rtol * abs(ref)


def error_text(finding: Finding) -> str:
    """The error of ``finding`` as a person should read it: the relative error, except
    where the relative error is not what decided — a finding that agrees within the
    absolute tolerance next to a reference of (nearly) 0 says so, with |Δ| and atol, instead
    of showing an infinite or huge relative error."""
    rel = finding.rel_error
    misleading = rel is None or not math.isfinite(rel) or rel > (finding.tolerance or 0.0)
    if (
        finding.abs_error is not None
        and atol_governed(finding)
        and finding.abs_error <= finding.atol  # type: ignore[operator]
        and misleading
    ):
        near_zero = "reference 0" if finding.ref_value == 0 else "|reference| below atol/rtol"
        return (
            f"|Δ| {number(finding.abs_error, '.2g')} ≤ atol {number(finding.atol, '.2g')} "
            f"({near_zero})"
        )
    if rel is not None and math.isinf(rel) and finding.ref_value == 0:
        return "∞ (reference 0)"
    return number(rel, ".2g")


def tolerance_text(finding: Finding) -> str:
    """``rtol R, atol A`` (atol left out when 0 or absent), or ``—``."""
    if finding.tolerance is None:
        return "—"
    text = f"rtol {number(finding.tolerance, '.2g')}"
    if finding.atol:
        text += f", atol {number(finding.atol, '.2g')}"
    return text


def text(value: Any) -> str:
    """A metadata or detail value as one line of text (lists joined, objects as JSON)."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(not isinstance(v, (list, dict)) for v in value):
        return ", ".join(text(v) for v in value) or "—"
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)

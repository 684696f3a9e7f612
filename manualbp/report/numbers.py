"""Numbers in the JSON report: always JSON numbers, or ``null`` with the reason.

A Finding's measured numbers (:data:`NUMBER_FIELDS`) can be infinite or NaN: a relative
error against a reference of 0, an implementation that returned NaN. Schema version 2
writes such a number as ``null`` and names why in the Finding's ``nulls`` object, with a
word of :data:`NULL_REASONS`::

    {"rel_error": null, "nulls": {"rel_error": "reference_zero"}, ...}

so every number field holds a number or ``null``, and a reader gets the value back
exactly (:func:`decode_finding`). Schema version 1 wrote the strings ``"inf"``, ``"-inf"``
and ``"nan"`` in their place; :meth:`~manualbp.findings.Finding.from_dict` still reads those.
``detail`` is free-form data of the checks and is left as they wrote it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from manualbp.errors import ReportError
from manualbp.findings import Finding

NUMBER_FIELDS: tuple[str, ...] = (
    "impl_value",
    "ref_value",
    "abs_error",
    "rel_error",
    "tolerance",
    "atol",
)
"""The Finding fields that hold a measured number (or nothing)."""

NULL_REASONS: dict[str, float] = {
    "reference_zero": math.inf,
    "infinite": math.inf,
    "negative_infinite": -math.inf,
    "not_a_number": math.nan,
}
"""Why a number field is ``null`` although something was measured, and the value it
stands for: ``reference_zero`` (a relative error against a reference of 0 where the values
differ: infinite), ``infinite``, ``negative_infinite``, ``not_a_number``."""


def null_reason(finding: Finding, name: str) -> str | None:
    """The :data:`NULL_REASONS` word of ``finding.<name>`` when it is not a finite number
    (None when it is finite or absent)."""
    value = getattr(finding, name)
    if value is None or math.isfinite(value):
        return None
    if math.isnan(value):
        return "not_a_number"
    if value < 0:
        return "negative_infinite"
    zero_reference = finding.ref_value is not None and finding.ref_value == 0
    return "reference_zero" if name == "rel_error" and zero_reference else "infinite"


def encode_finding(finding: Finding) -> dict[str, Any]:
    """The schema-2 JSON object of ``finding``: :meth:`Finding.to_dict` with every
    non-finite number field made ``null`` and its reason in ``nulls``."""
    data = finding.to_dict()
    nulls = {}
    for name in NUMBER_FIELDS:
        reason = null_reason(finding, name)
        if reason is not None:
            data[name] = None
            nulls[name] = reason
    if nulls:
        data["nulls"] = nulls
    return data


def decode_finding(item: Any, version: int) -> Finding:
    """A Finding from its JSON object in a report of schema ``version`` (1 or 2); a
    malformed object raises :class:`ReportError`."""
    if version < 2 or not isinstance(item, Mapping) or "nulls" not in item:
        return Finding.from_dict(item)
    values = dict(item)
    nulls = values.pop("nulls")
    if not isinstance(nulls, Mapping):
        raise ReportError("finding: field 'nulls' is not an object")
    for name, reason in nulls.items():
        if name not in NUMBER_FIELDS:
            raise ReportError(f"finding: nulls names {name!r}, not a number field")
        if reason not in NULL_REASONS:
            raise ReportError(
                f"finding: nulls.{name} is {reason!r}, expected one of {', '.join(NULL_REASONS)}"
            )
        if values.get(name) is not None:
            raise ReportError(f"finding: {name} has a value and a null reason")
        values[name] = NULL_REASONS[reason]
    return Finding.from_dict(values)

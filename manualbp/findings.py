"""Finding: the one record every comparison produces, and the comparison rule behind it.

A Finding compares one quantity of one case — a whole tensor such as ``grad.W2`` reported by
its worst entry (``grad.W2[1,0]``), or a single number such as ``forward.out_o1`` — between
the implementation under test and a reference (finite differences, autograd, a published
figure). It carries both values at the worst entry, the absolute and relative error, the
tolerance (``tolerance`` relative, ``atol`` absolute: an entry agrees when
|impl - ref| <= atol + tolerance·|ref|) and why it was chosen, and a verdict:

``pass``          every entry agrees within tolerance;
``fail``          some entry does not (``reason`` says what, ``diagnosis`` the likely bug);
``imprecise``     the formula is right, with evidence, but the implementation's float64
                  expressions lose digits or overflow (``detail["precision"]`` names where
                  and the stable form); it fails the gate only with ``--strict``;
``inconclusive``  the comparison cannot decide (e.g. a perturbation crossed a ReLU kink);
``erratum``       a known mistake of a published source (the gate stays green);
``skipped``       the implementation does not cover this case (never counts as a pass).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from manualbp.errors import ReportError
from manualbp.factors import tensor_summary

VERDICTS: tuple[str, ...] = ("pass", "fail", "imprecise", "inconclusive", "erratum", "skipped")
CHECKS: tuple[str, ...] = ("fd", "autograd", "published")


def _encode_number(value: float | None) -> float | str | None:
    """JSON-safe number: non-finite floats become the strings "nan", "inf", "-inf"."""
    if value is None:
        return None
    value = float(value)
    if math.isfinite(value):
        return value
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def _decode_number(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, str) and value in ("nan", "inf", "-inf"):
        return float(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise ReportError(f"finding: got {value!r} where a number was expected")


def json_safe(value: Any) -> Any:
    """``value`` with every float (NumPy's included) passed through :func:`_encode_number`,
    NumPy integers made ints and arrays made lists, in nested dicts, lists and tuples."""
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [json_safe(item) for item in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return _encode_number(value)
    return value


_NUMBER_FIELDS = ("impl_value", "ref_value", "abs_error", "rel_error", "tolerance", "atol")

#: Largest tensor whose values a failing Finding keeps in ``detail`` (for the diagnosis).
MAX_VALUES = 128


def compact_values(array: np.ndarray) -> list[float | str | None] | None:
    """The entries of ``array`` (any shape, flattened in C order) as JSON-safe numbers, or
    None when it has more than :data:`MAX_VALUES` entries (the report stays small)."""
    array = np.asarray(array, dtype=np.float64)
    if array.size > MAX_VALUES:
        return None
    return [_encode_number(v) for v in array.ravel()]


@dataclass
class Finding:
    """One comparison of one quantity of one case (see the module docstring)."""

    check: str
    case: str
    quantity: str
    verdict: str
    impl_value: float | None = None
    ref_value: float | None = None
    abs_error: float | None = None
    rel_error: float | None = None
    tolerance: float | None = None
    atol: float | None = None
    tolerance_reason: str = ""
    reason: str = ""
    method: str = ""
    seed: int | None = None
    impl: str = ""
    diagnosis: str | None = None
    reproduce: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict: got {self.verdict!r}, expected one of {VERDICTS}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: non-finite numbers, also inside ``detail``, become the strings
        "nan", "inf", "-inf" (see :func:`_encode_number`); NumPy scalars become numbers."""
        data = {item.name: getattr(self, item.name) for item in fields(self)}
        for name in _NUMBER_FIELDS:
            data[name] = _encode_number(data[name])
        data["detail"] = json_safe(data["detail"])
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        """Inverse of :meth:`to_dict`; raises :class:`ReportError` on a malformed record."""
        if not isinstance(data, Mapping):
            raise ReportError(f"finding: got {type(data).__name__}, expected an object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ReportError(f"finding: unknown field(s) {', '.join(unknown)}")
        for required in ("check", "case", "quantity", "verdict"):
            if not isinstance(data.get(required), str):
                raise ReportError(f"finding: field {required!r} missing or not a string")
        for name in ("tolerance_reason", "reason", "method", "impl"):
            if not isinstance(data.get(name, ""), str):
                raise ReportError(f"finding: field {name!r} is not a string")
        for name in ("diagnosis", "reproduce"):
            if data.get(name) is not None and not isinstance(data[name], str):
                raise ReportError(f"finding: field {name!r} is neither a string nor null")
        seed = data.get("seed")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise ReportError(f"finding: field 'seed' is {seed!r}, expected an integer or null")
        if not isinstance(data.get("detail", {}), Mapping):
            raise ReportError("finding: field 'detail' is not an object")
        values = dict(data)
        for name in _NUMBER_FIELDS:
            values[name] = _decode_number(values.get(name))
        try:
            return cls(**values)
        except (TypeError, ValueError) as exc:
            raise ReportError(f"finding: {exc}") from None


@dataclass(frozen=True)
class Comparison:
    """Element-wise comparison of two arrays under |impl - ref| <= atol + rtol·|ref|.

    ``worst`` is the flat index of the entry with the largest ratio of error to allowance;
    ``n_bad`` counts entries outside the allowance; ``ratio`` is that largest ratio (<= 1 pass).
    """

    worst: int
    impl_value: float
    ref_value: float
    abs_error: float
    rel_error: float
    ratio: float
    n_bad: int
    n: int

    @property
    def passed(self) -> bool:
        """True when every entry is within the allowance."""
        return self.n_bad == 0


def compare(impl: np.ndarray, ref: np.ndarray, rtol: float, atol: float) -> Comparison:
    """Compare ``impl`` with ``ref`` (same shape) entry by entry; see :class:`Comparison`.

    Relative error is |impl - ref| / |ref| (inf when ref is 0 and they differ). NaN in
    ``impl`` counts as an entry outside the allowance.
    """
    impl = np.asarray(impl, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if impl.shape != ref.shape:
        raise ValueError(f"compare: shapes differ, {impl.shape} vs {ref.shape}")
    error = np.abs(impl - ref)
    allowance = atol + rtol * np.abs(ref)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(error == 0, 0.0, error / allowance)
    ratio = np.where(np.isnan(ratio), np.inf, ratio)
    flat = ratio.ravel()
    worst = int(np.argmax(flat)) if flat.size else 0
    impl_value = float(impl.ravel()[worst]) if flat.size else 0.0
    ref_value = float(ref.ravel()[worst]) if flat.size else 0.0
    abs_error = float(error.ravel()[worst]) if flat.size else 0.0
    if abs_error == 0:
        rel_error = 0.0
    elif ref_value == 0 or not math.isfinite(abs_error):
        rel_error = math.inf
    else:
        rel_error = abs_error / abs(ref_value)
    return Comparison(
        worst=worst,
        impl_value=impl_value,
        ref_value=ref_value,
        abs_error=abs_error,
        rel_error=rel_error,
        ratio=float(flat[worst]) if flat.size else 0.0,
        n_bad=int(np.count_nonzero(flat > 1.0)),
        n=int(flat.size),
    )


def index_label(shape: tuple[int, ...], flat_index: int) -> str:
    """``[1,0]`` for entry 1,0 of a matrix, ``[3]`` of a vector, ``""`` of a scalar."""
    if not shape:
        return ""
    index = np.unravel_index(flat_index, shape)
    return "[" + ",".join(str(int(i)) for i in index) + "]"


def counts(findings: list[Finding]) -> dict[str, dict[str, int]]:
    """{check: {verdict: count}} over ``findings``, every verdict present (0 when absent)."""
    table: dict[str, dict[str, int]] = {}
    for finding in findings:
        row = table.setdefault(finding.check, dict.fromkeys(VERDICTS, 0))
        row[finding.verdict] += 1
    return table


def tensor_finding(
    *,
    check: str,
    case: str,
    quantity: str,
    impl: np.ndarray,
    ref: np.ndarray,
    rtol: float,
    atol: float,
    tolerance_reason: str,
    method: str = "",
    seed: int | None = None,
    impl_name: str = "",
    reproduce: str | None = None,
    detail: dict[str, Any] | None = None,
) -> Finding:
    """Compare two arrays and return one Finding named by the worst entry (``grad.W2[1,0]``).

    ``detail`` gains ``entries`` and ``bad_entries``; on failure it also gains the
    per-entry relative error (``rel_errors``, nested lists of the tensor's shape) for heat maps
    and, for tensors of at most :data:`MAX_VALUES` entries, both sides (``impl_values``,
    ``ref_values``, flat) for :mod:`manualbp.diagnosis`; for larger ones, their
    :func:`~manualbp.factors.tensor_summary` (``summary``).
    """
    impl = np.asarray(impl)
    ref = np.asarray(ref)
    result = compare(impl, ref, rtol, atol)
    info = dict(detail or {})
    info["entries"] = result.n
    info["bad_entries"] = result.n_bad
    if not result.passed:
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.abs(impl.astype(np.float64) - ref) / np.abs(ref)
        rel = np.where(np.abs(impl - ref) == 0, 0.0, rel)
        info["rel_errors"] = [_encode_number(v) for v in rel.ravel()]
        info["shape"] = list(ref.shape)
        values = compact_values(impl), compact_values(ref)
        if values[0] is not None and values[1] is not None:
            info["impl_values"], info["ref_values"] = values
        else:
            info["summary"] = tensor_summary(impl, ref)
    verdict = "pass" if result.passed else "fail"
    reason = (
        ""
        if result.passed
        else (f"{result.n_bad} of {result.n} entries outside |impl - ref| <= atol + rtol·|ref|")
    )
    return Finding(
        check=check,
        case=case,
        quantity=quantity + index_label(ref.shape, result.worst),
        verdict=verdict,
        impl_value=result.impl_value,
        ref_value=result.ref_value,
        abs_error=result.abs_error,
        rel_error=result.rel_error,
        tolerance=rtol,
        atol=atol,
        tolerance_reason=tolerance_reason,
        reason=reason,
        method=method,
        seed=seed,
        impl=impl_name,
        reproduce=reproduce if not result.passed else None,
        detail=info,
    )

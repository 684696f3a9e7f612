"""Constant factors between two tensors: the first thing a diagnosis reads.

``impl = c·ref`` on every entry, with c a named factor — -1 (sign flipped), 2, ½, N, 1/N, K —
is the signature of the commonest backprop bugs. Matching uses a relative tolerance of
:data:`MATCH` of the tensors' largest entry: the candidates differ from each other by order
one, the rounding of both sides by ~1e-13. Used by the MLP diagnosis
(:mod:`manualbp.patterns`) and by the layer check's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: Two arrays match when |x - y| <= MATCH·max(|x|, |y|) entry by entry (module docstring).
MATCH = 1e-6


@dataclass(frozen=True)
class Pattern:
    """What the Findings show: a kind, the explanation that follows it in the sentence, and
    the formula to blame when the pattern itself names it (f' for ``derivative_at_output``)."""

    kind: str
    explanation: str
    formula: str | None = None


def matches(x: np.ndarray, y: np.ndarray) -> bool:
    """|x - y| <= MATCH·m on every entry, m the largest |entry| of either (same shapes);
    two zero arrays match, NaN and inf never do."""
    if x.shape != y.shape or y.size == 0 or not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        return False
    scale = max(float(np.max(np.abs(x))), float(np.max(np.abs(y))))
    return bool(np.all(np.abs(x - y) <= MATCH * scale))


#: A candidate resolves a discrepancy when it leaves at most this share of it; one that
#: only matches (:func:`matches`) must still leave at most :data:`MOSTLY` of it.
RESOLVED = 1e-3
MOSTLY = 0.1


def accounts_for(
    candidate: np.ndarray, target: np.ndarray, impl: np.ndarray, ref: np.ndarray
) -> bool:
    """The relation ``candidate = target`` explains the discrepancy impl - ref (same shapes,
    all finite): with r = max|candidate - target| and g = max|impl - ref|, r <= RESOLVED·g,
    or the two match (:func:`matches`) and r <= MOSTLY·g. The caller chooses the space in
    which impl and ref are compared: the candidate's own (both sides times f'(z) for a
    derivative), so that tiny slopes of saturated units shrink both r and g alike.

    The first form sees what :func:`matches` cannot — a bug whose signature is smaller than
    MATCH, such as f'(a) for f'(z) at |z| ~ 1e-3 where the two differ by ~1e-10 — because the
    candidate is judged against the discrepancy itself, not the tensors' size. The second
    keeps a candidate whose own rounding is larger than a thousandth of a small discrepancy.
    Both refuse a candidate that explains little of it (f'(z) ≈ 1 near z = 0 'matching' a
    gradient that is wrong for another reason) and one that changes nothing."""
    arrays = (candidate, target, impl, ref)
    if len({a.shape for a in arrays}) != 1 or not all(np.all(np.isfinite(a)) for a in arrays):
        return False
    if impl.size == 0:
        return False
    gap = float(np.max(np.abs(impl - ref)))
    left = float(np.max(np.abs(candidate - target)))
    return left <= RESOLVED * gap or (matches(candidate, target) and left <= MOSTLY * gap)


def named_factors(facts: dict[str, Any]) -> list[tuple[str, float, str]]:
    """(kind, c, label) of the named constant factors in order of preference: -1, 2, ½, N
    and 1/N (N rows, when known and > 1), K (outputs, when known and > 1). K comes first
    under the mse loss, the one loss that divides by K (forgetting 1/K is its classic bug)."""
    factors = [("sign_flip", -1.0, "-1"), ("factor_2", 2.0, "2"), ("factor_half", 0.5, "½")]
    n = facts.get("batch_size")
    if isinstance(n, int) and n > 1:
        factors += [("factor_N", float(n), f"N = {n}"), ("factor_1/N", 1.0 / n, f"1/N = 1/{n}")]
    sizes = facts.get("sizes")
    if isinstance(sizes, list) and sizes and sizes[-1] > 1:
        per_output = ("factor_K", float(sizes[-1]), f"K = {sizes[-1]}")
        factors.insert(0 if facts.get("loss") == "mse" else len(factors), per_output)
    return factors


def constant_factor(impl: np.ndarray, ref: np.ndarray) -> float | None:
    """c with impl = c·ref on every entry (least squares c = ⟨impl, ref⟩/⟨ref, ref⟩), or None."""
    norm = float(np.sum(ref * ref))
    if not np.isfinite(norm) or norm == 0.0:
        return None
    c = float(np.sum(impl * ref)) / norm
    return c if matches(impl, c * ref) else None


def factor_pattern(
    impl: np.ndarray, ref: np.ndarray, facts: dict[str, Any], what: str
) -> Pattern | None:
    """``zero`` or a named constant factor of ``impl`` against ``ref`` (flat arrays), or None.

    A constant factor that has no name gives ``other`` ("impl = 3.7 × reference").
    """
    if np.all(impl == 0.0) and np.any(ref != 0.0):
        return Pattern("zero", f"{what} = 0 on every entry where the reference is not")
    c = constant_factor(impl, ref)
    if c is None:
        return None
    named = [
        (kind, label)
        for kind, value, label in named_factors(facts)
        if abs(c - value) <= MATCH * abs(value)
    ]
    if not named:
        return Pattern(
            "other", f"{what} = {c:.4g} × reference on every entry, a factor with no name"
        )
    kind, label = named[0]
    also = (
        f"; equally {', '.join(lab for _, lab in named[1:])} on this case" if len(named) > 1 else ""
    )
    if kind == "sign_flip":
        return Pattern(kind, f"{what} = -reference on every entry (sign flipped){also}")
    return Pattern(
        kind, f"constant factor {label}: {what} = {c:.4g} × reference (every entry){also}"
    )


def tensor_summary(impl: np.ndarray, ref: np.ndarray) -> dict[str, Any]:
    """What a diagnosis needs of a failing tensor too large to keep: the constant factor c
    with impl = c·ref on every entry (None when there is none), whether impl is 0 where ref
    is not, and whether impl = refᵀ (square matrices)."""
    impl = np.asarray(impl, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    square = impl.ndim == 2 and impl.shape[0] == impl.shape[1]
    return {
        "factor": constant_factor(impl.ravel(), ref.ravel()),
        "zero": bool(np.all(impl == 0.0) and np.any(ref != 0.0)),
        "transposed": bool(square and matches(impl, ref.T)),
    }

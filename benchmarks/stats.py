"""Summaries of repeated timings: median with the min–max range, as JSON-able dicts."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def summary(values: Sequence[float]) -> dict[str, float]:
    """{"median", "min", "max", "runs"} of a non-empty list of measurements."""
    if not values:
        raise ValueError("summary: got no measurements, expected at least one")
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "runs": len(values),
    }


def spread(stat: dict[str, float], scale: float = 1.0, digits: int = 3) -> str:
    """``median (min–max)`` of a summary, each multiplied by ``scale``."""
    median, low, high = (stat[k] * scale for k in ("median", "min", "max"))
    return f"{median:.{digits}g} ({low:.{digits}g}–{high:.{digits}g})"

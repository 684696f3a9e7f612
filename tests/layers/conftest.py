"""Shared helpers of the layer-check tests: the user-style fixture files and verdict tallies."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from manualbp.findings import Finding

USER_LAYERS = Path(__file__).parent / "user_layers"
SAITO = str(USER_LAYERS / "saito_layers.py")
CS231N = str(USER_LAYERS / "cs231n_layers.py")


def tally(findings: list[Finding]) -> Counter:
    """(check, verdict) -> count."""
    return Counter((f.check, f.verdict) for f in findings)


def failures(findings: list[Finding]) -> list[Finding]:
    """The failing Findings."""
    return [f for f in findings if f.verdict == "fail"]

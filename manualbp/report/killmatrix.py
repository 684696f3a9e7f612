"""The kill matrix of ``manualbp selftest`` (``extras["kill_matrix"]``) as a table.

Expected shape::

    {"mutants": [name, ...], "checks": [check, ...],
     "killed": {mutant: {check: cases killed}}, "cases": {mutant: cases run}}

Kept apart from the rest of the page so the shape can change in one place; a matrix of
any other shape is shown as its JSON rather than dropped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class KillRow:
    """One mutant: cases killed per check (None: not run), cases run, survived every check."""

    mutant: str
    killed: list[int | None]
    cases: int | None
    survived: bool


@dataclass(frozen=True)
class KillMatrix:
    """Rows of mutants against columns of checks, or ``raw`` JSON for an unknown shape."""

    checks: list[str]
    rows: list[KillRow]
    raw: str | None = None

    @property
    def survivors(self) -> int:
        """Mutants no check caught."""
        return sum(row.survived for row in self.rows)


def _count(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if value is None:
        return None
    raise ValueError(f"not a count: {value!r}")


def _parse(matrix: Any) -> KillMatrix:
    """The table of a matrix of the expected shape; ValueError otherwise."""
    if not isinstance(matrix, Mapping):
        raise ValueError("not an object")
    mutants, checks = matrix.get("mutants"), matrix.get("checks")
    killed, cases = matrix.get("killed", {}), matrix.get("cases", {})
    if not (isinstance(mutants, list) and isinstance(checks, list)):
        raise ValueError("mutants and checks must be lists")
    if not (isinstance(killed, Mapping) and isinstance(cases, Mapping)):
        raise ValueError("killed and cases must be objects")
    rows = []
    for mutant in mutants:
        by_check = killed.get(mutant, {})
        if not isinstance(by_check, Mapping):
            raise ValueError("killed[mutant] must be an object")
        cells = [_count(by_check.get(check)) for check in checks]
        rows.append(
            KillRow(
                mutant=str(mutant),
                killed=cells,
                cases=_count(cases.get(mutant)),
                survived=not any(cells),
            )
        )
    return KillMatrix([str(check) for check in checks], rows)


def kill_matrix(extras: Mapping[str, Any]) -> KillMatrix | None:
    """The kill matrix of a report's extras, None when there is none."""
    if "kill_matrix" not in extras:
        return None
    matrix = extras["kill_matrix"]
    try:
        return _parse(matrix)
    except (TypeError, ValueError):
        raw = json.dumps(matrix, indent=1, sort_keys=True, ensure_ascii=False, default=str)
        return KillMatrix([], [], raw)

"""The demo record types and the formatting every demo shares.

A demo reproduces one seed system of SEEDS.md: ``run(output_dir, **overrides)`` returns a
:class:`DemoResult` whose ``lines`` are what ``manualbp demo NAME`` prints, whose
``figures`` are the numbers the tests assert, and whose ``artifacts`` are the files it wrote
under ``output_dir`` (only the cos fit writes one, its plot).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class DemoResult:
    """Printed lines, the figures behind them (by name), and the files written."""

    lines: list[str]
    figures: dict[str, Any]
    artifacts: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class Demo:
    """A named demo: ``system`` is its SEEDS.md label (e.g. ``S0a``), ``run`` produces it;
    ``writes_files`` when it saves files under ``output_dir``."""

    name: str
    system: str
    title: str
    run: Callable[..., DemoResult]
    writes_files: bool = False


def number(value: float, decimals: int = 9) -> str:
    """``value`` with a fixed number of decimals, the way the articles print them."""
    return f"{float(value):.{decimals}f}"


def array_lines(label: str, array: np.ndarray, decimals: int = 9, indent: str = "  ") -> list[str]:
    """``label = [[...], ...]`` printed row by row with fixed decimals, aligned under the label.

    A 0-d array prints as one number, a 1-d array as one row, a 2-d array as one line per row.
    """
    values = np.atleast_2d(np.asarray(array, dtype=np.float64))
    width = max(len(number(v, decimals)) for v in values.ravel())
    rows = ["[" + ", ".join(f"{number(v, decimals):>{width}}" for v in row) + "]" for row in values]
    if np.ndim(array) == 0:
        return [f"{indent}{label} = {number(float(array), decimals)}"]
    if np.ndim(array) == 1:
        return [f"{indent}{label} = {rows[0]}"]
    head = f"{indent}{label} = ["
    pad = " " * len(head)
    body = [head + rows[0]] + [pad + row for row in rows[1:]]
    body[-1] += "]"
    return body

"""benchmarks/layers.py runs, and its claim holds: the call count does not grow with the size."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import layers as bench  # noqa: E402


def test_directional_call_counts_do_not_depend_on_the_parameter_count():
    small = replace(bench.LARGE, channels=(8, 8), filters=(4, 4))  # θ: 1,316 entries
    larger = replace(small, filters=(40, 40))  # ten times the parameters
    few = bench.measure("manualbp.layers:conv2d", small, rounds=1)
    many = bench.measure("manualbp.layers:conv2d", larger, rounds=1)
    assert (few["parameters"], many["parameters"]) == (4 * 8 * 9 + 4, 40 * 8 * 9 + 40)
    assert "directional" in few["methods"] and "central" not in many["methods"]
    assert few["calls"] == many["calls"]
    assert few["verdicts"] == many["verdicts"] == ["pass"]

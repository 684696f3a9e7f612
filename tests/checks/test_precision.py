"""The evidence ``imprecise`` needs short of saturation: an amplified unstable formula, a
discrepancy inside the amplification times the check's own rounding allowance, and a tamer
point that passes. A numeric failure beyond that bound stays ``fail``."""

from __future__ import annotations

import math

import numpy as np
import pytest

import manualbp
from manualbp.checks import precision
from manualbp.findings import Finding, tensor_finding

RTOL = 1e-14


def amplified_case() -> manualbp.Case:
    """One sigmoid + BCE unit with z = 8 on its first sample: 1 - a ≈ 3.4e-4, rounding
    amplified by e^8 ≈ 3e3, short of saturation (|z| <= 12)."""
    arch = manualbp.Architecture((1, 1), ("sigmoid",), "bce", "per_unit", "sum")
    case = manualbp.case_from_seed(arch, seed=1, batch_size=3, scale=1.0)
    case.x[...] = np.array([[1.0], [0.5], [-0.25]])
    case.params["W1"][...] = 4.0
    case.params["b1"][...] = 4.0
    return case


def failing(relative_error: float) -> Finding:
    ref = np.array([[1.5]])
    return tensor_finding(
        check="autograd", case="case-0", quantity="grad.W1", impl=ref * (1 + relative_error),
        ref=ref, rtol=RTOL, atol=0.0, tolerance_reason="rounding",
    )  # fmt: skip


def test_the_stressed_place_carries_its_amplification() -> None:
    [layer, output] = precision.stress(amplified_case())
    assert output.where == "output (bce)" and not output.saturated
    assert output.amplification == pytest.approx(math.exp(8.0))
    assert "a(1 - a)" in layer.unstable


@pytest.mark.parametrize(("relative_error", "verdict"), [(1e-12, "imprecise"), (1e-6, "fail")])
def test_only_a_discrepancy_inside_the_amplified_allowance_is_imprecise(
    relative_error: float, verdict: str
) -> None:
    """1e-12 is 100× the allowance, inside e^8 ≈ 3e3×; 1e-6 is 1e8× it: a wrong formula,
    however well the tamer point passes."""
    finding = failing(relative_error)
    assert finding.verdict == "fail"
    [judged] = precision.judge([finding], amplified_case(), rerun=lambda case: [])
    assert judged.verdict == verdict
    if verdict == "imprecise":
        assert judged.detail["precision"]["bound"] == pytest.approx(math.exp(8.0))


def test_no_evidence_without_a_tamer_point_that_passes() -> None:
    def still_failing(case: manualbp.Case) -> list[Finding]:
        return [failing(1e-12)]

    [judged] = precision.judge([failing(1e-12)], amplified_case(), rerun=still_failing)
    assert judged.verdict == "fail"


def test_a_tamer_point_has_no_stressed_unit() -> None:
    tame = precision.tamer(amplified_case())
    assert tame is not None and not precision.stress(tame)

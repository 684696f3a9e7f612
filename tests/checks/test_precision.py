"""The evidence ``imprecise`` needs, and what it must never excuse.

Short of saturation only a BCE output is stressed: (1 - y)/(1 - a) takes 1 - a with a
relative error of eps·e^z, so a discrepancy within the check's allowance with its relative
part × e^z, where a tamer point passes, is float64's. Bugs whose size depends on the
magnitude of z (a clipped derivative, a clipped probability) must stay ``fail``.
"""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

import manualbp
from manualbp.checks import precision
from manualbp.checks.autograd import check_case
from manualbp.findings import Finding, tensor_finding
from manualbp.protocol import load_implementation

RTOL = 1e-14
NAIVE = load_implementation("tests/corpus/naive_numpy.py:IMPL")
naive = sys.modules[type(NAIVE).__module__]


def one_unit_case(loss: str, activation: str, z_max: float, classes: int = 1) -> manualbp.Case:
    """One input into ``classes`` outputs; the first output's z is z_max, z_max·3/4 and
    z_max·3/8 on the three samples, the last's (when there are several) the opposite, the
    others' 0; targets 1 on the first output."""
    arch = manualbp.Architecture((1, classes), (activation,), loss, "per_unit", "sum")
    case = manualbp.case_from_seed(arch, seed=1, batch_size=3, scale=1.0)
    case.x[...] = np.array([[1.0], [0.5], [-0.25]])
    case.params["W1"][...] = 0.0
    case.params["b1"][...] = 0.0
    case.params["W1"][0, 0] = case.params["b1"][0] = z_max / 2
    if classes > 1:
        case.params["W1"][-1, 0] = case.params["b1"][-1] = -z_max / 2
    case.y[...] = 0.0
    case.y[:, 0] = 1.0
    return case


def failing(relative_error: float) -> Finding:
    ref = np.array([[1.5]])
    return tensor_finding(
        check="autograd", case="case-0", quantity="grad.W1", impl=ref * (1 + relative_error),
        ref=ref, rtol=RTOL, atol=0.0, tolerance_reason="rounding",
    )  # fmt: skip


def test_a_bce_output_short_of_saturation_is_stressed_by_e_to_the_z() -> None:
    [output] = precision.stress(one_unit_case("bce", "sigmoid", 8.0))
    assert output.where == "output (bce)" and not output.saturated
    assert output.amplification == pytest.approx(math.exp(8.0))


def test_sigmoid_layers_short_of_saturation_are_not_stressed() -> None:
    """σ' = a(1 - a) loses digits absolutely, against terms of size 1: the checks'
    allowance covers it, nothing to excuse."""
    assert precision.stress(one_unit_case("half_sse", "sigmoid", 11.0)) == []


@pytest.mark.parametrize(("relative_error", "verdict"), [(1e-12, "imprecise"), (1e-6, "fail")])
def test_only_a_discrepancy_inside_the_amplified_allowance_is_imprecise(
    relative_error: float, verdict: str
) -> None:
    """1e-12 is 100× the allowance, inside e^8 ≈ 3e3×; 1e-6 is 1e8× it: a wrong formula,
    however well the tamer point passes."""
    finding = failing(relative_error)
    assert finding.verdict == "fail"
    [judged] = precision.judge([finding], one_unit_case("bce", "sigmoid", 8.0), lambda _: [])
    assert judged.verdict == verdict
    if verdict == "imprecise":
        assert judged.detail["precision"]["bound"] == pytest.approx(math.exp(8.0))


def test_no_evidence_without_a_tamer_point_that_passes() -> None:
    def still_failing(case: manualbp.Case) -> list[Finding]:
        return [failing(1e-12)]

    case = one_unit_case("bce", "sigmoid", 8.0)
    [judged] = precision.judge([failing(1e-12)], case, rerun=still_failing)
    assert judged.verdict == "fail"


class ClippedBce(type(NAIVE)):  # type: ignore[misc]
    """∂ℓ/∂a from a clipped into [1e-5, 1 - 1e-5], as code guarding log(0) does."""

    def output_error(self, arch, z, a, y):
        clipped = np.clip(a, 1e-5, 1 - 1e-5)
        return (clipped - y) / (clipped * (1 - clipped)) * a * (1 - a)


class ClippedTanhPrime(type(NAIVE)):  # type: ignore[misc]
    """tanh'(z) from z clipped into [-c, c]."""

    def __init__(self, c: float) -> None:
        super().__init__()
        self.derivatives = {
            **naive.DERIVATIVES, "tanh": lambda z, a: 1 - np.tanh(np.clip(z, -c, c)) ** 2
        }  # fmt: skip


class ClippedProbability(type(NAIVE)):  # type: ignore[misc]
    """softmax(z) - y with p clipped into [1e-7, 1 - 1e-7], as Keras-style code does."""

    def output_error(self, arch, z, a, y):
        return np.clip(naive.softmax(z), 1e-7, 1 - 1e-7) - y


MAGNITUDE_BUGS = {
    "bce, a clipped to 1e-5, z = 11.6": (ClippedBce(), one_unit_case("bce", "sigmoid", 11.6)),
    "tanh' of z clipped at 5, z = 11.5": (
        ClippedTanhPrime(5.0),
        one_unit_case("half_sse", "tanh", 11.5),
    ),
    "tanh' of z clipped at 3, z = 14 (saturated)": (
        ClippedTanhPrime(3.0),
        one_unit_case("half_sse", "tanh", 14.0),
    ),
    "softmax p clipped to 1e-7, logits 20 apart": (
        ClippedProbability(),
        one_unit_case("softmax_ce", "identity", 10.0, classes=3),
    ),
}


@pytest.mark.parametrize("name", MAGNITUDE_BUGS)
def test_a_bug_that_grows_with_z_stays_a_fail(name: str) -> None:
    """Each bug is invisible at the tamer point, so only the bound (or saturation's
    absence) keeps it ``fail``; the correct textbook code on the same case is not."""
    bug, case = MAGNITUDE_BUGS[name]
    assert any(f.verdict == "fail" for f in check_case(bug, case))
    assert not any(f.verdict == "fail" for f in check_case(NAIVE, case))

"""Kinks: perturbations that cross a ReLU's 0 never produce a false fail, real bugs still do."""

from __future__ import annotations

import numpy as np
import pytest

import manualbp.engine as engine
from manualbp.architecture import Architecture
from manualbp.case import Case
from manualbp.checks import fd
from manualbp.checks.fd.case import CaseContext
from manualbp.checks.fd.entries import masked_tensor_finding
from manualbp.checks.fd.lines import KINK_REASON, ErrorModel, examine
from manualbp.checks.fd.objective import Objective
from manualbp.engine import EngineImplementation, Network

EPS = np.finfo(np.float64).eps
MODEL = ErrorModel(noise=EPS, rounding=10 * EPS, scale=1.0, gradient_noise=EPS, safety=10.0)


def line_of(phi):
    return lambda offsets: np.array([phi(t) for t in offsets])


def relu_line(distance, left, right):
    """φ(t): slope ``left`` before the kink at t = distance, ``right`` after it."""
    return lambda t: left * t + (right - left) * max(t - distance, 0.0)


@pytest.mark.parametrize("distance", [0.0, 1e-12, 3e-7, -2e-6, 4e-6, -1e-5])
def test_the_slope_on_the_point_side_of_a_kink_is_never_a_fail(distance):
    phi = relu_line(distance, left=0.3, right=1.7)
    slope = 0.3 if distance > 0 or distance == 0 else 1.7
    verdict = examine(line_of(phi), slope, 0.0, 6e-6, EPS, MODEL)
    assert verdict.verdict == "pass", verdict


def test_relu_zero_convention_at_the_kink_is_accepted_as_one_sided():
    phi = relu_line(0.0, left=0.0, right=2.0)
    for slope in (0.0, 2.0):
        assert examine(line_of(phi), slope, 0.0, 6e-6, EPS, MODEL).outcome == "one_sided"


def test_between_the_one_sided_derivatives_is_inconclusive():
    phi = relu_line(0.0, left=0.0, right=2.0)
    # 1.0 (the mean of the two sides) is what the central difference sees; 0.5 matches nothing
    assert examine(line_of(phi), 1.0, 0.0, 6e-6, EPS, MODEL).outcome == "agrees"
    assert examine(line_of(phi), 0.5, 0.0, 6e-6, EPS, MODEL).outcome == "kink"


def test_far_outside_the_one_sided_derivatives_fails():
    phi = relu_line(0.0, left=0.0, right=2.0)
    assert examine(line_of(phi), 7.0, 0.0, 6e-6, EPS, MODEL).outcome == "kink_far"


def test_a_wrong_slope_of_a_smooth_line_is_refuted():
    verdict = examine(line_of(np.sin), 2.0, 0.0, 6e-6, EPS, MODEL)
    assert verdict.outcome == "refuted" and verdict.verdict == "fail"
    assert examine(line_of(np.sin), 1.0, 0.0, 6e-6, EPS, MODEL).outcome == "agrees"


def near_kink_case(activation: str, seed: int = 7) -> Case:
    """[6,2,3] network whose first-layer pre-activations all lie within 1e-10 of 0.

    x is built as (null space of W1) + (z_target)·pinv(W1ᵀ), so x W1ᵀ = z_target = ±1e-10.
    """
    rng = np.random.default_rng(seed)
    arch = Architecture((6, 2, 3), (activation, "identity"), "half_sse", "none", "sum")
    w1 = rng.standard_normal((2, 6))
    w2 = rng.standard_normal((3, 2))
    target = 1e-10 * rng.choice([-1.0, 1.0], size=(4, 2)) * rng.uniform(0.5, 1.0, (4, 2))
    raw = rng.standard_normal((4, 6))
    null = raw - raw @ np.linalg.pinv(w1) @ w1
    x = null + target @ np.linalg.pinv(w1.T)
    y = rng.uniform(0, 1, (4, 3))
    return Case(f"near-kink-{activation}", arch, {"W1": w1, "W2": w2}, x, y, seed=seed)


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_pre_activations_within_1e_10_of_zero_give_no_fail(activation):
    case = near_kink_case(activation)
    z = case.x @ case.params["W1"].T
    assert np.all(np.abs(z) < 1e-10) and np.all(z != 0)
    options = fd.FDOptions(methods=("central", "complex_step", "taylor", "directional"))
    findings = list(fd.run(engine, [case], options=options))
    assert not [f for f in findings if f.verdict == "fail"]
    settled = [f for f in findings if "outcome" in f.detail]
    assert settled, "the kinks were never crossed: the test would prove nothing"
    assert all(f.verdict == "pass" or f.reason.startswith(KINK_REASON) for f in settled)


class DoubledHiddenError(Network):
    def hidden_error(self, delta_next, layer, forward):
        return 2.0 * super().hidden_error(delta_next, layer, forward)


def test_a_wrong_gradient_at_the_kinks_still_fails():
    case = near_kink_case("relu")
    impl = EngineImplementation(DoubledHiddenError, name="doubled-hidden")
    findings = list(fd.run(impl, [case], options=fd.FDOptions(methods=("central",))))
    failed = [f for f in findings if f.verdict == "fail"]
    assert failed and all(f.quantity.startswith("grad.W1") for f in failed)


def test_entries_settled_separately_neither_fail_nor_name_the_tensor_finding():
    case = near_kink_case("relu")
    loss, grads = engine.gradients(case.arch, case.params, case.x, case.y)
    objective = Objective(engine, case)
    ctx = CaseContext(case, "eng", fd.FDOptions(), objective, loss, grads, EPS, EPS, None)
    impl = np.array([[1.0, 5.0], [2.0, 3.0]])
    common = dict(quantity="grad.W", method="central", rtol=0.0, atol=0.1, tolerance_reason="r")
    excluded = np.array([[False, True], [False, False]])
    ref = np.array([[1.0, 0.0], [2.05, 3.0]])
    finding = masked_tensor_finding(ctx, impl=impl, ref=ref, excluded=excluded, detail={}, **common)
    assert (finding.verdict, finding.quantity, finding.atol) == ("pass", "grad.W[1,0]", 0.1)
    assert finding.detail["settled_separately"] == 1
    exact = masked_tensor_finding(
        ctx, impl=impl, ref=np.where(excluded, 0.0, impl), excluded=excluded, detail={}, **common
    )
    assert (exact.verdict, exact.quantity, exact.abs_error) == ("pass", "grad.W[0,0]", 0.0)
    failing = masked_tensor_finding(
        ctx, impl=impl, ref=ref + 1.0, excluded=excluded, detail={}, **common
    )
    assert failing.verdict == "fail" and failing.quantity != "grad.W[0,1]"
    assert (
        masked_tensor_finding(
            ctx, impl=impl, ref=ref, excluded=np.ones((2, 2), bool), detail={}, **common
        )
        is None
    )


def test_a_steep_smooth_line_is_settled_at_a_smaller_step_not_failed():
    c = 4000.0  # t⁴φ⁽⁵⁾/30 = t⁴c⁴/30 ~ 1e-8 at t = 6e-6, 20x the round-off allowance
    phi = lambda t: np.exp(c * t) / c  # noqa: E731
    first = examine(line_of(phi), 1.0, 1.0 / c, 6e-6, EPS, MODEL, levels=0)
    assert first.outcome != "agrees"  # the primary step alone cannot confirm it
    verdict = examine(line_of(phi), 1.0, 1.0 / c, 6e-6, EPS, MODEL)
    assert verdict.outcome == "agrees" and verdict.step < 6e-6
    assert examine(line_of(phi), 1.0 + 1e-6, 1.0 / c, 6e-6, EPS, MODEL).outcome == "refuted"

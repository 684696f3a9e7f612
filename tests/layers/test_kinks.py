"""Inputs exactly on a kink (relu at 0, max and maxpool ties, svm margins at 0): no false fail."""

from __future__ import annotations

import numpy as np
import pytest

import manualbp.layers as library
from manualbp.checks.layer import (
    LayerSpace,
    draw_case,
    load_layers,
    planned_cases,
    run,
    subjects_of,
)
from manualbp.checks.layer.reference import kink_masks

from .conftest import CS231N, failures, tally

KINKS = LayerSpace(kinks=True)


@pytest.mark.parametrize("kind", ["relu", "leaky_relu", "max", "maxpool2d", "svm"])
def test_kink_cases_put_entries_on_the_kink(kind):
    (subject,) = subjects_of(library, kind)
    cases = planned_cases(subject, 4, space=KINKS)
    assert any(mask.any() for case in cases for mask in kink_masks(kind, case).values())
    generic = planned_cases(subject, 4)
    assert not any(mask.any() for case in generic for mask in kink_masks(kind, case).values())


@pytest.mark.parametrize("kind", ["relu", "leaky_relu", "max", "maxpool2d", "svm"])
def test_the_library_never_fails_on_the_kinks(kind):
    (subject,) = subjects_of(library, kind)
    findings = list(run(subject, cases=4, space=KINKS, checks=("fd", "autograd")))
    assert not failures(findings), failures(findings)[0]


def _split_forward(x, y):
    return np.maximum(x, y), (x, y)


def _split_backward(dout, cache):
    """dout to the larger input, half to each on a tie (a valid subgradient)."""
    x, y = cache
    share = np.where(x > y, 1.0, np.where(x < y, 0.0, 0.5))
    return dout * share, dout * (1.0 - share)


def test_a_tie_split_between_the_inputs_is_never_failed():
    (subject,) = subjects_of((_split_forward, _split_backward), "max")
    findings = list(run(subject, cases=3, space=KINKS, checks=("fd", "autograd")))
    assert not failures(findings)
    # the central difference at a tie is the mean of the one-sided slopes, dout/2: it agrees
    assert tally(findings)[("fd", "pass")] > 0
    # torch's maximum also splits a tie, but the check does not rely on that: any
    # disagreement there would be inconclusive (see the next tests)
    assert tally(findings)[("autograd", "pass")] > 0


def test_a_maxpool_giving_dout_to_every_tied_entry_is_not_failed():
    (subject,) = load_layers(f"{CS231N}:max_pool", "maxpool2d")
    findings = list(run(subject, cases=3, space=KINKS, checks=("fd", "autograd")))
    assert not failures(findings)
    inconclusive = [f for f in findings if f.verdict == "inconclusive"]
    assert inconclusive and {f.check for f in inconclusive} == {"autograd"}
    assert all("a tie for the maximum of a window" in f.reason for f in inconclusive)
    # each tied entry, perturbed alone, becomes the maximum: dout matches the right slope
    one_sided = [f for f in findings if f.detail.get("outcome") == "one_sided"]
    assert one_sided and all(f.verdict == "pass" and "tie" in f.reason for f in one_sided)


def _relu_forward(x):
    return np.maximum(x, 0.0), x


def _relu_right_derivative(dout, cache):
    return dout * (cache >= 0)


def _relu_far_off_at_zero(dout, cache):
    return dout * np.where(cache == 0, 5.0, cache > 0)


def test_relu_taking_the_right_derivative_at_zero_passes_fd_and_is_inconclusive_for_torch():
    (subject,) = subjects_of((_relu_forward, _relu_right_derivative), "relu")
    findings = list(run(subject, cases=3, space=KINKS, checks=("fd", "autograd")))
    assert not failures(findings)
    assert tally(findings)[("autograd", "inconclusive")] > 0  # torch takes relu'(0) = 0
    one_sided = [f for f in findings if f.detail.get("outcome") == "one_sided"]
    assert one_sided and all(f.verdict == "pass" for f in one_sided)


def test_a_gradient_far_outside_the_one_sided_derivatives_at_a_kink_fails():
    (subject,) = subjects_of((_relu_forward, _relu_far_off_at_zero), "relu")
    case = draw_case(subject.kind, 11, KINKS)
    assert (case.values["x"] == 0).any()
    findings = list(run(subject, cases=[case], checks=("fd",)))
    far = [f for f in findings if f.detail.get("outcome") == "kink_far"]
    assert far and all(f.verdict == "fail" for f in far)

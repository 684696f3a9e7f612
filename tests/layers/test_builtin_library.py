"""Every kind of the built-in layer library, in both styles, passes all three layer checks."""

from __future__ import annotations

import pytest

import manualbp.layers as functional_layers
import manualbp.layers.objects as object_layers
from manualbp.checks.layer import KINDS, load_layers, run, run_many, subjects_of

from .conftest import failures, tally


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("module", [functional_layers, object_layers], ids=["functional", "object"])
def test_every_kind_of_the_library_passes_fd_and_autograd(module, kind):
    (subject,) = subjects_of(module, kind)
    assert subject.kind.name == kind and subject.asserted
    findings = list(run(subject, cases=3, checks=("fd", "autograd")))
    assert not failures(findings), failures(findings)[0]
    counted = tally(findings)
    assert counted[("fd", "pass")] > 0 and counted[("autograd", "pass")] > 0
    assert counted[("fd", "inconclusive")] == counted[("autograd", "inconclusive")] == 0
    quantities = {f.quantity.split("[")[0] for f in findings if f.check == "autograd"}
    expected = {"loss" if subject.is_loss else "out", *subject.gradients}
    assert quantities == expected


def test_the_module_spec_discovers_every_kind_and_its_fd_check_passes():
    subjects = load_layers("manualbp.layers")
    assert sorted(s.kind.name for s in subjects) == sorted(KINDS)
    assert not any(s.asserted for s in subjects)  # kinds inferred from names: fd only
    findings = list(run_many(subjects, cases=2))
    assert not failures(findings)
    counted = tally(findings)
    assert counted[("autograd", "skipped")] == counted[("published", "skipped")] == len(KINDS)
    assert all("--as KIND" in f.reason for f in findings if f.verdict == "skipped")


@pytest.mark.parametrize("module", [functional_layers, object_layers], ids=["functional", "object"])
def test_the_published_examples_pass_through_the_library(module):
    nodes = subjects_of(module, "multiply") + subjects_of(module, "add")
    affine = subjects_of(module, "affine")
    findings = list(run_many(nodes + affine, checks=("published",)))
    judged = [f for f in findings if f.verdict != "skipped"]
    assert {f.case for f in judged} == {"saito_apples", "saito_apples_oranges", "saito_affine"}
    assert all(f.verdict == "pass" for f in judged)
    assert len(judged) == 5 + 6 + 19  # every printed figure of the three examples

"""User layers in both call styles: CS231n functions and Saito classes (in user_layers/)."""

from __future__ import annotations

import numpy as np
import pytest

from manualbp.checks.layer import LayerSpace, draw_case, load_layers, run, run_many
from manualbp.checks.layer.calls import batchnorm_eps, forward, vjp

from .conftest import CS231N, SAITO, failures, tally

CS231N_LAYERS = {
    "affine": "affine",
    "relu": "relu",
    "batchnorm": "batchnorm",
    "dropout": "dropout",
    "conv": "conv2d",
    "max_pool": "maxpool2d",
    "svm": "svm",
    "softmax": "softmax_ce",
}
SAITO_LAYERS = {
    "MulLayer": "multiply",
    "AddLayer": "add",
    "Relu": "relu",
    "Sigmoid": "sigmoid",
    "Affine": "affine",
    "SoftmaxWithLoss": "softmax_ce",
    "BatchNormalization": "batchnorm",
}


def test_a_cs231n_module_is_discovered_with_its_kinds_from_the_names():
    subjects = load_layers(CS231N)
    kinds = {s.name.split(":")[1]: s.kind.name for s in subjects}
    assert kinds == {
        "affine": "affine",
        "relu": "relu",
        "batchnorm": "batchnorm",
        "dropout": "dropout",
        "conv_forward_naive,conv_backward_naive": "conv2d",
        "max_pool_forward_naive,max_pool_backward_naive": "maxpool2d",
        "svm_loss": "svm",
        "softmax_loss": "softmax_ce",
    }
    findings = list(run_many(subjects, cases=2, checks=("fd",)))
    assert findings and not failures(findings)


@pytest.mark.parametrize(("part", "kind"), list(CS231N_LAYERS.items()))
def test_cs231n_functions_pass_every_check_of_their_kind(part, kind):
    (subject,) = load_layers(f"{CS231N}:{part}", kind)
    assert subject.style == "functional" and subject.kind.name == kind
    findings = list(run(subject, cases=2))
    assert not failures(findings), failures(findings)[0]
    assert tally(findings)[("autograd", "pass")] > 0


@pytest.mark.parametrize(("cls", "kind"), list(SAITO_LAYERS.items()))
def test_saito_classes_pass_every_check_of_their_kind(cls, kind):
    (subject,) = load_layers(f"{SAITO}:{cls}", kind)
    assert subject.style == "object"
    findings = list(run(subject, cases=2))
    assert not failures(findings), failures(findings)[0]
    assert tally(findings)[("autograd", "pass")] > 0


def test_saito_kinds_are_read_from_class_names():
    names = {cls: load_layers(f"{SAITO}:{cls}")[0].kind.name for cls in SAITO_LAYERS}
    assert names == SAITO_LAYERS


def test_saito_dropout_is_self_consistent_but_not_rescaled_under_as_dropout():
    (plain,) = load_layers(f"{SAITO}:Dropout")
    findings = list(run(plain, cases=2))
    assert not failures(findings)
    assert tally(findings)[("fd", "pass")] > 0
    (asserted,) = load_layers(f"{SAITO}:Dropout", "dropout")
    failing = failures(list(run(asserted, cases=2, checks=("autograd",))))
    assert {f.quantity.split("[")[0] for f in failing} == {"out", "dx"}
    assert {f.detail["diagnosis_kind"] for f in failing} == {"dropout_not_rescaled"}
    assert all(f.rel_error == pytest.approx(0.4) for f in failing)  # 1 - keep, keep = 0.6


def test_the_eps_of_a_batchnorm_object_is_read_off_its_output():
    (subject,) = load_layers(f"{SAITO}:BatchNormalization", "batchnorm")
    case = draw_case(subject.kind, 3)
    out = forward(subject, case, case.values)
    assert batchnorm_eps(subject, case, out) == pytest.approx(1e-6, rel=1e-6)
    (functional,) = load_layers(f"{CS231N}:batchnorm", "batchnorm")
    assert batchnorm_eps(functional, case, out) == case.config["eps"] == 1e-5


def test_a_constant_inside_the_log_is_a_small_discrepancy_not_a_pass():
    (subject,) = load_layers(f"{SAITO}:SmoothedSoftmaxWithLoss", "softmax_ce")
    failing = failures(list(run(subject, cases=2, checks=("fd", "autograd"))))
    assert {f.quantity.split("[")[0] for f in failing} == {"dx", "loss"}
    assert {f.detail["diagnosis_kind"] for f in failing} == {"small_discrepancy"}
    assert all(1e-9 < f.rel_error < 1e-4 for f in failing)


def test_one_hot_labels_reach_a_loss_that_takes_them():
    (subject,) = load_layers(f"{SAITO}:SoftmaxWithLoss", "softmax_ce")
    space = LayerSpace(labels="one_hot")
    assert draw_case(subject.kind, 1, space).targets.ndim == 2
    findings = list(run(subject, cases=2, space=space, checks=("fd", "autograd")))
    assert findings and not failures(findings)


def test_saito_relu_may_write_into_dout():
    (subject,) = load_layers(f"{SAITO}:Relu", "relu")
    case = draw_case(subject.kind, 5)
    dout = case.dout(case.out_shape)
    before = dout.copy()
    result = vjp(subject, case, case.values, dout)
    assert np.array_equal(dout, before)  # the check passed a copy
    assert result.mutated == []


@pytest.mark.parametrize("scale", [1e-3, 1e-4])
def test_a_batchnorm_objects_eps_is_read_exactly_when_the_variance_is_below_it(scale):
    (subject,) = load_layers(f"{SAITO}:BatchNormalization", "batchnorm")
    findings = list(
        run(subject, cases=40, seed=5, space=LayerSpace(scale=scale), checks=("autograd",))
    )
    assert not failures(findings)

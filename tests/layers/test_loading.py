"""Specs and Python objects name layers: pairs, CS231n names, losses, classes, whole modules."""

from __future__ import annotations

from types import ModuleType

import pytest

import manualbp.layers as library
import manualbp.layers.objects as objects
from manualbp.checks.layer import KINDS, LayerSubject, load_layers, run, subjects_of
from manualbp.checks.layer.kinds import class_kind
from manualbp.errors import ImplementationError

from .conftest import CS231N, SAITO


@pytest.mark.parametrize(
    ("part", "kind", "style"),
    [
        ("affine", "affine", "functional"),
        ("affine_forward", "affine", "functional"),
        ("conv", "conv2d", "functional"),
        ("conv_forward_naive,conv_backward_naive", "conv2d", "functional"),
        ("max_pool", "maxpool2d", "functional"),
        ("softmax", "softmax_ce", "functional"),
        ("softmax_loss", "softmax_ce", "functional"),
        ("svm_loss", "svm", "functional"),
    ],
)
def test_cs231n_spec_forms_find_the_layer_and_its_kind(part, kind, style):
    (subject,) = load_layers(f"{CS231N}:{part}")
    assert subject.kind.name == kind and subject.style == style and not subject.asserted
    assert subject.name == f"{CS231N}:{part}"


def test_saito_classes_and_the_kind_their_name_says():
    assert {
        name: class_kind(name)
        for name in ("MulLayer", "AddLayer", "Pooling", "Convolution", "BatchNormalization",
                     "SoftmaxWithLoss", "Affine", "LeakyReLU", "Layer", "Network")
    } == {
        "MulLayer": "multiply", "AddLayer": "add", "Pooling": "maxpool2d",
        "Convolution": "conv2d", "BatchNormalization": "batchnorm",
        "SoftmaxWithLoss": "softmax_ce", "Affine": "affine", "LeakyReLU": "leaky_relu",
        "Layer": None, "Network": None,
    }  # fmt: skip
    (subject,) = load_layers(f"{SAITO}:MulLayer", "multiply")
    assert subject.style == "object" and subject.asserted


def test_a_file_loaded_twice_is_one_module():
    (first,) = load_layers(f"{SAITO}:MulLayer")
    (second,) = load_layers(f"{SAITO}:MulLayer", "multiply")
    assert first.forward is second.forward


def test_an_ambiguous_prefix_asks_for_the_pair(tmp_path):
    path = tmp_path / "two_convs.py"
    path.write_text(
        "from manualbp.layers import conv2d_forward, conv2d_backward\n"
        "conv_forward_naive = conv_forward_fast = conv2d_forward\n"
        "conv_backward_naive = conv_backward_fast = conv2d_backward\n"
    )
    with pytest.raises(ImplementationError, match="ambiguous"):
        load_layers(f"{path}:conv")
    (subject,) = load_layers(f"{path}:conv_forward_fast,conv_backward_fast")
    assert subject.kind.name == "conv2d"


def test_a_module_with_an_unknown_pair_yields_a_skipped_subject(tmp_path):
    path = tmp_path / "odd.py"
    path.write_text(
        "from manualbp.layers import relu_forward as gate_forward\n"
        "from manualbp.layers import relu_backward as gate_backward\n"
    )
    (subject,) = load_layers(str(path))
    assert subject.kind is None
    (finding,) = list(run(subject))
    assert finding.verdict == "skipped" and "--as KIND" in finding.reason


def test_python_objects_name_layers_too():
    (by_module,) = subjects_of(library, "conv2d")
    assert by_module.name == "manualbp.layers:conv2d" and by_module.asserted
    (by_class,) = subjects_of(objects.Pooling)
    assert by_class.kind.name == "maxpool2d" and not by_class.asserted
    (by_pair,) = subjects_of((library.relu_forward, library.relu_backward))
    assert by_pair.kind.name == "relu"
    (by_loss,) = subjects_of(library.svm_loss, "svm")
    assert by_loss.is_loss and by_loss.asserted
    (again,) = subjects_of(by_pair, "leaky_relu")
    assert isinstance(again, LayerSubject) and again.kind is KINDS["leaky_relu"]
    assert len(subjects_of(library)) == len(KINDS)
    with pytest.raises(ImplementationError, match="no layer of kind conv2d"):
        subjects_of(ModuleType("empty"), "conv2d")

"""Bad specs and arguments raise one-line ManualbpErrors; misbehaving layers get fail Findings."""

from __future__ import annotations

import numpy as np
import pytest

import manualbp.layers as library
from manualbp.checks.layer import LayerSpace, load_layers, run, subjects_of
from manualbp.errors import ImplementationError, ManualbpError, UsageError

from .conftest import SAITO, failures

BROKEN = """
import numpy as np

class NoBackward:
    def forward(self, x):
        return x

def mystery_forward(x, w):
    return x @ w, (x, w)

def mystery_backward(dout, cache):
    x, w = cache
    return dout @ w.T, x.T @ dout
"""


@pytest.fixture
def broken(tmp_path):
    path = tmp_path / "broken_layers.py"
    path.write_text(BROKEN)
    return str(path)


def _one_line(excinfo: pytest.ExceptionInfo) -> str:
    message = str(excinfo.value)
    assert isinstance(excinfo.value, ManualbpError) and "\n" not in message
    return message


def test_a_missing_file_is_one_line(tmp_path):
    with pytest.raises(ImplementationError) as excinfo:
        load_layers(f"{tmp_path}/nowhere.py:affine")
    assert "does not exist" in _one_line(excinfo)


def test_a_file_that_fails_to_import_is_one_line(tmp_path):
    path = tmp_path / "bad_import.py"
    path.write_text("import no_such_module_anywhere\n")
    with pytest.raises(ImplementationError) as excinfo:
        load_layers(f"{path}:affine")
    assert "cannot import" in _one_line(excinfo)


def test_a_missing_layer_is_one_line(broken):
    with pytest.raises(ImplementationError) as excinfo:
        load_layers(f"{broken}:affine")
    assert "no affine_forward/affine_backward pair" in _one_line(excinfo)


def test_a_class_without_backward_is_one_line(broken):
    with pytest.raises(ImplementationError) as excinfo:
        load_layers(f"{broken}:NoBackward", "relu")
    assert "has no backward method" in _one_line(excinfo)


def test_an_unknown_kind_is_one_line():
    with pytest.raises(UsageError) as excinfo:
        load_layers("manualbp.layers:affine", "dense")
    assert "expected one of affine, relu" in _one_line(excinfo)


def test_a_pair_whose_names_say_no_kind_needs_a_kind_or_shapes(broken):
    with pytest.raises(ImplementationError) as excinfo:
        load_layers(f"{broken}:mystery_forward,mystery_backward")
    assert "--as KIND" in _one_line(excinfo)
    (subject,) = load_layers(
        f"{broken}:mystery_forward,mystery_backward", shapes={"x": (3, 2), "w": (2, 4)}
    )
    assert subject.kind is None and subject.gradients == ("dx", "dw")
    findings = list(run(subject, cases=2))
    assert findings and not failures(findings)
    assert {f.quantity.split("[")[0] for f in findings if f.check == "fd"} >= {"dx", "dw"}


@pytest.mark.parametrize("shapes", [{"x": (3, 0)}, {"x": "3x2"}, {}, {"not a name": (1,)}], ids=str)
def test_bad_shapes_are_one_line(broken, shapes):
    with pytest.raises(UsageError) as excinfo:
        load_layers(f"{broken}:mystery_forward,mystery_backward", shapes=shapes)
    assert "shapes" in _one_line(excinfo)


def test_shapes_for_a_layer_of_known_kind_are_refused():
    with pytest.raises(UsageError) as excinfo:
        load_layers("manualbp.layers:affine", shapes={"x": (2, 2)})
    assert "whose shapes are known" in _one_line(excinfo)


def test_as_with_a_whole_module_is_one_line():
    with pytest.raises(ImplementationError) as excinfo:
        load_layers("manualbp.layers", "affine")
    assert "name one of them" in _one_line(excinfo)


def test_a_loss_function_cannot_be_asserted_a_pair_kind():
    with pytest.raises(ImplementationError) as excinfo:
        load_layers("manualbp.layers:softmax_ce_loss", "relu")
    assert "needs a forward/backward pair" in _one_line(excinfo)


@pytest.mark.parametrize(
    ("space", "field"),
    [
        ({"batch": (0, 2)}, "batch"),
        ({"pad": (2, 1)}, "pad"),
        ({"classes": (1, 3)}, "classes"),
        ({"keep": 0.0}, "keep"),
        ({"labels": "onehot"}, "labels"),
        ({"scale": -1.0}, "scale"),
    ],
)
def test_bad_layer_spaces_are_one_line(space, field):
    with pytest.raises(UsageError) as excinfo:
        LayerSpace(**space)
    assert f"LayerSpace.{field}" in _one_line(excinfo)


def test_unknown_checks_are_refused():
    (subject,) = subjects_of(library, "relu")
    with pytest.raises(UsageError, match="expected some of fd, autograd, published"):
        list(run(subject, checks=("gradcheck",)))


def _affine_forward(x, w, b):
    return library.affine_forward(x, w, b)


def _two_gradients(dout, cache):
    return library.affine_backward(dout, cache)[:2]


def _out_only(x, w, b):
    return library.affine_forward(x, w, b)[0]


def _raising(dout, cache):
    raise ValueError("shapes (4,5) and (3,5) not aligned")


def _nan_db(dout, cache):
    dx, dw, db = library.affine_backward(dout, cache)
    return dx, dw, db * np.nan


def _transposed_out(x, w, b):
    out, cache = library.affine_forward(x, w, b)
    return out.T, cache


@pytest.mark.parametrize(
    ("forward", "backward", "quantity", "words"),
    [
        (_affine_forward, _two_gradients, "backward", "2 value(s), expected 3: (dx, dw, db)"),
        (_out_only, library.affine_backward, "forward", "expected (out, cache)"),
        (_affine_forward, _raising, "backward", "raised ValueError: shapes (4,5)"),
        (_affine_forward, _nan_db, "db", "contains NaN or inf"),
        (_transposed_out, library.affine_backward, "out", "expected shape"),
    ],
    ids=["arity", "no-cache", "raises", "nan", "out-shape"],
)
def test_a_misbehaving_layer_gets_a_clear_fail_finding(forward, backward, quantity, words):
    (subject,) = subjects_of((forward, backward), "affine")
    findings = list(run(subject, cases=1, checks=("fd", "autograd")))
    failing = failures(findings)
    assert {f.check for f in failing} == {"fd", "autograd"}
    assert all(f.quantity == quantity and words in f.reason for f in failing)
    assert all("\n" not in f.reason for f in failing)


def test_a_gradient_of_an_unexplained_shape_is_a_wrong_shape_fail():
    def backward(dout, cache):
        dx, dw, db = library.affine_backward(dout, cache)
        return dx, dw, np.concatenate([db, db])

    (subject,) = subjects_of((_affine_forward, backward), "affine")
    failing = failures(list(run(subject, cases=1, checks=("fd",))))
    assert [f.quantity for f in failing] == ["db"]
    assert failing[0].detail["diagnosis_kind"] == "wrong_shape"


def test_an_object_missing_a_gradient_attribute_fails_naming_it():
    (subject,) = load_layers(f"{SAITO}:Affine", "affine", attributes={"dw": "grad_W"})
    assert subject.attribute("dw") == "grad_W" and subject.attribute("db") == "db"
    failing = failures(list(run(subject, cases=1, checks=("fd",))))
    assert failing and "no attribute 'grad_W'" in failing[0].reason


def test_attributes_must_name_a_parameter_gradient_of_the_kind():
    with pytest.raises(UsageError) as excinfo:
        load_layers(f"{SAITO}:Relu", "relu", attributes={"dw": "dW"})
    assert "expected some of none" in _one_line(excinfo)
    with pytest.raises(UsageError) as excinfo:
        subjects_of(library, "affine", attributes={"dW": "dW"})
    assert "expected some of db, dw" in _one_line(excinfo)


class _GivesUp:
    """A relu that raises from its tenth forward call on (inside the finite differences)."""

    calls = 0

    def forward(self, x):
        type(self).calls += 1
        if type(self).calls > 9:
            raise RuntimeError("out of patience")
        self.x = x
        return np.maximum(x, 0.0)

    def backward(self, dout):
        return dout * (self.x > 0)


def test_a_fault_during_the_finite_differences_keeps_the_findings_before_it():
    (subject,) = subjects_of(_GivesUp, "relu")
    findings = list(run(subject, cases=1, checks=("fd",)))
    assert [f.verdict for f in findings[:-1]] == ["pass"] * (len(findings) - 1)
    assert {f.quantity.split("[")[0] for f in findings[:-1]} == {
        "repeat.out",
        "repeat.dx",
        "reuse.dx",
    }
    assert findings[-1].verdict == "fail" and "raised RuntimeError: out of patience" in (
        findings[-1].reason
    )

"""Bad input raises one ManualbpError subclass whose one-line message names the field, what
was given and what was expected (issue 2, "Bad input")."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import manualbp.engine as engine
from manualbp import mazur
from manualbp.architecture import Architecture
from manualbp.demos import get_demo
from manualbp.engine.train import train
from manualbp.errors import (
    ArchitectureError,
    BatchError,
    ManualbpError,
    ParameterError,
    UsageError,
)
from manualbp.params import all_finite, check_batch, check_frozen, check_params

ARCH = Architecture((2, 3, 1), ("tanh", "sigmoid"), "half_sse", "per_unit", "sum")
GOOD_PARAMS = {
    "W1": np.zeros((3, 2)),
    "b1": np.zeros(3),
    "W2": np.zeros((1, 3)),
    "b2": np.zeros(1),
}
X, Y = np.zeros((4, 2)), np.zeros((4, 1))


def arch(**fields: object) -> Callable[[], object]:
    base: dict[str, object] = {"sizes": (2, 3, 1), "activations": ("tanh", "sigmoid")}
    return lambda: Architecture(**{**base, **fields})


def params(**changes: object) -> Callable[[], object]:
    p = {k: v for k, v in {**GOOD_PARAMS, **changes}.items() if v is not None}
    return lambda: check_params(ARCH, p)


def nan_at(array: np.ndarray, value: float) -> np.ndarray:
    bad = array.copy()
    bad.flat[0] = value
    return bad


# (id, action, error type, fragments the message must contain: field, given, expected)
BAD_INPUTS: list[tuple[str, Callable[[], object], type[ManualbpError], tuple[str, ...]]] = [
    ("unknown activation", arch(activations=("tanh", "swish")), ArchitectureError,
     ("activations[1]", "'swish'", "expected one of", "sigmoid")),
    ("unknown loss", arch(loss="hinge"), ArchitectureError,
     ("loss", "'hinge'", "expected one of", "half_sse")),
    ("unknown bias mode", arch(bias="per_layer"), ArchitectureError,
     ("bias", "'per_layer'", "expected one of", "shared")),
    ("unknown reduction", arch(reduction="max"), ArchitectureError,
     ("reduction", "'max'", "expected one of", "mean")),
    ("zero size", arch(sizes=(2, 0, 1)), ArchitectureError,
     ("sizes[1]", "0", "expected a positive integer")),
    ("negative size", arch(sizes=(2, 3, -1)), ArchitectureError,
     ("sizes[2]", "-1", "expected a positive integer")),
    ("non-integer size", arch(sizes=(2, 1.5, 1)), ArchitectureError,
     ("sizes[1]", "1.5", "expected a positive integer")),
    ("boolean size", arch(sizes=(2, True, 1)), ArchitectureError,
     ("sizes[1]", "True", "expected a positive integer")),
    ("sizes not a list", arch(sizes="2,3,1"), ArchitectureError,
     ("sizes", "'2,3,1'", "expected a list")),
    ("one size only", arch(sizes=(2,), activations=()), ArchitectureError,
     ("sizes", "[2]", "expected at least two")),
    ("too few activations", arch(activations=("tanh",)), ArchitectureError,
     ("activations", "got 1", "expected 2")),
    ("too many activations", arch(activations=("tanh",) * 3), ArchitectureError,
     ("activations", "got 3", "expected 2")),
    ("bce without a sigmoid output", arch(loss="bce", activations=("tanh", "tanh")),
     ArchitectureError, ("activations[1]", "'bce'", "'sigmoid'", "'tanh'")),
    ("softmax_ce without identity logits", arch(loss="softmax_ce"), ArchitectureError,
     ("activations[1]", "'softmax_ce'", "'identity'", "'sigmoid'")),
    ("unknown field in a dict", lambda: Architecture.from_dict({**ARCH.to_dict(), "depth": 2}),
     ArchitectureError, ("architecture", "depth", "expected only")),
    ("missing field in a dict", lambda: Architecture.from_dict({"sizes": [2, 1]}),
     ArchitectureError, ("architecture", "missing", "'activations'")),
    ("invalid JSON", lambda: Architecture.from_json("{sizes: [2, 1]"), ArchitectureError,
     ("architecture", "not valid JSON")),
    ("params not a dict", lambda: check_params(ARCH, [np.zeros((3, 2))]), ParameterError,
     ("params", "got list", "expected a dict", "W1, b1, W2, b2")),
    ("missing parameter", params(b2=None), ParameterError,
     ("params", "missing b2", "expected W1, b1, W2, b2")),
    ("extra parameter", params(W3=np.zeros((1, 1))), ParameterError,
     ("params", "unexpected W3", "expected only W1, b1, W2, b2")),
    ("misshaped weight", params(W1=np.zeros((2, 3))), ParameterError,
     ("W1", "(2, 3)", "expected (3, 2)")),
    ("misshaped bias", params(b1=np.zeros(())), ParameterError, ("b1", "()", "expected (3,)")),
    ("NaN in a parameter", params(W2=nan_at(GOOD_PARAMS["W2"], np.nan)), ParameterError,
     ("W2", "NaN or inf", "expected finite")),
    ("inf in a parameter", params(b2=nan_at(GOOD_PARAMS["b2"], np.inf)), ParameterError,
     ("b2", "NaN or inf", "expected finite")),
    ("text parameter", params(W1=np.full((3, 2), "a")), ParameterError,
     ("W1", "dtype", "expected a real or complex")),
    ("x of one dimension", lambda: check_batch(ARCH, np.zeros(2), Y), BatchError,
     ("x", "(2,)", "expected (N, 2)")),
    ("x with the wrong width", lambda: check_batch(ARCH, np.zeros((4, 3)), Y), BatchError,
     ("x", "(4, 3)", "expected (N, 2)")),
    ("y with the wrong rows", lambda: check_batch(ARCH, X, np.zeros((3, 1))), BatchError,
     ("y", "(3, 1)", "expected (4, 1)")),
    ("y with the wrong width", lambda: check_batch(ARCH, X, np.zeros((4, 2))), BatchError,
     ("y", "(4, 2)", "expected (4, 1)")),
    ("NaN in x", lambda: check_batch(ARCH, nan_at(X, np.nan), Y), BatchError,
     ("x", "NaN or inf", "expected finite")),
    ("inf in y", lambda: check_batch(ARCH, X, nan_at(Y, -np.inf)), BatchError,
     ("y", "NaN or inf", "expected finite")),
    ("bce target outside [0, 1]",
     lambda: check_batch(Architecture((2, 1), ("sigmoid",), "bce"), X, Y + 2), BatchError,
     ("y", "'bce'", "[0, 1]")),
    ("unknown frozen name", lambda: check_frozen(ARCH, {"W9"}), ParameterError,
     ("frozen", "W9", "expected names among")),
    ("frozen as a string", lambda: check_frozen(ARCH, "W1"), ParameterError,
     ("frozen", "'W1'", "expected a set")),
    ("unknown demo name", lambda: get_demo("mazur"), UsageError,
     ("demo", "'mazur'", "expected one of", "mazur-scalar", "nielsen")),
    ("non-positive learning rate",
     lambda: train(engine, ARCH, GOOD_PARAMS, X, Y, lr=0.0, epochs=1), UsageError,
     ("lr", "0.0", "expected a finite positive")),
    ("negative epochs", lambda: train(engine, ARCH, GOOD_PARAMS, X, Y, lr=0.1, epochs=-1),
     UsageError, ("epochs", "-1", "expected a non-negative integer")),
    ("zero batch size",
     lambda: train(engine, ARCH, GOOD_PARAMS, X, Y, lr=0.1, epochs=1, batch_size=0),
     UsageError, ("batch_size", "0", "expected a positive integer")),
]  # fmt: skip


@pytest.mark.parametrize(
    ("action", "error", "fragments"),
    [case[1:] for case in BAD_INPUTS],
    ids=[case[0] for case in BAD_INPUTS],
)
def test_bad_input_raises_a_one_line_error_naming_the_field(
    action: Callable[[], object], error: type[ManualbpError], fragments: tuple[str, ...]
) -> None:
    with pytest.raises(error) as raised:
        action()
    message = str(raised.value)
    assert isinstance(raised.value, ManualbpError)
    assert "\n" not in message
    assert message.startswith(fragments[0])
    for fragment in fragments[1:]:
        assert fragment in message, f"{fragment!r} not in {message!r}"


@pytest.mark.parametrize("impl", [engine, mazur], ids=["engine", "mazur"])
@pytest.mark.parametrize("method", ["loss", "gradients", "intermediates"])
def test_implementations_validate_what_they_are_given(impl: object, method: str) -> None:
    arch = mazur.ARCHITECTURE
    good = {"W1": np.eye(2), "b1": 0.0, "W2": np.eye(2), "b2": 0.0}
    x, y = np.zeros((1, 2)), np.zeros((1, 2))
    function = getattr(impl, method)
    with pytest.raises(ParameterError, match=r"^params: missing b2"):
        function(arch, {k: v for k, v in good.items() if k != "b2"}, x, y)
    with pytest.raises(BatchError, match=r"^x: contains NaN"):
        function(arch, good, np.full((1, 2), np.nan), y)
    with pytest.raises(BatchError, match=r"^y: got shape \(1, 3\)"):
        function(arch, good, x, np.zeros((1, 3)))


FINITENESS_CASES = {
    "finite": np.arange(12.0).reshape(3, 4),
    "nan": np.array([1.0, np.nan]),
    "inf": np.array([[np.inf, 0.0]]),
    "minus inf": np.array([-np.inf]),
    "squares overflow, entries finite": np.array([1e200, -1e200]),
    "squares overflow and a nan": np.array([1e200, np.nan]),
    "fortran order": np.asfortranarray(np.arange(12.0).reshape(3, 4)),
    "strided view": np.arange(24.0).reshape(4, 6)[::2, ::3],
    "strided view with inf outside it": np.array([1.0, np.inf, 2.0])[::2],
    "complex inf": np.array([1 + 1j, complex(np.inf, 0.0)]),
    "complex nan imaginary part": np.array([0j, complex(0.0, np.nan)]),
    "complex large": np.array([1e200 + 1e200j]),
    "0-d": np.array(3.0),
    "empty": np.zeros((0, 3)),
    "float32 overflow": np.array([3e30, 1.0], dtype=np.float32),
    "float32 nan": np.array([np.nan], dtype=np.float32),
}


@pytest.mark.parametrize("name", FINITENESS_CASES)
def test_all_finite_agrees_with_an_entry_by_entry_test(name: str) -> None:
    array = FINITENESS_CASES[name]
    with np.errstate(all="raise"):  # no warning escapes the sum of squares either
        assert all_finite(array) == bool(np.isfinite(array).all())

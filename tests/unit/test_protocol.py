"""The engine and the formula-by-formula 2-2-2 network as implementations of the protocol:
names, shapes, dtypes, non-mutation, agreement with each other, and the complex step."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import manualbp.engine as engine
from manualbp import mazur
from manualbp.architecture import Architecture
from manualbp.case import Case, case_from_seed
from manualbp.demos import mazur_data
from manualbp.protocol import (
    Unsupported,
    call,
    capabilities,
    implementation_name,
    load_implementation,
)

IMPLEMENTATIONS = {"manualbp.engine": engine, "manualbp.mazur": mazur}
MAZUR = mazur.ARCHITECTURE


def mazur_case(seed: int, batch_size: int = 3) -> Case:
    return case_from_seed(MAZUR, seed, batch_size=batch_size, scale=1.0)


def published_case() -> Case:
    return Case("mazur", MAZUR, mazur_data.initial_params(), mazur_data.X, mazur_data.Y)


@pytest.mark.parametrize("spec", IMPLEMENTATIONS)
def test_loads_by_name_with_every_optional_part(spec: str) -> None:
    impl = load_implementation(spec)
    assert impl is IMPLEMENTATIONS[spec]
    assert implementation_name(impl) == spec
    caps = capabilities(impl)
    assert (caps.step, caps.intermediates, caps.complex) == (True, True, True)


@pytest.mark.parametrize("spec", IMPLEMENTATIONS)
def test_returns_protocol_types_and_shapes(spec: str) -> None:
    impl, c = IMPLEMENTATIONS[spec], mazur_case(1)
    value = impl.loss(MAZUR, c.params, c.x, c.y)
    assert type(value) is float
    loss, grads = impl.gradients(MAZUR, c.params, c.x, c.y)
    assert type(loss) is float and loss == value
    assert list(grads) == list(MAZUR.param_names)
    for name, shape in MAZUR.param_shapes().items():
        assert grads[name].shape == shape and grads[name].dtype == np.float64
    inter = impl.intermediates(MAZUR, c.params, c.x, c.y)
    assert set(inter) == {"z", "a", "delta"}
    for key in ("z", "a", "delta"):
        assert [v.shape for v in inter[key]] == [(3, 2), (3, 2)]
        assert all(v.dtype == np.float64 for v in inter[key])
    stepped = impl.step(MAZUR, c.params, c.x, c.y, 0.5)
    assert {k: v.shape for k, v in stepped.items()} == MAZUR.param_shapes()


@pytest.mark.parametrize("spec", IMPLEMENTATIONS)
def test_never_mutates_its_inputs(spec: str) -> None:
    impl, c = IMPLEMENTATIONS[spec], mazur_case(2)
    params = copy.deepcopy(c.params)
    x, y = c.x.copy(), c.y.copy()
    for array in (*params.values(), x, y):
        array.setflags(write=False)  # an in-place update raises instead of passing silently
    impl.loss(MAZUR, params, x, y)
    impl.gradients(MAZUR, params, x, y)
    impl.intermediates(MAZUR, params, x, y)
    stepped = impl.step(MAZUR, params, x, y, 0.5, frozen={"b1"})
    for name in MAZUR.param_names:
        np.testing.assert_array_equal(params[name], c.params[name])
        assert stepped[name] is not params[name]
    np.testing.assert_array_equal(x, c.x)
    np.testing.assert_array_equal(y, c.y)


@pytest.mark.parametrize("spec", IMPLEMENTATIONS)
def test_step_is_one_gradient_descent_update_with_frozen_names_kept(spec: str) -> None:
    impl, c = IMPLEMENTATIONS[spec], mazur_case(3)
    _, grads = impl.gradients(MAZUR, c.params, c.x, c.y)
    stepped = impl.step(MAZUR, c.params, c.x, c.y, 0.25, frozen=frozenset({"b1", "W2"}))
    for name in ("b1", "W2"):
        np.testing.assert_array_equal(stepped[name], c.params[name])
    for name in ("W1", "b2"):
        np.testing.assert_allclose(stepped[name], c.params[name] - 0.25 * grads[name], rtol=1e-15)


@pytest.mark.parametrize(
    "c", [published_case(), mazur_case(4), mazur_case(5, batch_size=7)], ids=lambda c: c.case_id
)
def test_engine_and_mazur_agree_to_1e_12(c: Case) -> None:
    tol = {"rtol": 1e-12, "atol": 1e-15}
    assert engine.loss(MAZUR, c.params, c.x, c.y) == pytest.approx(
        mazur.loss(MAZUR, c.params, c.x, c.y), rel=1e-12
    )
    _, engine_grads = engine.gradients(MAZUR, c.params, c.x, c.y)
    _, mazur_grads = mazur.gradients(MAZUR, c.params, c.x, c.y)
    for name in MAZUR.param_names:
        np.testing.assert_allclose(engine_grads[name], mazur_grads[name], **tol, err_msg=name)
    engine_inter = engine.intermediates(MAZUR, c.params, c.x, c.y)
    mazur_inter = mazur.intermediates(MAZUR, c.params, c.x, c.y)
    for key in ("z", "a", "delta"):
        for layer, (e, m) in enumerate(zip(engine_inter[key], mazur_inter[key], strict=True)):
            np.testing.assert_allclose(e, m, **tol, err_msg=f"{key}{layer + 1}")
    frozen = mazur_data.FROZEN
    engine_step = engine.step(MAZUR, c.params, c.x, c.y, 0.5, frozen=frozen)
    mazur_step = mazur.step(MAZUR, c.params, c.x, c.y, 0.5, frozen=frozen)
    for name in MAZUR.param_names:
        np.testing.assert_allclose(engine_step[name], mazur_step[name], **tol, err_msg=name)


def test_mazur_declines_other_architectures() -> None:
    other = Architecture((2, 3, 2), ("sigmoid", "sigmoid"), "half_sse", "shared", "sum")
    c = case_from_seed(other, 0)
    assert not mazur.supports(other) and mazur.supports(MAZUR)
    with pytest.raises(NotImplementedError):
        mazur.loss(other, c.params, c.x, c.y)
    with pytest.raises(Unsupported):
        call(mazur, "gradients", other, c.params, c.x, c.y)


COMPLEX_ARCHS = [
    Architecture((3, 4, 2), ("tanh", "sigmoid"), "bce", "per_unit", "mean"),
    Architecture((3, 4, 3), ("softplus", "identity"), "softmax_ce", "shared", "sum"),
    Architecture((2, 3, 3, 2), ("sigmoid", "leaky_relu", "tanh"), "mse", "none", "sum"),
]


@pytest.mark.parametrize(
    ("spec", "arch"),
    [("manualbp.engine", arch) for arch in COMPLEX_ARCHS] + [("manualbp.mazur", MAZUR)],
    ids=lambda v: v if isinstance(v, str) else v.describe(),
)
def test_complex_step_of_the_loss_equals_the_gradient(spec: str, arch: Architecture) -> None:
    """∂E/∂θ_k = Im E(θ + ih e_k) / h with h = 1e-30: no subtraction, so agreement to ~1e-13."""
    impl, h = IMPLEMENTATIONS[spec], 1e-30
    c = case_from_seed(arch, 21, batch_size=4)
    _, grads = impl.gradients(arch, c.params, c.x, c.y)
    for name, value in c.params.items():
        complex_step = np.empty(value.shape)
        for index in np.ndindex(value.shape):
            perturbed = value.astype(np.complex128)
            perturbed[index] += 1j * h
            loss = impl.loss(arch, {**c.params, name: perturbed}, c.x, c.y)
            assert isinstance(loss, complex)
            complex_step[index] = loss.imag / h
        np.testing.assert_allclose(grads[name], complex_step, rtol=1e-12, atol=1e-15, err_msg=name)


def test_integer_inputs_are_computed_in_float64() -> None:
    params = {"W1": np.ones((2, 2), int), "b1": 0, "W2": np.ones((2, 2), int), "b2": 0}
    loss, grads = engine.gradients(MAZUR, params, [[1, 0]], [[0, 1]])
    assert type(loss) is float
    assert all(g.dtype == np.float64 for g in grads.values())
    assert loss == pytest.approx(mazur.loss(MAZUR, params, [[1, 0]], [[0, 1]]), rel=1e-15)


def test_a_file_spec_imports_its_siblings_and_leaves_sys_path_as_it_was(tmp_path) -> None:
    """A one-line file next to the user's code (``from network import ...``) loads as
    ``--impl path/check.py:IMPL``, as ``python path/check.py`` would load it."""
    import sys

    from manualbp.protocol import load_implementation

    (tmp_path / "mynet_sibling.py").write_text(
        "import manualbp.engine as engine\n\n\nclass Net:\n"
        "    loss = staticmethod(engine.loss)\n    gradients = staticmethod(engine.gradients)\n",
        encoding="utf-8",
    )
    (tmp_path / "check_mynet.py").write_text(
        "from mynet_sibling import Net\n\nIMPL = Net()\n", encoding="utf-8"
    )
    before = list(sys.path)
    impl = load_implementation(f"{tmp_path / 'check_mynet.py'}:IMPL")
    assert callable(impl.loss) and callable(impl.gradients)
    assert sys.path == before
    # the same file named twice is one module: its classes are the same objects
    again = load_implementation(f"{tmp_path / 'check_mynet.py'}:IMPL")
    assert again is impl
    # an edited file is imported again
    import os

    path = tmp_path / "check_mynet.py"
    path.write_text(path.read_text(encoding="utf-8") + "EDITED = True\n", encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    edited = load_implementation(f"{path}:IMPL")
    assert edited is not impl and type(edited).__name__ == "Net"

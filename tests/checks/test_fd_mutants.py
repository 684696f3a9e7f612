"""The finite-difference check catches realistic gradient bugs and protocol violations."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import manualbp.engine as engine
from manualbp.architecture import Architecture
from manualbp.case import case_from_seed
from manualbp.checks import fd
from manualbp.engine import EngineImplementation, Network

SIGMOID = Architecture((3, 4, 2), ("tanh", "sigmoid"), "half_sse", "per_unit", "sum")
SQUARE = Architecture((3, 3, 3), ("tanh", "sigmoid"), "mse", "per_unit", "mean")
DEEP = Architecture((2, 5, 4, 3), ("softplus", "tanh", "identity"), "softmax_ce", "shared", "sum")


class DoubledOutputError(Network):
    def output_error(self, forward, y):
        return 2.0 * super().output_error(forward, y)


class MissingActivationDerivative(Network):
    def hidden_error(self, delta_next, layer, forward):
        return self.affine.input_gradient(delta_next, forward.affine_caches[layer])


class TransposedWeightGradient(Network):
    def backward(self, forward, y):
        result = super().backward(forward, y)
        for name, grad in result.gradients.items():
            if name.startswith("W") and grad.shape[0] == grad.shape[1]:
                result.gradients[name] = grad.T.copy()
        return result


def findings_of(impl, arch, seeds=(1, 2), **options):
    cases = [case_from_seed(arch, seed, batch_size=3) for seed in seeds]
    return list(fd.run(impl, cases, impl_name="impl", options=fd.FDOptions(**options)))


def failing(findings, method=None):
    return [f for f in findings if f.verdict == "fail" and method in (None, f.method)]


@pytest.mark.parametrize(
    ("network", "arch"),
    [
        (DoubledOutputError, SIGMOID),
        (MissingActivationDerivative, DEEP),
        (TransposedWeightGradient, SQUARE),
    ],
)
def test_gradient_bugs_fail_every_numeric_method(network, arch):
    findings = findings_of(EngineImplementation(network, name="mutant"), arch)
    for method in ("central", "complex_step", "taylor"):
        assert failing(findings, method), method
    assert not failing(findings, "consistency")


def test_missing_derivative_is_located_in_the_hidden_layers():
    findings = findings_of(EngineImplementation(MissingActivationDerivative), DEEP)
    named = {f.quantity.split("[")[0] for f in failing(findings, "central")}
    assert named <= {"grad.W1", "grad.b1", "grad.W2", "grad.b2"}
    assert "grad.W1" in named


def test_correct_engine_passes_the_same_cases():
    for arch in (SIGMOID, SQUARE, DEEP):
        findings = findings_of(engine, arch)
        assert {f.verdict for f in findings} == {"pass"}


def wrapper(gradients=None, loss=None, **extra):
    """An implementation built from the engine with one function replaced."""
    return SimpleNamespace(
        loss=loss or engine.loss, gradients=gradients or engine.gradients, **extra
    )


def test_gradients_that_mutate_x_fail_inputs():
    def gradients(arch, params, x, y):
        result = engine.gradients(arch, params, x, y)
        x *= 2.0
        return result

    findings = findings_of(wrapper(gradients), SIGMOID, seeds=(1,))
    [inputs] = [f for f in findings if f.quantity == "inputs"]
    assert inputs.verdict == "fail" and "x" in inputs.reason


def test_gradients_that_change_between_calls_fail_repeat():
    calls = []

    def gradients(arch, params, x, y):
        loss, grads = engine.gradients(arch, params, x, y)
        calls.append(1)
        grads["b2"] = grads["b2"] + 1e-9 * len(calls)
        return loss, grads

    findings = findings_of(wrapper(gradients), SIGMOID, seeds=(1,))
    repeat = [f for f in failing(findings) if f.quantity.startswith("repeat.")]
    assert [f.quantity.split("[")[0] for f in repeat] == ["repeat.grad.b2"]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda g: {**g, "W1": np.full_like(g["W1"], np.nan)}, "NaN"),
        (lambda g: {k: v for k, v in g.items() if k != "b1"}, "missing b1"),
        (lambda g: {**g, "W2": g["W2"].T}, "shape"),
    ],
)
def test_malformed_gradients_fail_the_case_without_raising(damage, message):
    def gradients(arch, params, x, y):
        loss, grads = engine.gradients(arch, params, x, y)
        return loss, damage(grads)

    findings = findings_of(wrapper(gradients), SIGMOID, seeds=(1, 2))
    assert [f.verdict for f in findings] == ["fail", "fail"]
    assert all(f.quantity == "gradients()" and message in f.reason for f in findings)


def test_float32_gradients_fail_the_dtype_check():
    def gradients(arch, params, x, y):
        loss, grads = engine.gradients(arch, params, x, y)
        return loss, {k: v.astype(np.float32) for k, v in grads.items()}

    findings = findings_of(wrapper(gradients), SIGMOID, seeds=(1,))
    [protocol] = [f for f in findings if f.quantity == "gradients()"]
    assert protocol.verdict == "fail" and "float32" in protocol.reason


def test_loss_of_gradients_must_equal_loss():
    def gradients(arch, params, x, y):
        loss, grads = engine.gradients(arch, params, x, y)
        return 2.0 * loss, grads

    findings = findings_of(wrapper(gradients), SIGMOID, seeds=(1,))
    assert [f.quantity for f in failing(findings)] == ["loss"]


def test_an_implementation_that_raises_gives_a_fail_finding():
    def gradients(arch, params, x, y):
        raise RuntimeError("boom")

    findings = findings_of(wrapper(gradients), SIGMOID, seeds=(1,))
    [finding] = findings
    assert finding.verdict == "fail" and finding.quantity == "gradients()"
    assert "RuntimeError: boom" in finding.reason


def test_loss_raising_at_a_perturbed_point_fails_those_methods_only():
    def loss(arch, params, x, y):
        if abs(np.real(params["b2"][0]) - base) > 1e-5:  # central and Taylor steps only
            raise ValueError("perturbed")
        return engine.loss(arch, params, x, y)

    case = case_from_seed(SIGMOID, 1, batch_size=3)
    base = case.params["b2"][0]
    findings = list(fd.run(wrapper(loss=loss, supports_complex=True), [case]))
    faults = failing(findings)
    assert {(f.method, f.quantity) for f in faults} == {("central", "loss()"), ("taylor", "loss()")}
    assert all("ValueError: perturbed" in f.reason for f in faults)
    assert {f.verdict for f in findings if f.method in ("consistency", "complex_step")} == {"pass"}


def test_complex_step_needs_a_complex_loss():
    def loss(arch, params, x, y):
        return float(np.real(engine.loss(arch, params, x, y)))

    findings = findings_of(wrapper(loss=loss, supports_complex=True), SIGMOID, seeds=(1,))
    [finding] = failing(findings)
    assert finding.method == "complex_step" and "complex" in finding.reason


def test_complex_step_sees_an_error_below_the_reach_of_central_differences():
    def gradients(arch, params, x, y):
        loss, grads = engine.gradients(arch, params, x, y)
        return loss, {**grads, "W1": grads["W1"] + 2e-10}

    impl = wrapper(gradients, supports_complex=True)
    findings = findings_of(impl, SIGMOID, seeds=(1,))
    assert {f.verdict for f in findings if f.method == "central"} == {"pass"}
    [finding] = failing(findings)
    assert finding.method == "complex_step" and finding.quantity.startswith("grad.W1")
    assert "coarser allowance" in finding.reason  # central differences cannot tell

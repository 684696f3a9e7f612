"""The autograd check: correct implementations pass, realistic bugs fail, kinks are
inconclusive, unsupported cases are skipped and misbehaving implementations give fails."""

from __future__ import annotations

from collections.abc import Mapping
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import manualbp.engine as engine
from manualbp import mazur
from manualbp import torch_mirror as mirror
from manualbp.architecture import Architecture
from manualbp.case import Case, case_from_seed
from manualbp.checks import autograd
from manualbp.checks.autograd import tolerance, trajectory
from manualbp.checks.autograd.reference import Reference
from manualbp.checks.autograd.trajectory import learning_rate
from manualbp.engine import BackwardPass, EngineImplementation, Network
from manualbp.engine.activations import Activation, relu
from manualbp.engine.layers import ActivationLayer, Affine
from manualbp.errors import UsageError
from manualbp.findings import Finding
from manualbp.params import descend
from manualbp.space import ArchSpace, case_seed, random_case

SQUARE = Architecture((3, 3, 3), ("tanh", "sigmoid"), loss="half_sse", bias="per_unit")


def findings_of(impl: object, case: Case, **options: object) -> dict[str, Finding]:
    """Findings by quantity name without the worst-entry index (``grad.W2[1,0]`` -> ``grad.W2``)."""
    found = autograd.run(impl, [case], options=autograd.AutogradOptions(**options))
    return {f.quantity.split("[")[0]: f for f in found}


def verdicts(findings: Mapping[str, Finding]) -> dict[str, str]:
    return {q: f.verdict for q, f in findings.items()}


# --- correct implementations -------------------------------------------------------------


def test_engine_passes_every_comparison_on_seeded_random_cases() -> None:
    cases = [random_case(case_seed(2024, i)) for i in range(12)]
    found = list(autograd.run(engine, cases, impl_name="engine"))
    assert {f.verdict for f in found} == {"pass"}
    for case in cases:
        quantities = {f.quantity.split("[")[0] for f in found if f.case == case.case_id}
        names = case.arch.param_names
        assert {"loss", "loss.from_gradients"} <= quantities
        assert {f"grad.{n}" for n in names} <= quantities
        assert {f"delta.{layer}" for layer in range(1, case.arch.depth + 1)} <= quantities
        assert {f"step5.{n}" for n in names} <= quantities
        assert len([q for q in quantities if q.startswith("frozen_step")]) == len(names)


def test_findings_carry_case_seed_implementation_and_tolerance() -> None:
    case = case_from_seed(SQUARE, 5)
    found = list(autograd.run(engine, [case], impl_name="my-impl"))
    for finding in found:
        assert (finding.check, finding.case, finding.seed) == ("autograd", case.case_id, 5)
        assert finding.impl == "my-impl" and finding.reproduce is None
        assert finding.tolerance_reason
    grad = next(f for f in found if f.quantity.startswith("grad.W1"))
    n = sum(SQUARE.sizes) + case.batch_size
    assert grad.tolerance == pytest.approx(tolerance.SAFETY * n * np.finfo(float).eps)
    assert grad.atol > 0 and "magnitude of the terms" in grad.tolerance_reason


def test_mazur_formula_by_formula_network_passes() -> None:
    space = ArchSpace(fixed=(mazur.ARCHITECTURE,))
    found = list(autograd.run(mazur, [random_case(case_seed(1, i), space) for i in range(4)]))
    assert {f.verdict for f in found} == {"pass"}


def test_cancellation_to_zero_is_within_the_rounding_floor() -> None:
    # The shared bias gradient of a softmax output layer is exactly 0 in exact arithmetic
    # (softmax is shift invariant); both sides compute rounding noise, which must pass.
    arch = Architecture((4, 5, 3), ("tanh", "identity"), loss="softmax_ce", bias="shared")
    case = case_from_seed(arch, 11, batch_size=6, scale=4.0)
    found = findings_of(engine, case)
    assert found["grad.b2"].verdict == "pass"
    assert abs(found["grad.b2"].ref_value) < 1e-12
    assert found["grad.b2"].atol > 0


class TanhFormSigmoid(Network):
    """A correct sigmoid with different rounding, σ(z) = (1 + tanh(z/2))/2, f' = a(1 - a)."""

    def __init__(self, arch: Architecture) -> None:
        super().__init__(arch)
        sigmoid = Activation(
            "sigmoid", lambda z: 0.5 * (1.0 + np.tanh(0.5 * z)), lambda z, a: a * (1.0 - a)
        )
        self.activation_layers = [
            ActivationLayer(sigmoid) if name == "sigmoid" else layer
            for name, layer in zip(arch.activations, self.activation_layers, strict=True)
        ]


def test_a_differently_rounded_correct_sigmoid_passes_when_saturated() -> None:
    # a(1 - a) loses all relative accuracy when a rounds near 1; only the absolute floor
    # scaled by the terms (of size 1) tells that this is rounding, not a bug
    arch = Architecture((4, 6, 1), ("sigmoid", "sigmoid"), loss="half_sse")
    case = case_from_seed(arch, 3, batch_size=1, scale=10.0)
    impl = EngineImplementation(TanhFormSigmoid, name="tanh-form")
    found = findings_of(impl, case)
    assert set(verdicts(found).values()) == {"pass"}
    assert found["delta.2"].rel_error > 1e-3  # far above eps: rounding, not a bug


# --- realistic bugs ----------------------------------------------------------------------


class DoubledOutputError(Network):
    """Forgets the ½ of ½·SSE: δ_L = 2(a - y)f'(z)."""

    def output_error(self, forward, y):
        return 2.0 * super().output_error(forward, y)


class MissingTranspose(Network):
    """Hidden error term δ_{l+1} W^T instead of δ_{l+1} W (invisible to shapes when square)."""

    class _Affine(Affine):
        def input_gradient(self, delta, cache):
            return delta @ cache.W.T

    def __init__(self, arch: Architecture) -> None:
        super().__init__(arch)
        self.affine = self._Affine(arch.bias)


class ReversedDeltas(Network):
    """Right gradients, but reports the error terms with the layers in reverse order."""

    def backward(self, forward, y):
        result = super().backward(forward, y)
        return BackwardPass(result.delta[::-1], result.gradients)


class UpdatesFrozen(EngineImplementation):
    """Applies the update to every parameter, frozen or not."""

    def step(self, arch, params, x, y, lr, frozen=frozenset()):
        _, grads = self.gradients(arch, params, x, y)
        return descend(params, grads, lr)


def test_a_wrong_factor_fails_the_gradients_and_the_output_delta() -> None:
    impl = EngineImplementation(DoubledOutputError, name="doubled")
    found = verdicts(findings_of(impl, case_from_seed(SQUARE, 1)))
    assert found["loss"] == "pass"
    assert found["grad.W2"] == found["grad.b2"] == found["delta.2"] == "fail"
    assert found["step1.W2"] == "fail"


def test_a_missing_transpose_fails_on_a_square_layer() -> None:
    impl = EngineImplementation(MissingTranspose, name="transpose")
    found = verdicts(findings_of(impl, case_from_seed(SQUARE, 2)))
    assert found["grad.W2"] == "pass"
    assert found["grad.W1"] == found["delta.1"] == "fail"


def test_a_missing_transpose_on_a_non_square_layer_is_a_fault_not_a_crash() -> None:
    arch = Architecture((2, 3, 4), ("tanh", "identity"))
    impl = EngineImplementation(MissingTranspose, name="transpose")
    found = findings_of(impl, case_from_seed(arch, 2))
    assert found["gradients()"].verdict == "fail"
    assert "ValueError" in found["gradients()"].reason
    assert found["loss"].verdict == "pass"


def test_wrong_deltas_fail_while_the_gradients_pass() -> None:
    impl = EngineImplementation(ReversedDeltas, name="reversed-deltas")
    found = verdicts(findings_of(impl, case_from_seed(SQUARE, 3)))
    assert all(v == "pass" for q, v in found.items() if q.startswith("grad."))
    assert found["delta.1"] == found["delta.2"] == "fail"


def test_updating_a_frozen_parameter_fails_only_the_frozen_trajectory() -> None:
    found = findings_of(UpdatesFrozen(name="updates-frozen"), case_from_seed(SQUARE, 4))
    assert found["frozen_step1.b1"].verdict == found["frozen_step1.b2"].verdict == "fail"
    assert found["frozen_step1.b1"].tolerance == 0.0 and found["frozen_step1.b1"].atol == 0.0
    assert found["frozen_step5.W1"].verdict == "pass"
    assert all(f.verdict == "pass" for q, f in found.items() if q.startswith("step"))


def test_trajectory_reports_the_first_failing_step() -> None:
    class WrongAfterFirstStep(EngineImplementation):
        calls = 0

        def step(self, arch, params, x, y, lr, frozen=frozenset()):
            WrongAfterFirstStep.calls += 1
            factor = 1.0 if WrongAfterFirstStep.calls == 1 else 3.0
            return super().step(arch, params, x, y, factor * lr, frozen)

    found = findings_of(WrongAfterFirstStep(name="stale"), case_from_seed(SQUARE, 6))
    assert found["step2.W1"].verdict == "fail"
    assert found["step2.W1"].detail["steps"] == 5


# --- kinks -------------------------------------------------------------------------------

# Row 0 of x makes every unit of layer 1 negative, so a_1 = 0 there and, with b2 = 0,
# z_2 = 0 exactly: layer 2 sits on the ReLU kink for that row.
KINK_ARCH = Architecture((2, 2, 2), ("relu", "relu"), loss="half_sse", bias="shared")
KINK_CASE = Case(
    case_id="kink",
    arch=KINK_ARCH,
    params={
        "W1": np.array([[1.0, 0.5], [0.5, 1.0]]),
        "b1": np.array(0.0),
        "W2": np.array([[1.0, -0.5], [0.75, 1.0]]),
        "b2": np.array(0.0),
    },
    x=np.array([[-1.0, -2.0], [1.0, 0.5]]),
    y=np.array([[0.5, 0.25], [1.0, 0.0]]),
    seed=None,
)


def relu_with_derivative_at_zero(value: float) -> type[Network]:
    """A Network whose ReLU layers take relu'(0) = value (PyTorch: 0)."""

    def derivative(z, a):
        return np.where(z > 0, 1.0, np.where(z == 0, value, 0.0))

    activation = Activation("relu", relu, derivative, kinks=(0.0,))

    class KinkConvention(Network):
        def __init__(self, arch: Architecture) -> None:
            super().__init__(arch)
            self.activation_layers = [
                ActivationLayer(activation) if name == "relu" else layer
                for name, layer in zip(arch.activations, self.activation_layers, strict=True)
            ]

    return KinkConvention


def test_the_kink_case_really_sits_on_the_kink() -> None:
    reference = Reference(KINK_ARCH, KINK_CASE.params, KINK_CASE.x, KINK_CASE.y)
    assert reference.main.z[1][0].tolist() == [0.0, 0.0]
    assert reference.kink_masks[0] is None
    assert reference.kink_masks[1].tolist() == [[True, True], [False, False]]


@pytest.mark.parametrize("at_zero", [1.0, 0.5])
def test_another_subgradient_at_the_kink_is_inconclusive_not_fail(at_zero: float) -> None:
    impl = EngineImplementation(relu_with_derivative_at_zero(at_zero), name="kink")
    found = findings_of(impl, KINK_CASE)
    assert found["delta.2"].verdict == found["grad.b2"].verdict == "inconclusive"
    assert "kink" in found["delta.2"].reason and "layer 2" in found["delta.2"].reason
    assert found["grad.W2"].verdict == found["grad.W1"].verdict == "pass"
    assert "fail" not in verdicts(found).values()


def test_a_value_at_the_kink_outside_the_one_sided_derivatives_fails() -> None:
    impl = EngineImplementation(relu_with_derivative_at_zero(3.0), name="kink-bug")
    found = verdicts(findings_of(impl, KINK_CASE))
    assert found["delta.2"] == found["grad.b2"] == "fail"


def test_a_bug_elsewhere_still_fails_on_a_case_with_a_kink() -> None:
    class KinkAndDoubled(relu_with_derivative_at_zero(1.0)):
        def output_error(self, forward, y):
            return 2.0 * super().output_error(forward, y)

    found = verdicts(findings_of(EngineImplementation(KinkAndDoubled), KINK_CASE))
    assert found["grad.W2"] == found["delta.2"] == found["grad.b2"] == "fail"


# --- unsupported and misbehaving implementations ------------------------------------------


def test_unsupported_architecture_is_skipped_once() -> None:
    found = list(autograd.run(mazur, [case_from_seed(SQUARE, 1)]))
    assert [(f.quantity, f.verdict) for f in found] == [("case", "skipped")]
    assert "does not support" in found[0].reason


def fake(**methods: object) -> SimpleNamespace:
    """An implementation whose methods default to the engine's."""
    parts = {"loss": engine.loss, "gradients": engine.gradients, "name": "fake"}
    return SimpleNamespace(**{**parts, **methods})


def raises(exc: Exception):
    def method(*args, **kwargs):
        raise exc

    return method


def test_not_implemented_gradients_skip_the_case() -> None:
    impl = fake(gradients=raises(NotImplementedError("only 2-2-2")))
    found = list(autograd.run(impl, [case_from_seed(SQUARE, 1)]))
    assert [(f.quantity, f.verdict) for f in found] == [("case", "skipped")]
    assert "only 2-2-2" in found[0].reason


def test_not_implemented_intermediates_skip_only_the_deltas() -> None:
    impl = fake(intermediates=raises(NotImplementedError))
    found = verdicts(findings_of(impl, case_from_seed(SQUARE, 1)))
    assert found["delta"] == "skipped" and found["grad.W1"] == "pass"


def test_raising_implementation_gives_a_fail_finding_and_the_run_goes_on() -> None:
    impl = fake(gradients=raises(RuntimeError("boom")))
    cases = [case_from_seed(SQUARE, 1), case_from_seed(SQUARE, 2)]
    found = list(autograd.run(impl, cases))
    faults = [f for f in found if f.quantity == "gradients()"]
    assert len(faults) == 2 and all(f.verdict == "fail" for f in faults)
    assert "RuntimeError: boom" in faults[0].reason


@pytest.mark.parametrize(
    ("methods", "quantity", "message"),
    [
        ({"loss": lambda *a: "0.5"}, "loss()", "expected a float"),
        (
            {"gradients": lambda arch, p, x, y: (1.0, {"W1": np.full((3, 3), np.nan)})},
            "gradients()",
            "missing",
        ),
        (
            {"intermediates": lambda arch, p, x, y: {"delta": [np.zeros((1, 1))]}},
            "intermediates()",
            "delta",
        ),
        ({"step": lambda arch, p, x, y, lr, frozen=(): {"W1": 1}}, "step1", "step()"),
        ({"supports": raises(KeyError("x"))}, "supports()", "KeyError"),
    ],
)
def test_protocol_violations_are_fail_findings(
    methods: dict[str, object], quantity: str, message: str
) -> None:
    found = findings_of(fake(**methods), case_from_seed(SQUARE, 1))
    assert found[quantity].verdict == "fail"
    assert message in found[quantity].reason


def test_nan_in_a_gradient_is_a_fail() -> None:
    def nan_gradients(arch, params, x, y):
        value, grads = engine.gradients(arch, params, x, y)
        return value, {**grads, "W2": np.full_like(grads["W2"], np.nan)}

    found = findings_of(fake(gradients=nan_gradients), case_from_seed(SQUARE, 1))
    assert found["gradients()"].verdict == "fail" and "NaN" in found["gradients()"].reason


# --- options, threads, learning rate -----------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [{"steps": -1}, {"learning_rate": 0.0}, {"learning_rate": float("nan")}, {"torch_threads": 0}],
)
def test_bad_options_are_usage_errors(bad: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        autograd.AutogradOptions(**bad)


def test_steps_zero_skips_trajectories_and_fixed_learning_rate_is_used() -> None:
    case = case_from_seed(SQUARE, 1)
    assert not any(q.startswith("step") for q in findings_of(engine, case, steps=0))
    found = findings_of(engine, case, steps=2, learning_rate=0.25)
    assert found["step2.W1"].detail["lr"] == 0.25 and "step3.W1" not in found


def test_default_learning_rate_descends_and_moves_theta_by_at_most_a_tenth() -> None:
    case = case_from_seed(SQUARE, 1, scale=4.0)
    reference = Reference(case.arch, case.params, case.x, case.y)
    lr = learning_rate(reference)
    grads = reference.main.gradients
    norm = np.sqrt(sum(np.sum(g**2) for g in grads.values()))
    theta = np.sqrt(sum(np.sum(p**2) for p in case.params.values()))
    assert 0 < lr * norm <= trajectory.STEP_FRACTION * theta * (1 + 1e-12)
    stepped = descend(case.params, grads, lr)
    assert engine.loss(case.arch, stepped, case.x, case.y) <= reference.main.loss


def test_learning_rate_is_halved_where_a_full_step_would_diverge() -> None:
    # a deep linear-ish network where lr = 0.5 sends the loss from 0.78 to 227
    case = random_case(2310204818)
    reference = Reference(case.arch, case.params, case.x, case.y)
    lr = learning_rate(reference)
    assert lr < trajectory.MAX_LR
    stepped = descend(case.params, reference.main.gradients, lr)
    assert engine.loss(case.arch, stepped, case.x, case.y) <= reference.main.loss
    assert {f.verdict for f in autograd.run(engine, [case])} == {"pass"}


def test_a_trajectory_leaving_float64_is_inconclusive_not_fail() -> None:
    case = random_case(2310204818)
    found = findings_of(engine, case, learning_rate=0.5)
    stops = [f for q, f in found.items() if q in ("step4", "step5", "frozen_step4", "frozen_step5")]
    assert stops and {f.verdict for f in stops} == {"inconclusive"}
    assert "float64" in stops[0].reason
    assert "fail" not in verdicts(found).values()


def test_torch_runs_single_threaded_while_the_check_runs() -> None:
    seen = []

    def observing_gradients(arch, params, x, y):
        seen.append(torch.get_num_threads())
        return engine.gradients(arch, params, x, y)

    before = torch.get_num_threads()
    list(autograd.run(fake(gradients=observing_gradients), [case_from_seed(SQUARE, 1)]))
    assert seen == [1] and torch.get_num_threads() == before


def test_has_failure_is_the_shrinking_predicate() -> None:
    case = case_from_seed(SQUARE, 1)
    assert not autograd.has_failure(engine, case)
    assert autograd.has_failure(EngineImplementation(DoubledOutputError), case)
    assert autograd.has_failure(mirror, case) is False

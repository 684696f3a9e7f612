"""shrink_failure turns a failing implementation into its minimal failing network."""

from __future__ import annotations

import manualbp.engine as engine
from manualbp import strategies as mbs
from manualbp.architecture import Architecture
from manualbp.case import case_from_seed
from manualbp.checks.autograd import AutogradOptions, has_failure
from manualbp.engine import EngineImplementation, Network
from manualbp.space import ArchSpace


class NoHiddenDerivative(Network):
    """Hidden error term without the activation's derivative: only wrong when depth >= 2."""

    def hidden_error(self, delta_next, layer, forward):
        return self.affine.input_gradient(delta_next, forward.affine_caches[layer])


class SharedBiasDoubled(Network):
    """Shared bias gradient doubled: only wrong for shared biases."""

    def backward(self, forward, y):
        result = super().backward(forward, y)
        if self.arch.bias == "shared":
            for layer in range(1, self.arch.depth + 1):
                result.gradients[f"b{layer}"] = result.gradients[f"b{layer}"] * 2.0
        return result


def gradients_fail(impl: object, case) -> bool:
    return has_failure(impl, case, AutogradOptions(steps=0))


def test_a_bug_present_only_at_depth_two_shrinks_to_a_two_layer_width_one_network() -> None:
    impl = EngineImplementation(NoHiddenDerivative, name="no-hidden-derivative")
    case = mbs.shrink_failure(impl, gradients_fail, ArchSpace())
    assert case is not None
    assert case.arch.depth == 2
    assert case.arch.sizes == (1, 1, 1)
    assert case.batch_size == 1
    assert case.arch.activations[0] != "identity"  # the missing f' must matter
    assert gradients_fail(impl, case_from_seed(case.arch, case.seed, 1, case.meta["scale"]))


def test_a_bias_bug_shrinks_to_one_unit_with_a_shared_bias() -> None:
    impl = EngineImplementation(SharedBiasDoubled, name="shared-bias")
    case = mbs.shrink_failure(impl, gradients_fail, ArchSpace())
    assert case is not None
    assert case.arch == Architecture((1, 1), ("identity",), "half_sse", "shared", "sum")
    assert case.batch_size == 1


def test_shrinking_within_the_space_below_a_failing_case() -> None:
    impl = EngineImplementation(NoHiddenDerivative, name="no-hidden-derivative")
    big = case_from_seed(
        Architecture((5, 7, 6, 3), ("tanh", "sigmoid", "identity"), "mse", "per_unit", "mean"),
        seed=9,
        batch_size=8,
    )
    assert gradients_fail(impl, big)
    space = mbs.space_below(big)
    assert space.depth == (1, 3) and space.width == (1, 7) and space.batch == (1, 8)
    case = mbs.shrink_failure(impl, gradients_fail, space)
    assert case is not None and case.arch.depth == 2 and max(case.arch.sizes) == 1
    assert case.arch.activations[0] in ("tanh", "sigmoid") and case.arch.loss == "mse"


def test_default_predicate_and_a_correct_implementation_give_none() -> None:
    assert mbs.shrink_failure(engine, space=ArchSpace(depth=(1, 2)), max_examples=5) is None


def test_the_budget_bounds_the_evaluations_and_the_result_is_deterministic() -> None:
    impl = EngineImplementation(NoHiddenDerivative, name="no-hidden-derivative")
    calls = []

    def counting(impl: object, case) -> bool:
        calls.append((case.arch, case.seed, case.batch_size, case.meta["scale"]))
        return gradients_fail(impl, case)

    first = mbs.shrink_failure(impl, counting, ArchSpace(), budget=10)
    assert len(set(calls)) <= 10
    again = mbs.shrink_failure(impl, counting, ArchSpace(), budget=10)
    assert first is not None and again is not None
    assert (first.arch, first.seed, first.batch_size) == (again.arch, again.seed, again.batch_size)

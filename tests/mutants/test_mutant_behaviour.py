"""Every mutant differs from the engine on cases of its own space, in the quantities its bug
touches and only there; the seed-article bugs compute exactly the article's wrong formula;
square-only bugs crash (reported as fail) on other shapes; complex steps flow through."""

from __future__ import annotations

import os

import numpy as np
import pytest

import manualbp.engine as engine
from manualbp import mazur
from manualbp.architecture import Architecture
from manualbp.case import Case, case_from_seed
from manualbp.mutants import MUTANTS, Mutant
from manualbp.protocol import ImplementationFault, call, checked_gradients
from manualbp.space import ArchSpace, random_case

#: Cases per mutant; MUTANT_CASES=1000 is a thorough local run (every case must show the bug).
CASES_PER_MUTANT = int(os.environ.get("MUTANT_CASES", 25))
LR = 0.1
ALL = list(MUTANTS.values())


def _copy(params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {name: np.array(value, copy=True) for name, value in params.items()}


def session(impl: object, case: Case) -> dict[str, np.ndarray]:
    """One fixed sequence of protocol calls, every result flattened to named arrays.

    loss, gradients, intermediates, a step, and a step with W_L frozen at θ, then gradients at
    another θ on the same batch, then the inputs as they are afterwards. Two steps, because a
    frozen-parameter bug needs a frozen name while freezing the only parameter (depth 1, no
    bias) would hide every other update bug; W_L, because a bias can have an identically zero
    gradient and W1 is the hidden weight a dropped hidden update leaves unchanged.
    """
    arch, params, x, y = case.arch, _copy(case.params), case.x.copy(), case.y.copy()
    rng = np.random.default_rng(case.seed)
    other = {name: value + 0.3 * rng.standard_normal(value.shape) for name, value in params.items()}
    frozen = frozenset({f"W{arch.depth}"})
    seen: dict[str, np.ndarray] = {"loss": np.asarray(impl.loss(arch, params, x, y))}
    value, grads = impl.gradients(arch, params, x, y)
    seen["gradients.loss"] = np.asarray(value)
    seen.update({f"grad.{name}": g for name, g in grads.items()})
    inter = impl.intermediates(arch, params, x, y)
    for key in ("z", "a", "delta"):
        seen.update({f"{key}.{layer}": v for layer, v in enumerate(inter[key], start=1)})
    stepped = impl.step(arch, params, x, y, LR)
    seen.update({f"step.{name}": v for name, v in stepped.items()})
    stepped = impl.step(arch, params, x, y, LR, frozen)
    seen.update({f"step.frozen.{name}": v for name, v in stepped.items()})
    value, grads = impl.gradients(arch, other, x, y)
    seen["second.loss"] = np.asarray(value)
    seen.update({f"second.grad.{name}": g for name, g in grads.items()})
    seen.update({f"inputs.{name}": v for name, v in params.items()})
    seen.update({"inputs.x": x, "inputs.y": y})
    return seen


def differing(mutant: Mutant, case: Case) -> set[str]:
    """Names of the session quantities where the mutant and the engine disagree."""
    mutant.reset()
    reference, observed = session(engine, case), session(mutant, case)
    assert reference.keys() == observed.keys()
    return {
        key
        for key in reference
        if reference[key].shape != observed[key].shape
        or not np.allclose(observed[key], reference[key], rtol=1e-9, atol=0.0)
    }


def _prefixed(keys: set[str], *prefixes: str) -> set[str]:
    return {key for key in keys if key.startswith(prefixes)}


FIRST_CALLS = ("loss", "gradients.loss", "grad.", "z.", "a.", "delta.")
BACKWARD_FORMULAS = ("loss_gradient", "output_error", "activation_derivative", "hidden_error")


def assert_bug_where_stated(mutant: Mutant, arch: Architecture, diff: set[str]) -> None:
    """The disagreement lies in the quantities the mutant's formula and layer touch."""
    output = f"delta.{arch.depth}"
    if mutant.formula == "forward":
        assert _prefixed(diff, "loss", "z.", "a.")
    elif mutant.formula in BACKWARD_FORMULAS:
        assert not _prefixed(diff, "loss", "gradients.loss", "z.", "a.")
        assert _prefixed(diff, "delta.") and _prefixed(diff, "grad.")
        if mutant.layer == "output":
            assert output in diff
        if mutant.layer == "hidden":
            assert output not in diff
    elif mutant.formula == "weight_gradient":
        assert not _prefixed(diff, "loss", "gradients.loss", "z.", "a.", "delta.", "grad.b")
        assert _prefixed(diff, "grad.W")
    elif mutant.formula == "bias_gradient":
        assert not _prefixed(diff, "loss", "gradients.loss", "z.", "a.", "delta.", "grad.W")
        assert _prefixed(diff, "grad.b")
    elif mutant.formula == "update_step":
        assert not _prefixed(diff, *FIRST_CALLS)
        assert _prefixed(diff, "step.")
        if mutant.layer == "hidden":
            assert f"step.W{arch.depth}" not in diff
    else:
        assert mutant.formula == "state"
        assert not _prefixed(diff, *FIRST_CALLS)
        assert _prefixed(diff, "step.", "second.", "inputs.")


def test_the_harness_sees_no_difference_without_a_bug() -> None:
    unchanged = Mutant(
        "no-bug",
        "The engine itself.",
        category="state",
        kind="other",
        formula="state",
        layer=None,
        space=ArchSpace(),
    )
    for seed in range(CASES_PER_MUTANT):
        assert differing(unchanged, random_case(seed)) == set()


@pytest.mark.parametrize("mutant", ALL, ids=lambda m: m.name)
def test_differs_from_the_engine_where_its_bug_is_on_every_case_of_its_space(
    mutant: Mutant,
) -> None:
    for seed in range(CASES_PER_MUTANT):
        case = random_case(seed, mutant.space)
        diff = differing(mutant, case)
        assert diff, f"{mutant.name} agrees with the engine on seed {seed}"
        assert_bug_where_stated(mutant, case.arch, diff)


def test_s0a_wiring_feeds_out_h2_through_w7() -> None:
    mutant, c = MUTANTS["mazur-w7-reads-out-h2"], case_from_seed(mazur.ARCHITECTURE, 5, 3, 1.0)
    right = [
        mazur.one_sample(c.params, *row, *target) for row, target in zip(c.x, c.y, strict=True)
    ]
    a = mutant.intermediates(c.arch, c.params, c.x, c.y)["a"]
    w7, w8 = c.params["W2"][1]
    b2 = c.params["b2"]
    for n, sample in enumerate(right):
        wrong_net_o2 = w7 * sample.out_h2 + w8 * sample.out_h2 + b2
        assert a[0][n] == pytest.approx([sample.out_h1, sample.out_h2], rel=1e-12)
        assert a[1][n, 0] == pytest.approx(sample.out_o1, rel=1e-12)
        assert a[1][n, 1] == pytest.approx(1.0 / (1.0 + np.exp(-wrong_net_o2)), rel=1e-12)


def test_s0a_wiring_bug_exists_only_on_the_2_2_2() -> None:
    mutant = MUTANTS["mazur-w7-reads-out-h2"]
    other = Architecture((2, 3, 2), ("sigmoid", "sigmoid"), "half_sse", "shared")
    c = case_from_seed(other, 0)
    assert mutant.supports(mazur.ARCHITECTURE) and not mutant.supports(other)
    with pytest.raises(NotImplementedError):
        mutant.gradients(other, c.params, c.x, c.y)


def test_s0b_hidden_error_uses_W1_in_place_of_W2_transposed() -> None:
    c = case_from_seed(mazur.ARCHITECTURE, 2, 3, 1.0)
    right = engine.intermediates(c.arch, c.params, c.x, c.y)
    wrong = MUTANTS["hidden-error-wrong-layer-matrix"].intermediates(c.arch, c.params, c.x, c.y)
    a1, delta2 = right["a"][0], right["delta"][1]
    # column form δ1 = (W1 δ2) ⊙ a1(1 - a1), the article's listing; in rows δ2 W1^T
    expected = (delta2 @ c.params["W1"].T) * a1 * (1.0 - a1)
    np.testing.assert_allclose(wrong["delta"][0], expected, rtol=1e-12)
    np.testing.assert_array_equal(wrong["delta"][1], delta2)


def test_s0b_hidden_update_is_dropped_and_the_output_update_kept() -> None:
    arch = Architecture((3, 4, 4, 2), ("tanh", "sigmoid", "sigmoid"))
    c = case_from_seed(arch, 1)
    right = engine.step(arch, c.params, c.x, c.y, LR)
    wrong = MUTANTS["hidden-update-not-assigned"].step(arch, c.params, c.x, c.y, LR)
    for name in ("W1", "W2"):
        np.testing.assert_array_equal(wrong[name], c.params[name])
        assert not np.allclose(right[name], c.params[name])
    for name in ("b1", "b2", "W3", "b3"):
        np.testing.assert_array_equal(wrong[name], right[name])


@pytest.mark.parametrize(
    "name",
    [
        "forward-W-not-transposed",
        "hidden-error-W-not-transposed",
        "hidden-error-wrong-layer-matrix",
        "weight-gradient-transposed",
        "weight-gradient-uses-own-output",
    ],
)
def test_square_only_bugs_are_a_fault_on_other_shapes(name: str) -> None:
    arch = Architecture((3, 4, 2), ("tanh", "sigmoid"))
    c = case_from_seed(arch, 0)
    with pytest.raises(ImplementationFault):
        checked_gradients(arch, call(MUTANTS[name], "gradients", arch, c.params, c.x, c.y))


@pytest.mark.parametrize("name", ["stale-forward-cache", "gradients-accumulate-across-calls"])
def test_reset_forgets_the_state_kept_between_calls(name: str) -> None:
    mutant = MUTANTS[name]
    first = case_from_seed(Architecture((2, 3, 1), ("tanh", "identity")), 0)
    second = Case("second", first.arch, _copy(first.params), first.x, first.y)
    second.params["W1"] += 1.0
    mutant.reset()
    mutant.gradients(first.arch, first.params, first.x, first.y)
    _, stale = mutant.gradients(second.arch, second.params, second.x, second.y)
    mutant.reset()
    _, fresh = mutant.gradients(second.arch, second.params, second.x, second.y)
    _, right = engine.gradients(second.arch, second.params, second.x, second.y)
    assert not np.allclose(stale["W1"], right["W1"])
    np.testing.assert_array_equal(fresh["W1"], right["W1"])


def test_in_place_step_overwrites_the_callers_arrays() -> None:
    c = case_from_seed(Architecture((2, 3, 1), ("tanh", "identity")), 0)
    params = _copy(c.params)
    returned = MUTANTS["step-updates-params-in-place"].step(c.arch, params, c.x, c.y, LR)
    right = engine.step(c.arch, c.params, c.x, c.y, LR)
    for name in c.arch.param_names:
        assert returned[name] is params[name]
        np.testing.assert_allclose(params[name], right[name], rtol=1e-12)


@pytest.mark.parametrize("mutant", ALL, ids=lambda m: m.name)
def test_complex_step_flows_through_the_mutant_loss(mutant: Mutant) -> None:
    case = random_case(0, mutant.space)
    rng = np.random.default_rng(1)
    v = {name: rng.standard_normal(value.shape) for name, value in case.params.items()}
    h, eps = 1e-20, 1e-6

    def loss_at(t: complex) -> complex:
        mutant.reset()
        params = {name: value + t * v[name] for name, value in case.params.items()}
        return mutant.loss(case.arch, params, case.x, case.y)

    complex_step = np.imag(loss_at(1j * h)) / h
    central = (np.real(loss_at(eps)) - np.real(loss_at(-eps))) / (2 * eps)
    assert complex_step == pytest.approx(central, rel=1e-5, abs=1e-8)

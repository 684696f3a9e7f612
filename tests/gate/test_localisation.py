"""Localisation: the first layer going backwards whose δ disagrees, and the formula that broke."""

from __future__ import annotations

import pytest

from manualbp.diagnosis import localise
from manualbp.findings import Finding
from manualbp.localisation import FORMULAS, Evidence, base_quantity, layer_of, locate, position
from manualbp.mutants import FORMULAS as MUTANT_FORMULAS
from manualbp.mutants import MUTANTS

from .test_diagnosis import FACTS, catalogue_diagnoses, random, scalar, tensor


def test_quantity_names() -> None:
    assert base_quantity("grad.W2[1,0]") == "grad.W2"
    assert base_quantity("delta.3") == "delta.3"
    assert [layer_of(q) for q in ("delta.3[0,1]", "grad.b2", "frozen_step4.W1", "loss")] == [
        3,
        2,
        1,
        None,
    ]
    assert [position(2, 2), position(1, 2), position(None, 2), position(1, None)] == [
        "output",
        "hidden",
        None,
        None,
    ]


def deltas(wrong: set[int], depth: int = 3, **facts: object) -> list[Finding]:
    """δ_1..δ_depth of a case, wrong (times 3.7) at the layers in ``wrong``."""
    findings = []
    for layer in range(1, depth + 1):
        ref = random((4, 3), layer)
        impl = 3.7 * ref if layer in wrong else ref
        findings.append(tensor(f"delta.{layer}", impl, ref, **{**FACTS, **facts}))
    return findings


@pytest.mark.parametrize(
    ("wrong", "layer", "where", "formula"),
    [
        ({3, 2, 1}, 3, "output", "output_error"),
        ({2, 1}, 2, "hidden", "hidden_error"),
        ({1}, 1, "hidden", "hidden_error"),
    ],
)
def test_the_first_wrong_delta_going_backwards(
    wrong: set[int], layer: int, where: str, formula: str
) -> None:
    found = localise(deltas(wrong, sizes=[5, 3, 3, 3]))
    assert found is not None
    assert (found.layer, found.position, found.formula) == (layer, where, formula)
    assert f"delta.{layer}" in found.sentence


@pytest.mark.parametrize(
    ("loss", "factor", "formula"),
    [
        ("half_sse", -1.0, "loss_gradient"),
        ("mse", 2.0, "loss_gradient"),
        ("bce", -1.0, "output_error"),
        ("sse", 4.0, "output_error"),
    ],
)
def test_a_squared_loss_derivative_is_told_from_the_output_error(
    loss: str, factor: float, formula: str
) -> None:
    """A sign or 2, ½, K at δ_L of a squared loss is ∂E/∂a; N (= 4 here) is the reduction."""
    ref = random((4, 3))
    found = localise([tensor("delta.2", factor * ref, ref, **{**FACTS, "loss": loss})])
    assert found is not None and found.formula == formula


@pytest.mark.parametrize(("name", "formula"), [("W2", "weight_gradient"), ("b2", "bias_gradient")])
def test_every_delta_right_and_one_gradient_wrong(name: str, formula: str) -> None:
    ref = random((3, 3))
    findings = [*deltas(set(), depth=2), tensor(f"grad.{name}", 0.5 * ref, ref, **FACTS)]
    found = localise(findings)
    assert found is not None and (found.layer, found.formula) == (2, formula)


def test_without_deltas_both_w_and_b_wrong_is_the_error_term_of_the_highest_layer() -> None:
    """Only fd (no intermediates): W and b of every layer wrong points at δ of the top one."""
    findings = [
        tensor(f"grad.{name}", 2.0 * random((3,), k), random((3,), k), check="fd")
        for k, name in enumerate(("W1", "b1", "W2", "b2"))
    ]
    evidence = Evidence.of(findings)
    site = locate(evidence)
    assert site is not None and (site.stage, site.layer) == ("gradient", 2)
    found = localise(findings)
    assert found is not None and (found.formula, found.position) == ("output_error", "output")


def test_autograd_gradients_preferred_to_fd_ones() -> None:
    ref = random((3, 3))
    fd_only = tensor("grad.W1", ref + 1.0, ref, check="fd")
    right = tensor("grad.W1", ref, ref, **FACTS)
    steps_late = tensor("step2.W1", ref + 1.0, ref, **FACTS, start=list(ref.flat))
    site = locate(Evidence.of([fd_only, right, steps_late]))
    assert site is not None and site.stage == "state"


def test_state_faults_have_no_layer() -> None:
    found = localise([scalar("inputs", "fail", reason="gradients() changed x")])
    assert found is not None and (found.layer, found.formula) == (None, "state")


def test_nothing_failing_nothing_to_localise() -> None:
    assert localise([scalar("loss", "pass")]) is None


def test_the_vocabulary_is_the_catalogues() -> None:
    assert MUTANT_FORMULAS is FORMULAS


# --- every mutant of the catalogue (cases and checks shared with test_diagnosis) ---------

#: Mutants whose formula the localisation does not name, each with the reason.
KNOWN_FORMULA_MISMATCHES = {
    # The wrong f' runs in every layer, so only δ_L can be read against the reference; there
    # the factor it leaves (h(z)/f'(z), or no f' at all) is what a wrong output error term
    # leaves too (bce-shortcut-times-sigmoid-derivative, output-error-missing-derivative).
    "sigmoid-derivative-on-z",
    "tanh-derivative-without-square",
    "relu-mask-inverted",
    "relu-mask-missing",
}


def test_one_layer_bugs_are_placed_in_their_layer_and_formula() -> None:
    """Every mutant whose bug sits in the output or in a hidden layer, except wrong forward
    passes: the checks compare no z_l or a_l, so a wrong forward pass has no layer."""
    results = catalogue_diagnoses()
    checked = 0
    for name, (case, found) in results.items():
        mutant = MUTANTS[name]
        if mutant.layer not in ("output", "hidden") or mutant.kind == "wrong_forward":
            continue
        assert found is not None and found.localisation is not None, name
        where = found.localisation
        assert (where.position, where.formula) == (mutant.layer, mutant.formula), (name, where)
        assert where.layer is not None and 1 <= where.layer <= case.arch.depth
        checked += 1
    assert checked >= 15


def test_the_formula_of_every_mutant() -> None:
    results = catalogue_diagnoses()
    mismatched = {
        name
        for name, (_, found) in results.items()
        if found is None
        or found.localisation is None
        or found.localisation.formula != MUTANTS[name].formula
    }
    print(f"localisation formula matches {len(results) - len(mismatched)}/{len(results)} mutants")
    assert mismatched == KNOWN_FORMULA_MISMATCHES

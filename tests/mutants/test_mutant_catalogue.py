"""The mutant catalogue as data: size, unique names, metadata from the diagnosis vocabulary,
coverage of every bug family of issue 4 and SEEDS.md, lookup and loading by --impl spec."""

from __future__ import annotations

import pytest

import manualbp.mutants as mutants
from manualbp.errors import UsageError
from manualbp.mutants import CATEGORIES, FORMULAS, KINDS, LAYERS, MUTANTS, Mutant, get_mutant
from manualbp.mutants.catalogue import _CATALOGUE
from manualbp.protocol import capabilities, implementation_name, load_implementation
from manualbp.space import ArchSpace

ALL = list(MUTANTS.values())


def test_at_least_32_mutants_with_unique_names_and_identifiers() -> None:
    assert len(MUTANTS) >= 32
    assert len(_CATALOGUE) == len(MUTANTS), "two catalogue entries share a name"
    assert len({m.identifier for m in ALL}) == len(ALL)
    assert all(name == m.name for name, m in MUTANTS.items())


@pytest.mark.parametrize("mutant", ALL, ids=lambda m: m.name)
def test_metadata_is_complete_and_from_the_vocabulary(mutant: Mutant) -> None:
    assert mutant.identifier == mutant.name.replace("-", "_")
    assert mutant.identifier.isidentifier()
    assert mutant.description.strip() and "\n" not in mutant.description
    assert mutant.category in CATEGORIES
    assert mutant.kind in KINDS
    assert mutant.formula in FORMULAS
    assert mutant.layer in LAYERS
    assert isinstance(mutant.space, ArchSpace)


def test_every_bug_family_of_issue_4_is_covered() -> None:
    assert {m.category for m in ALL} == set(CATEGORIES)
    assert {m.formula for m in ALL} == set(FORMULAS)


def test_the_bugs_seen_in_the_seed_articles_are_in_the_catalogue() -> None:
    seeds = {
        "mazur-w7-reads-out-h2": ("wrong_forward", "forward"),  # S0a
        "hidden-error-wrong-layer-matrix": ("wrong_layer_matrix", "hidden_error"),  # S0b
        "hidden-update-not-assigned": ("update_not_applied", "update_step"),  # S0b
        "output-error-missing-derivative": ("missing_activation_derivative", "output_error"),
    }
    for name, expected in seeds.items():
        assert (MUTANTS[name].kind, MUTANTS[name].formula) == expected


def test_the_issue_list_is_present_item_by_item() -> None:
    kinds = {m.kind for m in ALL}
    for kind in (
        "sign_flip",
        "factor_2",
        "factor_half",
        "factor_N",
        "factor_1/N",
        "factor_K",
        "transposed",
        "zero",
        "missing_activation_derivative",
        "derivative_at_output",
        "partial_units",
        "inconsistent_between_calls",
        "inputs_mutated",
        "wrong_forward",
        "wrong_layer_matrix",
        "update_not_applied",
        "frozen_updated",
    ):
        assert kind in kinds, kind


def test_get_mutant_by_name_or_identifier() -> None:
    mutant = MUTANTS["hidden-error-W-not-transposed"]
    assert get_mutant("hidden-error-W-not-transposed") is mutant
    assert get_mutant("hidden_error_W_not_transposed") is mutant


def test_get_mutant_unknown_name_lists_the_valid_ones_in_one_line() -> None:
    with pytest.raises(UsageError) as raised:
        get_mutant("no-such-bug")
    message = str(raised.value)
    assert "\n" not in message and "no-such-bug" in message
    assert all(name in message for name in MUTANTS)


@pytest.mark.parametrize("mutant", ALL, ids=lambda m: m.name)
def test_loadable_as_an_impl_spec_with_every_optional_part(mutant: Mutant) -> None:
    assert mutant.spec == f"manualbp.mutants:{mutant.identifier}"
    loaded = load_implementation(mutant.spec)
    assert loaded is mutant
    assert implementation_name(loaded) == mutant.name
    caps = capabilities(loaded)
    assert (caps.step, caps.intermediates, caps.complex) == (True, True, True)


def test_module_attributes_are_the_identifiers_and_nothing_else() -> None:
    assert set(m.identifier for m in ALL) <= set(dir(mutants))
    with pytest.raises(AttributeError):
        _ = mutants.no_such_mutant


@pytest.mark.parametrize(
    ("field", "value"),
    [("kind", "factor_3"), ("formula", "loss"), ("layer", "middle"), ("category", "misc")],
)
def test_metadata_outside_the_vocabulary_is_refused(field: str, value: str) -> None:
    metadata = {
        "category": "state",
        "kind": "other",
        "formula": "state",
        "layer": None,
        "space": ArchSpace(),
    }
    metadata[field] = value
    with pytest.raises(UsageError, match=field):
        Mutant("made-up", "A made-up bug.", **metadata)  # type: ignore[arg-type]


def test_a_name_that_is_no_identifier_is_refused() -> None:
    with pytest.raises(UsageError, match="name"):
        Mutant(
            "w/o-square",
            "A made-up bug.",
            category="state",
            kind="other",
            formula="state",
            layer=None,
            space=ArchSpace(),
        )

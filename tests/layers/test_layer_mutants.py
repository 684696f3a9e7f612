"""Every layer mutant is caught by the layer check, with the diagnosis it states."""

from __future__ import annotations

import pytest

from manualbp.checks.layer import LAYER_DIAGNOSES, load_layers, run
from manualbp.errors import UsageError
from manualbp.findings import CHECKS
from manualbp.mutants.layers import LAYER_MUTANTS, mutant_findings
from manualbp.selftest import SelftestOptions, run_selftest

from .conftest import failures


@pytest.mark.parametrize("name", list(LAYER_MUTANTS))
def test_mutant_is_caught_with_its_expected_diagnosis(name):
    mutant = LAYER_MUTANTS[name]
    failing = failures(mutant_findings(mutant, cases=2))
    assert failing, f"{name} survived"
    diagnosed = {f.detail["diagnosis_kind"] for f in failing if "diagnosis_kind" in f.detail}
    assert diagnosed == {mutant.diagnosis}
    assert all(f.diagnosis.startswith(mutant.diagnosis + ":") for f in failing if f.diagnosis)
    # fd and autograd name quantities in the layer's own words (published: the source's)
    words = {"out", "loss", "inputs", *mutant.subject.gradients}
    named = {
        f.quantity.split("[")[0].split("·")[0].removeprefix("reuse.")
        for f in failing
        if f.check != "published"
    }
    assert named <= words


def test_catalogue_entries_are_well_formed():
    assert len(LAYER_MUTANTS) >= 20
    for name, mutant in LAYER_MUTANTS.items():
        assert mutant.name == name and mutant.diagnosis in LAYER_DIAGNOSES
        assert mutant.subject.asserted
        assert mutant.subject.name.startswith("manualbp.mutants.layers:")


def test_selftest_kill_matrix_counts_cases_per_check():
    names = ("affine-db-not-summed", "dropout-not-rescaled")
    report = run_selftest(SelftestOptions(mutants=names, cases=2))
    rows = report.extras["kill_matrix"]["killed"]
    assert rows["affine-db-not-summed"] == {"fd": 2, "autograd": 2, "published": 1}
    # self-consistent (no 1/keep in forward nor backward): only the torch reference sees it
    assert rows["dropout-not-rescaled"] == {"fd": 0, "autograd": 2, "published": None}
    only_fd = run_selftest(SelftestOptions(mutants=("relu-mask-dropped",), checks=("fd",), cases=1))
    assert only_fd.extras["kill_matrix"]["killed"] == {"relu-mask-dropped": {"fd": 1}}


def test_selftest_rejects_unknown_mutants():
    with pytest.raises(UsageError, match="no-such-mutant"):
        SelftestOptions(mutants=("no-such-mutant",))


def test_a_mutant_loads_from_its_command_line_spec():
    (subject,) = load_layers("manualbp.mutants.layers:affine_db_not_summed", "affine")
    findings = list(run(subject, cases=1, checks=("fd",)))
    assert any(f.detail.get("diagnosis_kind") == "not_summed_over_batch" for f in findings)
    (stale,) = load_layers("manualbp.mutants.layers:AffineStaleCache", "affine")
    assert stale.style == "object"
    assert set(CHECKS) == {"fd", "autograd", "published"}


def test_layer_and_mlp_mutant_names_never_collide():
    """selftest's kill matrix and --mutants name both catalogues in one namespace."""
    from manualbp.mutants import MUTANTS

    assert not set(MUTANTS) & set(LAYER_MUTANTS)

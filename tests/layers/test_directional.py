"""Above max_elementwise entries the fd check compares ⟨d·, v⟩ along random directions per array."""

from __future__ import annotations

import manualbp.layers as library
from manualbp.checks.layer import LayerFDOptions, run, subjects_of
from manualbp.mutants.layers import LAYER_MUTANTS

from .conftest import failures

FEW = LayerFDOptions(max_elementwise=10, directions=4)


def test_the_library_passes_the_directional_mode():
    (subject,) = subjects_of(library, "conv2d")
    findings = list(run(subject, cases=2, checks=("fd",), options=FEW))
    directional = [f for f in findings if f.method == "directional"]
    assert {f.quantity.split("[")[0] for f in directional} == {"dx·v", "dw·v", "db·v"}
    assert not failures(findings)
    assert all(f.detail["entries"] == 4 for f in directional)


def test_the_directional_mode_names_the_wrong_array():
    mutant = LAYER_MUTANTS["conv2d-dw-flipped"]
    findings = list(run(mutant.subject, cases=2, checks=("fd",), space=mutant.space, options=FEW))
    assert {f.quantity.split("[")[0] for f in failures(findings)} == {"dw·v"}

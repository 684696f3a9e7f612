"""assert_layer: one line per layer in a user's test, a readable message when it disagrees."""

from __future__ import annotations

from types import ModuleType

import pytest

import manualbp.layers as library
import manualbp.layers.objects as objects
from manualbp.mutants import layers as mutants
from manualbp.pytest_plugin import assert_layer


def test_a_correct_layer_passes_and_returns_its_findings():
    findings = assert_layer(library, "affine")
    assert {f.check for f in findings} == {"fd", "autograd", "published"}
    assert all(f.verdict in ("pass", "skipped") for f in findings)
    assert assert_layer(objects.MulLayer, "multiply", cases=1, checks=("fd",))


def test_a_whole_module_without_a_kind_runs_the_fd_check_of_every_layer():
    findings = assert_layer(library, cases=1, checks=("fd",))
    assert len({f.impl for f in findings}) == 18


def _buggy_module() -> ModuleType:
    module = ModuleType("my_layers")
    module.affine_forward = mutants.affine_db_not_summed_forward
    module.affine_backward = mutants.affine_db_not_summed_backward
    return module


def test_a_failure_message_names_the_worst_entry_the_values_and_the_likely_bug():
    with pytest.raises(AssertionError) as excinfo:
        assert_layer(_buggy_module(), "affine", checks=("autograd",))
    message = str(excinfo.value)
    assert message.startswith("manualbp: my_layers:affine: FAIL")
    assert "worst: autograd layer-case-" in message
    assert "db has shape" in message
    assert "likely bug: not_summed_over_batch" in message
    assert "seed:" in message


def test_a_wrong_value_is_reported_with_both_values():
    module = ModuleType("my_losses")
    module.half_sse_loss = mutants.half_sse_layer_gradient_doubled_loss
    with pytest.raises(AssertionError) as excinfo:
        assert_layer(module, "half_sse", checks=("fd",))
    message = str(excinfo.value)
    assert "worst: fd layer-case-" in message and " dx[" in message
    assert "implementation " in message and "reference " in message
    assert "likely bug: factor_2" in message

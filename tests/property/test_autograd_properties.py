"""Property tests: correct implementations agree with the torch mirror on generated cases."""

from __future__ import annotations

from hypothesis import given

import manualbp.engine as engine
from manualbp import mazur
from manualbp import strategies as mbs
from manualbp import torch_mirror as mirror
from manualbp.case import Case
from manualbp.checks import autograd
from manualbp.space import ArchSpace


def assert_no_fail(impl: object, case: Case) -> None:
    findings = autograd.check_case(impl, case)
    bad = [f for f in findings if f.verdict in ("fail", "skipped")]
    assert not bad, f"{bad[0].quantity}: {bad[0].reason} ({mbs.rebuild_hint(case)})"
    assert any(f.quantity.startswith("grad.") and f.verdict == "pass" for f in findings)


@given(mbs.cases())
def test_engine_agrees_with_autograd(case: Case) -> None:
    with mirror.threads(1):
        assert_no_fail(engine, case)


@given(mbs.cases(space=ArchSpace(fixed=(mazur.ARCHITECTURE,))))
def test_formula_by_formula_network_agrees_with_autograd(case: Case) -> None:
    with mirror.threads(1):
        assert_no_fail(mazur, case)


@given(mbs.cases(depth=3, activations="relu", scale=1e-3))
def test_engine_agrees_next_to_the_relu_kink(case: Case) -> None:
    with mirror.threads(1):
        assert_no_fail(engine, case)


@given(mbs.cases(activations="sigmoid", scale=4.0))
def test_engine_agrees_with_saturated_sigmoids(case: Case) -> None:
    with mirror.threads(1):
        assert_no_fail(engine, case)

"""The finite-difference check on correct implementations: no false alarms, honest numbers."""

from __future__ import annotations

import hashlib
from types import SimpleNamespace

import numpy as np
import pytest

import manualbp.engine as engine
import manualbp.mazur as mazur
from manualbp.architecture import Architecture
from manualbp.case import case_from_seed
from manualbp.checks import fd
from manualbp.engine import EngineImplementation, Network
from manualbp.errors import UsageError
from manualbp.space import ArchSpace, case_seed, random_case

SMALL = ArchSpace(depth=(1, 3), width=(1, 8), batch=(1, 6))


def verdicts(findings):
    return {f.verdict for f in findings}


@pytest.mark.parametrize(
    "space",
    [
        ArchSpace(depth=(1, 3), width=(1, 8), batch=(1, 6), scales=(4.0,)),
        ArchSpace(depth=(1, 3), width=(1, 8), batch=(1, 6), scales=(1e-3,)),
        ArchSpace(depth=(1, 3), width=(1, 8), batch=(1, 6), scales=(None, 0.5, 1.0)),
        ArchSpace(),
    ],
    ids=["saturating", "near-kinks", "moderate", "default-space"],
)
def test_engine_has_no_fail_on_random_cases(space):
    cases = [random_case(case_seed(11, i), space) for i in range(20)]
    findings = list(fd.run(engine, cases, impl_name="engine"))
    failed = [f for f in findings if f.verdict == "fail"]
    assert not failed, failed[0]
    assert {f.case for f in findings} == {c.case_id for c in cases}
    assert {f.method for f in findings} == {"consistency", "central", "complex_step", "taylor"}


def test_mazur_passes_and_other_architectures_are_skipped():
    cases = [case_from_seed(mazur.ARCHITECTURE, seed, batch_size=2) for seed in (3, 4)]
    other = case_from_seed(Architecture((2, 3, 2), ("sigmoid", "sigmoid")), 5)
    findings = list(fd.run(mazur, [*cases, other], impl_name="mazur"))
    assert verdicts(f for f in findings if f.case != other.case_id) == {"pass"}
    [skipped] = [f for f in findings if f.case == other.case_id]
    assert (skipped.verdict, skipped.quantity, skipped.seed) == ("skipped", "case", 5)
    assert "does not support" in skipped.reason


def test_not_implemented_error_is_skipped_not_failed():
    def loss(arch, params, x, y):
        raise NotImplementedError("only depth 1")

    impl = SimpleNamespace(loss=loss, gradients=engine.gradients)
    [finding] = fd.run(impl, [case_from_seed(mazur.ARCHITECTURE, 1)])
    assert finding.verdict == "skipped" and "only depth 1" in finding.reason


def test_findings_carry_case_seed_and_implementation_and_are_reproducible():
    cases = [random_case(case_seed(5, i), SMALL) for i in range(2)]
    first = [f.to_dict() for f in fd.run(engine, cases, impl_name="eng")]
    second = [f.to_dict() for f in fd.run(engine, cases, impl_name="eng")]
    assert first == second
    assert all(f["check"] == "fd" and f["impl"] == "eng" and f["reproduce"] is None for f in first)
    assert {(f["case"], f["seed"]) for f in first} == {(c.case_id, c.seed) for c in cases}
    assert all(f["tolerance_reason"] for f in first)


ANALYTIC = Architecture((3, 6, 5, 2), ("tanh", "softplus", "sigmoid"), "bce", "per_unit", "mean")


def test_complex_step_reaches_machine_precision_on_analytic_networks():
    cases = [case_from_seed(ANALYTIC, seed, batch_size=5) for seed in range(3)]
    options = fd.FDOptions(methods=("complex_step",))
    findings = list(fd.run(engine, cases, options=options))
    assert verdicts(findings) == {"pass"}
    errors = [f.detail["norm_rel_error"] for f in findings]
    assert len(errors) == 3 * 6 and max(errors) <= 1e-13
    central = list(fd.run(engine, cases, options=fd.FDOptions(methods=("central",))))
    assert max(f.detail["norm_rel_error"] for f in central) > 1e-12  # what complex step beats


class DoubledOutputError(Network):
    def output_error(self, forward, y):
        return 2.0 * super().output_error(forward, y)


def taylor(impl, seed=2):
    case = case_from_seed(ANALYTIC, seed, batch_size=4)
    return list(fd.run(impl, [case], options=fd.FDOptions(methods=("taylor",))))


def test_taylor_remainder_ratio_is_four_when_right_and_two_when_wrong():
    right = taylor(engine)
    assert verdicts(right) == {"pass"} and len(right) == 6
    for finding in right:
        assert finding.detail["ratio"] == pytest.approx(4.0, rel=0.05)
    wrong = taylor(EngineImplementation(DoubledOutputError))
    assert verdicts(wrong) == {"fail"}
    for finding in wrong:
        assert finding.detail["ratio"] == pytest.approx(2.0, rel=0.05)
        assert "shrinks like h" in finding.reason


def test_taylor_step_curve_has_the_v_shape():
    curve = taylor(engine)[0].detail["step_curve"]
    h, error = np.array(curve["h"]), np.array(curve["error"])
    at_chosen = error[np.argmin(np.abs(np.log(h / curve["chosen_h"])))]
    assert at_chosen < error[0] / 100 and at_chosen < error[-1] / 100


def test_directional_mode_costs_the_same_whatever_the_parameter_count():
    def counted_loss(arch, params, x, y):
        calls.append(1)
        return engine.loss(arch, params, x, y)

    impl = SimpleNamespace(loss=counted_loss, gradients=engine.gradients)
    options = fd.FDOptions(methods=("central",), max_elementwise=0, directions=5)
    counts = []
    for sizes in ((2, 3, 1), (12, 16, 16, 4)):
        calls: list[int] = []
        arch = Architecture(sizes, ("tanh",) * (len(sizes) - 1))
        findings = list(fd.run(impl, [case_from_seed(arch, 1)], options=options))
        assert [f.method for f in findings] == ["directional"]
        assert findings[0].verdict == "pass" and findings[0].detail["entries"] == 5
        counts.append(len(calls))
    assert counts[0] == counts[1]


def test_directional_mode_with_complex_step_catches_a_bug():
    options = fd.FDOptions(methods=("directional",))
    case = case_from_seed(ANALYTIC, 3)
    [good] = fd.run(engine, [case], options=options)
    [bad] = fd.run(EngineImplementation(DoubledOutputError), [case], options=options)
    assert good.verdict == "pass" and good.detail["reference"] == "complex_step"
    assert bad.verdict == "fail" and bad.quantity.startswith("grad·v[")


def noisy(level):
    """The engine with a deterministic pseudo-random loss error of relative size ``level``."""

    def loss(arch, params, x, y):
        value = engine.loss(arch, params, x, y)
        digest = hashlib.sha256(np.concatenate([np.ravel(p) for p in params.values()]).tobytes())
        return value * (1.0 + level * (int(digest.hexdigest()[:8], 16) / 2**31 - 1.0))

    return SimpleNamespace(loss=loss, gradients=engine.gradients)


def test_tolerances_follow_the_measured_noise_of_the_loss():
    cases = [case_from_seed(ANALYTIC, seed) for seed in range(3)]
    options = fd.FDOptions(methods=("central", "taylor"))
    findings = list(fd.run(noisy(1e-9), cases, options=options))
    assert verdicts(findings) == {"pass"}
    noise = {f.detail["loss_noise"] for f in findings}
    losses = [engine.loss(c.arch, c.params, c.x, c.y) for c in cases]
    assert min(noise) > 1e-10 * min(losses)  # ECnoise saw the injected noise


def test_options_are_validated():
    with pytest.raises(UsageError, match="methods"):
        fd.FDOptions(methods=("central", "forward"))
    with pytest.raises(UsageError, match="directions"):
        fd.FDOptions(directions=0)
    with pytest.raises(UsageError, match="safety"):
        fd.FDOptions(safety=0.5)

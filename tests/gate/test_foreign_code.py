"""No false alarm on correct code written by others, and nothing skipped into a pass.

Each test is one false alarm the gate raised on a correct implementation of the corpus
(tests/corpus), on the very case that raised it: complex-step overflow of a naive sigmoid,
the saturated naive BCE loss, a loss that rounds in steps (log(1 - σ)), sums taken in set
order, a loss too large to resolve, and a partial implementation passed without a single
verified case. Each checks what the gate says now, and why.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import manualbp
import manualbp.report
from manualbp import engine
from manualbp.cli import main
from manualbp.pipeline.work import SubjectRequest, Workbench
from manualbp.space import ArchSpace, random_case

NIELSEN2 = "tests/corpus/nielsen2.py:IMPL"
#: The space the corpus gave network2.py's cross-entropy net (and its order of choices).
NIELSEN2_SPACE = ArchSpace(
    activations=("sigmoid",), losses=("bce", "half_sse"), bias_modes=("per_unit",)
)
#: bce on sigmoid layers at scale 4: the output z reaches 17-22, 1 - a ~ 3e-10; the first
#: case's loss still agrees to rounding, the second's has lost 6 more digits.
SATURATED_BCE_SEED = 3141116543
LOST_DIGITS_SEED = 2218153353


def verdicts(report, check: str, method: str | None = None) -> set[str]:
    return {
        f.verdict
        for f in report.findings
        if f.check == check and (method is None or f.method == method)
    }


def test_complex_step_overflow_of_a_naive_sigmoid_falls_back_to_central_differences() -> None:
    """1/(1 + exp(-z)) is fine on reals at z = -1e3 (1/inf = 0) and nan for complex z."""
    case = random_case(1889559468, ArchSpace())
    report = manualbp.check("tests/corpus/naive_numpy.py:IMPL", cases=case, checks=("fd",))
    assert "fail" not in verdicts(report, "fd")
    complex_step = [f for f in report.findings if f.method == "complex_step"]
    assert complex_step and all(f.verdict == "pass" for f in complex_step)
    assert any("overflowed for complex parameters" in f.tolerance_reason for f in complex_step)


def test_an_unshifted_softmax_over_one_class_that_overflows_is_imprecise_not_wrong() -> None:
    """Campaign case: leaky-ReLU layers into a single logit of 1e3; e^z/Σe^z is inf/inf = nan
    although the logits do not spread at all. The loss is right where e^z is finite."""
    arch = manualbp.Architecture((3, 4, 1), ("leaky_relu", "identity"), "softmax_ce", "none")
    case = manualbp.case_from_seed(arch, seed=5, batch_size=3, scale=4.0)
    case.params["W2"][...] = 1e3 / max(1e-3, float(abs(case.params["W2"]).max()))
    report = manualbp.check("tests/corpus/naive_numpy.py:IMPL", cases=case, checks=("fd",))
    assert report.ok and "fail" not in verdicts(report, "fd")
    imprecise = [f for f in report.findings if f.verdict == "imprecise"]
    assert imprecise and imprecise[0].quantity == "loss()"
    place = imprecise[0].detail["precision"]["places"][-1]
    assert place["where"] == "output (softmax_ce)" and place["measure"] == "|z|"
    assert "output (softmax_ce) (|z| up to 1.48e+03)" in imprecise[0].reason  # no spread


def test_a_shared_bias_moving_relu_units_across_their_kinks_is_inconclusive_not_wrong(
    tmp_path: Path,
) -> None:
    """Campaign case of einsum_loops: at scale 1e-3 a shared bias of a ReLU layer moves 112
    pre-activations at once, one of them 4e-8 from its kink; every stencil fine enough to
    resolve the 1 % difference crosses some of them, so central differences cannot decide.
    The gradient is right (the engine's, to the last digit)."""
    path = tmp_path / "r.json"
    args = ["verify", "--impl", "tests/corpus/einsum_loops.py:IMPL", "--checks", "fd",
            "--case-seed", "4101222817", "--json", str(path), "--no-html", "--quiet"]  # fmt: skip
    assert main(args) == 0
    findings = json.loads(path.read_text(encoding="utf-8"))["findings"]
    assert findings[0]["detail"]["case_index"] == 0 and "fail" not in {
        f["verdict"] for f in findings
    }
    [b2] = [f for f in findings if f["quantity"] == "grad.b2" and f["method"] == "central"]
    assert b2["verdict"] == "inconclusive" and "layer 2 (relu) cross z = 0" in b2["reason"]


def saturated(seed: int) -> manualbp.report.Report:
    case = random_case(seed, NIELSEN2_SPACE)
    assert case.arch.loss == "bce" and case.meta["scale"] == 4.0
    return manualbp.check(NIELSEN2, cases=case, checks=("fd", "autograd"))


@pytest.fixture(scope="module")
def saturated_bce():
    return saturated(SATURATED_BCE_SEED)


def test_a_loss_that_rounds_in_steps_is_not_a_kink_nor_a_wrong_gradient(saturated_bce) -> None:
    """log(1 - σ(z)) of a saturated unit jumps by ~1e-7 every ~1e-7 of z: central
    differences of it are noise, the check measures that and no kink is claimed."""
    fd = [f for f in saturated_bce.findings if f.check == "fd"]
    assert fd and not [f for f in fd if f.verdict == "fail"]
    assert not [f for f in fd if "ReLU kink" in f.reason]  # no ReLU in this network


def test_the_saturated_naive_bce_loss_is_imprecise_not_wrong() -> None:
    """Its gradient a - y is exact; its loss, log(1 - a) of a ≈ 1 - 3e-10, has lost digits:
    the gate says imprecise, names the formula and the stable form, and passes."""
    report = saturated(LOST_DIGITS_SEED)
    autograd = [f for f in report.findings if f.check == "autograd"]
    assert not [f for f in autograd if f.verdict == "fail"]
    imprecise = [f for f in autograd if f.verdict == "imprecise"]
    assert imprecise and {f.quantity for f in imprecise} <= {"loss", "loss.from_gradients"}
    places = imprecise[0].detail["precision"]["places"]
    assert places[-1]["where"] == "output (bce)" and "softplus" in places[-1]["stable"]
    assert report.ok


def test_bce_through_one_minus_a_below_full_saturation_is_imprecise_not_wrong(
    tmp_path: Path,
) -> None:
    """Campaign case of micrograd: a sigmoid + BCE unit at z = 11.6, short of full
    saturation. Its backward, (1 - y)/(1 - a) times a(1 - a), takes 1 - a ≈ 9e-6 with a
    relative error of eps·e^z: the weight gradient is 2e-12 off relative, about 10^4 eps,
    inside the bound e^|z| times the check's own rounding allowance."""
    path = tmp_path / "r.json"
    args = ["verify", "--impl", "tests/corpus/micrograd.py:IMPL", "--checks", "autograd",
            "--case-seed", "2710568071", "--json", str(path), "--no-html", "--quiet"]  # fmt: skip
    assert main(args) == 0
    findings = json.loads(path.read_text(encoding="utf-8"))["findings"]
    assert "fail" not in {f["verdict"] for f in findings}
    [w1] = [f for f in findings if f["quantity"].startswith("grad.W1")]
    assert w1["verdict"] == "imprecise"
    places = w1["detail"]["precision"]["places"]
    assert any(p["where"] == "output (bce)" and p["amplification"] > 1e5 for p in places)
    assert not any(p["saturated"] for p in places)


def test_strict_fails_on_imprecise(tmp_path: Path) -> None:
    args = ["verify", "--impl", NIELSEN2, "--checks", "autograd", "--no-html", "--quiet"]
    args += ["--case-seed", str(LOST_DIGITS_SEED), "--activations", "sigmoid"]
    args += ["--losses", "bce,half_sse", "--bias-modes", "per_unit"]
    assert main([*args, "--json", str(tmp_path / "a.json")]) == 0
    assert main([*args, "--strict", "--json", str(tmp_path / "b.json")]) == 1


def test_gradients_summed_in_set_order_are_consistent_between_calls() -> None:
    """A micrograd-style engine sums in the order a Python set iterates: two calls differ
    in the last bits, which is rounding, not state."""
    space = ArchSpace(
        activations=("tanh", "relu", "identity", "sigmoid"),
        losses=("half_sse", "sse", "mse", "bce"),
        bias_modes=("per_unit",),
        depth=(1, 3),
        width=(1, 6),
    )
    cases = [random_case(seed, space) for seed in (161328693, 2968811710)]
    report = manualbp.check("tests/corpus/micrograd.py:IMPL", cases=cases, checks=("fd",))
    repeats = [f for f in report.findings if f.quantity.startswith("repeat.")]
    assert repeats and all(f.verdict == "pass" for f in repeats)


class HugeLoss:
    """The engine with its loss and gradients multiplied by 1e306: consistent, and a loss
    whose rounding (~1e290) swamps any finite difference."""

    name = "huge-loss"

    def loss(self, arch, params, x, y):
        return 1e306 * engine.loss(arch, params, x, y)

    def gradients(self, arch, params, x, y):
        value, grads = engine.gradients(arch, params, x, y)
        return 1e306 * value, {k: 1e306 * g for k, g in grads.items()}


def test_a_loss_too_large_to_resolve_is_inconclusive_not_a_vacuous_pass() -> None:
    case = random_case(5, ArchSpace(losses=("half_sse",), scales=(1.0,)))
    report = manualbp.check(HugeLoss(), cases=case, checks=("fd",), isolate=False)
    [finding] = report.findings
    assert finding.verdict == "inconclusive" and "cannot resolve the gradient" in finding.reason


def test_a_partial_implementation_is_verified_where_it_works(tmp_path: Path) -> None:
    """Nielsen's network of sigmoid layers and ½SSE: cases are drawn there (not 25
    skipped), and the worked examples it cannot compute (graphs, an affine layer) are not
    counted as its passes."""
    path = tmp_path / "r.json"
    spec = "tests/corpus/nielsen.py:IMPL"
    assert main(["verify", "--impl", spec, "--cases", "4", "--json", str(path), "--no-html"]) == 0
    findings = json.loads(path.read_text(encoding="utf-8"))["findings"]
    for check in ("fd", "autograd"):
        cases = {f["case"] for f in findings if f["check"] == check and f["verdict"] != "skipped"}
        assert cases == {f"case-{i}" for i in range(4)}
    published = {f["case"] for f in findings if f["check"] == "published"}
    assert published == {"mazur_2015"}


def test_nothing_verifiable_is_not_a_pass(tmp_path: Path, capsys) -> None:
    """A space the implementation does not cover at all: exit 1, saying how many cases
    could be verified and why."""
    path = tmp_path / "r.json"
    spec = "tests/corpus/nielsen.py:IMPL"
    code = main(["verify", "--impl", spec, "--cases", "3", "--losses", "bce", "--checks", "fd",
                 "--json", str(path), "--no-html"])  # fmt: skip
    assert code == 1
    assert "NOT VERIFIED" in capsys.readouterr().out
    findings = json.loads(path.read_text(encoding="utf-8"))["findings"]
    assert findings and all(f["verdict"] == "skipped" for f in findings)


def test_the_shrinker_never_offers_a_case_that_is_only_imprecise() -> None:
    """Shrinking looks for smaller cases that *fail*: a case whose only disagreements are
    float64's (the saturated naive BCE loss) has nothing to shrink towards."""
    bench = Workbench()
    subject = bench.describe(SubjectRequest(NIELSEN2, NIELSEN2_SPACE))
    assert bench.shrink(subject, random_case(LOST_DIGITS_SEED, NIELSEN2_SPACE)) is None

"""Mazur's worked example: every printed number compared, errata proven and kept honest."""

from __future__ import annotations

import json
from collections import Counter
from importlib.resources import files

import numpy as np
import pytest
import torch

import manualbp.engine as engine
import manualbp.mazur as mazur
from manualbp.checks import published
from manualbp.engine import EngineImplementation, Network

#: Every number of Mazur's post as listed in the project's REFERENCE.md (label, printed).
REFERENCE_MD_NUMBERS = [
    ("net_h1", "0.3775"),
    ("out_h1", "0.593269992"),
    ("out_h2", "0.596884378"),
    ("net_o1", "1.105905967"),
    ("out_o1", "0.75136507"),
    ("out_o2", "0.772928465"),
    ("E_o1", "0.274811083"),
    ("E_o2", "0.023560026"),
    ("E_total", "0.298371109"),
    ("∂E_total/∂out_o1", "0.74136507"),
    ("∂out_o1/∂net_o1", "0.186815602"),
    ("∂net_o1/∂w5", "0.593269992"),
    ("∂E_total/∂w5", "0.082167041"),
    ("w5⁺", "0.35891648"),
    ("w6⁺", "0.408666186"),
    ("w7⁺", "0.511301270"),
    ("w8⁺", "0.561370121"),
    ("∂E_o1/∂net_o1", "0.138498562"),
    ("∂net_o1/∂out_h1", "0.40"),
    ("∂E_o1/∂out_h1", "0.055399425"),
    ("∂E_o2/∂out_h1", "-0.019049119"),
    ("∂E_total/∂out_h1", "0.036350306"),
    ("∂out_h1/∂net_h1", "0.241300709"),
    ("∂net_h1/∂w1", "0.05"),
    ("∂E_total/∂w1", "0.000438568"),
    ("w1⁺", "0.149780716"),
    ("w2⁺", "0.19956143"),
    ("w3⁺", "0.24975114"),
    ("w4⁺", "0.29950229"),
    ("E_total after the first update", "0.291027924"),
    ("E_total after 10,000 updates", "0.0000351085"),
    ("out_o1 after 10,000 updates", "0.015912196"),
    ("out_o2 after 10,000 updates", "0.984065734"),
]

ERRATA = {"step1.loss", "trained.loss", "trained.a.2[0,0]", "trained.a.2[0,1]"}


def mazur_data() -> dict:
    text = (files("manualbp.reference") / "mazur_2015.json").read_text(encoding="utf-8")
    return json.loads(text)


@pytest.fixture(scope="module")
def reference() -> published.ReferenceExample:
    return published.parse_reference(mazur_data(), "mazur_2015.json")


@pytest.fixture(scope="module")
def engine_findings(reference) -> list:
    return list(published.run(engine, [reference], impl_name=engine.name))


def by_path(findings: list) -> dict[str, object]:
    return {finding.detail["path"]: finding for finding in findings}


class MazurByHand:
    """A compact, separately written 2-2-2 implementation for these tests.

    ``output_layer_first=True`` reproduces what Mazur's figures after training were computed
    with: w5..w8 are updated first and the hidden error terms then use the updated weights.
    """

    supports_complex = False

    def __init__(self, output_layer_first: bool) -> None:
        self.output_layer_first = output_layer_first
        self.name = "output-layer-first" if output_layer_first else "by-hand"

    @staticmethod
    def _passes(params, x, y):
        hidden = 1.0 / (1.0 + np.exp(-(x @ params["W1"].T + params["b1"])))
        out = 1.0 / (1.0 + np.exp(-(hidden @ params["W2"].T + params["b2"])))
        delta_out = (out - y) * out * (1.0 - out)
        return hidden, out, delta_out

    def loss(self, arch, params, x, y):
        _, out, _ = self._passes(params, x, y)
        return float(0.5 * np.sum((out - y) ** 2))

    def intermediates(self, arch, params, x, y):
        hidden, out, delta_out = self._passes(params, x, y)
        delta_hidden = (delta_out @ params["W2"]) * hidden * (1.0 - hidden)
        z = [x @ params["W1"].T + params["b1"], hidden @ params["W2"].T + params["b2"]]
        return {"z": z, "a": [hidden, out], "delta": [delta_hidden, delta_out]}

    def gradients(self, arch, params, x, y):
        values = self.intermediates(arch, params, x, y)
        (d1, d2), (hidden, _) = values["delta"], values["a"]
        grads = {"W1": d1.T @ x, "b1": np.asarray(d1.sum()), "W2": d2.T @ hidden}
        grads["b2"] = np.asarray(d2.sum())
        return self.loss(arch, params, x, y), grads

    def step(self, arch, params, x, y, lr, frozen=frozenset()):
        hidden, _, delta_out = self._passes(params, x, y)
        new = {name: np.array(value, copy=True) for name, value in params.items()}
        new["W2"] = params["W2"] - lr * delta_out.T @ hidden
        W2_seen = new["W2"] if self.output_layer_first else params["W2"]
        delta_hidden = (delta_out @ W2_seen) * hidden * (1.0 - hidden)
        new["W1"] = params["W1"] - lr * delta_hidden.T @ x
        return new


def test_the_file_holds_every_mazur_number_of_reference_md(reference) -> None:
    in_file = [(q.label, q.printed) for q in reference.quantities]
    assert len(REFERENCE_MD_NUMBERS) == 33
    assert Counter(in_file) == Counter(REFERENCE_MD_NUMBERS)


@pytest.mark.parametrize("impl", ["engine", "mazur"])
def test_correct_implementations_pass_every_number_but_the_known_errata(
    impl, reference, engine_findings
) -> None:
    if impl == "engine":
        findings = engine_findings
    else:
        findings = list(published.run(mazur, [reference], impl_name=mazur.name))
    assert len(findings) == 33
    assert {f.impl for f in findings} == {engine.name if impl == "engine" else mazur.name}
    verdicts = {path: f.verdict for path, f in by_path(findings).items()}
    assert {path for path, v in verdicts.items() if v == "erratum"} == ERRATA
    assert set(verdicts.values()) == {"pass", "erratum"}
    rounded = by_path(findings)["delta.2[0,1] * W2[1,0]"]
    assert rounded.atol == pytest.approx(7.5e-10)
    assert "rounding of delta.2[0,1] to 9 decimals" in rounded.tolerance_reason


def test_an_erratum_shows_its_evidence_and_what_reproduces_it(engine_findings) -> None:
    first = by_path(engine_findings)["step1.loss"]
    assert first.verdict == "erratum"
    assert first.detail["printed"] == "0.291027924"
    assert first.detail["correct"] == "0.2910277737"
    assert set(first.detail["evidence"]) >= {"PyTorch autograd", "finite differences"}
    assert "already-updated" in first.detail["reproduced_by"]
    assert first.abs_error > first.atol  # the printed figure really is outside its precision


def test_reproducing_the_sources_mistake_turns_the_errata_into_failures(reference) -> None:
    impl = MazurByHand(output_layer_first=True)
    findings = by_path(list(published.run(impl, [reference], impl_name=impl.name)))
    for path in ("step1.loss", "trained.a.2[0,0]", "trained.a.2[0,1]"):
        assert findings[path].verdict == "fail", path
        assert "reproduces the source's mistake" in findings[path].reason
    # that variant does not reproduce the E_total after 10,000 figure: wrong both ways
    assert findings["trained.loss"].verdict == "fail"
    assert "agrees neither" in findings["trained.loss"].reason
    # and the post's hand-computed w1+ disagrees with it, as the erratum says
    assert findings["step1.W1[0,0]"].verdict == "fail"


def test_the_loss_after_10000_updates_is_the_loss_after_9999(reference) -> None:
    data = mazur_data()
    data["mlp"]["train_steps"] = 9999
    one_short = published.parse_reference(data, "mazur_9999.json")
    impl = MazurByHand(output_layer_first=False)
    findings = by_path(list(published.run(impl, [one_short], impl_name=impl.name)))
    assert findings["trained.loss"].verdict == "fail"
    assert "reproduces the source's mistake" in findings["trained.loss"].reason


class DoubledOutputError(Network):
    def output_error(self, forward, y):
        return 2.0 * super().output_error(forward, y)


def test_a_broken_implementation_fails(reference) -> None:
    data = mazur_data()
    data["quantities"] = [q for q in data["quantities"] if not q["path"].startswith("trained")]
    quick = published.parse_reference(data, "mazur_2015.json")
    broken = EngineImplementation(DoubledOutputError, name="doubled output error")
    findings = by_path(list(published.run(broken, [quick], impl_name=broken.name)))
    for path in ("delta.2[0,0]", "grad.W2[0,0]", "grad.W1[0,0]", "step1.W1[0,0]", "step1.loss"):
        assert findings[path].verdict == "fail", path
    for path in ("a.2[0,0]", "loss", "dE_da.2[0,0]", "da_dz.2[0,0]"):
        assert findings[path].verdict == "pass", path  # the forward pass is still right


def torch_training(steps: int) -> tuple[float, float, list[float]]:
    """Loss after one step, loss and outputs after ``steps`` steps, by PyTorch autograd."""
    x = torch.tensor([[0.05, 0.10]], dtype=torch.float64)
    y = torch.tensor([[0.01, 0.99]], dtype=torch.float64)
    W1 = torch.tensor([[0.15, 0.20], [0.25, 0.30]], dtype=torch.float64, requires_grad=True)
    W2 = torch.tensor([[0.40, 0.45], [0.50, 0.55]], dtype=torch.float64, requires_grad=True)

    def forward():
        out = torch.sigmoid(torch.sigmoid(x @ W1.T + 0.35) @ W2.T + 0.60)
        return 0.5 * ((out - y) ** 2).sum(), out

    first = 0.0
    for step in range(1, steps + 1):
        loss, _ = forward()
        g1, g2 = torch.autograd.grad(loss, (W1, W2))
        with torch.no_grad():
            W1 -= 0.5 * g1
            W2 -= 0.5 * g2
        if step == 1:
            first = forward()[0].item()
    with torch.no_grad():
        loss, out = forward()
    return first, loss.item(), out[0].tolist()


def test_autograd_evidence_confirms_the_recorded_correct_values(reference) -> None:
    torch.set_num_threads(1)
    first, trained_loss, (out_o1, out_o2) = torch_training(10_000)
    errata = {q.expression.text: q.erratum for q in reference.quantities if q.erratum}
    for path, value in (
        ("step1.loss", first),
        ("trained.loss", trained_loss),
        ("trained.a.2[0,0]", out_o1),
        ("trained.a.2[0,1]", out_o2),
    ):
        correct = errata[path].correct
        assert abs(value - float(correct)) <= 0.5 * 10.0 ** -len(correct.split(".")[1]), path


def test_finite_difference_evidence_for_the_first_update(reference) -> None:
    arch, problem = mazur.ARCHITECTURE, reference.problem
    params = problem.params
    updated = dict(params)
    for name in ("W1", "W2"):  # every gradient at the original weights, then the step
        gradient = np.zeros_like(params[name])
        for index in np.ndindex(gradient.shape):
            h = 1e-6 * max(1.0, abs(params[name][index]))
            plus = {k: v.copy() for k, v in params.items()}
            minus = {k: v.copy() for k, v in params.items()}
            plus[name][index] += h
            minus[name][index] -= h
            difference = engine.loss(arch, plus, problem.x, problem.y)
            difference -= engine.loss(arch, minus, problem.x, problem.y)
            gradient[index] = difference / (2 * h)
        updated[name] = params[name] - 0.5 * gradient
    after = engine.loss(arch, updated, problem.x, problem.y)
    assert abs(after - 0.2910277737) <= 0.5e-10
    assert abs(after - 0.291027924) > 1e-7


class BreaksAt:
    """The engine, whose step returns a NaN weight from update ``call`` on (counted per
    training) and keeps returning it without complaint."""

    def __init__(self, call: int) -> None:
        self.call, self.calls = call, 0
        self.loss, self.gradients = engine.loss, engine.gradients
        self.intermediates = engine.intermediates

    def step(self, arch, params, x, y, lr, frozen=frozenset()):
        self.calls += 1
        if self.calls < self.call:
            return engine.step(arch, params, x, y, lr, frozen)
        return {**params, "W1": np.full_like(params["W1"], np.nan)}


def test_an_update_gone_wrong_mid_training_fails_the_trained_figures(reference) -> None:
    """Updates after the first are validated where their figures are read: a NaN weight at
    update 5,000 of 10,000 fails every trained figure, naming step() and the update count."""
    findings = by_path(list(published.run(BreaksAt(5000), [reference], impl_name="breaks")))
    trained = [f for path, f in findings.items() if path.startswith("trained")]
    assert trained and all(f.verdict == "fail" for f in trained)
    assert all("step() after 10000 update(s) returned" in f.reason for f in trained)
    assert findings["step1.loss"].verdict == "erratum"  # the first update was still right

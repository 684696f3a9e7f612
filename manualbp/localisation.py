"""Localisation: where, going backwards from the output, a failing case first goes wrong.

The Findings of one case (one implementation, every check) are read into :class:`Evidence`:
the failing Findings, the tensors they kept (``impl_values``/``ref_values`` in ``detail``, see
:func:`manualbp.findings.tensor_finding`) and the facts of the case the autograd check adds
to a failing Finding (N, layer sizes, loss). :func:`locate` names the :class:`Site` of the
first disagreement, in this order:

``inputs``    gradients() changed its inputs;
``repeat``    a second gradients() call returned other values;
``loss``      the loss value (or a published forward value) disagrees;
``state``     every gradient and δ agrees with autograd on a fresh call, yet the finite
              differences of the implementation's own loss, or a later step, disagree;
``delta``     the error term δ_l = ∂E/∂z_l of the highest layer l whose δ disagrees;
``gradient``  every δ agrees (or none was compared) and a gradient of layer l disagrees;
``step``      gradients agree and a gradient-descent step disagrees;
``frozen``    only frozen parameters moved.

:func:`formula_for` turns a site and the pattern the diagnosis found there into one of
:data:`FORMULAS`, the vocabulary the mutant catalogue uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from manualbp.facts import SQUARED_LOSSES
from manualbp.findings import Finding
from manualbp.quantity import Quantity, base_quantity

#: Formulas, as localisation names them.
FORMULAS: tuple[str, ...] = (
    "forward",
    "loss_gradient",
    "output_error",
    "hidden_error",
    "activation_derivative",
    "weight_gradient",
    "bias_gradient",
    "update_step",
    "state",
)

#: Patterns of δ_L that a wrong ∂E/∂a of a squared loss produces.
LOSS_GRADIENT_KINDS = ("sign_flip", "factor_2", "factor_half", "factor_K")
#: Finite-difference methods that keep whole gradient tensors, most precise first.
FD_TENSOR_METHODS = ("complex_step", "central", "directional")


def layer_of(quantity: str) -> int | None:
    """The layer a quantity belongs to: 3 for ``delta.3``, ``grad.W3``, ``step2.b3``."""
    return Quantity.parse(quantity).layer_number


def values(detail: dict[str, Any], key: str) -> np.ndarray | None:
    """A flat float64 array kept in ``detail[key]`` ("nan"/"inf" strings decoded), or None."""
    stored = detail.get(key)
    if stored is None:
        return None
    return np.array([np.nan if v is None else float(v) for v in stored], dtype=np.float64)


@dataclass(frozen=True)
class Tensor:
    """The two sides of one failing tensor comparison, in the tensor's shape.

    ``ok`` marks the entries within the Finding's own allowance |impl - ref| <= atol + rtol·|ref|.
    """

    quantity: str
    impl: np.ndarray
    ref: np.ndarray
    finding: Finding

    @classmethod
    def of(cls, finding: Finding) -> Tensor | None:
        """The tensor a failing Finding kept, or None (too large, or not a tensor Finding)."""
        impl, ref = values(finding.detail, "impl_values"), values(finding.detail, "ref_values")
        shape = tuple(finding.detail.get("shape", ()))
        if impl is None or ref is None or impl.size != int(np.prod(shape)):
            return None
        return cls(
            base_quantity(finding.quantity), impl.reshape(shape), ref.reshape(shape), finding
        )

    @property
    def ok(self) -> np.ndarray:
        """Entries within the allowance (a boolean array of the tensor's shape)."""
        atol = self.finding.atol or 0.0
        rtol = self.finding.tolerance or 0.0
        with np.errstate(invalid="ignore"):
            return np.abs(self.impl - self.ref) <= atol + rtol * np.abs(self.ref)

    @property
    def informative(self) -> np.ndarray:
        """Entries where either side lies outside the allowance around 0 (``atol``)."""
        allowance = self.finding.atol or 0.0
        return (np.abs(self.ref) > allowance) | (np.abs(self.impl) > allowance)


@dataclass
class Evidence:
    """The Findings of one case, sorted by what they compare (see the module docstring)."""

    failing: list[Finding]
    facts: dict[str, Any] = field(default_factory=dict)
    deltas: dict[int, Finding] = field(default_factory=dict)
    grads: dict[str, Finding] = field(default_factory=dict)
    fd_grads: dict[str, Finding] = field(default_factory=dict)  # failing ones only
    steps: list[Finding] = field(default_factory=list)
    top_layer: int | None = None  # the highest layer any gradient Finding names

    @classmethod
    def of(cls, findings: list[Finding]) -> Evidence:
        """Sort the Findings of one case; facts come from the failing autograd Findings."""
        evidence = cls([f for f in findings if f.verdict == "fail"])
        fd_rank = {method: rank for rank, method in enumerate(FD_TENSOR_METHODS)}
        for finding in findings:
            quantity = Quantity.parse(finding.quantity)
            name = quantity.base.format()
            if quantity.kind == "grad":
                evidence.top_layer = max(evidence.top_layer or 0, quantity.layer_number or 0)
            if finding.verdict == "fail":
                for key in ("batch_size", "sizes", "loss", "reduction"):
                    if key in finding.detail:
                        evidence.facts[key] = finding.detail[key]
            if finding.check == "autograd" and quantity.kind == "delta" and quantity.layer:
                evidence.deltas[quantity.layer] = finding
            elif finding.check == "autograd" and quantity.kind == "grad":
                evidence.grads[name] = finding
            elif finding.check == "autograd" and quantity.trajectory and quantity.parameter:
                evidence.steps.append(finding)
            elif (
                finding.verdict == "fail"
                and finding.method in fd_rank
                and quantity.kind in ("grad", "directional")
            ):
                held = evidence.fd_grads.get(name)
                if held is None or fd_rank[finding.method] < fd_rank[held.method]:
                    evidence.fd_grads[name] = finding
        return evidence

    @property
    def depth(self) -> int | None:
        """L, the number of layers with parameters: from the sizes, else the δ compared, else
        the highest layer a gradient Finding names (every check compares every W_l)."""
        if "sizes" in self.facts:
            return len(self.facts["sizes"]) - 1
        return max(self.deltas) if self.deltas else self.top_layer

    def failing_grads(self) -> list[Finding]:
        """Failing gradient Findings: autograd's when it compared gradients, else fd's."""
        source = self.grads if self.grads else self.fd_grads
        return [f for f in source.values() if f.verdict == "fail"]


@dataclass(frozen=True)
class Site:
    """Where a case first goes wrong: a stage (module docstring), a layer, the Findings there."""

    stage: str
    layer: int | None
    findings: tuple[Finding, ...]


def _step_parts(finding: Finding) -> tuple[str, int, str]:
    """(trajectory, step index, parameter) of ``step3.W1`` / ``frozen_step2.b1``."""
    quantity = Quantity.parse(finding.quantity)
    return quantity.kind, quantity.step or 0, quantity.parameter or ""


def _top(stage: str, findings: list[Finding]) -> Site:
    """The site of ``findings`` at their highest layer (the first one going backwards)."""
    layers = [layer_of(f.quantity) or 0 for f in findings]
    top = max(layers)
    chosen = tuple(f for f, layer in zip(findings, layers, strict=True) if layer == top)
    return Site(stage, top or None, chosen)


def locate(evidence: Evidence) -> Site | None:
    """The first disagreement of a failing case, by the order of the module docstring."""
    failing = evidence.failing
    kinds = {id(f): Quantity.parse(f.quantity).kind for f in failing}
    for stage in ("inputs", "repeat"):
        found = [f for f in failing if kinds[id(f)] == stage]
        if found:
            return Site(stage, None, tuple(found))
    loss = [f for f in failing if kinds[id(f)] in ("loss", "loss.from_gradients")]
    if loss:
        return Site("loss", None, tuple(loss))
    wrong_deltas = [f for f in evidence.deltas.values() if f.verdict == "fail"]
    steps = [f for f in evidence.steps if f.verdict == "fail"]
    fresh_calls_agree = all(f.verdict == "pass" for f in evidence.grads.values())
    if evidence.grads and fresh_calls_agree and not wrong_deltas:
        late = [f for f in steps if _step_parts(f)[1] > 1]
        if evidence.fd_grads or (late and len(late) == len(steps)):
            return Site("state", None, tuple(list(evidence.fd_grads.values()) or late))
    if wrong_deltas:
        return _top("delta", wrong_deltas)
    if evidence.failing_grads():
        return _top("gradient", evidence.failing_grads())
    moved = [f for f in steps if _step_parts(f)[2] in f.detail.get("frozen", ())]
    stepped = [f for f in steps if f not in moved]
    if stepped:
        return _top("step", stepped)
    if moved:
        return _top("frozen", moved)
    return None


@dataclass(frozen=True)
class Localisation:
    """The first layer l (going backwards) that disagrees and the formula that broke there."""

    layer: int | None
    formula: str
    sentence: str
    position: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: {"layer", "position" ("output"/"hidden"/None), "formula", "sentence"}."""
        return {
            "layer": self.layer,
            "position": self.position,
            "formula": self.formula,
            "sentence": self.sentence,
        }


def formula_for(site: Site, kind: str, evidence: Evidence) -> str:
    """The formula that broke at ``site`` given the pattern ``kind`` found there.

    δ_L wrong: loss_gradient for a sign or a factor 2, ½, K under a squared loss (the factor
    ∂E/∂a of δ_L = ∂E/∂a ⊙ f'(z_L)), else output_error; δ_l wrong below the output:
    hidden_error (the diagnosis overrides both with activation_derivative when the pattern
    blames f'). Every δ right: weight_gradient or bias_gradient by the tensor that
    disagrees; with no δ compared and both W and b wrong, the error term of the highest
    wrong layer.
    """
    if site.stage in ("inputs", "repeat", "state"):
        return "state"
    if site.stage == "loss":
        return "forward"
    if site.stage in ("step", "frozen"):
        return "update_step"
    if site.stage == "delta":
        if site.layer != evidence.depth:
            return "hidden_error"
        squared = evidence.facts.get("loss") in SQUARED_LOSSES
        return "loss_gradient" if squared and kind in LOSS_GRADIENT_KINDS else "output_error"
    names = {Quantity.parse(f.quantity).is_weight for f in evidence.failing_grads()}
    if evidence.deltas or len(names) == 1:
        here = {Quantity.parse(f.quantity).is_weight for f in site.findings}
        return "weight_gradient" if True in here else "bias_gradient"
    return "output_error" if site.layer == evidence.depth else "hidden_error"


def position(layer: int | None, depth: int | None) -> str | None:
    """``"output"`` for layer L, ``"hidden"`` below it, None when either is unknown."""
    if layer is None or depth is None:
        return None
    return "output" if layer == depth else "hidden"


def localisation(
    site: Site, kind: str, evidence: Evidence, formula: str | None = None
) -> Localisation:
    """The :class:`Localisation` of ``site`` with its sentence, e.g. "first wrong going
    backwards: delta.2 (layer 2 of 3, hidden) → hidden_error"; ``formula`` overrides
    :func:`formula_for` (the diagnosis knows better when the pattern blames f')."""
    formula = formula or formula_for(site, kind, evidence)
    depth = evidence.depth
    where = position(site.layer, depth)
    names = ", ".join(sorted({base_quantity(f.quantity) for f in site.findings}))
    if site.layer is None:
        sentence = f"{names} → {formula}"
    else:
        of = f" of {depth}" if depth is not None else ""
        sentence = f"{names} (layer {site.layer}{of}{', ' + where if where else ''}) → {formula}"
    lead = {
        "delta": "first wrong going backwards: ",
        "gradient": "every δ agrees; first wrong gradient going backwards: "
        if evidence.deltas
        else "first wrong gradient going backwards: ",
    }.get(site.stage, "")
    return Localisation(site.layer, formula, lead + sentence, where)

"""The autograd check: compare an implementation with a float64 PyTorch mirror of the network.

For every case, the reference is :mod:`manualbp.torch_mirror` on the same architecture,
parameters and batch, and the check compares

* the loss, from ``loss()`` (``loss``) and from ``gradients()`` (``loss.from_gradients``);
* every gradient, one Finding per parameter named by its worst entry (``grad.W2[1,0]``);
* every error term δ_l = ∂E/∂z_l when the implementation has ``intermediates`` (``delta.2``);
* five gradient-descent steps when it has ``step``: one trajectory with nothing frozen
  (``step3.W1``) and one with the biases frozen, as in Mazur (``frozen_step3.b1``; W1 is
  frozen when the network has no bias), reported per parameter at the first step that
  disagrees (else the last). Each step starts from the implementation's own previous
  iterate and is compared with the mirror's step from that same point, so the rounding of
  earlier steps is not amplified; a frozen parameter must come back bit for bit. The step
  size is chosen per case so that the mirror's loss descends (:func:`learning_rate`).

Tolerance. Two correct float64 implementations differ by rounding, and rounding errors are
proportional to the magnitude of the *terms* summed into a result, not to the result: the
shared bias gradient of a softmax output layer is exactly 0 in exact arithmetic and
rounding noise of order eps in both. The rule for each tensor is therefore

    |impl - ref| <= atol + rtol·|ref|,   rtol = 16·n·eps,   atol = rtol·S,

with eps the float64 machine epsilon, n = Σ sizes + N the length of the longest chain of
roundings (the γ_n of a running error bound), 16 a safety factor for implementations that
order their sums differently (the engine's worst error is 2·eps·S over 13,000 random cases)
and S the largest entry of the magnitude of the terms (:func:`term_scales`).

Kinks. PyTorch takes relu'(0) = 0 and leaky_relu'(0) = 0.01; an implementation may choose
otherwise. When a comparison fails and some pre-activation of a ReLU layer lies within
rounding of 0, the mirror is rerun with the left and with the right derivative on those
entries; if every entry of the implementation lies between the two results the Finding is
``inconclusive`` with that reason, and otherwise it stays ``fail``.

Threads. torch runs with one intra-op thread while the check runs (``torch_threads``): on a
small machine its OpenMP pool and NumPy's OpenBLAS pool otherwise spin against each other.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from manualbp import torch_mirror as mirror
from manualbp.architecture import Architecture
from manualbp.case import Case
from manualbp.errors import ManualbpError, UsageError
from manualbp.findings import Finding, compact_values, tensor_finding
from manualbp.params import Params, check_params, flatten
from manualbp.protocol import (
    ImplementationFault,
    Unsupported,
    as_loss,
    call,
    capabilities,
    checked_gradients,
    implementation_name,
    unsupported_reason,
)

CHECK = "autograd"
METHOD = "torch autograd, float64"
#: Multiple of the rounding bound n·eps allowed (see the module docstring).
SAFETY = 16.0
#: Pre-activations smaller than this are at the kink whatever their rounding bound says:
#: values this small come from underflowed factors, whose sign is an accident.
KINK_FLOOR = 1e-300
#: Default learning rate: the first step moves θ by this fraction of ‖θ‖, at most MAX_LR.
STEP_FRACTION = 0.1
MAX_LR = 0.5
MAX_HALVINGS = 30
#: Activations evaluated through exp, log or tanh (see :func:`term_scales`).
TRANSCENDENTAL = frozenset({"sigmoid", "tanh", "softplus"})
_EPS = float(np.finfo(np.float64).eps)
_LOSS_FACTOR = {"half_sse": 0.5, "sse": 1.0, "mse": 1.0}


@dataclass(frozen=True)
class AutogradOptions:
    """How the autograd check runs.

    steps: gradient-descent steps per trajectory (0 skips the trajectories);
    learning_rate: fixed step size, or None for STEP_FRACTION·‖θ‖/‖∂E/∂θ‖ capped at MAX_LR;
    torch_threads: torch intra-op threads while the check runs (None leaves them alone).
    """

    steps: int = 5
    learning_rate: float | None = None
    torch_threads: int | None = 1

    def __post_init__(self) -> None:
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 0:
            raise UsageError(f"steps: got {self.steps!r}, expected a non-negative integer")
        lr = self.learning_rate
        if lr is not None and not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
            raise UsageError(f"learning_rate: got {lr!r}, expected a positive number or None")
        threads = self.torch_threads
        if threads is not None and (not isinstance(threads, int) or threads < 1):
            raise UsageError(f"torch_threads: got {threads!r}, expected a positive integer or None")


def rounding_rtol(arch: Architecture, batch_size: int) -> float:
    """rtol = SAFETY·n·eps with n = Σ sizes + N, the longest chain of roundings."""
    return SAFETY * (sum(arch.sizes) + batch_size) * _EPS


@dataclass(frozen=True)
class TermScales:
    """Magnitudes of the terms behind each quantity of one case (see :func:`term_scales`).

    ``scale`` maps ``loss``, ``grad.<name>`` and ``delta.<l>`` to a non-negative float;
    ``z_terms[l - 1]`` is Ẑ_l (N, n_l), the magnitude of the terms of z_l.
    """

    scale: dict[str, float]
    z_terms: list[np.ndarray]


def _output_terms(
    arch: Architecture, ref: mirror.Backprop, y: np.ndarray, Z: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(ŝ (N,), D̂ (N, K)): loss and output-error term magnitudes before the batch factor."""
    z, a, y = np.abs(ref.z[-1]), np.abs(ref.a[-1]), np.abs(y)
    K = arch.outputs
    if arch.loss == "softmax_ce":
        total = y.sum(axis=1)
        D = total[:, None] * (1.0 + Z.max(axis=1, keepdims=True)) + y
        s = total * (2.0 * z.max(axis=1) + 2.0 * Z.max(axis=1) + math.log(K))
        return s, D
    if arch.loss == "bce":
        return np.sum((1.0 + y) * (z + Z) + math.log(2.0), axis=1), a + y + Z
    factor = _LOSS_FACTOR[arch.loss] / (K if arch.loss == "mse" else 1)
    return factor * np.sum((a + y + Z) ** 2, axis=1), 2.0 * factor * (a + y + Z)


def term_scales(
    arch: Architecture, params: Params, x: np.ndarray, y: np.ndarray, ref: mirror.Backprop
) -> TermScales:
    """Running magnitudes of every term summed into the loss, the gradients and the δ_l.

    Forward (N, n_l):  Â_0 = |x|,  Ẑ_l = Â_{l-1}|W_l|^T + |b_l|,  Â_l = |a_l| + |f_l'|⊙Ẑ_l + ρ_l,
    ρ_l = 1 for the activations in TRANSCENDENTAL, whose usual formulas (1 - σ(-z),
    (1 + tanh(z/2))/2, log(1 + e^z)) are accurate to eps absolutely, not relatively; else 0.
    Output: D̂_L = r·κ(|a_L| + |y| + Ẑ_L) (κ = 1, 2, 2/K, 1 for half_sse, sse, mse, bce),
    r·((Σ_k|y_k|)(1 + max_k Ẑ_L) + |y|) for softmax_ce; r = 1 (sum) or 1/N (mean).
    Hidden:  D̂_l = (D̂_{l+1}|W_{l+1}|)⊙|f_l'| + (|δ_{l+1}||W_{l+1}|)⊙(1 + 2|f_l'|⊙Ẑ_l),
    the first term carrying the error of δ_{l+1}, the second the error of f_l' (computed
    from terms of size 1, e.g. a(1 - a), and moved by the error of z_l; |f''| <= 2|f'|).
    Scales: S(δ_l) = max D̂_l, S(W_l) = max D̂_l^T Â_{l-1}, S(b_l) = max Σ_n D̂_l
    (Σ_{n,k} when shared), S(E) = r Σ_n ŝ_n with ŝ the loss's own terms (:func:`_output_terms`).
    Constants of order one are left to the safety factor of :func:`rounding_rtol`.
    Overflow (parameters an implementation blew up) gives inf scales, without warnings.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        A, Z = _forward_terms(arch, params, x, ref)
        D, s = _backward_terms(arch, params, y, ref, Z)
        scale = {"loss": float(np.sum(s))}
        for layer in range(1, arch.depth + 1):
            terms = D[layer - 1]
            scale[f"delta.{layer}"] = float(terms.max())
            scale[f"grad.W{layer}"] = float((terms.T @ A[layer - 1]).max())
            if arch.bias == "per_unit":
                scale[f"grad.b{layer}"] = float(terms.sum(axis=0).max())
            elif arch.bias == "shared":
                scale[f"grad.b{layer}"] = float(terms.sum())
    return TermScales(scale, Z)


def _forward_terms(
    arch: Architecture, params: Params, x: np.ndarray, ref: mirror.Backprop
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """[Â_0..Â_L] and [Ẑ_1..Ẑ_L] of :func:`term_scales`."""
    A = [np.abs(x)]
    Z = []
    for layer in range(1, arch.depth + 1):
        bias = np.abs(params[f"b{layer}"]) if arch.bias != "none" else 0.0
        Z.append(A[-1] @ np.abs(params[f"W{layer}"]).T + bias)
        rounding = 1.0 if arch.activations[layer - 1] in TRANSCENDENTAL else 0.0
        A.append(np.abs(ref.a[layer - 1]) + np.abs(ref.derivative[layer - 1]) * Z[-1] + rounding)
    return A, Z


def _backward_terms(
    arch: Architecture,
    params: Params,
    y: np.ndarray,
    ref: mirror.Backprop,
    Z: list[np.ndarray],
) -> tuple[list[np.ndarray], np.ndarray]:
    """[D̂_1..D̂_L] and r·ŝ (N,) of :func:`term_scales`."""
    r = 1.0 / y.shape[0] if arch.reduction == "mean" else 1.0
    s, D_out = _output_terms(arch, ref, y, Z[-1])
    D = [np.empty(0)] * arch.depth
    D[-1] = r * D_out
    for layer in range(arch.depth - 1, 0, -1):
        W = np.abs(params[f"W{layer + 1}"])
        slope = np.abs(ref.derivative[layer - 1])
        carried = (D[layer] @ W) * slope
        moved = (np.abs(ref.delta[layer]) @ W) * (1.0 + 2.0 * slope * Z[layer - 1])
        D[layer - 1] = carried + moved
    return D, r * s


def _tolerance_reason(rtol: float, n: int, scale: float) -> str:
    return (
        f"float64 rounding: rtol = {SAFETY:g}·n·eps = {rtol:.3g} with n = {n} (Σ sizes + N); "
        f"atol = rtol × {scale:.3g}, the magnitude of the terms summed into this quantity"
    )


@dataclass
class Reference:
    """The mirror at one point (arch, params, batch): its pass, term scales, tolerance, and
    on demand its passes with the left and the right derivative at the kink entries."""

    arch: Architecture
    params: Params
    x: np.ndarray
    y: np.ndarray
    main: mirror.Backprop = field(init=False)
    scales: TermScales = field(init=False)
    rtol: float = field(init=False)
    kink_masks: tuple[np.ndarray | None, ...] = field(init=False)
    _sides: dict[str, mirror.Backprop] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.main = mirror.backprop(self.arch, self.params, self.x, self.y)
        self.scales = term_scales(self.arch, self.params, self.x, self.y, self.main)
        self.rtol = rounding_rtol(self.arch, self.x.shape[0])
        masks = []
        for layer, name in enumerate(self.arch.activations):
            if name in mirror.KINK_SLOPES:
                band = np.maximum(self.rtol * self.scales.z_terms[layer], KINK_FLOOR)
                at_kink = np.abs(self.main.z[layer]) <= band
                masks.append(at_kink if at_kink.any() else None)
            else:
                masks.append(None)
        self.kink_masks = tuple(masks)

    @property
    def n(self) -> int:
        """n = Σ sizes + N of :func:`rounding_rtol`."""
        return sum(self.arch.sizes) + self.x.shape[0]

    @property
    def has_kinks(self) -> bool:
        """True when some pre-activation of a ReLU layer lies within rounding of 0."""
        return any(mask is not None for mask in self.kink_masks)

    def side(self, side: str) -> mirror.Backprop:
        """The mirror with the ``side`` one-sided derivative at every kink entry."""
        if side not in self._sides:
            choice = mirror.KinkChoice(side, self.kink_masks)
            self._sides[side] = mirror.backprop(
                self.arch, self.params, self.x, self.y, kinks=choice
            )
        return self._sides[side]

    def kink_reason(self) -> str:
        """Which layers have pre-activations at the kink, for an ``inconclusive`` Finding."""
        places = [
            f"layer {layer} ({self.arch.activations[layer - 1]}, {int(mask.sum())} entries)"
            for layer, mask in enumerate(self.kink_masks, start=1)
            if mask is not None
        ]
        return (
            "pre-activations within rounding of 0 at a kink in " + ", ".join(places) + "; "
            "PyTorch takes relu'(0) = 0 and leaky_relu'(0) = 0.01, and every entry of the "
            "implementation lies between the results of the left and the right derivative"
        )


#: For a quantity: (value of a reference pass) -> reference array, used for the kink sides.
Pick = Callable[[mirror.Backprop], np.ndarray]


@dataclass(frozen=True)
class _Context:
    """What every Finding of one case shares."""

    case: Case
    impl_name: str

    def finding(self, quantity: str, verdict: str, reason: str, **fields: Any) -> Finding:
        return Finding(
            check=CHECK,
            case=self.case.case_id,
            quantity=quantity,
            verdict=verdict,
            reason=reason,
            seed=self.case.seed,
            impl=self.impl_name,
            **fields,
        )

    def fault(self, quantity: str, fault: Exception) -> Finding:
        return self.finding(quantity, "fail", str(fault), method=METHOD)

    def compare(
        self,
        quantity: str,
        impl: np.ndarray,
        ref: np.ndarray,
        *,
        rtol: float,
        atol: float,
        tolerance_reason: str,
    ) -> Finding:
        return tensor_finding(
            check=CHECK,
            case=self.case.case_id,
            quantity=quantity,
            impl=impl,
            ref=ref,
            rtol=rtol,
            atol=atol,
            tolerance_reason=tolerance_reason,
            method=METHOD,
            seed=self.case.seed,
            impl_name=self.impl_name,
        )


def _bracketed(
    impl: np.ndarray, left: np.ndarray, right: np.ndarray, rtol: float, atol: float
) -> bool:
    """Every entry of impl within [min(left, right), max(left, right)] ± the allowance."""
    allowance = atol + rtol * np.maximum(np.abs(left), np.abs(right))
    low = np.minimum(left, right) - allowance
    high = np.maximum(left, right) + allowance
    return bool(np.all((impl >= low) & (impl <= high)))


def _compare_quantity(
    context: _Context,
    reference: Reference,
    quantity: str,
    impl: np.ndarray,
    pick: Pick,
    scale: float | None = None,
) -> Finding:
    """Compare ``impl`` with ``pick`` of the reference pass under rtol and atol = rtol·scale
    (default scale: the term scale of ``quantity``). A fail on a case with kinks becomes
    ``inconclusive`` when the passes with the left and the right derivative at the kink
    bracket every entry of ``impl``."""
    if scale is None:
        scale = reference.scales.scale[quantity]
    rtol = reference.rtol
    finding = context.compare(
        quantity,
        impl,
        pick(reference.main),
        rtol=rtol,
        atol=rtol * scale,
        tolerance_reason=_tolerance_reason(rtol, reference.n, scale),
    )
    if finding.verdict == "fail" and reference.has_kinks:
        left, right = pick(reference.side("left")), pick(reference.side("right"))
        if _bracketed(np.asarray(impl, dtype=np.float64), left, right, rtol, rtol * scale):
            finding.verdict = "inconclusive"
            finding.reason = reference.kink_reason()
    if finding.verdict == "fail":
        finding.detail.update(_case_evidence(context.case))
    return finding


def _case_evidence(case: Case) -> dict[str, Any]:
    """What :mod:`manualbp.diagnosis` needs of a failing case besides the two tensors: the
    batch size N, the layer sizes (K outputs last), the loss and the reduction."""
    arch = case.arch
    return {
        "batch_size": case.batch_size,
        "sizes": list(arch.sizes),
        "loss": arch.loss,
        "reduction": arch.reduction,
    }


def _delta_evidence(case: Case, reference: Reference, layer: int) -> dict[str, Any]:
    """For a failing ``delta.l``: the activation and the reference z_l (N, n_l), and below the
    output what the recurrence δ_l = (δ_{l+1} W_{l+1}) ⊙ f'(z_l) multiplies: the reference
    δ_{l+1} (N, n_{l+1}), W_{l+1} (n_{l+1}, n_l) and W_l (n_l, n_{l-1}) (flat, C order)."""
    evidence: dict[str, Any] = {
        "activation": case.arch.activations[layer - 1],
        "z": compact_values(reference.main.z[layer - 1]),
    }
    if layer < case.arch.depth:
        evidence["delta_next"] = compact_values(reference.main.delta[layer])
        evidence["W_next"] = compact_values(case.params[f"W{layer + 1}"])
        evidence["W"] = compact_values(case.params[f"W{layer}"])
    return evidence


def _copy(params: Params) -> Params:
    return {key: np.array(value, copy=True) for key, value in params.items()}


def _loss_and_gradients(impl: object, context: _Context, reference: Reference) -> list[Finding]:
    """Findings for loss(), the loss from gradients() and every gradient. Unsupported
    (NotImplementedError) propagates: the whole case is skipped."""
    case = context.case
    findings = []
    try:
        value = as_loss(call(impl, "loss", case.arch, _copy(case.params), case.x, case.y))
        findings.append(
            _compare_quantity(
                context, reference, "loss", np.float64(np.real(value)), lambda b: np.float64(b.loss)
            )
        )
    except ImplementationFault as fault:
        findings.append(context.fault("loss()", fault))
    try:
        result = call(impl, "gradients", case.arch, _copy(case.params), case.x, case.y)
        value, grads = checked_gradients(case.arch, result)
    except ImplementationFault as fault:
        return [*findings, context.fault("gradients()", fault)]
    findings.append(
        _compare_quantity(
            context,
            reference,
            "loss.from_gradients",
            np.float64(value),
            lambda b: np.float64(b.loss),
            reference.scales.scale["loss"],
        )
    )
    for name in case.arch.param_names:
        findings.append(
            _compare_quantity(
                context, reference, f"grad.{name}", grads[name], lambda b, k=name: b.gradients[k]
            )
        )
    return findings


def _checked_deltas(arch: Architecture, n: int, result: Any) -> list[np.ndarray]:
    """The δ list of what ``intermediates()`` returned, or ImplementationFault."""
    deltas = result.get("delta") if isinstance(result, dict) else None
    if not isinstance(deltas, (list, tuple)) or len(deltas) != arch.depth:
        raise ImplementationFault(
            f"intermediates() returned no 'delta' list of {arch.depth} arrays "
            f"(got {type(result).__name__})"
        )
    checked = []
    for layer, delta in enumerate(deltas, start=1):
        array = np.asarray(delta)
        shape = (n, arch.sizes[layer])
        if array.shape != shape or array.dtype.kind not in "iuf":
            raise ImplementationFault(
                f"intermediates() delta[{layer - 1}] has shape {array.shape} and dtype "
                f"{array.dtype}, expected real {shape}"
            )
        if not np.all(np.isfinite(array)):
            raise ImplementationFault(f"intermediates() delta[{layer - 1}] contains NaN or inf")
        checked.append(array)
    return checked


def _delta_findings(impl: object, context: _Context, reference: Reference) -> list[Finding]:
    """One Finding per layer comparing δ_l = ∂E/∂z_l (``delta.l``)."""
    case = context.case
    try:
        result = call(impl, "intermediates", case.arch, _copy(case.params), case.x, case.y)
        deltas = _checked_deltas(case.arch, case.batch_size, result)
    except Unsupported as exc:
        return [context.finding("delta", "skipped", str(exc))]
    except ImplementationFault as fault:
        return [context.fault("intermediates()", fault)]
    findings = []
    for layer, delta in enumerate(deltas, start=1):
        finding = _compare_quantity(
            context, reference, f"delta.{layer}", delta, lambda b, i=layer - 1: b.delta[i]
        )
        if finding.verdict == "fail":
            finding.detail.update(_delta_evidence(case, reference, layer))
        findings.append(finding)
    return findings


def _finite(params: Params) -> bool:
    return all(np.all(np.isfinite(value)) for value in params.values())


def learning_rate(reference: Reference) -> float:
    """The step size of the trajectories: STEP_FRACTION·‖θ‖/‖∂E/∂θ‖ at most MAX_LR (MAX_LR
    when the gradient is 0), halved (up to MAX_HALVINGS times) until one step of the mirror
    does not increase the loss, so that θ moves visibly and five steps stay in float64."""
    arch, theta, grads = reference.arch, reference.params, reference.main.gradients
    norm_g = float(np.linalg.norm(flatten(arch, grads)))
    lr = MAX_LR
    if norm_g > 0.0:
        lr = min(MAX_LR, STEP_FRACTION * float(np.linalg.norm(flatten(arch, theta))) / norm_g)
    for _ in range(MAX_HALVINGS):
        trial = mirror.descend(theta, grads, lr)
        if _finite(trial) and mirror.loss(arch, trial, reference.x, reference.y) <= (
            reference.main.loss
        ):
            break
        lr /= 2.0
    return lr


def frozen_names(arch: Architecture) -> frozenset[str]:
    """What the second trajectory freezes: the biases (Mazur never updates them), or W1."""
    biases = frozenset(name for name in arch.param_names if name.startswith("b"))
    return biases or frozenset({"W1"})


def _step_findings(
    context: _Context,
    reference: Reference,
    theta_next: Params,
    lr: float,
    frozen: frozenset[str],
    prefix: str,
) -> list[Finding]:
    """Compare one step of the implementation with the mirror's step from the same point:
    θ - lr·g within the rounding of θ and of lr·g; a frozen parameter exactly unchanged."""
    findings = []
    for name in context.case.arch.param_names:
        quantity = f"{prefix}.{name}"
        if name in frozen:
            findings.append(
                context.compare(
                    quantity,
                    theta_next[name],
                    reference.params[name],
                    rtol=0.0,
                    atol=0.0,
                    tolerance_reason="a frozen parameter must come back unchanged, bit for bit",
                )
            )
            continue

        def pick(b: mirror.Backprop, k: str = name) -> np.ndarray:
            return mirror.descend({k: reference.params[k]}, {k: b.gradients[k]}, lr)[k]

        theta = reference.params[name]
        scale = float(np.max(np.abs(theta))) + lr * reference.scales.scale[f"grad.{name}"]
        finding = _compare_quantity(context, reference, quantity, theta_next[name], pick, scale)
        if finding.verdict == "fail":
            finding.detail["start"] = compact_values(theta)  # θ before the step, for Δθ
        findings.append(finding)
    return findings


def _summarise_trajectory(per_step: list[list[Finding]], detail: dict[str, Any]) -> list[Finding]:
    """Per parameter: the first failing step, else the first inconclusive one, else the last."""
    chosen = []
    for column in zip(*per_step, strict=True):
        pick = next((f for f in column if f.verdict == "fail"), None)
        pick = pick or next((f for f in column if f.verdict == "inconclusive"), column[-1])
        chosen.append(replace(pick, detail={**pick.detail, **detail}))
    return chosen


def _checked_step(arch: Architecture, result: Any) -> Params:
    """What ``step()`` returned as validated parameters, or ImplementationFault."""
    try:
        return check_params(arch, result)
    except ManualbpError as exc:
        raise ImplementationFault(f"step() returned bad parameters: {exc}") from None


def _changed_inputs(params: Params, case: Case, given: dict[str, Any]) -> list[str]:
    """Names of the inputs of a ``step()`` call that differ from what was passed in:
    parameters (``given["params"]``, copies of ``params``), ``x`` and ``y``."""
    changed = [
        name
        for name, value in params.items()
        if not np.array_equal(given["params"].get(name), value)
    ]
    changed += [extra for extra in given["params"] if extra not in params]
    return changed + [
        name for name in ("x", "y") if not np.array_equal(given[name], getattr(case, name))
    ]


def _trajectory(
    impl: object,
    context: _Context,
    start: Reference,
    lr: float,
    steps: int,
    frozen: frozenset[str],
    label: str,
) -> list[Finding]:
    """Run ``steps`` steps of the implementation from its own iterates, comparing each with
    the mirror's step from the same point; summarised by :func:`_summarise_trajectory`."""
    case = context.case
    reference = start
    per_step: list[list[Finding]] = []
    detail = {"lr": lr, "steps": steps, "frozen": sorted(frozen)}
    stop: Finding | None = None
    for k in range(1, steps + 1):
        if not (math.isfinite(reference.main.loss) and _finite(reference.main.gradients)):
            overflow = (
                f"the reference loss or gradient is not finite at the iterate before step {k}: "
                "the trajectory left the float64 range, nothing further to compare"
            )
            stop = context.finding(f"{label}{k}", "inconclusive", overflow, detail=detail)
            break
        given = {"params": _copy(reference.params), "x": case.x.copy(), "y": case.y.copy()}
        try:
            result = call(
                impl, "step", case.arch, given["params"], given["x"], given["y"], lr, frozen
            )
            theta = _checked_step(case.arch, result)
        except Unsupported as exc:
            return [context.finding(label, "skipped", str(exc), detail=detail)]
        except ImplementationFault as fault:
            stop = context.fault(f"{label}{k}", fault)
            break
        changed = _changed_inputs(reference.params, case, given)
        if changed:
            stop = context.finding(
                "inputs",
                "fail",
                f"step() changed {', '.join(changed)} in place; it must return new parameters "
                "and leave its inputs unchanged",
                detail=detail,
            )
            break
        per_step.append(_step_findings(context, reference, theta, lr, frozen, f"{label}{k}"))
        if k < steps:
            reference = Reference(case.arch, theta, case.x, case.y)
    summary = _summarise_trajectory(per_step, detail)
    return summary if stop is None else [*summary, stop]


def _trajectory_findings(
    impl: object, context: _Context, reference: Reference, options: AutogradOptions
) -> list[Finding]:
    """Two trajectories of ``options.steps`` steps: nothing frozen, then biases frozen."""
    if options.steps == 0:
        return []
    arch = context.case.arch
    lr = options.learning_rate or learning_rate(reference)
    findings = _trajectory(impl, context, reference, lr, options.steps, frozenset(), "step")
    findings += _trajectory(
        impl, context, reference, lr, options.steps, frozen_names(arch), "frozen_step"
    )
    return findings


def check_case(
    impl: object, case: Case, options: AutogradOptions | None = None, impl_name: str = ""
) -> list[Finding]:
    """Every Finding of the autograd check for one case (see the module docstring).

    An unsupported case gives one ``skipped`` Finding (quantity ``case``); anything the
    implementation raises or returns outside the protocol gives a ``fail`` Finding naming
    the call, and the other comparisons go on.
    """
    options = options or AutogradOptions()
    context = _Context(case, impl_name or implementation_name(impl))
    try:
        reason = unsupported_reason(impl, case.arch)
    except ImplementationFault as fault:
        return [context.fault("supports()", fault)]
    if reason is not None:
        return [context.finding("case", "skipped", reason)]
    reference = Reference(case.arch, case.params, case.x, case.y)
    try:
        findings = _loss_and_gradients(impl, context, reference)
    except Unsupported as exc:
        return [context.finding("case", "skipped", str(exc))]
    available = capabilities(impl)
    if available.intermediates:
        findings += _delta_findings(impl, context, reference)
    if available.step:
        findings += _trajectory_findings(impl, context, reference, options)
    return findings


def run(
    impl: object,
    cases: Iterable[Case],
    *,
    impl_name: str = "",
    options: AutogradOptions | None = None,
) -> Iterator[Finding]:
    """Yield the Findings of the autograd check for every case, one case at a time."""
    options = options or AutogradOptions()
    with mirror.threads(options.torch_threads):
        for case in cases:
            yield from check_case(impl, case, options, impl_name)


def has_failure(impl: object, case: Case, options: AutogradOptions | None = None) -> bool:
    """True when the autograd check reports a ``fail`` on ``case`` (the predicate that
    :func:`manualbp.strategies.shrink_failure` uses by default)."""
    options = options or AutogradOptions()
    with mirror.threads(options.torch_threads):
        return any(finding.verdict == "fail" for finding in check_case(impl, case, options))

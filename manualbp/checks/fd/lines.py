"""Derivatives along one line φ(t) = f(θ + t·u), their error bounds, and kink analysis.

Every finite-difference comparison reduces to a line: u = e_i for one parameter entry,
or a random unit direction. The implementation claims the slope φ'(0) = gᵀu.

Error model (:class:`ErrorModel`), all absolute, with κ a safety factor:

    ε_f   rounding noise of one evaluation of f (ECnoise, :func:`loss_noise`)
    γ     rounding of the gradient computation itself: γ = (N + Σ_l n_l)·eps, the length
          of the chain of inner products from the batch to the loss (Higham, "Accuracy and
          Stability of Numerical Algorithms", 2nd ed., §3.1: |fl(xᵀy) - xᵀy| <= γ_n |x|ᵀ|y|)
    G     the gradient's magnitude: max(|g|_∞, ε_f / (eps·max(1, |θ|_∞))), the second term
          being the loss's magnitude per unit of parameter (saturated layers have g ≈ 0)
    σ_g   the measured rounding noise of one gradient entry (ECnoise, :func:`gradient_noise`)
    E_g   = max(γ·G, 2·σ_g): the absolute rounding of g and of a reference computed as
          accurately (γ·G is the a-priori bound, 2·σ_g what large, cancelling intermediate
          values in deep saturated networks really cause)

The fourth-order central difference D(t) = [8(φ(t) - φ(-t)) - (φ(2t) - φ(-2t))] / (12t)
has truncation t⁴φ⁽⁵⁾/30 (usually negligible at t ~ cbrt(eps)) and round-off at most
1.5·ε/t, where ε = ε_f + (eps/2)·Σ_j |g_j θ_j| (over the entries u moves) also covers the
rounding of θ + t·u to floats. A slope s agrees with D(t) when

    |s - D(t)| <= κ·(γ·|D(t)| + E_g·|u|_1 + 1.5·ε/t).

A perturbation that crosses a non-differentiable point (ReLU at 0) breaks D(t), and steep
directions (large parameters of saturating networks) can leave a truncation error; a slope
that disagrees is re-examined at steps t/2, t/4, ... (:func:`examine`) while the allowance
stays below a quarter of the disagreement, so a wrong slope can never be accepted by a
noisier reference. Where no step agrees, the one-sided derivatives
F = (-3φ(0) + 4φ(t) - φ(2t)) / (2t) and B = (3φ(0) - 4φ(-t) + φ(-2t)) / (2t) decide: they
differ at a kink and agree where φ is smooth.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from manualbp.checks.fd.objective import CBRT_EPS

KINK_REASON = "perturbation crosses a non-differentiable point (ReLU kink)"
ROUGH_REASON = (
    "the implementation's loss is not smooth at these steps (its own formulas round in steps "
    "larger than the difference can resolve); finite differences cannot decide"
)
KINK_STENCIL_REASON = (
    "a kink of the network lies inside the difference stencil at every step fine enough to "
    "decide (a pre-activation changes sign between θ - 2t·u and θ + 2t·u, computed by the "
    "torch mirror); finite differences cannot decide this slope"
)
OVERFLOW_REASON = (
    "the implementation's loss is not finite at any step around this point (its formulas "
    "overflow there); finite differences cannot decide"
)

#: Each refinement divides the step by this factor (the fourth-order truncation then drops
#: 16x while the round-off allowance grows 2x).
REFINE_FACTOR = 2.0


@dataclass(frozen=True)
class ErrorModel:
    """ε_f (``noise``), γ (``rounding``), G (``scale``), σ_g (``gradient_noise``) and κ
    (``safety``) of one case."""

    noise: float
    rounding: float
    scale: float
    gradient_noise: float
    safety: float

    @property
    def gradient_error(self) -> float:
        """E_g = max(γ·G, 2·σ_g), the absolute rounding of a gradient entry."""
        return max(self.rounding * self.scale, 2.0 * self.gradient_noise)

    def allowance(
        self, ref: np.ndarray | float, step: np.ndarray | float, line_noise: Any, l1: float = 1.0
    ) -> Any:
        """κ·(γ·|ref| + E_g·|u|_1 + 1.5·ε/t) for the fourth-order central difference."""
        return self.safety * (
            self.rounding * np.abs(ref) + self.gradient_error * l1 + 1.5 * line_noise / step
        )

    def one_sided_allowance(self, step: float, line_noise: float) -> float:
        """κ·(E_g + 4·ε/t): the round-off of a three-point one-sided difference."""
        return self.safety * (self.gradient_error + 4.0 * line_noise / step)

    def describe(self) -> dict[str, float]:
        """The model's numbers, for a Finding's detail."""
        return {
            "loss_noise": self.noise,
            "gradient_rounding": self.rounding,
            "gradient_scale": self.scale,
            "gradient_noise": self.gradient_noise,
            "safety": self.safety,
        }


def central_steps(theta: np.ndarray) -> np.ndarray:
    """h_i = cbrt(eps)·max(|θ_i|, 1) (P,): round-off of θ_i ± h_i relative to h_i stays at
    eps^(2/3), and the truncation of the fourth-order formula, h⁴φ⁽⁵⁾/30, is below ~1e-21."""
    return CBRT_EPS * np.maximum(np.abs(theta), 1.0)


def stencil_offsets(step: float) -> np.ndarray:
    """The offsets (-2t, -t, t, 2t) of the five-point stencil (φ(0) is known)."""
    return np.array([-2.0, -1.0, 1.0, 2.0]) * step


def central(values: np.ndarray, step: Any) -> Any:
    """D(t) from φ at (-2t, -t, t, 2t) along the first axis of ``values`` (4, ...)."""
    m2, m1, p1, p2 = values
    return (8.0 * (p1 - m1) - (p2 - m2)) / (12.0 * step)


@dataclass(frozen=True)
class LineVerdict:
    """What :func:`examine` concluded about one slope.

    ``outcome``: ``agrees`` (with D at step ``step``), ``smooth`` (F ≈ B and s within their
    truncation: the fallback when D's own truncation is too large), ``one_sided`` (a kink,
    s matches F or B), ``kink`` (between F and B: inconclusive), ``kink_far`` (far outside
    [F, B]: fail), ``refuted`` (φ smooth at the finest decisive step and s off: fail),
    ``rough`` (F and B differ on a line through no kink: the loss itself is not smooth at
    these steps — rounding steps of the implementation's own formulas — so differences cannot
    decide: inconclusive), ``overflow`` (φ is not finite at any step around 0: inconclusive),
    ``kink_in_stencil`` (refuted, but kinks of the network lie inside the stencil of the
    finest decisive step and s is within the slopes φ takes across it: inconclusive).
    ``ref`` is the value s was compared with, ``allowance`` the bound it had to meet.
    """

    outcome: str
    ref: float
    step: float
    allowance: float
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        """The Finding verdict this outcome maps to."""
        return {
            "agrees": "pass",
            "smooth": "pass",
            "one_sided": "pass",
            "kink": "inconclusive",
            "kink_far": "fail",
            "refuted": "fail",
            "rough": "inconclusive",
            "overflow": "inconclusive",
            "kink_in_stencil": "inconclusive",
        }[self.outcome]


LineFunction = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class KinkCrossing:
    """Kinks of the network inside a difference stencil: which (``where``, a sentence) and
    the range [``low``, ``high``] of the exact slopes of φ across the stencil."""

    where: str
    low: float
    high: float


#: For a step t: the kinks inside the stencil ±2t and the slopes across it, or None.
KinkProbe = Callable[[float], KinkCrossing | None]


def examine(
    line: LineFunction,
    slope: float,
    f0: float,
    step: float,
    line_noise: float,
    model: ErrorModel,
    *,
    l1: float = 1.0,
    min_step: float = 0.0,
    levels: int = 30,
    kinked: bool = True,
    kinks: KinkProbe | None = None,
) -> LineVerdict:
    """Decide whether ``slope`` = φ'(0) for φ given by ``line`` (steps (M,) -> φ values).

    Level 0 uses ``step``; level k uses step/2^k, while its allowance stays below a quarter
    of the level-0 disagreement E (so it can tell s from the level-0 reference), at most
    ``levels`` times and never below ``min_step``. At each level s agreeing with D(t)
    decides ``agrees``, s matching one of two differing one-sided derivatives ``one_sided``.
    Otherwise the step is halved (a kink within 2t or a truncation error may go away) until
    the reference stops moving (two ``refuted`` levels whose D(t) differ by less than the
    allowance: halving the step changes nothing but round-off), a kink can no longer be
    told from round-off, or no decisive step is left; the finest level's verdict stands.

    A step at which φ is not finite (a perturbation that overflows the implementation's
    formulas) is halved before anything is compared (``overflow`` when no finite step is
    left). ``kinked`` says whether the line can cross a kink at all (the network has a ReLU):
    when it cannot, one-sided derivatives that differ mean a rough loss (``rough``).
    ``kinks(t)`` finds the kinks inside the stencil ±2t: a ``refuted`` slope whose finest
    stencil crosses some, and which lies within the range of φ's exact slopes across that
    stencil, is ``kink_in_stencil`` (φ was not smooth there: many units of a shared bias 1e-8
    from their kinks bend φ too little for F and B to show it). A slope outside that range
    stays ``refuted``: no kink explains it.
    """
    start = _finite_step(line, step, min_step, levels)
    if start is None:
        return LineVerdict("overflow", math.nan, step, math.inf, {"step": step})
    step = start

    def level(t: float) -> LineVerdict:
        values = line(stencil_offsets(t))
        d = float(central(values, t))
        allowed = float(model.allowance(d, t, line_noise, l1))
        if abs(slope - d) <= allowed:
            return LineVerdict("agrees", d, t, allowed, {"step": t, "central": d})
        m2, m1, p1, p2 = values
        finest = {
            "step": t,
            "central": d,
            "forward": float((-3.0 * f0 + 4.0 * p1 - p2) / (2.0 * t)),
            "backward": float((3.0 * f0 - 4.0 * m1 + m2) / (2.0 * t)),
            "central_allowance": allowed,
        }
        return _one_sided(slope, finest, model.one_sided_allowance(t, line_noise))

    verdict = level(step)
    disagreement = abs(slope - verdict.detail["central"])
    for k in range(1, levels + 1):
        t = step / REFINE_FACTOR**k
        if verdict.outcome in ("agrees", "one_sided") or t < min_step:
            break
        if model.allowance(slope, t, line_noise, l1) > disagreement / 4.0:
            break
        width = abs(verdict.detail["forward"] - verdict.detail["backward"])
        if verdict.outcome.startswith("kink") and (
            model.one_sided_allowance(t, line_noise) > width / 4.0
        ):
            break  # the next step could no longer resolve this kink from round-off
        previous, verdict = verdict, level(t)
        moved = abs(verdict.detail["central"] - previous.detail["central"])
        if verdict.outcome == previous.outcome == "refuted" and moved <= verdict.allowance:
            break
    verdict.detail["kinked"] = kinked
    if not kinked and verdict.outcome in ("one_sided", "kink"):
        return replace(verdict, outcome="rough")
    if verdict.outcome == "refuted" and kinked and kinks is not None:
        crossing = kinks(verdict.step)
        if crossing is not None and (
            crossing.low - verdict.allowance <= slope <= crossing.high + verdict.allowance
        ):
            detail = {
                **verdict.detail,
                "kink_in_stencil": crossing.where,
                "stencil_slopes": [crossing.low, crossing.high],
            }
            return replace(verdict, outcome="kink_in_stencil", detail=detail)
    return verdict


def _finite_step(line: LineFunction, step: float, min_step: float, levels: int) -> float | None:
    """The largest of step, step/2, ... (at most ``levels`` halvings, not below
    ``min_step``) at which φ is finite on the whole stencil, or None."""
    for _ in range(levels + 1):
        if np.all(np.isfinite(line(stencil_offsets(step)))):
            return step
        step /= REFINE_FACTOR
        if step < min_step:
            return None
    return None


def _one_sided(slope: float, finest: dict[str, float], allowed: float) -> LineVerdict:
    """The verdict at one step from the one-sided derivatives F and B (s disagrees with D).

    Where φ is smooth, F and B carry a truncation error of about
    τ = |D - (F + B)/2| = t²|φ'''|/3 (D is fourth-order, (F + B)/2 second-order); at a kink
    on the point τ ≈ 0. With A = κ·(E_g + 4ε/t) + 2τ: F and B within 2A of each other mean
    φ is smooth at this step, and s within A of them is ``smooth`` (else ``refuted``); F and B
    apart mean a kink: s within A of one of them is ``one_sided``, between them ``kink``
    (inconclusive), farther outside [F, B] than the interval is wide ``kink_far`` (fail).
    """
    forward, backward = finest["forward"], finest["backward"]
    truncation = abs(finest["central"] - 0.5 * (forward + backward))
    allowed += 2.0 * truncation
    detail = dict(finest, one_sided_allowance=allowed, one_sided_truncation=truncation)
    low, high = min(forward, backward), max(forward, backward)
    width = high - low
    smooth = width <= 2.0 * allowed
    nearest = forward if abs(slope - forward) <= abs(slope - backward) else backward
    if abs(slope - nearest) <= allowed:
        outcome = "smooth" if smooth else "one_sided"
        return LineVerdict(outcome, nearest, finest["step"], allowed, detail)
    if smooth:
        return LineVerdict(
            "refuted", finest["central"], finest["step"], finest["central_allowance"], detail
        )
    outside = max(low - slope, slope - high, 0.0)
    outcome = "kink_far" if outside > width + allowed else "kink"
    return LineVerdict(outcome, nearest, finest["step"], allowed, detail)

"""Options of the finite-difference check and what each of its methods needs for one case."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from manualbp import torch_mirror as mirror
from manualbp.case import Case
from manualbp.checks.fd.lines import ErrorModel, KinkCrossing, KinkProbe
from manualbp.checks.fd.objective import EPS, Objective
from manualbp.errors import UsageError
from manualbp.facts import ACTIVATION_FACTS
from manualbp.findings import Finding
from manualbp.params import flatten, unflatten

#: Every method, in the order a case runs them.
METHODS: tuple[str, ...] = ("consistency", "central", "complex_step", "directional", "taylor")
#: Methods that look at every parameter entry (replaced by "directional" above the threshold).
ELEMENTWISE: tuple[str, ...] = ("central", "complex_step")


@dataclass(frozen=True)
class FDOptions:
    """What the finite-difference check runs and how.

    methods: among :data:`METHODS`; ``central`` and ``complex_step`` check every entry
    (``complex_step`` only when the implementation declares ``supports_complex``) and give
    way to ``directional`` when the case has more than ``max_elementwise`` parameters.
    directions: K random unit directions of the directional method (cost O(K), whatever P).
    seed: seeds the random directions together with the case's seed.
    safety: κ, the factor between each method's error estimate and its allowance.
    refine_levels: how many times a disagreeing slope is re-examined at a halved step.
    taylor_steps: steps h_0·4^-k, k = 0..taylor_steps-1, of the Taylor-remainder ladder.
    taylor_margin: the remainder counts only where it exceeds this multiple of its
    round-off 2·ε_f.
    nondet_tol: absolute difference allowed between two gradients() calls on top of their
    rounding allowance κ(γ|g| + E_g) (0 by default; an implementation that is random by
    design can be given more).
    blas_threads: OpenBLAS threads while a case of at most ``max_elementwise`` parameters is
    checked (its products are small; see :mod:`.threads`); None leaves them as they are.
    """

    methods: tuple[str, ...] = ("consistency", "central", "complex_step", "taylor")
    max_elementwise: int = 5000
    directions: int = 8
    seed: int = 0
    safety: float = 10.0
    refine_levels: int = 30
    taylor_steps: int = 14
    taylor_margin: float = 100.0
    nondet_tol: float = 0.0
    blas_threads: int | None = 1

    def __post_init__(self) -> None:
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown or not self.methods:
            raise UsageError(
                f"methods: got {', '.join(map(str, self.methods)) or 'nothing'}, expected "
                f"some of {', '.join(METHODS)}"
            )
        for name, low in (
            ("max_elementwise", 0),
            ("directions", 1),
            ("refine_levels", 0),
            ("taylor_steps", 4),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise UsageError(f"{name}: got {value!r}, expected an integer >= {low}")
        for name in ("safety", "taylor_margin"):
            if not getattr(self, name) >= 1.0:
                raise UsageError(f"{name}: got {getattr(self, name)!r}, expected a number >= 1")
        threads = self.blas_threads
        if threads is not None and (
            isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
        ):
            raise UsageError(f"blas_threads: got {threads!r}, expected an integer >= 1 or None")
        if not self.nondet_tol >= 0.0:
            raise UsageError(f"nondet_tol: got {self.nondet_tol!r}, expected a number >= 0")

    def planned(self, n_params: int, complex_capable: bool) -> tuple[str, ...]:
        """The methods to run on a case with ``n_params`` parameters, in :data:`METHODS` order."""
        chosen = set(self.methods)
        if n_params > self.max_elementwise and chosen & set(ELEMENTWISE):
            chosen = (chosen - set(ELEMENTWISE)) | {"directional"}
        if not complex_capable:
            chosen.discard("complex_step")
        return tuple(m for m in METHODS if m in chosen)


def relative_error(error: float, ref: float) -> float:
    """|impl - ref| / |ref|, as findings.compare reports it: 0 when exact, inf when ref = 0."""
    if error == 0:
        return 0.0
    return error / abs(ref) if ref else float("inf")


def gradient_rounding(case: Case) -> float:
    """γ = (N + Σ_l n_l)·eps: the rounding of the gradient computation (see fd.lines)."""
    return EPS * (case.batch_size + sum(case.arch.sizes))


@dataclass
class CaseContext:
    """One case under check: its objective f, f(θ), the gradient g and the error model.

    ``noise`` is ε_f (:func:`~manualbp.checks.fd.objective.loss_noise`), ``gradient_noise``
    σ_g (:func:`~manualbp.checks.fd.objective.gradient_noise`); the error model adds γ
    (:func:`gradient_rounding`) and G = max(|g|_∞, ε_f / (eps·max(1, |θ|_∞))).
    """

    case: Case
    impl_name: str
    options: FDOptions
    objective: Objective
    f0: float
    grads: dict[str, np.ndarray]
    noise: float
    gradient_noise: float
    rng: np.random.Generator
    measured_noise: float = 0.0
    g: np.ndarray = field(init=False)
    model: ErrorModel = field(init=False)

    def __post_init__(self) -> None:
        self.g = flatten(self.case.arch, self.grads).astype(np.float64)
        theta_scale = max(1.0, float(np.max(np.abs(self.objective.theta), initial=0.0)))
        scale = max(float(np.max(np.abs(self.g), initial=0.0)), self.noise / (EPS * theta_scale))
        self.model = ErrorModel(
            noise=self.noise,
            rounding=gradient_rounding(self.case),
            scale=scale,
            gradient_noise=self.gradient_noise,
            safety=self.options.safety,
        )

    @property
    def relative_noise(self) -> float:
        """ρ = the measured noise of the loss relative to its value: the relative error of a
        loss computed through cancelling formulas, which its complex-step derivative
        inherits (0 for a loss computed to rounding)."""
        if self.measured_noise <= 0.0 or self.f0 == 0.0:
            return 0.0
        return min(1.0, self.measured_noise / abs(self.f0))

    @property
    def kinked(self) -> bool:
        """True when some layer's activation has a kink (a perturbation may cross it)."""
        return any(ACTIVATION_FACTS[name].has_kink for name in self.case.arch.activations)

    def kinks(self, direction: np.ndarray) -> KinkProbe:
        """The kinks inside the stencil θ ± 2t·u of ``direction`` u (P,), for a step t: the
        units of layers with a kink whose pre-activation z changes sign between θ - 2t·u, θ
        and θ + 2t·u, and the range of the exact slopes ∇f·u at nine points across the
        stencil — both from the torch mirror, which only locates kinks here: it never passes
        a slope, it tells a slope no kink explains from one that kinks make undecidable."""
        arch, case = self.case.arch, self.case
        layers = [i for i, name in enumerate(arch.activations) if ACTIVATION_FACTS[name].has_kink]

        def at(offset: float) -> mirror.Backprop:
            theta = self.objective.theta + offset * direction
            return mirror.backprop(arch, unflatten(arch, theta), case.x, case.y)

        def probe(step: float) -> KinkCrossing | None:
            points = [at(k * step / 2.0) for k in range(-4, 5)]
            centre, ends = points[4], (points[0], points[-1])
            for i in layers:
                sign = np.sign(centre.z[i])
                flips = (np.sign(ends[0].z[i]) != sign) | (np.sign(ends[1].z[i]) != sign)
                if np.any(flips):
                    slopes = [float(flatten(arch, p.gradients) @ direction) for p in points]
                    where = (
                        f"{int(np.count_nonzero(flips))} unit(s) of layer {i + 1} "
                        f"({arch.activations[i]}) cross z = 0 within ±{2 * step:.2g}, the "
                        f"nearest at |z| = {float(np.min(np.abs(centre.z[i][flips]))):.2g}"
                    )
                    return KinkCrossing(where, min(slopes), max(slopes))
            return None

        return probe

    def finding(self, **fields: Any) -> Finding:
        """A Finding of check ``fd`` labelled with this case, its seed and the implementation."""
        return Finding(
            check="fd", case=self.case.case_id, seed=self.case.seed, impl=self.impl_name, **fields
        )

    def tensors(self) -> Iterator[tuple[str, slice, tuple[int, ...]]]:
        """(name, slice of θ, shape) for every parameter, in order W1, b1, W2, ..."""
        return self.objective.tensors()

    def line_noise(self, moved: slice) -> float:
        """ε = ε_f + (eps/2)·Σ_j |g_j θ_j| over the entries a perturbation moves (fd.lines)."""
        theta = self.objective.theta
        return self.model.noise + 0.5 * EPS * float(np.sum(np.abs(self.g[moved] * theta[moved])))

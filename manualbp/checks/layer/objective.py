"""φ(θ) = ⟨dout, f(θ)⟩ of a layer case and the error model of its finite differences.

:class:`Phi` evaluates the layer's forward at moved arrays (fresh state each time, through
:func:`~manualbp.checks.layer.calls.forward`); :func:`error_model` measures ε_f and σ_g and
builds the :class:`~manualbp.checks.fd.lines.ErrorModel` of the case (the formulas are in
:mod:`manualbp.checks.layer.fd`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from manualbp.checks.fd.lines import ErrorModel
from manualbp.checks.fd.objective import EPS, ecnoise, unit_direction
from manualbp.checks.layer.calls import LayerSubject, Result, forward, vjp
from manualbp.checks.layer.space import LayerCase

#: ECnoise probe: 9 points spaced δ = 2^-40·max(1, |θ|_∞), along NOISE_DIRECTIONS directions.
NOISE_SPACING = 2.0**-40
NOISE_DIRECTIONS = 3
#: A gradient entry moving by more than this fraction of the gradient's scale between two
#: probe points (2^-40 apart) jumped across a kink: far beyond any rounding noise.
JUMP = 1e-6


class Phi:
    """φ(θ) = ⟨dout, f(θ)⟩ of one case: θ (P,) the arrays flattened in calling order."""

    def __init__(self, subject: LayerSubject, case: LayerCase, dout: np.ndarray) -> None:
        self.subject, self.case, self.dout = subject, case, dout
        self.names = subject.arrays
        self.shapes = {name: case.values[name].shape for name in self.names}
        self.slices, start = {}, 0
        for name in self.names:
            size = case.values[name].size
            self.slices[name] = slice(start, start + size)
            start += size
        self.theta = np.concatenate([case.values[name].ravel() for name in self.names])

    def values(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        """The arrays of θ in their shapes."""
        return {name: theta[self.slices[name]].reshape(self.shapes[name]) for name in self.names}

    def __call__(self, thetas: np.ndarray) -> np.ndarray:
        """φ at each row of ``thetas`` (M, P) -> (M,)."""
        return np.array(
            [
                float(np.sum(self.dout * forward(self.subject, self.case, self.values(t))))
                for t in thetas
            ]
        )

    def along(self, direction: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """φ(θ + t·v) for every offset t (M,)."""
        return self(self.theta[None, :] + offsets[:, None] * direction[None, :])


def _measured_noise(
    phi: Phi, f0: float, base: Result, rng: np.random.Generator
) -> tuple[float, float]:
    """(ε_f, σ_g): ECnoise of φ along 3 directions (floored at eps·max(|φ|, 1)) and the
    largest ECnoise of an entry of backward along one direction, leaving out the entries
    that jump along the probe (a step larger than JUMP of the gradient's scale: the probe
    crossed a kink, relu at 0 or a max tie, and a jump is not rounding noise)."""
    delta = NOISE_SPACING * max(1.0, float(np.max(np.abs(phi.theta), initial=0.0)))
    offsets = (np.arange(9) - 4) * delta
    size = phi.theta.size
    sigmas = [
        float(ecnoise(phi.along(unit_direction(rng, size), offsets)))
        for _ in range(NOISE_DIRECTIONS)
    ]
    noise = max(float(np.median(sigmas)), EPS * max(abs(f0), 1.0))
    u = unit_direction(rng, size)
    names = list(base.grads)
    gradients = []
    for t in offsets:
        grads = vjp(phi.subject, phi.case, phi.values(phi.theta + t * u), phi.dout).grads
        gradients.append(np.concatenate([np.ravel(grads[name]) for name in names]))
    samples = np.stack(gradients)
    steps = np.max(np.abs(np.diff(samples, axis=0)), axis=0, initial=0.0)
    smooth = steps <= JUMP * max(1.0, float(np.max(np.abs(samples), initial=0.0)))
    return noise, float(np.max(ecnoise(samples[:, smooth]), initial=0.0))


def coordinate_line(phi: Phi, index: int) -> Callable[[np.ndarray], np.ndarray]:
    """φ along coordinate ``index``: offsets (M,) -> φ(θ + t·e_index) (M,)."""

    def line(offsets: np.ndarray) -> np.ndarray:
        direction = np.zeros_like(phi.theta)
        direction[index] = 1.0
        return phi.along(direction, offsets)

    return line


@dataclass
class CaseModel:
    """The error model of one case and the gradients it judges (flat, in θ's order)."""

    model: ErrorModel
    g: np.ndarray
    f0: float


def error_model(phi: Phi, base: Result, valid: list[str], safety: float) -> CaseModel:
    """ε_f, γ, G and σ_g of the case (:mod:`manualbp.checks.layer.fd`); g holds the right-shaped
    gradients (0 where a gradient has the wrong shape: it is compared separately)."""
    g = np.zeros_like(phi.theta)
    for name in valid:
        g[phi.slices[name]] = base.grads[f"d{name}"].ravel()
    f0 = float(np.sum(phi.dout * base.out))
    noise, gradient_noise = _measured_noise(
        phi, f0, base, np.random.default_rng((phi.case.seed, 4))
    )
    largest = max(value.size for value in phi.values(phi.theta).values())
    theta_scale = max(1.0, float(np.max(np.abs(phi.theta), initial=0.0)))
    model = ErrorModel(
        noise=noise,
        rounding=EPS * (base.out.size + largest),
        scale=max(float(np.max(np.abs(g), initial=0.0)), noise / (EPS * theta_scale)),
        gradient_noise=gradient_noise,
        safety=safety,
    )
    return CaseModel(model, g, f0)


def numbers(model: ErrorModel) -> str:
    """κ, ε_f, γ and E_g of a model, for a tolerance reason."""
    return (
        f"κ={model.safety:g} ε_f={model.noise:.2g} γ={model.rounding:.2g} "
        f"E_g={model.gradient_error:.2g}"
    )

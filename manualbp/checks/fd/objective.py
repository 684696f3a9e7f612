"""The loss as a function of the flat parameter vector θ, and the noise of its evaluation.

Every finite-difference method looks at one function, f(θ) = loss(arch, unflatten(θ), x, y),
evaluated through the implementation's own ``loss`` (see :mod:`manualbp.protocol`). Every
perturbed evaluation goes through :meth:`Objective.losses`, which takes a block of parameter
vectors, unless the implementation offers the optional ``perturbed_losses`` (coordinate
perturbations θ + t·e_i, sent a tensor at a time) or ``losses_along`` (steps along one
direction): those take whole blocks in one call (one vectorised forward pass from the
perturbed layer up, in the engine), until one raises NotImplementedError for the case.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from manualbp.architecture import Architecture
from manualbp.case import Case
from manualbp.params import flatten, param_table, unflatten
from manualbp.protocol import (
    ImplementationFault,
    Unsupported,
    as_loss,
    call,
    capabilities,
    checked_gradients,
    checked_losses,
)

EPS = float(np.finfo(np.float64).eps)
#: cbrt(eps): the step of a central difference that balances truncation and round-off.
CBRT_EPS = float(np.cbrt(EPS))

#: Rows per block of perturbed parameter vectors (bounds memory at BLOCK_ROWS·P numbers).
BLOCK_ROWS = 256
#: Perturbations per ``perturbed_losses`` or ``losses_along`` call (the implementation
#: bounds its own memory).
BATCH_ROWS = 4096


def _read_only(array: np.ndarray) -> np.ndarray:
    frozen = np.array(array, copy=True)
    frozen.flags.writeable = False
    return frozen


class Objective:
    """f(θ) for one case and one implementation; θ (P,) is the case's flattened parameters.

    x and y are passed read-only, and each evaluation gets fresh parameter arrays, so an
    implementation cannot change the case by writing into what it is given.
    """

    def __init__(self, impl: object, case: Case) -> None:
        self.impl = impl
        self.arch = case.arch
        self.theta = flatten(case.arch, case.params).astype(np.float64)
        self.x = _read_only(case.x)
        self.y = _read_only(case.y)
        self._tensors = _tensor_table(case.arch)
        offered = capabilities(impl)
        #: The batched protocol methods in use: dropped when one raises NotImplementedError.
        self.batched = {
            method
            for method, present in (
                ("perturbed_losses", offered.perturbed_losses),
                ("losses_along", offered.losses_along),
            )
            if present
        }

    @property
    def size(self) -> int:
        """P, the number of scalar parameters."""
        return int(self.theta.shape[0])

    def value(self, theta: np.ndarray, finite: bool = True) -> float | complex:
        """f(θ) for one vector θ (P,); complex θ must give a complex value (complex step).

        ``finite``: a non-finite value is an ImplementationFault (the case's own point);
        otherwise (a perturbed point) it is returned, for the method to judge: an overflow
        of a perturbation is an artefact of the method, not a fault of the implementation.
        """
        params = unflatten(self.arch, np.array(theta, copy=True))
        number = as_loss(call(self.impl, "loss", self.arch, params, self.x, self.y), "loss", finite)
        if np.iscomplexobj(theta):
            if not isinstance(number, complex):
                raise ImplementationFault(
                    f"loss() returned {number!r} for complex parameters, expected a complex "
                    "value (the implementation declares supports_complex)"
                )
            if finite and not (math.isfinite(number.real) and math.isfinite(number.imag)):
                raise ImplementationFault(f"loss() returned {number!r}, expected a finite value")
            return number
        return float(np.real(number))

    def gradient(self, theta: np.ndarray) -> np.ndarray:
        """g(θ) (P,): the implementation's gradients() at θ (P,), validated and flattened."""
        params = unflatten(self.arch, np.array(theta, copy=True))
        x, y = np.array(self.x, copy=True), np.array(self.y, copy=True)
        result = call(self.impl, "gradients", self.arch, params, x, y)
        grads = checked_gradients(self.arch, result)[1]
        return flatten(self.arch, grads).astype(np.float64, copy=False)

    def tensors(self) -> Iterator[tuple[str, slice, tuple[int, ...]]]:
        """(name, slice of θ, shape) for every parameter, in order W1, b1, W2, ..."""
        return iter(self._tensors)

    def losses(self, thetas: np.ndarray) -> np.ndarray:
        """[f(θ_1), ..., f(θ_M)] for a block of parameter vectors ``thetas`` (M, P) -> (M,).

        One ``loss`` call per vector: what :meth:`along` and :meth:`coordinates` fall back on
        when the implementation offers no batched method for them. Perturbed values may be
        non-finite (see :meth:`value`).
        """
        dtype = np.complex128 if np.iscomplexobj(thetas) else np.float64
        return np.array([self.value(row, finite=False) for row in thetas], dtype=dtype)

    def point(self, direction: np.ndarray, step: float | complex) -> np.ndarray:
        """θ + t·u (P,) for a direction u (P,) and a real or complex step t."""
        return self.theta + step * direction

    def along(self, direction: np.ndarray, steps: np.ndarray) -> np.ndarray:
        """f(θ + t_m·u) for every step t_m (M,) along one direction u (P,) -> (M,)."""
        steps = np.asarray(steps)
        moved = {
            name: direction[part].reshape(shape).copy()
            for name, part, shape in self.tensors()
            if np.any(direction[part])
        }
        if "losses_along" in self.batched and moved:
            try:
                return np.concatenate(
                    [
                        self._batched_call("losses_along", moved, block)
                        for block in _blocks(steps, BATCH_ROWS)
                    ]
                )
            except Unsupported:
                self.batched.discard("losses_along")
        return np.concatenate(
            [
                self.losses(np.stack([self.point(direction, t) for t in block]))
                for block in _blocks(steps, BLOCK_ROWS)
            ]
        )

    def coordinates(self, index: np.ndarray, steps: np.ndarray) -> np.ndarray:
        """f(θ + t_m·e_{i_m}) for coordinate indices i (M,) and steps t (M,) -> (M,)."""
        index = np.asarray(index)
        steps = np.asarray(steps)
        if "perturbed_losses" in self.batched:
            try:
                return self._perturbed(index, steps)
            except Unsupported:
                self.batched.discard("perturbed_losses")
        dtype = np.result_type(self.theta, steps)
        values = []
        for start in range(0, index.shape[0], BLOCK_ROWS):
            rows = np.arange(start, min(start + BLOCK_ROWS, index.shape[0]))
            block = np.tile(self.theta.astype(dtype), (rows.shape[0], 1))
            block[np.arange(rows.shape[0]), index[rows]] += steps[rows]
            values.append(self.losses(block))
        return np.concatenate(values) if values else np.empty(0)

    def _perturbed(self, index: np.ndarray, steps: np.ndarray) -> np.ndarray:
        """:meth:`coordinates` through ``impl.perturbed_losses``, one tensor at a time."""
        complex_steps = np.iscomplexobj(steps)
        values = np.empty(index.shape[0], dtype=np.complex128 if complex_steps else np.float64)
        for name, part, _ in self.tensors():
            rows = np.flatnonzero((index >= part.start) & (index < part.stop))
            for start in range(0, rows.shape[0], BATCH_ROWS):
                block = rows[start : start + BATCH_ROWS]
                where = index[block] - part.start
                values[block] = self._batched_call("perturbed_losses", name, where, steps[block])
        return values

    def _batched_call(self, method: str, *perturbation: Any) -> np.ndarray:
        """``impl.method(arch, fresh params, x, y, *perturbation, steps)``, checked (M,)."""
        params = unflatten(self.arch, np.array(self.theta, copy=True))
        steps = perturbation[-1]
        result = call(self.impl, method, self.arch, params, self.x, self.y, *perturbation)
        return checked_losses(result, steps.shape[0], np.iscomplexobj(steps), method)


def _tensor_table(arch: Architecture) -> tuple[tuple[str, slice, tuple[int, ...]], ...]:
    """(name, slice of θ, shape) of every parameter, in the order :func:`flatten` lays θ out."""
    table, start = [], 0
    for name, shape, count in param_table(arch):
        table.append((name, slice(start, start + count), shape))
        start += count
    return tuple(table)


def _blocks(steps: np.ndarray, rows: int) -> Iterator[np.ndarray]:
    for start in range(0, steps.shape[0], rows):
        yield steps[start : start + rows]


def unit_direction(rng: np.random.Generator, size: int) -> np.ndarray:
    """A random direction uniform on the unit sphere in R^size (a normalised Gaussian)."""
    v = rng.standard_normal(size)
    return v / np.linalg.norm(v)


#: ECnoise settings: points per direction (m + 1 = 9), difference order k = 4, directions.
NOISE_POINTS = 9
NOISE_ORDER = 4
NOISE_DIRECTIONS = 3
#: Spacing δ of the noise probe relative to max(1, |θ|_∞): the smooth part of the 4th
#: differences (δ⁴·f'''' ~ 1e-48) vanishes, the 9 points still differ by hundreds of ulps,
#: and the probe (8δ ~ 7e-12 long) stays clear of kinks unless a pre-activation is within
#: ~1e-11 of one (a crossed kink inflates the estimate by about |slope jump|·δ).
NOISE_SPACING = 2.0**-40


def _probe_offsets(objective: Objective) -> np.ndarray:
    """The 9 offsets jδ, j = -4..4, of a noise probe (δ = NOISE_SPACING·max(1, |θ|_∞))."""
    delta = NOISE_SPACING * max(1.0, float(np.max(np.abs(objective.theta), initial=0.0)))
    return (np.arange(NOISE_POINTS) - NOISE_POINTS // 2) * delta


def ecnoise(values: np.ndarray) -> np.ndarray:
    """σ = sqrt(γ_4 · mean((Δ⁴v)²)) along axis 0 of ``values`` (9, ...) -> (...).

    ECnoise's estimate (Moré & Wild, "Estimating computational noise", SIAM J. Sci.
    Comput. 33(3), 2011) of the standard deviation of the rounding noise of a function
    sampled at 9 equally spaced points; k = 4 differences, γ_4 = (4!)²/8! = 1/70.
    """
    gamma = math.factorial(NOISE_ORDER) ** 2 / math.factorial(2 * NOISE_ORDER)
    differences = np.diff(values, n=NOISE_ORDER, axis=0)
    return np.sqrt(gamma * np.mean(differences**2, axis=0))


#: The coarse spacing of the noise probe, relative to the central difference's step: a loss
#: computed through cancelling formulas (log(1 - σ(z)) of a saturated unit) rounds in steps
#: that a probe 2^-40 long never crosses but a central difference does.
COARSE_SPACING = CBRT_EPS / 16.0


def loss_noise(objective: Objective, f0: float, rng: np.random.Generator) -> tuple[float, float]:
    """(ε_f, measured): the absolute rounding noise of one evaluation of f near θ.

    :func:`ecnoise` of f at θ + jδu along 3 random unit directions u, at two spacings — δ
    (:data:`NOISE_SPACING`, the rounding of the formulas at one point) and δ' =
    :data:`COARSE_SPACING`·max(1, |θ|_∞) (the rounding steps a central difference crosses) —
    the larger of the two per direction, the median of the three directions (``measured``,
    directions whose probe overflows left out); ε_f is that floored at eps·max(|f(θ)|, 1),
    the rounding of the value itself (a loss made of O(1) targets and outputs cannot be
    resolved more finely).
    """
    fine = _probe_offsets(objective)
    coarse = fine / NOISE_SPACING * COARSE_SPACING
    sigmas = []
    for _ in range(NOISE_DIRECTIONS):
        values = objective.along(
            unit_direction(rng, objective.size), np.concatenate([fine, coarse])
        )
        sigmas.append(
            max(float(ecnoise(values[:NOISE_POINTS])), float(ecnoise(values[NOISE_POINTS:])))
        )
    finite = [sigma for sigma in sigmas if math.isfinite(sigma)]
    measured = float(np.median(finite)) if finite else 0.0
    return max(measured, EPS * max(abs(f0), 1.0)), measured


def gradient_noise(objective: Objective, rng: np.random.Generator) -> float:
    """σ_g, the largest rounding noise of one gradient entry near θ (9 gradients() calls).

    :func:`ecnoise` of every entry of g(θ + jδu) along one random unit direction u, the
    largest over the entries. Deep networks with large intermediate values round their
    gradients far more than eps·|g| (cancelling inner products); this measures it.
    """
    u = unit_direction(rng, objective.size)
    values = np.stack(
        [objective.gradient(objective.point(u, t)) for t in _probe_offsets(objective)]
    )
    return float(np.max(ecnoise(values), initial=0.0))

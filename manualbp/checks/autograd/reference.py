"""The reference of one case: the torch mirror's pass, its term scales, and its ReLU kinks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from manualbp import torch_mirror as mirror
from manualbp.architecture import Architecture
from manualbp.checks.autograd.tolerance import TermScales, rounding_rtol, term_scales
from manualbp.params import Params

#: Pre-activations smaller than this are at the kink whatever their rounding bound says:
#: values this small come from underflowed factors, whose sign is an accident.
KINK_FLOOR = 1e-300


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

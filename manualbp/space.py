"""The space of random cases: which architectures, batches and parameter scales to draw.

:class:`ArchSpace` is what ``manualbp verify`` options restrict and what the Hypothesis
strategies of :mod:`manualbp.strategies` draw from. :func:`random_case` is a pure function
of a seed and a space, so a case printed as ``seed 123`` is rebuilt exactly from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from manualbp.architecture import (
    ACTIVATIONS,
    BIAS_MODES,
    LOSS_OUTPUT_ACTIVATION,
    LOSSES,
    REDUCTIONS,
    Architecture,
)
from manualbp.case import Case, draw_case
from manualbp.errors import UsageError

#: Parameter scales drawn by default. None is 1/sqrt(fan_in); 4.0 saturates sigmoids and
#: tanh; 1e-3 puts pre-activations near 0, where ReLU and leaky ReLU have their kink.
DEFAULT_SCALES: tuple[float | None, ...] = (None, 0.5, 1.0, 4.0, 1e-3)


@dataclass(frozen=True)
class ArchSpace:
    """Ranges and choices for random architectures and cases.

    depth: layers with parameters (min, max); width: units per layer (min, max), inputs
    included; batch: rows per case (min, max); square: probability that every layer has
    the same width (square W, where a missing transpose is invisible to shapes).
    """

    depth: tuple[int, int] = (1, 5)
    width: tuple[int, int] = (1, 16)
    activations: tuple[str, ...] = ACTIVATIONS
    losses: tuple[str, ...] = LOSSES
    bias_modes: tuple[str, ...] = BIAS_MODES
    reductions: tuple[str, ...] = REDUCTIONS
    batch: tuple[int, int] = (1, 16)
    scales: tuple[float | None, ...] = DEFAULT_SCALES
    square: float = 0.25
    fixed: tuple[Architecture, ...] = field(default=())

    def __post_init__(self) -> None:
        for name in ("depth", "width", "batch"):
            low, high = getattr(self, name)
            if not (isinstance(low, int) and isinstance(high, int) and 1 <= low <= high):
                raise UsageError(f"{name}: got ({low}, {high}), expected 1 <= min <= max integers")
        for name, allowed in (
            ("activations", ACTIVATIONS),
            ("losses", LOSSES),
            ("bias_modes", BIAS_MODES),
            ("reductions", REDUCTIONS),
        ):
            chosen = getattr(self, name)
            if not chosen:
                raise UsageError(f"{name}: empty, expected some of {', '.join(allowed)}")
            unknown = [c for c in chosen if c not in allowed]
            if unknown:
                raise UsageError(
                    f"{name}: unknown {', '.join(map(str, unknown))}, expected some of "
                    f"{', '.join(allowed)}"
                )
        if not self.fixed and not self.usable_losses():
            raise UsageError(
                f"losses {', '.join(self.losses)} all need an output activation outside "
                f"{', '.join(self.activations)} (bce needs sigmoid, softmax_ce identity)"
            )
        if not self.scales:
            raise UsageError("scales: empty, expected at least one parameter scale")
        if not 0.0 <= self.square <= 1.0:
            raise UsageError(f"square: got {self.square!r}, expected a probability in [0, 1]")

    def to_cli(self) -> tuple[str, ...]:
        """The ``manualbp verify`` options that describe this space (defaults left out), so a
        printed command draws exactly the cases this space draws; fixed architectures are
        written as inline JSON (``--arch '{"sizes": ...}'``), parameter scales as
        ``--scales fan-in,0.5`` (``fan-in`` for 1/sqrt(fan_in))."""
        default = ArchSpace()
        words: list[str] = []
        for architecture in self.fixed:
            words += ["--arch", architecture.to_json()]
        for name in ("activations", "losses", "bias_modes", "reductions"):
            if getattr(self, name) != getattr(default, name):
                words += [f"--{name.replace('_', '-')}", ",".join(getattr(self, name))]
        for name in ("depth", "width", "batch"):
            low, high = getattr(self, name)
            if (low, high) != getattr(default, name):
                words += [f"--{name}", f"{low}-{high}"]
        if self.scales != default.scales:
            words += ["--scales", ",".join(format_scale(scale) for scale in self.scales)]
        if self.square != default.square:
            words += ["--square", f"{self.square:g}"]
        return tuple(words)

    def memory_estimate(self) -> int:
        """Bytes the largest case of this space needs while it is checked, roughly:
        8·(64·P + 4096·A), with P = L·(n² + n) the parameters and A = N·n·(L + 1) the
        activations of the deepest, widest network and largest batch (n the widest layer):
        the checks keep a few dozen copies of θ (parameters, gradients, perturbed vectors),
        and the batched finite differences run up to 4096 perturbed forward passes at once."""
        if self.fixed:
            widest = max(max(a.sizes) for a in self.fixed)
            depth = max(a.depth for a in self.fixed)
        else:
            widest, depth = self.width[1], self.depth[1]
        parameters = depth * (widest * widest + widest)
        activations = self.batch[1] * widest * (depth + 1)
        return 8 * (64 * parameters + 4096 * activations)

    def usable_losses(self) -> tuple[str, ...]:
        """Losses whose required output activation (if any) is among the allowed ones."""
        return tuple(
            loss
            for loss in self.losses
            if LOSS_OUTPUT_ACTIVATION.get(loss, self.activations[0]) in self.activations
        )


#: How ``--scales`` names the scale 1/sqrt(fan_in) (``None`` in an ArchSpace).
FAN_IN = "fan-in"


def format_scale(scale: float | None) -> str:
    """``fan-in`` for None (1/sqrt(fan_in)), else the number (``0.001``)."""
    return FAN_IN if scale is None else repr(float(scale))


def parse_scales(text: str) -> tuple[float | None, ...]:
    """``fan-in,0.5,1e-3`` -> (None, 0.5, 0.001); UsageError on anything else."""
    scales: list[float | None] = []
    for part in (p.strip() for p in text.split(",")):
        if part == FAN_IN:
            scales.append(None)
            continue
        try:
            value = float(part)
        except ValueError:
            raise UsageError(
                f"--scales: got {part!r}, expected positive numbers or {FAN_IN}"
            ) from None
        if not (value > 0 and value < float("inf")):
            raise UsageError(f"--scales: got {part!r}, expected a positive finite number")
        scales.append(value)
    return tuple(scales)


def _pick(rng: np.random.Generator, options: Sequence[object]) -> object:
    return options[int(rng.integers(0, len(options)))]


def random_architecture(rng: np.random.Generator, space: ArchSpace) -> Architecture:
    """Draw an Architecture from ``space`` (one of ``space.fixed`` when it is non-empty)."""
    if space.fixed:
        return space.fixed[int(rng.integers(0, len(space.fixed)))]
    depth = int(rng.integers(space.depth[0], space.depth[1] + 1))
    low, high = space.width
    if rng.random() < space.square:
        sizes = [int(rng.integers(low, high + 1))] * (depth + 1)
    else:
        sizes = [int(rng.integers(low, high + 1)) for _ in range(depth + 1)]
    loss = str(_pick(rng, space.usable_losses()))
    activations = [str(_pick(rng, space.activations)) for _ in range(depth)]
    if loss in LOSS_OUTPUT_ACTIVATION:
        activations[-1] = LOSS_OUTPUT_ACTIVATION[loss]
    return Architecture(
        sizes=tuple(sizes),
        activations=tuple(activations),
        loss=loss,
        bias=str(_pick(rng, space.bias_modes)),
        reduction=str(_pick(rng, space.reductions)),
    )


def case_seed(run_seed: int, index: int) -> int:
    """The seed of case ``index`` of a run seeded ``run_seed`` (independent streams)."""
    return int(np.random.SeedSequence([run_seed, index]).generate_state(1)[0])


def random_case(seed: int, space: ArchSpace | None = None, case_id: str | None = None) -> Case:
    """A random case, a pure function of ``seed`` and ``space``: architecture, batch size
    and parameter scale drawn first, then parameters and batch (:func:`draw_case`)."""
    space = space or ArchSpace()
    rng = np.random.default_rng(seed)
    arch = random_architecture(rng, space)
    batch = int(rng.integers(space.batch[0], space.batch[1] + 1))
    scale = _pick(rng, space.scales)
    return draw_case(
        arch,
        rng,
        batch_size=batch,
        scale=scale,  # type: ignore[arg-type]
        seed=seed,
        case_id=case_id or f"seed-{seed}",
    )

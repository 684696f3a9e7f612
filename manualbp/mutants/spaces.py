"""Where each mutant's bug shows: the architecture spaces its cases are drawn from.

Spaces are chosen so that every case drawn from them exposes the bug: ReLU is left out
where a dead unit could zero the very error term the bug changes; no parameter scale that
saturates a unit to a derivative of exactly 0; two or more units per layer (softmax_ce of one
output is identically 0); square layers where the realistic bug only runs on square matrices
(elsewhere it crashes with a shape error, which the checks report as ``fail``); batches of at
least two rows for the batch reduction bugs. The tests draw many cases from every space and
require the bug to show on each.
"""

from __future__ import annotations

from manualbp.architecture import BIAS_MODES, LOSSES, REDUCTIONS
from manualbp.facts import CURVED, NEVER_FLAT, SQUARED_LOSSES
from manualbp.mazur import ARCHITECTURE as MAZUR_ARCHITECTURE
from manualbp.space import ArchSpace

#: Parameter scales: 1/sqrt(fan_in), 0.5 and 1e-3 (near the kinks). The larger default scales
#: saturate sigmoid and tanh units through a few layers, to a derivative of exactly 0 in
#: float64, where no bug in an error term can show.
SCALES: tuple[float | None, ...] = (None, 0.5, 1e-3)
#: Losses under which every bias gradient can be non-zero: softmax_ce is left out, since it
#: is invariant to a constant added to every logit, so a shared output bias has gradient 0.
BIASED = ("half_sse", "sse", "mse", "bce")
#: Scales that keep pre-activations away from 0, where tanh(z) ≈ z and tanh'(z) ≈ 1 hide a
#: missing or misplaced tanh, and gradients comparable to the parameters, so that a wrong
#: update θ - lr·g is not lost in the rounding of θ.
AWAY_FROM_ZERO: tuple[float | None, ...] = (None, 0.5)


def space(
    *,
    activations: tuple[str, ...] = NEVER_FLAT,
    losses: tuple[str, ...] = LOSSES,
    bias_modes: tuple[str, ...] = BIAS_MODES,
    reductions: tuple[str, ...] = REDUCTIONS,
    depth: tuple[int, int] = (1, 5),
    width: tuple[int, int] = (2, 8),
    batch: tuple[int, int] = (1, 16),
    square: float = 0.25,
    scales: tuple[float | None, ...] = SCALES,
) -> ArchSpace:
    """An ArchSpace with the catalogue's defaults: never-flat activations, no saturating
    scale, at least two units per layer (softmax_ce of a single output is identically 0)."""
    return ArchSpace(
        depth=depth,
        width=width,
        activations=activations,
        losses=losses,
        bias_modes=bias_modes,
        reductions=reductions,
        batch=batch,
        scales=scales,
        square=square,
    )


def only(
    activation: str,
    batch: tuple[int, int] = (1, 16),
    scales: tuple[float | None, ...] = SCALES,
) -> ArchSpace:
    """Every layer ``activation`` and a squared loss, so the output layer uses f' too."""
    return space(activations=(activation,), losses=SQUARED_LOSSES, batch=batch, scales=scales)


ANY = space()
#: For bugs that only show in a step or in later calls.
STEPPING = space(scales=AWAY_FROM_ZERO)
ROWS = space(batch=(2, 16))
DEEP = space(depth=(2, 5))
DEEP_STEPPING = space(depth=(2, 5), scales=AWAY_FROM_ZERO)
DEEP_CURVED = space(activations=CURVED, depth=(2, 5), scales=AWAY_FROM_ZERO)
SQUARE = space(square=1.0)
SQUARE_DEEP = space(depth=(2, 5), square=1.0)
#: Rows per case for ReLU-like layers: enough that both signs of z occur in the first layer.
KINKED_ROWS = (8, 16)
MAZUR = ArchSpace(fixed=(MAZUR_ARCHITECTURE,), batch=(1, 4), scales=AWAY_FROM_ZERO)

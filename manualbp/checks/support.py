"""The part of the case space an implementation supports, found by asking it.

An implementation says what it covers by ``supports(arch)``, by ``architectures`` (a fixed
list) or by raising NotImplementedError from ``loss``. Drawing cases blindly from the whole
space and redrawing the declined ones works when most of the space is covered, but not for
an implementation of sigmoid layers only (one architecture in thousands of a deep space). So
before any case is drawn, :func:`supported_space` narrows the space choice by choice: it
finds one small architecture the implementation takes (tried in a fixed order), then
varies one field of it at a time — each activation in each position, each loss, bias mode
and reduction, each depth and width — and keeps the choices it takes. Cases are then drawn
from the narrowed space, and a case it still declines (a combination the probes did not
try) is redrawn (:func:`manualbp.checks.base.unit_case`).

The probes are deterministic (seeded, independent of the run's seed), so the same space is
found again when a printed ``--case-seed`` command reruns a case.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from itertools import product

from manualbp.architecture import LOSS_OUTPUT_ACTIVATION, Architecture
from manualbp.case import Case, case_from_seed
from manualbp.errors import ArchitectureError
from manualbp.space import ArchSpace

#: Width of the probe networks (small: a probe is one loss() call).
PROBE_WIDTH = 2

Takes = Callable[[Case], bool]


def _probe(arch: Architecture) -> Case:
    return case_from_seed(arch, seed=0, batch_size=2, scale=0.5, case_id="probe")


def _valid(**fields: object) -> Architecture | None:
    try:
        return Architecture(**fields)  # type: ignore[arg-type]
    except ArchitectureError:
        return None


def _base(space: ArchSpace, takes: Takes) -> Architecture | None:
    """The first small architecture of ``space`` the implementation takes: every layer of
    one activation, tried for each activation, loss, bias mode and reduction at the two
    smallest depths, in that order (deterministic, and complete for those shapes)."""
    width = max(space.width[0], min(space.width[1], PROBE_WIDTH))
    for depth in range(space.depth[0], min(space.depth[1], space.depth[0] + 1) + 1):
        for activation, loss, bias, reduction in product(
            space.activations, space.losses, space.bias_modes, space.reductions
        ):
            activations = [activation] * depth
            activations[-1] = LOSS_OUTPUT_ACTIVATION.get(loss, activation)
            if activations[-1] not in space.activations:
                continue
            arch = _valid(
                sizes=(width,) * (depth + 1),
                activations=tuple(activations),
                loss=loss,
                bias=bias,
                reduction=reduction,
            )
            if arch is not None and takes(_probe(arch)):
                return arch
    return None


def _deeper(base: Architecture) -> Architecture:
    """``base`` with one more hidden layer, like its first, before the output."""
    sizes = (base.sizes[0], *base.sizes)
    activations = (base.activations[0], *base.activations)
    return replace(base, sizes=sizes, activations=activations)


def _variants(base: Architecture, field: str, value: object) -> list[Architecture]:
    """``base`` with ``field`` set to ``value`` (an activation at the output, and in every
    hidden layer of ``base`` or of a one-layer-deeper copy; a loss with the output
    activation it needs), the ones that are valid architectures."""
    fields = base.to_dict()
    found = []
    if field == "activations":
        output = (*base.activations[:-1], value)
        found.append(_valid(**{**fields, "activations": output}))
        deep = base if base.depth > 1 else _deeper(base)
        hidden = (*([value] * (deep.depth - 1)), deep.activations[-1])
        found.append(_valid(**{**deep.to_dict(), "activations": hidden}))
    elif field == "loss":
        activations = list(base.activations)
        activations[-1] = LOSS_OUTPUT_ACTIVATION.get(str(value), activations[-1])
        found.append(_valid(**{**fields, "loss": value, "activations": tuple(activations)}))
    elif field == "depth":
        depth = int(value)  # type: ignore[call-overload]
        hidden = base.activations[0] if base.depth > 1 else base.activations[-1]
        activations = (*([hidden] * (depth - 1)), base.activations[-1])
        sizes = (*([base.sizes[0]] * depth), base.sizes[-1])
        found.append(_valid(**{**fields, "sizes": sizes, "activations": activations}))
    elif field == "width":
        width = int(value)  # type: ignore[call-overload]
        found.append(_valid(**{**fields, "sizes": (width,) * len(base.sizes)}))
    else:
        found.append(_valid(**{**fields, field: value}))
    return [arch for arch in found if arch is not None]


def _kept(base: Architecture, field: str, values: tuple, takes: Takes) -> tuple:
    """The ``values`` of ``field`` some variant of ``base`` with it is taken."""
    return tuple(
        value
        for value in values
        if any(takes(_probe(arch)) for arch in _variants(base, field, value))
    )


def _range(bounds: tuple[int, int]) -> tuple[int, ...]:
    return tuple(range(bounds[0], bounds[1] + 1))


def _span(kept: tuple[int, ...], default: tuple[int, int]) -> tuple[int, int]:
    return (min(kept), max(kept)) if kept else default


def supported_space(space: ArchSpace, takes: Takes) -> ArchSpace:
    """``space`` narrowed to the choices the implementation takes (module docstring); the
    space itself when it takes everything, has fixed architectures, or takes nothing found."""
    if space.fixed:
        return space
    base = _base(space, takes)
    if base is None:
        return space
    narrowed = replace(
        space,
        activations=_kept(base, "activations", space.activations, takes) or space.activations,
        losses=_kept(base, "loss", space.losses, takes) or space.losses,
        bias_modes=_kept(base, "bias", space.bias_modes, takes) or space.bias_modes,
        reductions=_kept(base, "reduction", space.reductions, takes) or space.reductions,
        depth=_span(_kept(base, "depth", _range(space.depth), takes), space.depth),
        width=_span(_kept(base, "width", _range(space.width), takes), space.width),
    )
    if not narrowed.usable_losses():
        return space
    return narrowed

"""Case: one architecture, its parameters and a batch — the unit every check runs on.

Random cases are a pure function of a seed (:func:`case_from_seed`), so every case a run
generates can be rebuilt from the seed it carries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from manualbp.architecture import Architecture
from manualbp.params import Params, check_batch, check_params, init_params


@dataclass(frozen=True)
class Case:
    """An architecture, parameters and a batch (x (N, inputs), y (N, outputs)).

    ``case_id`` names it in reports; ``seed`` (when generated) rebuilds it;
    ``meta`` carries how it was made (e.g. the parameter scale).
    """

    case_id: str
    arch: Architecture
    params: Params
    x: np.ndarray
    y: np.ndarray
    seed: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", check_params(self.arch, self.params))
        x, y = check_batch(self.arch, self.x, self.y)
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)

    @property
    def batch_size(self) -> int:
        """N, the number of rows of x."""
        return int(self.x.shape[0])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: architecture, parameters and batch as nested lists, seed, meta."""
        return {
            "case_id": self.case_id,
            "arch": self.arch.to_dict(),
            "params": {name: np.asarray(value).tolist() for name, value in self.params.items()},
            "x": self.x.tolist(),
            "y": self.y.tolist(),
            "seed": self.seed,
            "meta": dict(self.meta),
        }


def random_targets(arch: Architecture, rng: np.random.Generator, n: int) -> np.ndarray:
    """Targets (n, outputs) valid for the loss: one-hot rows for ``softmax_ce``, values in
    [0, 1] for ``bce`` (and for the squared losses, as for a sigmoid output)."""
    if arch.loss == "softmax_ce":
        y = np.zeros((n, arch.outputs))
        y[np.arange(n), rng.integers(0, arch.outputs, size=n)] = 1.0
        return y
    return rng.uniform(0.0, 1.0, size=(n, arch.outputs))


def draw_case(
    arch: Architecture,
    rng: np.random.Generator,
    *,
    batch_size: int,
    scale: float | None,
    seed: int | None,
    case_id: str,
) -> Case:
    """Draw parameters ~ N(0, scale²) (``scale=None``: 1/sqrt(fan_in)), x ~ N(0, 1) of shape
    (batch_size, inputs) and targets (:func:`random_targets`) from ``rng``."""
    params = init_params(arch, rng, scale)
    x = rng.standard_normal((batch_size, arch.inputs))
    y = random_targets(arch, rng, batch_size)
    meta = {"batch_size": batch_size, "scale": scale}
    return Case(case_id=case_id, arch=arch, params=params, x=x, y=y, seed=seed, meta=meta)


def case_from_seed(
    arch: Architecture,
    seed: int,
    batch_size: int = 4,
    scale: float | None = None,
    case_id: str | None = None,
) -> Case:
    """A case for ``arch`` drawn from ``numpy.random.default_rng(seed)`` (see :func:`draw_case`)."""
    return draw_case(
        arch,
        np.random.default_rng(seed),
        batch_size=batch_size,
        scale=scale,
        seed=seed,
        case_id=case_id or f"seed-{seed}",
    )

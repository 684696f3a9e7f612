"""Architecture: the JSON-serialisable description of a multilayer perceptron.

An MLP with ``L = len(sizes) - 1`` layers computes, for a batch of rows x (N, sizes[0]),

    a_0 = x,    z_l = a_{l-1} W_l^T + b_l,    a_l = f_l(z_l)      for l = 1..L,

and the loss E = reduce_n loss(a_L[n], y[n]) with reduce = sum or mean over the batch.
``W_l`` has shape (sizes[l], sizes[l-1]) (the PyTorch ``nn.Linear`` layout); ``b_l`` has
shape (sizes[l],) for ``per_unit`` biases, () for one ``shared`` scalar per layer (as in
Mazur's worked example) and is absent for ``none``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from manualbp.errors import ArchitectureError, describe
from manualbp.facts import ACTIVATIONS, LOSS_OUTPUT_ACTIVATION, LOSSES

__all__ = [
    "ACTIVATIONS",
    "BIAS_MODES",
    "FIELDS",
    "LOSSES",
    "LOSS_OUTPUT_ACTIVATION",
    "REDUCTIONS",
    "Architecture",
]

BIAS_MODES: tuple[str, ...] = ("per_unit", "shared", "none")
REDUCTIONS: tuple[str, ...] = ("sum", "mean")

FIELDS: tuple[str, ...] = ("sizes", "activations", "loss", "bias", "reduction")


def _choice(field: str, value: object, allowed: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ArchitectureError(
            f"{field}: got {describe(value)}, expected one of {', '.join(allowed)}"
        )
    return value


@dataclass(frozen=True)
class Architecture:
    """An MLP: layer sizes (input first), one activation per layer, loss, bias mode, reduction.

    Validated on construction; raises :class:`ArchitectureError` naming the bad field.
    ``sizes`` and ``activations`` are stored as tuples so an Architecture is hashable.
    """

    sizes: tuple[int, ...]
    activations: tuple[str, ...]
    loss: str = "half_sse"
    bias: str = "per_unit"
    reduction: str = "sum"

    def __post_init__(self) -> None:
        sizes = self.sizes
        if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence):
            raise ArchitectureError(
                f"sizes: got {describe(sizes)}, expected a list of at least two positive integers"
            )
        if len(sizes) < 2:
            raise ArchitectureError(
                f"sizes: got {describe(list(sizes))}, expected at least two layer sizes "
                "(inputs first, then one entry per layer)"
            )
        for i, n in enumerate(sizes):
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise ArchitectureError(
                    f"sizes[{i}]: got {describe(n)}, expected a positive integer"
                )
        activations = self.activations
        if isinstance(activations, str) or not isinstance(activations, Sequence):
            raise ArchitectureError(
                f"activations: got {describe(activations)}, expected a list of "
                f"{len(sizes) - 1} activation names"
            )
        if len(activations) != len(sizes) - 1:
            raise ArchitectureError(
                f"activations: got {len(activations)} entries, expected {len(sizes) - 1} "
                f"(one per non-input layer of sizes {list(sizes)})"
            )
        for i, name in enumerate(activations):
            _choice(f"activations[{i}]", name, ACTIVATIONS)
        _choice("loss", self.loss, LOSSES)
        _choice("bias", self.bias, BIAS_MODES)
        _choice("reduction", self.reduction, REDUCTIONS)
        required = LOSS_OUTPUT_ACTIVATION.get(self.loss)
        if required is not None and activations[-1] != required:
            raise ArchitectureError(
                f"activations[{len(activations) - 1}]: loss {self.loss!r} needs a {required!r} "
                f"output layer, got {activations[-1]!r}"
            )
        object.__setattr__(self, "sizes", tuple(sizes))
        object.__setattr__(self, "activations", tuple(activations))

    @property
    def depth(self) -> int:
        """Number of layers with parameters, L = len(sizes) - 1."""
        return len(self.sizes) - 1

    @property
    def inputs(self) -> int:
        """Width of the input layer, sizes[0]."""
        return self.sizes[0]

    @property
    def outputs(self) -> int:
        """Width of the output layer, sizes[L]."""
        return self.sizes[-1]

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Shapes of every parameter, in order ``W1, b1, W2, b2, ...``.

        ``Wl``: (sizes[l], sizes[l-1]); ``bl``: (sizes[l],) per unit, () shared, absent none.
        """
        shapes: dict[str, tuple[int, ...]] = {}
        for layer in range(1, self.depth + 1):
            shapes[f"W{layer}"] = (self.sizes[layer], self.sizes[layer - 1])
            if self.bias == "per_unit":
                shapes[f"b{layer}"] = (self.sizes[layer],)
            elif self.bias == "shared":
                shapes[f"b{layer}"] = ()
        return shapes

    @property
    def param_names(self) -> tuple[str, ...]:
        """Names of every parameter, in order ``W1, b1, W2, b2, ...``."""
        return tuple(self.param_shapes())

    @property
    def n_params(self) -> int:
        """Total number of scalar parameters."""
        total = 0
        for shape in self.param_shapes().values():
            count = 1
            for n in shape:
                count *= n
            total += count
        return total

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict with the five fields (lists for sizes and activations)."""
        return {
            "sizes": list(self.sizes),
            "activations": list(self.activations),
            "loss": self.loss,
            "bias": self.bias,
            "reduction": self.reduction,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Architecture:
        """Build from a dict; ``loss``, ``bias``, ``reduction`` default to half_sse/per_unit/sum.

        Raises :class:`ArchitectureError` on unknown or missing fields.
        """
        if not isinstance(data, Mapping):
            raise ArchitectureError(
                f"architecture: got {describe(data)}, expected an object with fields "
                f"{', '.join(FIELDS)}"
            )
        unknown = sorted(set(data) - set(FIELDS))
        if unknown:
            raise ArchitectureError(
                f"architecture: unknown field(s) {', '.join(map(str, unknown))}, "
                f"expected only {', '.join(FIELDS)}"
            )
        for field in ("sizes", "activations"):
            if field not in data:
                raise ArchitectureError(f"architecture: missing field {field!r}")
        return cls(**dict(data))

    def to_json(self) -> str:
        """JSON text of :meth:`to_dict`."""
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> Architecture:
        """Parse JSON text written by :meth:`to_json` (or by hand)."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ArchitectureError(f"architecture: not valid JSON ({exc})") from None
        return cls.from_dict(data)

    def describe(self) -> str:
        """Compact one-line summary, e.g. ``[2,2,2] sigmoid,sigmoid half_sse shared sum``."""
        sizes = ",".join(map(str, self.sizes))
        return (
            f"[{sizes}] {','.join(self.activations)} {self.loss} bias={self.bias} "
            f"reduction={self.reduction}"
        )

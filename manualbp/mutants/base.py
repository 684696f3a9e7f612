"""The Mutant: a protocol implementation with one deliberate bug, and the words that describe it.

A mutant is the engine (:class:`~manualbp.engine.implementation.EngineImplementation`) run
with a :class:`~manualbp.engine.network.Network` subclass that changes exactly one formula,
or with one protocol method overridden (the update step and the state bugs). Besides the
protocol it carries what the checks are expected to conclude about it:

- ``category``: the family of the bug (:data:`CATEGORIES`);
- ``kind``: the failing pattern the diagnosis should name (:data:`KINDS`);
- ``formula``: the formula that broke (:data:`FORMULAS`);
- ``layer``: where the bug sits, ``"output"``, ``"hidden"``, ``"all"`` or None (:data:`LAYERS`);
- ``space``: the architectures on which the bug is observable (an :class:`ArchSpace`).
"""

from __future__ import annotations

from manualbp.architecture import Architecture
from manualbp.diagnosis import KINDS
from manualbp.engine.implementation import EngineImplementation
from manualbp.engine.network import Network
from manualbp.errors import UsageError
from manualbp.localisation import FORMULAS
from manualbp.space import ArchSpace

CATEGORIES: tuple[str, ...] = (
    "forward wiring",
    "activation derivative",
    "hidden error recurrence",
    "weight/bias gradient",
    "loss/gradient pairing",
    "batch reduction",
    "update step",
    "state",
)

LAYERS: tuple[str | None, ...] = ("output", "hidden", "all", None)


def _check_choice(field: str, value: object, allowed: tuple[object, ...]) -> None:
    if value not in allowed:
        raise UsageError(f"{field}: got {value!r}, expected one of {', '.join(map(repr, allowed))}")


class Mutant(EngineImplementation):
    """The engine with one bug, plus the metadata that says which bug and how it should show.

    ``network_class`` is the Network subclass carrying the wrong formula (the plain
    :class:`Network` for mutants whose bug is in a protocol method). ``identifier`` is the
    name with dashes turned into underscores: the object part of
    ``--impl manualbp.mutants:<identifier>``.
    """

    def __init__(
        self,
        name: str,
        description: str,
        *,
        category: str,
        kind: str,
        formula: str,
        layer: str | None,
        space: ArchSpace,
        network_class: type[Network] = Network,
    ) -> None:
        super().__init__(network_class, name=name)
        self.identifier = name.replace("-", "_")
        if not self.identifier.isidentifier():
            raise UsageError(f"name: got {name!r}, expected letters, digits and dashes")
        if not description or "\n" in description:
            raise UsageError(f"description of {name}: expected one non-empty line")
        _check_choice("category", category, CATEGORIES)
        _check_choice("kind", kind, KINDS)
        _check_choice("formula", formula, FORMULAS)
        _check_choice("layer", layer, LAYERS)
        if not isinstance(space, ArchSpace):
            raise UsageError(f"space of {name}: got {type(space).__name__}, expected ArchSpace")
        self.description = description
        self.category = category
        self.kind = kind
        self.formula = formula
        self.layer = layer
        self.space = space

    @property
    def spec(self) -> str:
        """How to name this mutant to ``--impl``: ``manualbp.mutants:<identifier>``."""
        return f"manualbp.mutants:{self.identifier}"

    def supports(self, arch: Architecture) -> bool:
        """False outside ``space.fixed`` when the space pins its architectures (the 2-2-2 bug)."""
        return not self.space.fixed or arch in self.space.fixed

    def reset(self) -> None:
        """Forget whatever the mutant kept between calls (only the state mutants keep any)."""

    def __repr__(self) -> str:
        return f"<Mutant {self.name}: {self.kind} in {self.formula}>"

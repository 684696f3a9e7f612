"""The catalogue of mutants: every one, by name, in the order selftest runs them."""

from __future__ import annotations

from manualbp.errors import UsageError
from manualbp.mutants.backward_bugs import BACKWARD_BUGS
from manualbp.mutants.base import Mutant
from manualbp.mutants.output_bugs import OUTPUT_BUGS

_CATALOGUE: tuple[Mutant, ...] = (*BACKWARD_BUGS, *OUTPUT_BUGS)

#: Every mutant by name, in catalogue order.
MUTANTS: dict[str, Mutant] = {mutant.name: mutant for mutant in _CATALOGUE}


def get_mutant(name: str) -> Mutant:
    """The mutant called ``name`` (its dashed name or its identifier with underscores).

    Raises :class:`UsageError` listing the valid names for an unknown one.
    """
    for mutant in MUTANTS.values():
        if name in (mutant.name, mutant.identifier):
            return mutant
    raise UsageError(f"mutant: got {name!r}, expected one of {', '.join(MUTANTS)}")

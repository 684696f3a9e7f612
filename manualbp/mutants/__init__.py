"""The mutant catalogue: implementations of the protocol with one realistic backprop bug each.

They prove that the checks catch what they claim to catch (``manualbp selftest``). Each
:class:`Mutant` is the engine with one formula overridden, and states its bug
(``description``), its family (``category``), the diagnosis the checks should reach
(``kind``, ``formula``, ``layer``) and the architectures on which the bug shows (``space``).

    >>> from manualbp.mutants import MUTANTS, get_mutant
    >>> get_mutant("hidden-error-W-not-transposed").kind
    'transposed'

Every mutant is also a module attribute named by its ``identifier`` (dashes turned into
underscores), so the command line loads it as
``--impl manualbp.mutants:hidden_error_W_not_transposed``.
"""

from __future__ import annotations

from manualbp.mutants.base import CATEGORIES, FORMULAS, KINDS, LAYERS, Mutant
from manualbp.mutants.catalogue import MUTANTS, get_mutant

__all__ = ["CATEGORIES", "FORMULAS", "KINDS", "LAYERS", "MUTANTS", "Mutant", "get_mutant"]

_BY_IDENTIFIER = {mutant.identifier: mutant for mutant in MUTANTS.values()}


def __getattr__(identifier: str) -> Mutant:
    """``manualbp.mutants.<identifier>``: the mutant with that identifier."""
    try:
        return _BY_IDENTIFIER[identifier]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {identifier!r}") from None


def __dir__() -> list[str]:
    return sorted([*globals(), *_BY_IDENTIFIER])

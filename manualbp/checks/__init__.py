"""The three independent checks: finite differences, PyTorch autograd, published numbers.

Each is a :class:`~manualbp.checks.base.Check` — its units of work for a subject and the
Findings of one unit — registered in :data:`REGISTRY`; they share nothing but the types of
:mod:`manualbp.case`, :mod:`manualbp.plan`, :mod:`manualbp.protocol` and
:mod:`manualbp.findings`. Adding a check is one module (or subpackage) and one line here.
References come from the torch mirror or from exact arithmetic, never from manualbp's
engine (``tests/test_imports.py`` keeps it so).
"""

from __future__ import annotations

from manualbp.checks.autograd import CHECK as AUTOGRAD
from manualbp.checks.base import Check
from manualbp.checks.fd import CHECK as FD
from manualbp.checks.published import PUBLISHED
from manualbp.errors import UsageError

__all__ = ["CHECKS", "REGISTRY", "Check", "check_names", "get_check"]

#: Every check by name, in the order a run reports them.
REGISTRY: dict[str, Check] = {check.name: check for check in (FD, AUTOGRAD, PUBLISHED)}
#: The names of every check.
CHECKS: tuple[str, ...] = tuple(REGISTRY)


def get_check(name: str) -> Check:
    """The registered check ``name``; UsageError naming the valid ones otherwise."""
    if name not in REGISTRY:
        raise UsageError(f"check: got {name!r}, expected one of {', '.join(CHECKS)}")
    return REGISTRY[name]


def check_names(checks: object, option: str = "--checks") -> tuple[str, ...]:
    """``checks`` as a tuple of registered names; UsageError (naming ``option``) when it is
    empty or names an unknown check."""
    names = (checks,) if isinstance(checks, str) else tuple(checks)  # type: ignore[arg-type]
    if not names or any(name not in REGISTRY for name in names):
        given = ",".join(map(str, names)) or "nothing"
        raise UsageError(
            f"{option}: got {given}, expected a comma-separated subset of {','.join(CHECKS)}"
        )
    return names

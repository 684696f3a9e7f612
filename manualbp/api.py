"""The Python entry point: ``manualbp.check(impl, ...) -> Report``.

One call runs the checks on an implementation, as ``manualbp verify`` does, and returns the
:class:`~manualbp.report.model.Report`: ``report.ok``, ``report.failures``,
``report.to_json()``. It is what the pytest plugin calls, and what a user's own script
calls (in the spirit of ``torch.autograd.gradcheck``'s single entry point)::

    import manualbp
    report = manualbp.check("my_mlp.py", cases=10, space=ArchSpace(activations=("tanh",)))
    assert report.ok, report.explain()

The implementation runs in a supervised worker process when it can be sent to one — given
as a spec string, a module, or an object that pickles by reference — and in this process
otherwise (``isolate=False`` forces that; ``isolate=True`` refuses an object that cannot be
sent). Worker processes are shared by the calls of one Python process, so a test suite pays
their start-up once.
"""

from __future__ import annotations

import atexit
import pickle
import types
import uuid
from collections.abc import Sequence
from typing import Any

from manualbp.architecture import Architecture
from manualbp.case import Case
from manualbp.diagnosis import annotate
from manualbp.errors import UsageError
from manualbp.pipeline.executors import Executor, InProcess
from manualbp.pipeline.run import describe, run_subject
from manualbp.pipeline.supervisor import DEFAULT_MEMORY_LIMIT, DEFAULT_TIMEOUT, Supervisor
from manualbp.pipeline.work import SubjectRequest
from manualbp.plan import Plan
from manualbp.report.model import Report, canonical_order, environment
from manualbp.space import ArchSpace

__all__ = ["DEFAULT_CHECKS", "check", "spec_of"]

DEFAULT_CHECKS: tuple[str, ...] = ("fd", "autograd")

_SUPERVISORS: dict[tuple[float, int | None], Supervisor] = {}


def _shared_supervisor(timeout: float, memory_limit: int | None) -> Supervisor:
    key = (timeout, memory_limit)
    if key not in _SUPERVISORS:
        _SUPERVISORS[key] = Supervisor(1, timeout, memory_limit)
    return _SUPERVISORS[key]


@atexit.register
def _close_supervisors() -> None:
    for supervisor in _SUPERVISORS.values():
        supervisor.close()
    _SUPERVISORS.clear()


def spec_of(impl: object) -> str | None:
    """How ``manualbp verify --impl`` names ``impl``, when that can be told: a string as it
    is, a module by its name, an object with a ``spec`` attribute, an instance of an
    importable class as ``module:Class``."""
    if isinstance(impl, str):
        return impl
    spec = getattr(impl, "spec", None)
    if isinstance(spec, str) and spec:
        return spec
    if isinstance(impl, types.ModuleType):
        return impl.__name__
    kind = type(impl)
    if kind.__module__ not in ("__main__", "builtins"):
        return f"{kind.__module__}:{kind.__qualname__}"
    return None


def _sendable(impl: object) -> bool:
    """True when ``impl`` can be sent to a worker process: it pickles, by reference to a
    class the worker can import (not one defined in the caller's ``__main__`` script)."""
    if type(impl).__module__ == "__main__":
        return False
    try:
        pickle.dumps(impl)
    except Exception:
        return False
    return True


def _request(impl: object, space: ArchSpace, isolate: bool | None) -> tuple[SubjectRequest, bool]:
    """The subject request for ``impl`` and whether it runs in a worker process."""
    spec = spec_of(impl)
    if isinstance(impl, (str, types.ModuleType)):
        if isolate is False and not isinstance(impl, str):
            return SubjectRequest("", space, obj=impl, name=spec or ""), False
        return SubjectRequest(spec or "", space), isolate is not False
    name = spec or getattr(impl, "name", "") or type(impl).__name__
    sendable = isolate is not False and _sendable(impl)
    if isolate is True and not sendable:
        raise UsageError(
            f"isolate=True: {name} cannot be sent to a worker process (it does not pickle); "
            "pass its spec string, or isolate=False"
        )
    # worker processes cache implementations by subject key: one key per object handed in
    request = SubjectRequest("", space, obj=impl, name=name, token=uuid.uuid4().hex)
    return request, sendable


def _cases(cases: int | Case | Sequence[Case]) -> tuple[int, tuple[Case, ...]]:
    if isinstance(cases, Case):
        return 0, (cases,)
    if isinstance(cases, int) and not isinstance(cases, bool):
        return cases, ()
    if isinstance(cases, Sequence) and all(isinstance(c, Case) for c in cases):
        return 0, tuple(cases)
    raise UsageError(f"cases: got {cases!r}, expected a number of random cases or Case objects")


def check(
    impl: object,
    *,
    arch: Architecture | None = None,
    space: ArchSpace | None = None,
    cases: int | Case | Sequence[Case] = 3,
    seed: int = 0,
    checks: Sequence[str] = DEFAULT_CHECKS,
    references: Sequence[Any] = (),
    isolate: bool | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    memory_limit: int | None = DEFAULT_MEMORY_LIMIT,
) -> Report:
    """Run ``checks`` on ``impl`` and return the diagnosed Report.

    ``impl``: an implementation of the protocol, or its ``--impl`` spec. ``cases``: a
    number of random cases, drawn exactly as ``manualbp verify --seed SEED --cases N`` draws
    them — on ``arch`` when given, else from ``space`` (default: the whole space), inside
    what the implementation supports — or the Case(s) to check. ``references``: worked
    examples for the ``published`` check (default: the built-in ones when it is selected).
    """
    from manualbp.checks import check_names, published

    checks = check_names(checks, "checks")
    if arch is not None:
        space = ArchSpace(fixed=(arch,))
    space = space or ArchSpace()
    count, explicit = _cases(cases)
    if "published" in checks and not references:
        references = published.default_references()
    plan = Plan(
        checks=tuple(checks),
        cases=count,
        seed=seed,
        explicit_cases=explicit,
        references=tuple(references),
    )
    request, isolated = _request(impl, space, isolate)
    executor: Executor = _shared_supervisor(timeout, memory_limit) if isolated else InProcess()
    subjects, findings = describe([request], executor)
    for subject in subjects:
        findings += run_subject(subject, plan, executor)
    annotate(findings)
    metadata = {
        **environment(),
        "command": "manualbp.check",
        "impls": [request.spec or request.name],
        "checks": list(checks),
        "seed": seed,
        "cases": count or len(explicit),
        "space": list(space.to_cli()),
        "dtype": "float64",
        "isolated": isolated,
    }
    return Report(findings=canonical_order(findings), metadata=metadata)

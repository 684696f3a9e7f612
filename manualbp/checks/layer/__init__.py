"""The layer check: any hand-written layer's backward, checked three ways.

A layer is one forward/backward pair, in CS231n's functional style or Saito's object style
(:mod:`~manualbp.checks.layer.kinds` states both conventions for every kind):

* ``fd`` (:mod:`~manualbp.checks.layer.fd`) — always: backward against finite differences
  of the layer's own forward, ⟨dout, f(θ + t·e_i)⟩ for random dout, plus consistency
  (repeat, reuse of one layer state, inputs left unchanged);
* ``autograd`` (:mod:`~manualbp.checks.layer.autograd`) — when the kind is asserted
  (``--as KIND``, ``kind=``): forward and backward against a float64 torch reference;
* ``published`` (:mod:`~manualbp.checks.layer.published`) — when the kind is asserted:
  the worked examples of that kind (Saito's affine batch, apples and oranges) through the
  user's own layers.

    >>> subjects = load_layers("manualbp.layers")          # every pair and loss, fd only
    >>> findings = list(run(load_layers("my_layers.py:affine", "affine")[0], cases=3))

Cases are drawn from a :class:`LayerSpace`, case i of a run seeded s from
``case_seed(s, i)`` (as ``manualbp verify`` seeds its cases), each named ``layer-case-i``
and rebuilt by :func:`draw_case` from its seed. Findings name the layer as the user wrote it
(``impl``) and quantities in the layer's words (``out``, ``loss``, ``dx``, ``dw``, ``db``,
``dgamma``, ``dbeta``, ``dy``); failing ones carry ``diagnosis`` and
``detail["diagnosis_kind"]``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from manualbp.checks.fd.threads import blas_threads
from manualbp.checks.layer import autograd, fd, published
from manualbp.checks.layer.calls import LayerSubject
from manualbp.checks.layer.diagnosis import LAYER_DIAGNOSES
from manualbp.checks.layer.fd import LayerFDOptions
from manualbp.checks.layer.kinds import KINDS, Kind
from manualbp.checks.layer.loading import load_layers, subjects_of
from manualbp.checks.layer.space import LayerCase, LayerSpace, draw_case
from manualbp.errors import UsageError
from manualbp.findings import CHECKS, Finding
from manualbp.space import case_seed
from manualbp.torch_mirror import threads

__all__ = [
    "CHECKS",
    "KINDS",
    "LAYER_DIAGNOSES",
    "Kind",
    "LayerCase",
    "LayerFDOptions",
    "LayerSpace",
    "LayerSubject",
    "draw_case",
    "load_layers",
    "planned_cases",
    "run",
    "run_many",
    "subjects_of",
]

DEFAULT_CASES = 5


def planned_cases(
    subject: LayerSubject, cases: int, seed: int = 0, space: LayerSpace | None = None
) -> list[LayerCase]:
    """``cases`` random cases of the subject's kind (or shapes): case i drawn from
    ``case_seed(seed, i)`` within ``space``, named ``layer-case-i``."""
    if isinstance(cases, bool) or not isinstance(cases, int) or cases < 0:
        raise UsageError(f"cases: got {cases!r}, expected a non-negative integer")
    return [
        draw_case(subject.kind, case_seed(seed, i), space, f"layer-case-{i}", subject.shapes)
        for i in range(cases)
    ]


def _skipped(subject: LayerSubject, check: str, reason: str) -> Finding:
    return Finding(
        check=check,
        case="layer",
        quantity="layer",
        verdict="skipped",
        reason=reason,
        impl=subject.name,
    )


def run(
    subject: LayerSubject,
    *,
    checks: Sequence[str] = CHECKS,
    cases: int | Sequence[LayerCase] = DEFAULT_CASES,
    seed: int = 0,
    space: LayerSpace | None = None,
    references: Iterable[Any] | None = None,
    nodes: Mapping[str, LayerSubject] | None = None,
    options: LayerFDOptions | None = None,
) -> Iterator[Finding]:
    """The Findings of ``checks`` on one layer (module docstring).

    ``cases`` is a number of random cases (:func:`planned_cases`) or the LayerCases to
    check. ``autograd`` and ``published`` run only for an asserted kind (otherwise one
    ``skipped`` Finding each says so); ``references`` are the worked examples (default: the
    built-in ones), ``nodes`` the other graph nodes by kind (see
    :mod:`~manualbp.checks.layer.published`). ``options`` tune the fd check.
    """
    unknown = [c for c in checks if c not in CHECKS]
    if unknown or not checks:
        raise UsageError(
            f"checks: got {', '.join(map(str, checks)) or 'nothing'}, expected "
            f"some of {', '.join(CHECKS)}"
        )
    if subject.kind is None and subject.shapes is None:
        yield _skipped(
            subject,
            "fd",
            "the name does not say the layer's kind: check it with "
            "--layer FILE:FWD,BWD --as KIND (or shapes= in Python)",
        )
        return
    drawn = planned_cases(subject, cases, seed, space) if isinstance(cases, int) else cases
    unasserted = "the kind is not asserted: give --as KIND (kind= in Python) to compare with "
    uses_torch = "autograd" in checks and subject.asserted
    # one BLAS and one torch thread: the two pools spin against each other otherwise
    with blas_threads(1), threads(1 if uses_torch else None):
        for case in drawn:
            if "fd" in checks:
                yield from fd.check_case(subject, case, options)
            if "autograd" in checks and subject.asserted:
                yield from autograd.check_case(subject, case)
        if "autograd" in checks and not subject.asserted:
            yield _skipped(subject, "autograd", unasserted + "the torch reference")
        if "published" in checks:
            if subject.asserted:
                yield from published.run(subject, references, nodes)
            else:
                yield _skipped(subject, "published", unasserted + "the worked examples")


def run_many(subjects: Sequence[LayerSubject], **options: Any) -> Iterator[Finding]:
    """:func:`run` on every subject, each graph node seeing the other asserted nodes (so
    ``--layer f.py:MulLayer --as multiply --layer f.py:AddLayer --as add`` computes the
    apples-and-oranges graph with both)."""
    nodes = {
        s.kind.name: s
        for s in subjects
        if s.asserted and s.kind is not None and s.kind.name in published.GRAPH_KINDS
    }
    for subject in subjects:
        yield from run(subject, nodes=nodes, **options)

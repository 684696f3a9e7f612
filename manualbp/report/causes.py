"""Root causes: the failing Findings of each implementation grouped by the bug behind them.

One bug shows in many findings — every tensor it reaches, in every check, on every case.
The diagnosis names it per case (``detail["diagnosis_kind"]`` and ``detail["localisation"]``,
:mod:`manualbp.diagnosis`); a root cause is the set of failing findings of one
implementation that share the diagnosis kind, the formula and the layer, across checks
and cases. The layer is counted from the output (``layer L−1`` is the last hidden layer
whatever the depth of the case), so one bug in networks of different depths is one cause.
Cases where the pattern could not be read (``other``) at the formula and layer of a named
cause join that cause, and so do the cases where the implementation raised with that
diagnosis before anything could be located: one bug, one entry, its cases all listed.

``imprecise`` findings (formula right, float64 digits lost) are grouped the same way by
what ``detail["precision"]`` says, into causes of their own.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from manualbp.findings import Finding
from manualbp.quantity import Quantity
from manualbp.report.display import pair
from manualbp.report.model import worst_failures
from manualbp.report.shrunk import Shrunk, shrunk_cases

WORST_ENTRIES = 4
"""Worst entries shown per cause: the worst of each check and method, most telling first."""


@dataclass(frozen=True)
class Entry:
    """One worst entry of a cause, its two values written so their difference shows."""

    finding: Finding
    impl_text: str
    ref_text: str


@dataclass(frozen=True)
class CauseCase:
    """One case a cause shows in: its failing findings, checks and how to rerun it."""

    case: str
    seed: int | None
    checks: list[str]
    findings: int
    reproduce: str | None
    parameters: int | None
    """Parameter entries of the case's network (None: no gradient was compared)."""


@dataclass(frozen=True)
class Cause:
    """A root cause of one implementation (see the module docstring)."""

    anchor: str
    impl: str
    verdict: str
    kind: str
    formula: str | None
    site: str | None
    seen_at: list[tuple[str, int]]
    """How the site reads in the cases (``layer 3 of 4``) and in how many cases."""
    sentence: str
    findings: list[Finding]
    cases: list[CauseCase]
    smallest: CauseCase
    shrunk: Shrunk | None
    checks: list[tuple[str, list[str]]]
    """Each check that shows the cause, with its methods."""
    worst: list[Entry]

    @property
    def traceback(self) -> list[dict[str, Any]]:
        """The implementation's own frames of the exception behind this cause (innermost
        last), from the first of its findings that kept them; [] when it raised nothing."""
        for finding in self.findings:
            frames = finding.detail.get("traceback")
            if isinstance(frames, list) and frames:
                return [frame for frame in frames if isinstance(frame, dict)]
        return []

    @property
    def title(self) -> str:
        """``kind · formula · site`` (the parts that are known)."""
        return " · ".join(part for part in (self.kind, self.formula, self.site) if part)


def _depths(findings: list[Finding]) -> dict[tuple[str, str], int]:
    """The number of layers of each (implementation, case): its highest layer compared."""
    depths: dict[tuple[str, str], int] = {}
    for finding in findings:
        layer = Quantity.parse(finding.quantity).layer_number
        if layer is not None:
            key = (finding.impl, finding.case)
            depths[key] = max(depths.get(key, 0), layer)
    return depths


def _parameters(findings: list[Finding]) -> dict[tuple[str, str], int]:
    """Parameter entries of each (implementation, case), from its gradient findings."""
    sizes: dict[tuple[str, str], dict[str, int]] = {}
    for finding in findings:
        parsed = Quantity.parse(finding.quantity)
        entries = finding.detail.get("entries")
        if parsed.kind == "grad" and isinstance(entries, int) and not isinstance(entries, bool):
            sizes.setdefault((finding.impl, finding.case), {})[str(parsed.parameter)] = entries
    return {key: sum(tensors.values()) for key, tensors in sizes.items()}


def _site(layer: Any, depth: int | None) -> tuple[str | None, str | None]:
    """(site counted from the output, how it reads in the case) of a localised layer."""
    if not isinstance(layer, int) or isinstance(layer, bool):
        return None, None
    if depth is None or layer > depth:
        return f"layer {layer}", f"layer {layer}"
    offset = depth - layer
    return ("output layer" if offset == 0 else f"layer L−{offset}"), f"layer {layer} of {depth}"


def _precision(finding: Finding) -> tuple[str | None, str]:
    """(where, sentence) of an ``imprecise`` finding's ``detail["precision"]``."""
    value = finding.detail.get("precision")
    if isinstance(value, Mapping):
        where = value.get("where") or value.get("formula")
        sentence = value.get("sentence") or value.get("stable_form") or finding.reason
        return (str(where) if where else None), str(sentence or "")
    if isinstance(value, str) and value:
        return None, value
    return None, finding.reason


@dataclass
class _Group:
    """Findings of one cause while they are gathered."""

    impl: str
    kind: str
    formula: str | None
    site: str | None
    members: list[Finding]
    seen: dict[str, set[str]]
    """How the site reads in the cases: {``layer 3 of 4``: cases}."""


def _undiagnosed(finding: Finding) -> str:
    """What to say of a failing finding that carries no diagnosis: where it shows, when
    known (:func:`~manualbp.report.view.localisation`'s sentence), else its reason."""
    place = finding.detail.get("localisation")
    if isinstance(place, Mapping) and isinstance(place.get("sentence"), str) and place["sentence"]:
        return str(place["sentence"])
    if isinstance(place, str) and place:
        return place
    return finding.reason or f"{finding.quantity} disagrees"


def _key(finding: Finding, depths: dict[tuple[str, str], int]) -> tuple[tuple[Any, ...], str]:
    """What makes two findings the same cause, and how the site reads in this case."""
    if finding.verdict == "imprecise":
        where, _ = _precision(finding)
        return (finding.impl, "imprecise", where, None), ""
    kind = str(finding.detail.get("diagnosis_kind") or "undiagnosed")
    place = finding.detail.get("localisation")
    place = place if isinstance(place, Mapping) else {}
    formula = place.get("formula")
    site, seen = _site(place.get("layer"), depths.get((finding.impl, finding.case)))
    return (finding.impl, kind, str(formula) if formula else None, site), seen or ""


def _severity(finding: Finding) -> float:
    """A finding's relative error, NaN or none counted as the largest."""
    error = finding.rel_error
    return math.inf if error is None or math.isnan(error) else error


def _ranked(members: list[Finding]) -> list[Finding]:
    """``fail`` findings in :func:`~manualbp.report.model.worst_failures` order (the most
    telling first); others by relative error, largest first."""
    if all(f.verdict == "fail" for f in members):
        return worst_failures(members, len(members))
    return sorted(members, key=_severity, reverse=True)


def _cases(members: list[Finding], sizes: dict[tuple[str, str], int]) -> list[CauseCase]:
    by_case: dict[str, list[Finding]] = {}
    for finding in members:
        by_case.setdefault(finding.case, []).append(finding)
    return [
        CauseCase(
            case=case,
            seed=own[0].seed,
            checks=list(dict.fromkeys(f.check for f in own)),
            findings=len(own),
            reproduce=next((f.reproduce for f in own if f.reproduce), None),
            parameters=sizes.get((own[0].impl, case)),
        )
        for case, own in by_case.items()
    ]


def _unvalued(finding: Finding) -> bool:
    """True when a finding has no pair of values to show (the implementation raised)."""
    return finding.impl_value is None or finding.ref_value is None


def _worst(members: list[Finding]) -> list[Entry]:
    """The worst finding of each (check, method), the most telling first; findings with two
    values to compare before those without (a raise shows in the cause's traceback)."""
    chosen: dict[tuple[str, str], Finding] = {}
    for finding in sorted(_ranked(members), key=_unvalued):  # stable: ranking kept within
        chosen.setdefault((finding.check, finding.method), finding)
    return [
        Entry(f, *pair(f.impl_value, f.ref_value)) for f in list(chosen.values())[:WORST_ENTRIES]
    ]


def _cause(
    position: int, group: _Group, sizes: dict[tuple[str, str], int], shrunk: Shrunk | None
) -> Cause:
    members = group.members
    cases = _cases(members, sizes)
    named = {f.case for f in members if f.detail.get("diagnosis_kind") == group.kind}
    smallest = min(
        cases,
        key=lambda c: (c.case not in named, c.parameters if c.parameters is not None else 1 << 62),
    )
    own = [f for f in members if f.case == smallest.case]
    if group.kind == "imprecise":
        sentence = _precision(own[0])[1]
    else:
        sentence = next((f.diagnosis for f in own if f.diagnosis), None) or _undiagnosed(own[0])
    methods: dict[str, list[str]] = {}
    for finding in members:
        listed = methods.setdefault(finding.check, [])
        if finding.method and finding.method not in listed:
            listed.append(finding.method)
    return Cause(
        anchor=f"{'cause' if group.kind != 'imprecise' else 'imprecise'}-{position}",
        impl=group.impl,
        verdict=members[0].verdict,
        kind=group.kind,
        formula=group.formula,
        site=group.site,
        seen_at=sorted(((w, len(c)) for w, c in group.seen.items()), key=lambda i: -i[1]),
        sentence=sentence,
        findings=members,
        cases=cases,
        smallest=smallest,
        shrunk=shrunk,
        checks=list(methods.items()),
        worst=_worst(members),
    )


UNNAMED = ("other", "undiagnosed")
"""Diagnosis kinds that name no bug."""


def _fold(groups: dict[tuple[Any, ...], _Group]) -> None:
    """Fold groups that are the same bug seen less clearly into the group that names it:

    - a group whose cases got no named diagnosis joins the named group of the same
      implementation, formula and site (its pattern could not be read there: a signature
      below the matching resolution, a batch too small to show it);
    - a named group without a place (the implementation raised before anything could be
      compared: ``transposed`` on a layer that is not square) joins the group of the same
      implementation and kind that has one.

    Only where exactly one group can host it; other groups stay apart."""
    for key, group in list(groups.items()):
        if group.kind == "imprecise" or (group.kind in UNNAMED) == (group.formula is None):
            continue
        if group.kind in UNNAMED:
            same = (group.impl, group.formula, group.site)
            hosts = [
                g
                for g in groups.values()
                if g.kind not in UNNAMED
                and g.kind != "imprecise"
                and (g.impl, g.formula, g.site) == same
            ]
        else:
            hosts = [
                g
                for g in groups.values()
                if g.formula is not None and (g.impl, g.kind) == (group.impl, group.kind)
            ]
        if len(hosts) != 1:  # none, or several bugs at that place: which one is unknown
            continue
        (host,) = hosts
        host.members.extend(group.members)
        for seen, cases in group.seen.items():
            host.seen.setdefault(seen, set()).update(cases)
        del groups[key]


def root_causes(
    findings: list[Finding], extras: Mapping[str, Any], verdict: str = "fail"
) -> list[Cause]:
    """The root causes of the findings of ``verdict`` (``fail`` or ``imprecise``), most
    telling first: in the order of the most telling finding of each (for ``fail``,
    :func:`~manualbp.report.model.worst_failures`: a named diagnosis before ``other``, the
    kind most cases share, the largest error). Each implementation's shrunk smallest failing
    case (``extras["minimal_failures"]``) goes with the cause of the case it came from."""
    chosen = [f for f in findings if f.verdict == verdict]
    depths, sizes = _depths(findings), _parameters(findings)
    groups: dict[tuple[Any, ...], _Group] = {}
    for finding in chosen:
        key, seen = _key(finding, depths)
        group = groups.setdefault(key, _Group(*key, members=[], seen={}))
        group.members.append(finding)
        if seen:
            group.seen.setdefault(seen, set()).add(finding.case)
    _fold(groups)
    rank = {id(f): i for i, f in enumerate(_ranked(chosen))}
    ordered = sorted(groups.values(), key=lambda g: min(rank[id(f)] for f in g.members))
    shrunk = shrunk_cases(extras) if verdict == "fail" else []
    causes = []
    for position, group in enumerate(ordered, start=1):
        cases = {f.case for f in group.members}
        attached = next((s for s in shrunk if s.impl == group.impl and s.from_case in cases), None)
        if attached is not None:
            shrunk.remove(attached)
        causes.append(_cause(position, group, sizes, attached))
    return causes

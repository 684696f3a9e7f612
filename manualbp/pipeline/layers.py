"""Hand-written layers through the pipeline: ``manualbp verify --layer SPEC [--as KIND]``.

Each ``--layer`` is one supervised task (:meth:`~manualbp.pipeline.work.Workbench.layers`)
running the layer check (:mod:`manualbp.checks.layer`) on every layer the spec names; the
graph nodes (``--as add``, ``multiply``, ``max``) go together in one task, so the worked
graph examples run through all of them. A task that dies becomes one ``fail`` Finding; every
Finding that does not pass gets the command that reruns its case.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from manualbp.findings import Finding
from manualbp.pipeline.executors import Death, Executor
from manualbp.pipeline.run import Progress, raise_bad_input
from manualbp.quantity import Quantity

#: Kinds whose worked examples are graphs of several nodes.
GRAPH_KINDS = ("add", "multiply", "max")


@dataclass(frozen=True)
class LayerRequest:
    """One ``--layer SPEC`` and its ``--as KIND`` (None: not asserted)."""

    spec: str
    kind: str | None = None

    def words(self) -> list[str]:
        """The command-line words that name this layer again."""
        return ["--layer", self.spec, *(["--as", self.kind] if self.kind else [])]


@dataclass(frozen=True)
class LayerSettings:
    """What to run on every layer: checks, random cases (or exact ``case_seeds``), seed,
    the :class:`~manualbp.checks.layer.LayerSpace` (None: its defaults) and its words."""

    checks: tuple[str, ...]
    cases: int
    seed: int = 0
    case_seeds: tuple[int, ...] = ()
    space: object = None
    space_args: tuple[str, ...] = ()


def tasks(requests: Sequence[LayerRequest]) -> list[tuple[LayerRequest, ...]]:
    """The requests grouped into tasks: the graph nodes together, every other one alone."""
    nodes = tuple(r for r in requests if r.kind in GRAPH_KINDS)
    alone = [(r,) for r in requests if r.kind not in GRAPH_KINDS]
    return [*alone, *([nodes] if nodes else [])]


def reproduce(group: tuple[LayerRequest, ...], settings: LayerSettings, finding: Finding) -> str:
    """The command that reruns the case behind ``finding`` (its layer, check and seed)."""
    words = ["manualbp", "verify"]
    for request in group:
        words += request.words()
    words += ["--checks", finding.check]
    if finding.seed is not None:
        words += ["--case-seed", str(finding.seed), *settings.space_args]
    return shlex.join(words)


def run_layers(
    requests: Sequence[LayerRequest],
    settings: LayerSettings,
    executor: Executor,
    progress: Progress | None = None,
) -> list[Finding]:
    """Every Finding of the layer check on every requested layer."""
    groups = tasks(requests)
    findings: list[Finding] = []
    results = executor.map([("layers", group, settings) for group in groups])
    for done, (position, result) in enumerate(results, start=1):
        group = groups[position]
        result = raise_bad_input(result)
        if isinstance(result, Death):
            result = [
                Finding(
                    check="fd",
                    case="layer",
                    quantity=Quantity.word("case").format(),
                    verdict="fail",
                    reason=result.sentence(", ".join(r.spec for r in group)),
                    impl=", ".join(r.spec for r in group),
                    detail={"traceback": list(result.trace)} if result.trace else {},
                )
            ]
        for finding in result:
            if finding.verdict in ("fail", "inconclusive") and finding.reproduce is None:
                finding.reproduce = reproduce(group, settings, finding)
        findings += result
        if progress is not None:
            progress("layers", done, len(groups))
    return findings

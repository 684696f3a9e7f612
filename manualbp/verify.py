"""``manualbp verify``: run the checks on one or more implementations and build the report.

Options → a :class:`~manualbp.plan.Plan` and one :class:`SubjectRequest` per ``--impl`` →
the pipeline (:mod:`manualbp.pipeline.run`: describe the subjects, run their units in
supervised worker processes) → diagnosis of every failing case → :class:`Report`. This
module does no printing; the CLI does.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from manualbp.checks import CHECKS, check_names
from manualbp.diagnosis import annotate
from manualbp.errors import UsageError
from manualbp.pipeline.executors import Executor
from manualbp.pipeline.layers import LayerRequest, LayerSettings, run_layers
from manualbp.pipeline.run import Progress, describe, run_subject, shrink_first_failure
from manualbp.pipeline.supervisor import DEFAULT_MEMORY_LIMIT, DEFAULT_TIMEOUT, Supervisor
from manualbp.pipeline.work import SubjectRequest
from manualbp.plan import Plan, Shard
from manualbp.report.model import Report, canonical_order, environment
from manualbp.space import ArchSpace

__all__ = [
    "DEFAULT_CASES",
    "DEFAULT_IMPLEMENTATIONS",
    "Shard",
    "VerifyOptions",
    "load_references",
    "run_verify",
]

DEFAULT_IMPLEMENTATIONS: tuple[str, ...] = ("manualbp.engine", "manualbp.mazur")
DEFAULT_CASES = 25
DEFAULT_LAYER_CASES = 5


@dataclass(frozen=True)
class VerifyOptions:
    """Everything ``manualbp verify`` can be told; the defaults are the main job.

    ``timeout``: seconds one unit (one check on one case) may take; ``memory_limit``: bytes
    of address space of each worker process (None: unlimited); ``argv``: the command line,
    kept in the report's metadata; ``strict``: ``imprecise`` findings fail the run.
    """

    impls: tuple[str, ...] = DEFAULT_IMPLEMENTATIONS
    checks: tuple[str, ...] = CHECKS
    cases: int = DEFAULT_CASES
    seed: int = 0
    case_seeds: tuple[int, ...] = ()
    references: tuple[Path, ...] = ()
    space: ArchSpace = field(default_factory=ArchSpace)
    shard: Shard | None = None
    jobs: int = 1
    shrink: bool = True
    timeout: float = DEFAULT_TIMEOUT
    memory_limit: int | None = DEFAULT_MEMORY_LIMIT
    argv: tuple[str, ...] = ()
    layers: tuple[LayerRequest, ...] = ()
    layer_space: tuple[Any, tuple[str, ...]] | None = None
    layer_cases: int | None = None
    strict: bool = False

    def __post_init__(self) -> None:
        check_names(self.checks)
        if self.jobs < 1:
            raise UsageError(f"-j/--jobs: got {self.jobs}, expected a positive integer")
        if not self.timeout > 0:
            raise UsageError(f"--timeout: got {self.timeout!r}, expected a positive number")

    def plan(self, references: Sequence[Any] = ()) -> Plan:
        """The :class:`Plan` of these options, with the loaded worked examples."""
        return Plan(
            checks=self.checks,
            cases=self.cases,
            seed=self.seed,
            case_seeds=self.case_seeds,
            shard=self.shard,
            references=tuple(references),
        )

    def layer_settings(self) -> LayerSettings:
        """How the ``--layer`` checks run: these checks and seed, ``layer_cases`` (default
        5) random cases or the case seeds, in ``layer_space``."""
        space, words = self.layer_space or (None, ())
        cases = self.layer_cases if self.layer_cases is not None else DEFAULT_LAYER_CASES
        return LayerSettings(self.checks, cases, self.seed, self.case_seeds, space, words)

    def requests(self) -> list[SubjectRequest]:
        """One request per ``--impl``, each drawing from the options' space."""
        return [SubjectRequest(spec, self.space) for spec in self.impls]


def load_references(options: VerifyOptions) -> list[Any]:
    """The worked examples to check: ``--reference`` files, or the built-in ones."""
    from manualbp.checks import published

    if "published" not in options.checks:
        return []
    if options.references:
        return [published.load_reference(path) for path in options.references]
    return published.default_references()


def run_verify(
    options: VerifyOptions, progress: Progress | None = None, executor: Executor | None = None
) -> Report:
    """Run the selected checks on every implementation; return the Report (not yet written).

    The implementations run in ``options.jobs`` supervised worker processes (or in the
    given ``executor``); the report is the same whatever the number of processes, timings
    aside. With ``shrink``, the first random case the autograd check fails for each
    implementation is shrunk to a smallest failing network (``extras["minimal_failures"]``).
    """
    plan = options.plan(load_references(options))
    started = time.perf_counter()
    if executor is None:
        with Supervisor(options.jobs, options.timeout, options.memory_limit) as supervisor:
            return _run(options, plan, supervisor, progress, started)
    return _run(options, plan, executor, progress, started)


def _run(
    options: VerifyOptions,
    plan: Plan,
    executor: Executor,
    progress: Progress | None,
    started: float,
) -> Report:
    subjects, findings = describe(options.requests(), executor)
    timings: dict[str, float] = {}
    for subject in subjects:
        subject_started = time.perf_counter()
        findings += run_subject(subject, plan, executor, progress)
        timings[subject.name] = time.perf_counter() - subject_started
    if options.layers:
        layer_started = time.perf_counter()
        findings += run_layers(options.layers, options.layer_settings(), executor, progress)
        timings["layers"] = time.perf_counter() - layer_started
    annotate(findings)  # diagnosis and localisation of every failing case
    extras: dict[str, Any] = {}
    if options.shrink and "autograd" in options.checks:
        shrunk = [shrink_first_failure(subject, findings, executor) for subject in subjects]
        if any(shrunk):
            extras["minimal_failures"] = [entry for entry in shrunk if entry]
    timings["total"] = time.perf_counter() - started
    metadata: dict[str, Any] = {
        **environment(),
        "command": " ".join(("manualbp", "verify", *options.argv)),
        "argv": list(options.argv),
        "impls": list(options.impls),
        "layers": [request.words()[1:] for request in options.layers],
        "checks": list(options.checks),
        "seed": options.seed,
        "cases": options.cases if not options.case_seeds else len(options.case_seeds),
        "case_seeds": list(options.case_seeds),
        "space": list(options.space.to_cli()),
        "dtype": "float64",
        "strict": options.strict,
        "shard": str(options.shard) if options.shard else None,
        "jobs": options.jobs,
        "timings": timings,
    }
    return Report(findings=canonical_order(findings), metadata=metadata, extras=extras)

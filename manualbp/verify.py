"""``manualbp verify``: run the three checks on one or more implementations and build the report.

The pipeline is one-directional: options → implementations and cases → checks → Findings →
Report. This module chooses the cases (a pure function of the run seed and the case space,
sharded deterministically), calls each check, labels every Finding with how to reproduce
it, and decides the verdict of the run. It does no printing; the CLI does.
"""

from __future__ import annotations

import math
import multiprocessing
import shlex
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from manualbp.architecture import Architecture
from manualbp.case import Case
from manualbp.diagnosis import annotate
from manualbp.errors import UsageError
from manualbp.findings import CHECKS, Finding
from manualbp.protocol import implementation_name, load_implementation
from manualbp.report.model import Report, canonical_order, environment
from manualbp.space import ArchSpace, case_seed, random_case
from manualbp.threads import single_threaded_environment

DEFAULT_IMPLEMENTATIONS: tuple[str, ...] = ("manualbp.engine", "manualbp.mazur")
DEFAULT_CASES = 25


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (1-based): the random cases i with i % count == index - 1."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """Parse ``i/n`` with 1 <= i <= n."""
        try:
            index_text, count_text = text.split("/")
            index, count = int(index_text), int(count_text)
        except ValueError:
            raise UsageError(f"--shard: got {text!r}, expected i/n such as 1/4") from None
        if not 1 <= index <= count:
            raise UsageError(f"--shard: got {text!r}, expected 1 <= i <= n")
        return cls(index, count)

    def owns(self, case_index: int) -> bool:
        """True when this shard runs random case ``case_index``."""
        return case_index % self.count == self.index - 1

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


@dataclass(frozen=True)
class VerifyOptions:
    """Everything ``manualbp verify`` can be told; the defaults are the main job."""

    impls: tuple[str, ...] = DEFAULT_IMPLEMENTATIONS
    checks: tuple[str, ...] = CHECKS
    cases: int = DEFAULT_CASES
    seed: int = 0
    case_seeds: tuple[int, ...] = ()
    references: tuple[Path, ...] = ()
    space: ArchSpace = field(default_factory=ArchSpace)
    space_args: tuple[str, ...] = ()
    shard: Shard | None = None
    jobs: int = 1
    shrink: bool = True

    def __post_init__(self) -> None:
        unknown = [c for c in self.checks if c not in CHECKS]
        if unknown or not self.checks:
            raise UsageError(
                f"--checks: got {','.join(self.checks) or 'nothing'}, expected a comma-separated "
                f"subset of {','.join(CHECKS)}"
            )
        if self.cases < 0:
            raise UsageError(f"--cases: got {self.cases}, expected a non-negative integer")
        if self.jobs < 1:
            raise UsageError(f"-j/--jobs: got {self.jobs}, expected a positive integer")

    def worker_shard(self, k: int) -> Shard:
        """The part of this run's cases that worker ``k`` of ``jobs`` runs (0-based).

        Shard i/n split J ways: worker k takes shard (i + n·k)/(n·J); the J parts are
        disjoint and together are exactly shard i/n, and only the worker whose part is
        shard 1/(n·J) — the one holding case 0 — runs the worked examples.
        """
        shard = self.shard or Shard(1, 1)
        return Shard(shard.index + shard.count * k, shard.count * self.jobs)


@dataclass(frozen=True)
class Subject:
    """One implementation under test: how it was named, the loaded object, its case space."""

    spec: str
    impl: Any
    name: str
    space: ArchSpace


def load_subjects(options: VerifyOptions) -> list[Subject]:
    """Load every ``--impl``; an implementation that declares ``architectures`` (such as
    manualbp.mazur) gets random cases on those architectures unless ``--arch`` fixed one."""
    subjects = []
    for spec in options.impls:
        impl = load_implementation(spec)
        space = options.space
        declared = getattr(impl, "architectures", None)
        if declared and not space.fixed:
            fixed = tuple(a for a in declared if isinstance(a, Architecture))
            if fixed:
                space = replace(space, fixed=fixed)
        subjects.append(Subject(spec, impl, implementation_name(impl, spec), space))
    return subjects


def planned_cases(options: VerifyOptions, space: ArchSpace) -> list[tuple[int, Case]]:
    """(case index, case) for this run and shard: ``--case-seed`` cases, or ``--cases N``
    cases seeded by :func:`~manualbp.space.case_seed` from ``--seed``."""
    if options.case_seeds:
        seeds = list(options.case_seeds)
    else:
        seeds = [case_seed(options.seed, i) for i in range(options.cases)]
    planned = []
    for index, seed in enumerate(seeds):
        if options.shard is None or options.shard.owns(index):
            planned.append((index, random_case(seed, space, case_id=f"case-{index}")))
    return planned


def reproduce_command(options: VerifyOptions, subject: Subject, finding: Finding) -> str:
    """The command line that reruns exactly the case behind ``finding``."""
    parts = ["manualbp", "verify", "--impl", subject.spec, "--checks", finding.check]
    if finding.check == "published":
        from manualbp.checks.published_file import BUILTIN_PREFIX

        source = finding.detail.get("source")
        if source and not str(source).startswith(BUILTIN_PREFIX):  # built-ins run by default
            parts += ["--reference", str(source)]
    elif finding.seed is not None:
        parts += ["--case-seed", str(finding.seed), *options.space_args]
    return shlex.join(parts)


Progress = Callable[[str, int, int], None]


def load_references(options: VerifyOptions) -> list[Any]:
    """The worked examples to check: ``--reference`` files, or the built-in ones."""
    from manualbp.checks import published

    if options.references:
        return [published.load_reference(path) for path in options.references]
    return published.default_references()


def _check_runs(
    options: VerifyOptions, subject: Subject, references: list[Any]
) -> Iterator[tuple[str, Callable[[], Iterable[Finding]], int]]:
    """(check name, a call that yields its Findings, number of units) for one subject."""
    from manualbp.checks import autograd, fd, published

    planned = planned_cases(options, subject.space)
    cases = [case for _, case in planned]
    index_of = {case.case_id: index for index, case in planned}

    def labelled(findings: Iterable[Finding]) -> Iterator[Finding]:
        for finding in findings:
            if finding.case in index_of:
                finding.detail.setdefault("case_index", index_of[finding.case])
            yield finding

    if "fd" in options.checks:
        yield (
            "fd",
            lambda: labelled(fd.run(subject.impl, cases, impl_name=subject.name)),
            len(cases),
        )
    if "autograd" in options.checks:
        yield (
            "autograd",
            lambda: labelled(autograd.run(subject.impl, cases, impl_name=subject.name)),
            len(cases),
        )
    if "published" in options.checks and references:
        yield (
            "published",
            lambda: published.run(subject.impl, references, impl_name=subject.name),
            len(references),
        )


def run_verify(options: VerifyOptions, progress: Progress | None = None) -> Report:
    """Run the selected checks on every implementation; return the Report (not yet written).

    With ``jobs`` > 1 the cases are split between that many processes
    (:meth:`VerifyOptions.worker_shard`) and their Findings joined: the report is the one a
    single process makes, timings aside. With ``shrink``, the first random case the
    autograd check fails for each implementation is shrunk to a smallest failing network
    (:func:`minimal_failures`, in ``extras["minimal_failures"]``).
    """
    if options.jobs > 1:
        report = _run_in_processes(options, progress)
    else:
        report = _run_here(options, progress)
    if options.shrink:
        shrunk = minimal_failures(options, report.findings)
        if shrunk:
            report.extras["minimal_failures"] = shrunk
    return report


def _run_here(options: VerifyOptions, progress: Progress | None) -> Report:
    """:func:`run_verify`'s checks in this process."""
    subjects = load_subjects(options)
    references = load_references(options) if "published" in options.checks else []
    if options.shard is not None and options.shard.index != 1:
        references = []  # worked examples run once, in the first shard
    started = time.perf_counter()
    findings: list[Finding] = []
    timings: dict[str, float] = {}
    for position, subject in enumerate(subjects):
        own = [r for r in references if position == 0 or r.kind == "mlp"]
        for check, call, total in _check_runs(options, subject, own):
            check_started = time.perf_counter()
            seen_cases: set[str] = set()
            for finding in call():
                if finding.verdict in ("fail", "inconclusive") and finding.reproduce is None:
                    finding.reproduce = reproduce_command(options, subject, finding)
                findings.append(finding)
                if progress is not None and finding.case not in seen_cases:
                    seen_cases.add(finding.case)
                    progress(f"{subject.name} {check}", len(seen_cases), total)
            key = f"{subject.name}:{check}"
            timings[key] = timings.get(key, 0.0) + time.perf_counter() - check_started
    annotate(findings)  # diagnosis and localisation of every failing case
    timings["total"] = time.perf_counter() - started
    metadata: dict[str, Any] = {
        **environment(),
        "command": "manualbp verify",
        "impls": [s.spec for s in subjects],
        "checks": list(options.checks),
        "seed": options.seed,
        "cases": options.cases if not options.case_seeds else len(options.case_seeds),
        "case_seeds": list(options.case_seeds),
        "space": list(options.space_args),
        "dtype": "float64",
        "shard": str(options.shard) if options.shard else None,
        "timings": timings,
    }
    return Report(findings=canonical_order(findings), metadata=metadata)


def _run_worker(options: VerifyOptions) -> dict[str, Any]:
    return _run_here(options, None).to_dict()


def _run_in_processes(options: VerifyOptions, progress: Progress | None) -> Report:
    """:func:`run_verify` split over ``options.jobs`` fresh processes (spawned, so no
    thread pool or torch state is inherited), each limited to one BLAS/torch thread."""
    load_subjects(options)  # an --impl that cannot load is reported once, here
    started = time.perf_counter()
    parts = [
        replace(options, jobs=1, shrink=False, shard=options.worker_shard(k))
        for k in range(options.jobs)
    ]
    with single_threaded_environment():
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=options.jobs, mp_context=context) as pool:
            futures = [pool.submit(_run_worker, part) for part in parts]
            reports = []
            for done, future in enumerate(as_completed(futures), start=1):
                reports.append(Report.from_dict(future.result()))
                if progress is not None:
                    progress(f"{options.jobs} processes", done, options.jobs)
    reports.sort(key=lambda report: Shard.parse(str(report.metadata["shard"])).index)
    timings: dict[str, float] = {}
    for report in reports:
        for key, seconds in report.metadata.get("timings", {}).items():
            timings[key] = timings.get(key, 0.0) + seconds
    timings["total"] = time.perf_counter() - started
    metadata = {
        **reports[0].metadata,
        "shard": str(options.shard) if options.shard else None,
        "jobs": options.jobs,
        "timings": timings,
    }
    findings = [finding for report in reports for finding in report.findings]
    return Report(findings=canonical_order(findings), metadata=metadata)


@dataclass(frozen=True)
class Outcome:
    """The verdict of a run: exit code 0 (all agree), 1 (a fail, or nothing verified)."""

    exit_code: int
    message: str


def outcome(report: Report) -> Outcome:
    """Exit 1 on any ``fail``; exit 1 when nothing passed (every case skipped is not a pass)."""
    verdicts = [f.verdict for f in report.findings]
    fails = verdicts.count("fail")
    if fails:
        return Outcome(1, f"FAIL: {fails} finding(s) disagree")
    if not any(v in ("pass", "erratum") for v in verdicts):
        return Outcome(1, "NOT VERIFIED: every case was skipped or inconclusive; nothing passed")
    return Outcome(0, "PASS: every comparison agrees (known errata shown as erratum)")


def summary_rows(report: Report) -> list[tuple[str, str, dict[str, int]]]:
    """(implementation, check, {verdict: count}) rows in run order for the summary table."""
    rows: dict[tuple[str, str], dict[str, int]] = {}
    for finding in report.findings:
        row = rows.setdefault((finding.impl, finding.check), {})
        row[finding.verdict] = row.get(finding.verdict, 0) + 1
    return [(impl, check, counts) for (impl, check), counts in rows.items()]


def worst_failures(findings: Sequence[Finding], limit: int) -> list[Finding]:
    """The ``limit`` failing Findings with the largest relative error, worst first."""
    failing = [f for f in findings if f.verdict == "fail"]
    failing.sort(key=_severity, reverse=True)
    return failing[:limit]


def _severity(finding: Finding) -> float:
    """Sort key of a failing Finding: its relative error, with NaN or no number at all
    counted as the worst (an implementation that returned NaN is as wrong as it gets)."""
    error = finding.rel_error
    if error is None or math.isnan(error):
        return math.inf
    return error


#: Distinct cases the shrinker may run the autograd check on, per implementation.
SHRINK_BUDGET = 150


def minimal_failures(options: VerifyOptions, findings: Sequence[Finding]) -> list[dict[str, Any]]:
    """For each implementation with an autograd ``fail`` on a random case, the smallest
    failing case Hypothesis finds below it (:func:`manualbp.strategies.shrink_failure` over
    :func:`~manualbp.strategies.space_below` the first failing case): its architecture,
    batch size, parameter scale, seed, and the Python call that rebuilds it."""
    from manualbp.strategies import rebuild_hint, shrink_failure, space_below

    if "autograd" not in options.checks:
        return []
    shrunk = []
    for subject in load_subjects(options):
        first = next(
            (
                f
                for f in findings
                if f.impl == subject.name
                and f.check == "autograd"
                and f.verdict == "fail"
                and f.seed is not None
            ),
            None,
        )
        if first is None:
            continue
        case = random_case(first.seed, subject.space, case_id=first.case)
        smallest = shrink_failure(subject.impl, space=space_below(case), budget=SHRINK_BUDGET)
        if smallest is None:  # the failure did not recur on the cases drawn below it
            continue
        shrunk.append(
            {
                "impl": subject.name,
                "from_case": first.case,
                "from_seed": first.seed,
                "arch": smallest.arch.to_dict(),
                "batch_size": smallest.batch_size,
                "scale": smallest.meta.get("scale"),
                "seed": smallest.seed,
                "rebuild": rebuild_hint(smallest),
            }
        )
    return shrunk

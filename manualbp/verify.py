"""``manualbp verify``: run the three checks on one or more implementations and build the report.

The pipeline is one-directional: options → implementations and cases → checks → Findings →
Report. This module chooses the cases (a pure function of the run seed and the case space,
sharded deterministically), calls each check, labels every Finding with how to reproduce
it, and decides the verdict of the run. It does no printing; the CLI does.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from manualbp.architecture import Architecture
from manualbp.case import Case
from manualbp.errors import UsageError
from manualbp.findings import CHECKS, Finding
from manualbp.protocol import implementation_name, load_implementation
from manualbp.report.model import Report, environment
from manualbp.space import ArchSpace, case_seed, random_case

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

    def __post_init__(self) -> None:
        unknown = [c for c in self.checks if c not in CHECKS]
        if unknown or not self.checks:
            raise UsageError(
                f"--checks: got {','.join(self.checks) or 'nothing'}, expected a comma-separated "
                f"subset of {','.join(CHECKS)}"
            )
        if self.cases < 0:
            raise UsageError(f"--cases: got {self.cases}, expected a non-negative integer")


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
        source = finding.detail.get("source")
        if source:
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
    """Run the selected checks on every implementation; return the Report (not yet written)."""
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
    return Report(findings=findings, metadata=metadata)


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
    failing.sort(key=lambda f: -(f.rel_error if f.rel_error is not None else float("inf")))
    return failing[:limit]

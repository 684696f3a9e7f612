"""``manualbp selftest``: the checks against every mutant, and against the correct engine.

A check earns trust two ways: it must catch a known bug (kill a mutant) and it must not
flag correct code. For every mutant of :data:`manualbp.mutants.MUTANTS`, the selected checks
run on ``cases`` random cases drawn from the mutant's own ``space`` (the architectures on
which its bug shows), case i seeded by ``case_seed(seed, i)`` exactly as ``manualbp verify``
seeds it (:class:`manualbp.plan.Plan`); ``published`` runs the worked examples the
mutant computes (the ``mlp`` ones, without the figures after 10,000 training updates, which
would cost 2 s per mutant). ``mutant.reset()`` is called before every case and check,
so state kept by the state mutants never leaks from one run into the next. The correct
engine then runs the same checks on as many cases of the full default space, plus every
worked example. The layer mutants (:data:`manualbp.mutants.layers.LAYER_MUTANTS`) run the
layer check on ``cases`` cases of their own spaces. Everything runs in supervised worker
processes, as ``manualbp verify`` does.

The kill matrix (``Report.extras["kill_matrix"]``, the shape :mod:`manualbp.report.killmatrix`
reads) counts, per mutant and check, the cases on which the check reported at least one
``fail`` (for ``published``: worked examples), or None when the check did not run on the
mutant (not selected, or every case skipped). The run passes (exit 0) when every mutant is
killed by some check and the engine gets no ``fail``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from manualbp.checks import CHECKS, check_names
from manualbp.errors import UsageError
from manualbp.findings import Finding, counts
from manualbp.mutants import MUTANTS, Mutant, get_mutant
from manualbp.mutants.layers import LAYER_MUTANTS
from manualbp.pipeline.executors import Death, Executor
from manualbp.pipeline.layers import LayerSettings
from manualbp.pipeline.run import Progress, describe, raise_bad_input, run_subject
from manualbp.pipeline.supervisor import DEFAULT_MEMORY_LIMIT, DEFAULT_TIMEOUT, Supervisor
from manualbp.pipeline.work import SubjectRequest
from manualbp.plan import Plan
from manualbp.report.model import Outcome, Report, environment
from manualbp.report.verdict import selftest_outcome
from manualbp.space import ArchSpace
from manualbp.verify import VerifyOptions, load_references

DEFAULT_CASES = 2
ENGINE_SPEC = "manualbp.engine"


@dataclass(frozen=True)
class SelftestOptions:
    """What ``manualbp selftest`` can be told: checks, cases per mutant, seed, which mutants
    (empty: every one in the catalogue), and the supervision of the worker processes."""

    checks: tuple[str, ...] = CHECKS
    cases: int = DEFAULT_CASES
    seed: int = 0
    mutants: tuple[str, ...] = ()
    jobs: int = 1
    timeout: float = DEFAULT_TIMEOUT
    memory_limit: int | None = DEFAULT_MEMORY_LIMIT

    def __post_init__(self) -> None:
        check_names(self.checks)
        if self.cases < 1:
            raise UsageError(f"--cases: got {self.cases}, expected a positive integer")
        for name in self.mutants:
            if name not in LAYER_MUTANTS:
                get_mutant(name)  # raises UsageError naming the valid mutants

    def plan(self, references: Iterable[Any]) -> Plan:
        """The plan of each subject: ``cases`` random cases seeded as ``manualbp verify``
        seeds them, and ``references``."""
        return Plan(
            checks=self.checks, cases=self.cases, seed=self.seed, references=tuple(references)
        )

    def selected(self) -> list[Mutant]:
        """The MLP mutants to run, in catalogue order (every one when none was named)."""
        if not self.mutants:
            return list(MUTANTS.values())
        chosen = {get_mutant(n).name for n in self.mutants if n not in LAYER_MUTANTS}
        return [mutant for name, mutant in MUTANTS.items() if name in chosen]

    def selected_layers(self) -> list[str]:
        """The layer mutants to run (:data:`manualbp.mutants.layers.LAYER_MUTANTS`), in
        catalogue order (every one when no mutant was named)."""
        if not self.mutants:
            return list(LAYER_MUTANTS)
        return [name for name in LAYER_MUTANTS if name in self.mutants]


def _references(options: SelftestOptions, everything: bool) -> list[Any]:
    """The built-in worked examples when ``published`` is selected: every one, figures
    after training included, when ``everything`` (for the engine); else only the ``mlp``
    ones (those the implementation computes) without their ``trained.*`` figures, whose
    10,000 updates cost about 2 s per mutant; with them, the published column of the kill
    matrix of all 41 mutants was the same (measured with seed 0, 2 cases)."""
    loaded = load_references(VerifyOptions(checks=options.checks))
    if everything:
        return loaded
    return [
        replace(
            reference,
            quantities=tuple(
                q for q in reference.quantities if not q.expression.text.startswith("trained.")
            ),
        )
        for reference in loaded
        if reference.kind == "mlp"
    ]


def layer_mutant_death(name: str, death: Death) -> Finding:
    """The ``fail`` Finding of a layer mutant whose worker died (it counts as caught)."""
    return Finding(
        check="fd", case="layer", quantity="case", verdict="fail",
        reason=death.sentence(name), impl=f"manualbp.mutants.layers:{name}",
    )  # fmt: skip


def kills(findings: Iterable[Finding], checks: Iterable[str]) -> dict[str, int | None]:
    """{check: units with at least one ``fail``} over one mutant's Findings, a unit being a
    random case (fd, autograd) or a worked example (published); None for a check with no
    Finding other than ``skipped`` (it did not run on this mutant)."""
    findings = list(findings)
    result: dict[str, int | None] = {}
    for check in checks:
        own = [f for f in findings if f.check == check]
        ran = any(f.verdict != "skipped" for f in own)
        result[check] = len({f.case for f in own if f.verdict == "fail"}) if ran else None
    return result


def survivors(matrix: dict[str, Any]) -> list[str]:
    """Mutants of a kill matrix that no check caught on any case."""
    return [m for m in matrix["mutants"] if not any(matrix["killed"][m].values())]


def run_selftest(
    options: SelftestOptions, progress: Progress | None = None, executor: Executor | None = None
) -> Report:
    """Run the checks on every selected mutant and on the engine, in ``options.jobs``
    supervised worker processes (or the given ``executor``); ``progress(label, done, total)``
    after each unit. The Report's extras hold ``kill_matrix`` ({"mutants", "checks",
    "killed": {mutant: {check: n | None}}, "cases": {mutant: n}}) and ``selftest``
    (survivors, engine verdict counts)."""
    if executor is None:
        with Supervisor(options.jobs, options.timeout, options.memory_limit) as supervisor:
            return _run(options, supervisor, progress)
    return _run(options, executor, progress)


def _run(options: SelftestOptions, executor: Executor, progress: Progress | None) -> Report:
    started = time.perf_counter()
    mutants = options.selected()
    requests = [SubjectRequest(m.spec, m.space) for m in mutants]
    requests.append(SubjectRequest(ENGINE_SPEC, ArchSpace(), name="engine"))
    subjects, failures = describe(requests, executor)
    *mutant_subjects, engine = subjects
    mutant_plan = options.plan(_references(options, everything=False))
    findings: list[Finding] = list(failures)
    killed: dict[str, dict[str, int | None]] = {}
    timings: dict[str, float] = {}
    for subject in mutant_subjects:
        subject_started = time.perf_counter()
        own = run_subject(subject, mutant_plan, executor, progress)
        killed[subject.name] = kills(own, options.checks)
        findings += own
        timings[subject.name] = time.perf_counter() - subject_started
    settings = LayerSettings(options.checks, options.cases, options.seed)
    layer_names = options.selected_layers()
    results = dict(executor.map([("layer_mutant", name, settings) for name in layer_names]))
    for position, name in enumerate(layer_names):
        own = raise_bad_input(results[position])
        if isinstance(own, Death):
            own = [layer_mutant_death(name, own)]
        killed[name] = kills(own, options.checks)
        findings += own
    engine_started = time.perf_counter()
    engine_plan = options.plan(_references(options, everything=True))
    engine_findings = run_subject(replace(engine, name="engine"), engine_plan, executor, progress)
    timings["engine"] = time.perf_counter() - engine_started
    findings += engine_findings
    names = [m.name for m in mutants] + layer_names
    matrix = {
        "mutants": names,
        "checks": list(options.checks),
        "killed": killed,
        "cases": dict.fromkeys(names, options.cases),
    }
    timings["total"] = time.perf_counter() - started
    metadata = {
        **environment(),
        "command": "manualbp selftest",
        "impls": [ENGINE_SPEC, *(m.spec for m in mutants)],
        "checks": list(options.checks),
        "seed": options.seed,
        "cases": options.cases,
        "mutants": names,
        "dtype": "float64",
        "shard": None,
        "jobs": options.jobs,
        "timings": timings,
    }
    extras = {
        "kill_matrix": matrix,
        "selftest": {"survivors": survivors(matrix), "engine": counts(engine_findings)},
    }
    return Report(findings=findings, metadata=metadata, extras=extras)


def outcome(report: Report) -> Outcome:
    """The verdict of a selftest Report: 1 when a mutant survived or the engine failed
    (:func:`manualbp.report.verdict.selftest_outcome`, which the page states too)."""
    return selftest_outcome(report)


def matrix_lines(report: Report) -> list[str]:
    """The kill matrix as text: one row per mutant, per check the cases (worked examples for
    ``published``) on which it was caught, ``-`` where the check did not run; then the
    engine's verdict counts per check."""
    matrix = report.extras["kill_matrix"]
    checks = matrix["checks"]
    width = max([len(m) for m in matrix["mutants"]] + [len("mutant")])
    header = f"{'mutant':<{width}}" + "".join(f"{c:>11}" for c in checks) + f"{'cases':>7}"
    lines = [header, "-" * len(header)]
    for mutant in matrix["mutants"]:
        killed = matrix["killed"][mutant]
        cells = "".join(f"{'-' if killed[c] is None else killed[c]:>11}" for c in checks)
        flag = "  SURVIVED" if not any(killed.values()) else ""
        lines.append(f"{mutant:<{width}}{cells}{matrix['cases'][mutant]:>7}{flag}")
    for check, row in report.extras["selftest"]["engine"].items():
        tally = ", ".join(f"{n} {verdict}" for verdict, n in row.items() if n)
        lines.append(f"correct engine, {check}: {tally}")
    return lines

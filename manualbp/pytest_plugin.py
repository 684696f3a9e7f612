"""The pytest plugin: gradient checks inside a test suite, gathered into one manualbp report.

Registered as a ``pytest11`` entry point, so installing manualbp is enough:

- the fixture ``manualbp_check`` (or :func:`assert_gradients_match`, importable directly)
  runs the checks on an implementation and fails the test with the worst disagreeing
  entry: its quantity and index, both values, the relative error against the tolerance,
  the reason, the likely bug, the case seed and the command that reruns it;
- ``pytest --manualbp-report PATH`` writes every Finding of the session as the JSON
  report ``PATH`` with the suffix ``.json`` and the HTML page with the suffix ``.html``
  (``reports/tests.json`` or ``reports/tests.html`` both write both files), and prints
  one summary line naming them. Each Finding carries its test's node id in
  ``detail["test"]``;
- ``--manualbp-junit PATH`` and ``--manualbp-markdown PATH`` write the same Findings as
  JUnit XML (one testcase per implementation, check and case) and as a Markdown summary,
  with or without ``--manualbp-report``; all the files are written together.

Under pytest-xdist each worker sends its Findings to the controller (``workeroutput``,
read in ``pytest_testnodedown``) and only the controller writes, so ``-n 4`` gives one
report holding the Findings of every worker.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from manualbp.api import DEFAULT_CHECKS
from manualbp.architecture import Architecture
from manualbp.case import Case
from manualbp.errors import ManualbpError
from manualbp.findings import Finding
from manualbp.report.message import failure_message
from manualbp.report.model import Report, environment
from manualbp.report.outputs import Outputs
from manualbp.space import ArchSpace

__all__ = [
    "COLLECTOR",
    "DEFAULT_CHECKS",
    "FindingCollector",
    "assert_gradients_match",
    "assert_layer",
    "failure_message",
]

WORKER_OUTPUT_KEY = "manualbp_report"
"""The ``workeroutput`` entry a pytest-xdist worker sends its Findings in (report JSON)."""


@dataclass
class FindingCollector:
    """The Findings of one test session, each labelled with the test that produced it."""

    findings: list[Finding] = field(default_factory=list)

    def record(self, findings: Sequence[Finding]) -> None:
        """Keep ``findings``, labelling each with the current test (``detail["test"]``) and,
        under pytest-xdist, the worker that ran it (``detail["xdist_worker"]``)."""
        labels = {"test": current_test(), "xdist_worker": os.environ.get("PYTEST_XDIST_WORKER")}
        for finding in findings:
            for key, value in labels.items():
                if value:
                    finding.detail.setdefault(key, value)
            self.findings.append(finding)

    def report(self) -> Report:
        """The session's report: Findings ordered by test (stable within a test, so the
        order does not depend on which xdist worker ran which test), and run metadata."""
        ordered = sorted(self.findings, key=lambda f: str(f.detail.get("test", "")))
        tests = sorted({str(f.detail["test"]) for f in ordered if "test" in f.detail})
        metadata = {
            **environment(),
            "command": "pytest --manualbp-report",
            "checks": sorted({f.check for f in ordered}),
            "impls": sorted({f.impl for f in ordered if f.impl}),
            "tests": tests,
            "dtype": "float64",
        }
        return Report(findings=ordered, metadata=metadata)


_ACTIVE: list[FindingCollector] = []
"""Collectors of the pytest sessions running in this process, innermost last (a session
may start another in-process, as pytester does)."""


def current_test() -> str:
    """The node id of the running test (from ``PYTEST_CURRENT_TEST``), or ``""``."""
    running = os.environ.get("PYTEST_CURRENT_TEST", "")
    return running.rsplit(" (", 1)[0]


def assert_gradients_match(
    impl: object,
    cases: int | Case | Sequence[Case] = 3,
    *,
    arch: Architecture | None = None,
    space: ArchSpace | None = None,
    seed: int = 0,
    checks: Sequence[str] = DEFAULT_CHECKS,
    collector: FindingCollector | None = None,
) -> list[Finding]:
    """Run ``checks`` (``fd``, ``autograd``, ``published``) on ``impl`` and raise
    AssertionError (see :func:`failure_message`) unless every comparison agrees.

    ``impl`` is an implementation of the protocol or its ``--impl`` spec
    (``package.module:object``). ``cases`` is a number of random cases, drawn exactly as
    ``manualbp verify --seed SEED --cases N`` draws them — on ``arch`` when given, else from
    ``space`` (an :class:`~manualbp.space.ArchSpace`, e.g. the activations and losses the
    implementation supports; default: the whole space) — or the Case(s) to check. Failing
    cases are diagnosed and localised as in ``manualbp verify``. Every Finding goes to
    ``collector`` (default: the running pytest session's, if the plugin is active).
    Returns the Findings when all agree.
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not this function's
    from manualbp.api import check
    from manualbp.protocol import implementation_name

    report = check(impl, arch=arch, space=space, cases=cases, seed=seed, checks=checks)
    if collector is None and _ACTIVE:
        collector = _ACTIVE[-1]
    if collector is not None:
        collector.record(report.findings)
    if not report.ok:
        name = report.findings[0].impl if report.findings else implementation_name(impl)
        raise AssertionError(failure_message(report.findings, name))
    return report.findings


def assert_layer(
    layers: object,
    kind: str | None = None,
    *,
    cases: int = 3,
    seed: int = 0,
    checks: Sequence[str] = ("fd", "autograd", "published"),
    space: Any = None,
    collector: FindingCollector | None = None,
) -> list[Finding]:
    """Check a hand-written layer and raise AssertionError unless every comparison agrees.

    ``layers`` is an imported module (with ``kind``, its layer of that kind, e.g.
    ``assert_layer(my_layers, "affine")``; without, every pair and loss in it), a class, a
    ``(forward, backward)`` pair, a loss function or a ``--layer`` spec string (see
    :mod:`manualbp.checks.layer`). ``kind`` asserts what the layer is, so the torch
    reference and the worked examples run too; ``space`` is a
    :class:`~manualbp.checks.layer.LayerSpace`. The message names the worst entry, both
    values, the verdict's reason, the likely bug and the seed. Every Finding goes to
    ``collector`` (default: the running pytest session's). Returns the Findings.
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not this function's
    from manualbp.checks.layer import run_many, subjects_of
    from manualbp.report.model import outcome

    subjects = subjects_of(layers, kind)
    findings = list(run_many(subjects, checks=tuple(checks), cases=cases, seed=seed, space=space))
    if collector is None and _ACTIVE:
        collector = _ACTIVE[-1]
    if collector is not None:
        collector.record(findings)
    if outcome(Report(findings)).exit_code != 0:
        names = ", ".join(subject.name for subject in subjects)
        raise AssertionError(failure_message(findings, names))
    return findings


# --- pytest hooks --------------------------------------------------------------------------

COLLECTOR = pytest.StashKey[FindingCollector]()
"""``config.stash[COLLECTOR]``: the session's :class:`FindingCollector`."""
WRITTEN = pytest.StashKey[list[Path]]()
"""``config.stash[WRITTEN]``: the paths the controller wrote."""


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--manualbp-report PATH``, ``--manualbp-junit PATH``, ``--manualbp-markdown PATH``."""
    group = parser.getgroup("manualbp", "manualbp gradient checks")
    group.addoption(
        "--manualbp-report",
        metavar="PATH",
        default=None,
        help="write the Findings of every manualbp check in the session as PATH.json and "
        "PATH.html (the suffix of PATH is replaced)",
    )
    group.addoption(
        "--manualbp-junit",
        metavar="PATH",
        default=None,
        help="write the Findings as JUnit XML (one testcase per implementation, check and case)",
    )
    group.addoption(
        "--manualbp-markdown",
        metavar="PATH",
        default=None,
        help="write a Markdown summary of the Findings (for a CI step summary)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Check the report paths can be written (a usage error otherwise), start the
    session's collector."""
    outputs = report_outputs(config)
    if outputs is not None and not hasattr(config, "workerinput"):
        try:
            outputs.check()
        except ManualbpError as exc:
            raise pytest.UsageError(str(exc)) from None
    collector = FindingCollector()
    config.stash[COLLECTOR] = collector
    _ACTIVE.append(collector)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Forget the session's collector."""
    collector = config.stash.get(COLLECTOR, None)
    if collector in _ACTIVE:
        _ACTIVE.remove(collector)


def report_paths(config: pytest.Config) -> tuple[Path, Path] | None:
    """(JSON, HTML) paths of ``--manualbp-report``, relative to where pytest was started."""
    option = config.getoption("manualbp_report")
    if not option:
        return None
    path = config.invocation_params.dir / option
    return path.with_suffix(".json"), path.with_suffix(".html")


def report_outputs(config: pytest.Config) -> Outputs | None:
    """Every file the options ask for, relative to where pytest was started; None when
    none is asked for."""
    pages = report_paths(config)
    here = config.invocation_params.dir
    junit, markdown = (config.getoption(name) for name in ("manualbp_junit", "manualbp_markdown"))
    if pages is None and not junit and not markdown:
        return None
    return Outputs(
        json=pages[0] if pages else None,
        html=pages[1] if pages else None,
        junit=here / junit if junit else None,
        markdown=here / markdown if markdown else None,
        options=(
            ("json", "--manualbp-report"),
            ("html", "--manualbp-report"),
            ("junit", "--manualbp-junit"),
            ("markdown", "--manualbp-markdown"),
        ),
    )


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """Controller under xdist: take the Findings a worker sent."""
    sent = getattr(node, "workeroutput", {}).get(WORKER_OUTPUT_KEY)
    if sent:
        report = Report.from_dict(json.loads(sent), "xdist worker report")
        node.config.stash[COLLECTOR].findings.extend(report.findings)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """A worker sends its Findings; the controller (or a plain run) writes the report."""
    config = session.config
    outputs = report_outputs(config)
    if outputs is None:
        return
    collector = config.stash[COLLECTOR]
    if hasattr(config, "workerinput"):
        sent = json.dumps(Report(findings=collector.findings).to_dict(), allow_nan=False)
        config.workeroutput[WORKER_OUTPUT_KEY] = sent  # type: ignore[attr-defined]
        return
    report = collector.report()
    argv = [str(arg) for arg in config.invocation_params.args]
    report.metadata["argv"] = argv
    report.metadata["command"] = " ".join(["pytest", *argv])
    config.stash[WRITTEN] = outputs.write(report)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """One line: how many Findings, how many failed, where the report went."""
    written = config.stash.get(WRITTEN, None)
    if written is None:
        return
    findings = config.stash[COLLECTOR].findings
    failed = sum(f.verdict == "fail" for f in findings)
    paths = " ".join(str(path) for path in written)
    terminalreporter.write_line(
        f"manualbp report: {len(findings)} findings, {failed} failed: {paths}"
    )


@pytest.fixture
def manualbp_check(request: pytest.FixtureRequest) -> Callable[..., list[Finding]]:
    """:func:`assert_gradients_match` recording into this session's report."""
    return functools.partial(assert_gradients_match, collector=request.config.stash[COLLECTOR])

"""False-alarm campaign: the fd and autograd checks on many random cases of a correct
implementation (manualbp's engine by default, or ``--impl SPEC``).

The implementation is correct, so every ``fail`` it gets is a false alarm of a check. The
cases come from the full default :class:`~manualbp.space.ArchSpace` (every activation, loss,
bias mode and reduction; parameter scales that saturate sigmoid/tanh and scales of 1e-3 that
put ReLU pre-activations at the kink), drawn inside what the implementation supports, case i
seeded exactly as ``manualbp verify --seed S`` seeds it, so any case is rerun with the
``reproduce`` command printed for it.

Run from a checkout::

    python -m campaigns.false_alarms --cases 10000 -j 2        # or python campaigns/...
    python -m campaigns.false_alarms --impl tests/corpus/nielsen.py:IMPL --cases 10000 -j 2

It prints, per check, how many Findings (and cases) ended ``pass``, ``imprecise``,
``inconclusive`` and ``fail``, why the inconclusive ones were inconclusive and where the
imprecise ones lost their digits; the JSON summary (default
reports/false_alarms.json) is rewritten after every chunk of cases, so an interrupted run
leaves the counts it reached. Exit 0 when nothing failed, 1 on a false alarm, 2 on bad options.

The implementation runs in supervised worker processes (``-j`` of them, one BLAS/OpenMP/torch
thread each when there are several), as in ``manualbp verify``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

if __package__ in (None, ""):  # run as ``python campaigns/false_alarms.py`` from a checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CAMPAIGN_CHECKS: tuple[str, ...] = ("fd", "autograd")
DEFAULT_CASES = 10_000
DEFAULT_JSON = Path("reports") / "false_alarms.json"
#: Cases per unit of work handed to a process (and per rewrite of the JSON summary).
CHUNK = 20
#: Example cases kept per inconclusive reason, and false alarms kept in full.
EXAMPLES = 3
MAX_FAILS = 50
VERDICT_ORDER: tuple[str, ...] = ("fail", "imprecise", "inconclusive", "pass", "skipped", "erratum")

_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?")
_PARENTHESES = re.compile(r"\s*\([^)]*\)")


class CampaignError(ValueError):
    """Bad campaign options (printed as one line, exit 2)."""


def reason_key(check: str, method: str, quantity: str, reason: str) -> str:
    """A stable label for why a Finding was inconclusive: ``check/method: first clause``.

    The method is the fd method, or for autograd the quantity's family (``grad``,
    ``delta``, ``step``, ``frozen_step``); numbers, parentheses and the list of layers are
    dropped from the first clause of the reason, so equal causes count together.
    """
    family = method or re.sub(r"\d+$", "", quantity.split(".")[0].split("[")[0])
    clause = re.split(r": |; ", reason, maxsplit=1)[0]
    clause = _PARENTHESES.sub("", _NUMBER.sub("#", clause)).split(" in layer")[0]
    return f"{check}/{family}: {clause.strip()}"


@dataclass
class Tally:
    """Counts over a set of cases.

    ``findings[check][verdict]``: Findings; ``cases_with[check][verdict]``: cases with at
    least one such Finding; ``reasons``: inconclusive Findings per :func:`reason_key` and
    imprecise ones per the places where float64 lost digits;
    ``examples``: a few (case index, seed, quantity) per reason; ``fails``: false alarms.
    """

    cases: int = 0
    findings: dict[str, dict[str, int]] = field(default_factory=dict)
    cases_with: dict[str, dict[str, int]] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    fails: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def record(self, index: int, findings: Sequence[Any]) -> None:
        """Count the Findings of random case ``index`` (all checks)."""
        self.cases += 1
        seen: set[tuple[str, str]] = set()
        for finding in findings:
            row = self.findings.setdefault(finding.check, {})
            row[finding.verdict] = row.get(finding.verdict, 0) + 1
            seen.add((finding.check, finding.verdict))
            where = {"index": index, "seed": finding.seed, "quantity": finding.quantity}
            if finding.verdict in ("inconclusive", "imprecise"):
                key = reason_key(finding.check, finding.method, finding.quantity, finding.reason)
                if finding.verdict == "imprecise":
                    places = finding.detail.get("precision", {}).get("places", [])
                    key = f"{key.split(':')[0]}: imprecise at " + ", ".join(
                        place["where"] for place in places
                    )
                self.reasons[key] = self.reasons.get(key, 0) + 1
                kept = self.examples.setdefault(key, [])
                if len(kept) < EXAMPLES and all(k["index"] != index for k in kept):
                    kept.append(where)  # example cases, each once
            elif finding.verdict == "fail" and len(self.fails) < MAX_FAILS:
                self.fails.append(
                    {**where, "check": finding.check, "method": finding.method,
                     "rel_error": finding.to_dict()["rel_error"], "reason": finding.reason,
                     "reproduce": finding.reproduce}
                )  # fmt: skip
        for check, verdict in seen:
            row = self.cases_with.setdefault(check, {})
            row[verdict] = row.get(verdict, 0) + 1

    def add(self, other: Tally) -> None:
        """Merge the counts of ``other`` (another chunk of cases) into this tally."""
        self.cases += other.cases
        self.seconds += other.seconds
        for mine, theirs in ((self.findings, other.findings), (self.cases_with, other.cases_with)):
            for check, row in theirs.items():
                target = mine.setdefault(check, {})
                for verdict, count in row.items():
                    target[verdict] = target.get(verdict, 0) + count
        for key, count in other.reasons.items():
            self.reasons[key] = self.reasons.get(key, 0) + count
            kept = self.examples.setdefault(key, [])
            kept.extend(other.examples.get(key, [])[: EXAMPLES - len(kept)])
        self.fails.extend(other.fails[: MAX_FAILS - len(self.fails)])

    def failures(self) -> int:
        """Number of ``fail`` Findings over every check."""
        return sum(row.get("fail", 0) for row in self.findings.values())


def run_campaign(
    spec: str,
    seed: int,
    cases: int,
    checks: Sequence[str],
    jobs: int = 1,
    shard: Any = None,
    on_chunk: Callable[[Tally], None] | None = None,
) -> Tally:
    """The tally of ``checks`` on the implementation ``spec`` over random cases 0..cases-1 of
    run ``seed`` (this ``shard`` of them), drawn as ``manualbp verify --seed`` draws them,
    inside what the implementation supports; in chunks of about :data:`CHUNK` cases on
    ``jobs`` supervised worker processes; ``on_chunk`` sees the running total."""
    from manualbp.pipeline.run import describe, run_subject
    from manualbp.pipeline.supervisor import Supervisor
    from manualbp.pipeline.work import SubjectRequest
    from manualbp.plan import Plan

    stride = CHUNK * (shard.count if shard is not None else 1)
    total = Tally()
    with Supervisor(jobs) as supervisor:
        (subject,), _ = describe([SubjectRequest(spec)], supervisor)
        for first in range(0, cases, stride):
            plan = Plan(
                checks=tuple(checks),
                cases=min(stride, cases - first),
                first_case=first,
                seed=seed,
                shard=shard,
            )
            started = time.perf_counter()
            by_case: dict[int, list[Any]] = {index: [] for index, _, _ in plan.case_slots()}
            for finding in run_subject(subject, plan, supervisor):
                by_case[finding.detail["case_index"]].append(finding)
            tally = Tally()
            for index, findings in sorted(by_case.items()):
                tally.record(index, findings)
            tally.seconds = time.perf_counter() - started
            total.add(tally)
            if on_chunk is not None:
                on_chunk(total)
    return total


def summary(tally: Tally, settings: dict[str, Any], planned: int, elapsed: float) -> dict[str, Any]:
    """The JSON summary: settings, progress (``cases_done`` of ``cases_planned``) and counts."""
    return {
        "campaign": "false_alarms",
        **settings,
        "cases_planned": planned,
        "cases_done": tally.cases,
        "complete": tally.cases == planned,
        "wall_seconds": round(elapsed, 1),
        "worker_seconds": round(tally.seconds, 1),
        **{key: value for key, value in asdict(tally).items() if key not in ("cases", "seconds")},
    }


def print_summary(tally: Tally, out: TextIO) -> None:
    """Per check: Findings and cases by verdict; then the inconclusive reasons and false alarms."""
    out.write(f"{tally.cases} cases\n")
    out.write(f"{'check':<9}" + "".join(f"{v:>16}" for v in VERDICT_ORDER) + "\n")
    for check, row in tally.findings.items():
        cases = tally.cases_with.get(check, {})
        cells = "".join(f"{row.get(v, 0):>8} ({cases.get(v, 0):>5})" for v in VERDICT_ORDER)
        out.write(f"{check:<9}{cells}\n")
    out.write("(Findings, in parentheses the cases with at least one)\n")
    if tally.reasons:
        out.write("\ninconclusive and imprecise, by reason:\n")
        for key, count in sorted(tally.reasons.items(), key=lambda item: -item[1]):
            seeds = ", ".join(str(e["seed"]) for e in tally.examples.get(key, []))
            out.write(f"  {count:>6}  {key}  (e.g. case seeds {seeds})\n")
    for fail in tally.fails[:10]:
        out.write(
            f"FALSE ALARM {fail['check']} {fail['quantity']} (case seed {fail['seed']}): "
            f"{fail['reason']}\n  reproduce: {fail['reproduce']}\n"
        )


def _checks(text: str) -> tuple[str, ...]:
    chosen = tuple(part.strip() for part in text.split(",") if part.strip())
    if not chosen or any(c not in CAMPAIGN_CHECKS for c in chosen):
        raise argparse.ArgumentTypeError(
            f"got {text!r}, expected a comma-separated subset of {','.join(CAMPAIGN_CHECKS)}"
        )
    return chosen


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The campaign's options."""
    from manualbp.cli.options import positive_int

    parser = _Parser(
        prog="python -m campaigns.false_alarms",
        description="fd and autograd checks on many random cases of a correct implementation; "
        "every fail is a false alarm.",
    )
    parser.add_argument(
        "--impl",
        default="manualbp.engine",
        metavar="SPEC",
        help="implementation (default: manualbp.engine)",
    )
    parser.add_argument("--cases", type=positive_int, default=DEFAULT_CASES, help="cases (10000)")
    parser.add_argument("--seed", type=int, default=0, help="run seed (0)")
    parser.add_argument("-j", "--jobs", type=positive_int, default=1, help="processes (1)")
    parser.add_argument("--shard", metavar="I/N", help="run only cases i with i %% N == I - 1")
    parser.add_argument("--checks", type=_checks, default=CAMPAIGN_CHECKS, help="fd,autograd")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"({DEFAULT_JSON})")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the campaign; exit code 0 (no false alarm), 1 (a false alarm), 2 (bad options)."""
    from manualbp.errors import ManualbpError
    from manualbp.plan import Shard
    from manualbp.report.files import write_atomic

    out = out or sys.stdout
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # --help (0), or a usage error already printed (2)
        return exit_.code if isinstance(exit_.code, int) else 2
    try:
        shard = Shard.parse(args.shard) if args.shard else None
    except ManualbpError as exc:
        sys.stderr.write(f"false_alarms: error: {exc}\n")
        return 2
    planned = sum(1 for i in range(args.cases) if shard is None or shard.owns(i))
    settings = {
        "impl": args.impl,
        "seed": args.seed,
        "cases": args.cases,
        "shard": str(shard) if shard else None,
        "checks": list(args.checks),
        "jobs": args.jobs,
    }
    started = time.perf_counter()

    def save(tally: Tally) -> None:
        document = summary(tally, settings, planned, time.perf_counter() - started)
        write_atomic(args.json, json.dumps(document, indent=1, allow_nan=False, default=str))
        if not args.quiet:
            sys.stderr.write(f"{tally.cases}/{planned} cases, {tally.failures()} fail\n")

    tally = run_campaign(args.impl, args.seed, args.cases, args.checks, args.jobs, shard, save)
    if not tally.cases:  # no chunk ran (--cases 0, or a shard with no case): still a summary
        save(tally)
    print_summary(tally, out)
    out.write(f"summary: {args.json}\n")
    return 1 if tally.failures() else 0


if __name__ == "__main__":
    sys.exit(main())

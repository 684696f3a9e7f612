"""The ``manualbp`` command line: verify, report, demo.

Exit codes: 0 everything agrees, 1 a discrepancy (or nothing could be verified), 2 bad
input or usage — printed as one line, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TextIO

from manualbp import __version__
from manualbp.architecture import (
    ACTIVATIONS,
    BIAS_MODES,
    LOSSES,
    REDUCTIONS,
    Architecture,
)
from manualbp.errors import ArchitectureError, ManualbpError, UsageError
from manualbp.findings import CHECKS, VERDICTS
from manualbp.space import ArchSpace

if TYPE_CHECKING:
    from manualbp.report.model import Report
    from manualbp.verify import Outcome

DEFAULT_JSON = Path("reports") / "report.json"
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _names(option: str, allowed: Sequence[str]) -> Callable[[str], tuple[str, ...]]:
    def parse(text: str) -> tuple[str, ...]:
        chosen = tuple(part.strip() for part in text.split(",") if part.strip())
        unknown = [c for c in chosen if c not in allowed]
        if unknown or not chosen:
            raise argparse.ArgumentTypeError(
                f"got {text!r}, expected a comma-separated subset of {','.join(allowed)}"
            )
        return chosen

    parse.__name__ = option
    return parse


def _range(text: str) -> tuple[int, int]:
    try:
        if "-" in text:
            low, high = (int(part) for part in text.split("-", 1))
        else:
            low = high = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"got {text!r}, expected N or MIN-MAX") from None
    if not 1 <= low <= high:
        raise argparse.ArgumentTypeError(f"got {text!r}, expected 1 <= MIN <= MAX")
    return low, high


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"got {text!r}, expected an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"got {value}, expected a non-negative integer")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand (also what ``--help`` prints)."""
    parser = _Parser(
        prog="manualbp",
        description=(
            "Verify hand-written backpropagation three independent ways: finite differences, "
            "PyTorch autograd, and published worked examples."
        ),
    )
    parser.add_argument("--version", action="version", version=f"manualbp {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    verify = sub.add_parser(
        "verify",
        help="run the checks and write the report (exit 0 agree, 1 discrepancy, 2 bad input)",
        description=(
            "Run finite differences, autograd and published-number checks on one or more "
            "implementations of the manualbp protocol, print a summary and write the JSON "
            "report. Default: all three checks on manualbp.engine and on the "
            "formula-by-formula 2-2-2 network (manualbp.mazur)."
        ),
    )
    verify.add_argument(
        "--impl",
        action="append",
        metavar="SPEC",
        help="implementation under test: package.module[:object] or path/to/file.py[:object] "
        "(repeatable; default: manualbp.engine and manualbp.mazur)",
    )
    verify.add_argument(
        "--checks",
        type=_names("--checks", CHECKS),
        default=CHECKS,
        help=f"comma-separated checks to run (default: {','.join(CHECKS)})",
    )
    verify.add_argument(
        "--cases",
        type=_non_negative,
        default=None,
        help="number of random cases per implementation (default: 25)",
    )
    verify.add_argument("--seed", type=int, default=0, help="seed of the run (default: 0)")
    verify.add_argument(
        "--case-seed",
        type=int,
        action="append",
        metavar="SEED",
        help="run exactly the random case with this seed (repeatable; what failure lines print)",
    )
    verify.add_argument(
        "--reference",
        type=Path,
        action="append",
        metavar="PATH",
        help="worked-example file to check (repeatable; default: the built-in ones)",
    )
    space = verify.add_argument_group("random cases (restrict what is drawn)")
    space.add_argument(
        "--arch", type=Path, metavar="FILE", help="JSON Architecture: fixed network, random data"
    )
    space.add_argument("--activations", type=_names("--activations", ACTIVATIONS))
    space.add_argument("--losses", type=_names("--losses", LOSSES))
    space.add_argument("--bias-modes", type=_names("--bias-modes", BIAS_MODES))
    space.add_argument("--reductions", type=_names("--reductions", REDUCTIONS))
    space.add_argument("--depth", type=_range, metavar="MIN-MAX", help="layers (default 1-5)")
    space.add_argument("--width", type=_range, metavar="MIN-MAX", help="units (default 1-16)")
    space.add_argument("--batch", type=_range, metavar="MIN-MAX", help="rows (default 1-16)")
    output = verify.add_argument_group("output")
    output.add_argument(
        "--json", type=Path, default=DEFAULT_JSON, help=f"JSON report path (default {DEFAULT_JSON})"
    )
    output.add_argument(
        "--shard", metavar="I/N", help="run shard I of N of the random cases (merge with report)"
    )
    output.add_argument(
        "--max-failures", type=_non_negative, default=10, help="failure lines to print (10)"
    )
    output.add_argument("--quiet", action="store_true", help="print only the verdict line")

    demo = sub.add_parser(
        "demo",
        help="run one of the seed systems (no NAME: list them)",
        description="Run a seed system of SEEDS.md and print what its article shows.",
    )
    demo.add_argument("name", nargs="?", help="demo name (omit to list them)")
    demo.add_argument(
        "--output-dir", type=Path, default=Path("reports"), help="where plots go (reports/)"
    )
    return parser


def _space_from(args: argparse.Namespace) -> tuple[ArchSpace, tuple[str, ...]]:
    """The case space the options describe, and those options as command-line words."""
    fields: dict[str, object] = {}
    words: list[str] = []
    if args.arch is not None:
        try:
            text = args.arch.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--arch: cannot read {args.arch} ({exc.strerror})") from None
        try:
            fields["fixed"] = (Architecture.from_json(text),)
        except ArchitectureError as exc:
            raise ArchitectureError(f"--arch {args.arch}: {exc}") from None
        words += ["--arch", str(args.arch)]
    for option, key in (
        ("activations", "activations"),
        ("losses", "losses"),
        ("bias_modes", "bias_modes"),
        ("reductions", "reductions"),
    ):
        value = getattr(args, option)
        if value is not None:
            fields[key] = value
            words += [f"--{option.replace('_', '-')}", ",".join(value)]
    for option in ("depth", "width", "batch"):
        value = getattr(args, option)
        if value is not None:
            fields[option] = value
            words += [f"--{option}", f"{value[0]}-{value[1]}"]
    return ArchSpace(**fields), tuple(words)  # type: ignore[arg-type]


class _ProgressLine:
    """A one-line progress indicator on an interactive stderr."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.width = 0

    def __call__(self, label: str, done: int, total: int) -> None:
        filled = int(20 * done / total) if total else 20
        text = f"\r{label:<32} [{'#' * filled}{'.' * (20 - filled)}] {done}/{total}"
        self.width = max(self.width, len(text))
        self.stream.write(text)
        self.stream.flush()

    def clear(self) -> None:
        if self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()


def _print_summary(report: Report, outcome: Outcome, max_failures: int, out: TextIO) -> None:
    from manualbp.verify import summary_rows, worst_failures

    rows = summary_rows(report)
    width = max([len(impl) for impl, _, _ in rows] + [14])
    header = f"{'implementation':<{width}}  {'check':<9}" + "".join(f"{v:>13}" for v in VERDICTS)
    out.write(header + "\n" + "-" * len(header) + "\n")
    for impl, check, counts in rows:
        cells = "".join(f"{counts.get(v, 0):>13}" for v in VERDICTS)
        out.write(f"{impl:<{width}}  {check:<9}{cells}\n")
    failures = worst_failures(report.findings, max_failures)
    if failures:
        out.write("\nworst failures:\n")
        for finding in failures:
            where = f"{finding.impl} {finding.check} {finding.case}"
            values = ""
            if finding.impl_value is not None and finding.ref_value is not None:
                values = (
                    f" impl={finding.impl_value:.6g} ref={finding.ref_value:.6g}"
                    f" rel={finding.rel_error:.2g}"
                )
            out.write(f"  {where} {finding.quantity}{values}: {finding.reason}\n")
            if finding.diagnosis:
                out.write(f"    likely bug: {finding.diagnosis}\n")
            if finding.reproduce:
                out.write(f"    reproduce: {finding.reproduce}\n")
    out.write(f"\n{outcome.message}\n")


def _verify(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from manualbp.verify import DEFAULT_CASES, Shard, VerifyOptions, outcome, run_verify

    space, space_args = _space_from(args)
    options = VerifyOptions(
        impls=tuple(args.impl) if args.impl else VerifyOptions.impls,
        checks=tuple(args.checks),
        cases=args.cases if args.cases is not None else DEFAULT_CASES,
        seed=args.seed,
        case_seeds=tuple(args.case_seed or ()),
        references=tuple(args.reference or ()),
        space=space,
        space_args=space_args,
        shard=Shard.parse(args.shard) if args.shard else None,
    )
    progress = _ProgressLine(err) if err.isatty() and not args.quiet else None
    try:
        report = run_verify(options, progress)
    finally:
        if progress is not None:
            progress.clear()
    result = outcome(report)
    path = report.write(args.json)
    if args.quiet:
        out.write(result.message + "\n")
    else:
        _print_summary(report, result, args.max_failures, out)
        out.write(f"report: {path}\n")
    return result.exit_code


def _demo(args: argparse.Namespace, out: TextIO) -> int:
    from manualbp.demos import DEMOS, get_demo

    if args.name is None:
        width = max(len(name) for name in DEMOS)
        for name, demo in DEMOS.items():
            out.write(f"{name:<{width}}  {demo.system:<4} {demo.title}\n")
        return 0
    result = get_demo(args.name).run(output_dir=args.output_dir)
    for line in result.lines:
        out.write(line + "\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``manualbp`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    out, err = sys.stdout, sys.stderr
    try:
        if args.command == "verify":
            return _verify(args, out, err)
        if args.command == "demo":
            return _demo(args, out)
        parser.print_help(out)
        return EXIT_USAGE
    except ManualbpError as exc:
        err.write(f"manualbp {args.command}: error: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        err.write("manualbp: interrupted\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""The ``manualbp`` command line: verify, report, demo.

Exit codes: 0 everything agrees, 1 a discrepancy (or nothing could be verified), 2 bad
input or usage — printed as one line, never a traceback.
"""

from __future__ import annotations

import argparse
import os
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
DEFAULT_HTML = Path("reports") / "index.html"
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


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"got {text!r}, expected an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"got {value}, expected a non-negative integer")
    return value


def positive_int(text: str) -> int:
    value = non_negative_int(text)
    if value == 0:
        raise argparse.ArgumentTypeError("got 0, expected a positive integer")
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
            "report and its HTML page. Default: all three checks on manualbp.engine and on the "
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
        type=non_negative_int,
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
        "--html",
        type=Path,
        metavar="PATH",
        help="HTML page path (default: next to the JSON, index.html for report.json, "
        "else the JSON's name with .html)",
    )
    output.add_argument("--no-html", action="store_true", help="write the JSON report only")
    output.add_argument(
        "-j",
        "--jobs",
        type=positive_int,
        default=1,
        metavar="N",
        help="split the cases over N processes, one BLAS/torch thread each (default 1)",
    )
    output.add_argument(
        "--max-failures", type=non_negative_int, default=10, help="failure lines to print (10)"
    )
    output.add_argument("--quiet", action="store_true", help="print only the verdict line")
    output.add_argument(
        "--no-shrink",
        action="store_true",
        help="do not shrink the first failing random case to a smallest failing network",
    )

    report = sub.add_parser(
        "report",
        help="turn JSON reports into the HTML page; several (shards) are merged into one",
        description=(
            "Render a JSON report written by manualbp verify (or the pytest plugin) as one "
            "self-contained HTML page; given several, merge them first (every shard of a run, "
            "once each). Bad input leaves an existing page untouched (exit 2)."
        ),
    )
    report.add_argument("inputs", nargs="*", type=Path, metavar="JSON", help="report file(s)")
    report.add_argument(
        "--merge",
        nargs="+",
        type=Path,
        default=[],
        metavar="JSON",
        help="report files to merge (even one: a lone shard is refused as incomplete)",
    )
    report.add_argument(
        "-o", "--output", type=Path, default=DEFAULT_HTML, help=f"page (default {DEFAULT_HTML})"
    )

    selftest = sub.add_parser(
        "selftest",
        help="prove the checks: every mutant must be caught, the correct engine never flagged",
        description=(
            "Run the checks on every deliberately broken implementation (manualbp.mutants), "
            "on cases drawn from the architectures where its bug shows, and on the correct "
            "engine; print the kill matrix (mutant x check: cases caught) and write the report "
            "(exit 0 every mutant caught and no engine fail, 1 otherwise, 2 bad input)."
        ),
    )
    selftest.add_argument(
        "--checks",
        type=_names("--checks", CHECKS),
        default=CHECKS,
        help=f"comma-separated checks to run (default: {','.join(CHECKS)})",
    )
    selftest.add_argument(
        "--cases", type=non_negative_int, default=None, help="random cases per mutant (default: 2)"
    )
    selftest.add_argument("--seed", type=int, default=0, help="seed of the run (default: 0)")
    selftest.add_argument(
        "--mutants", metavar="NAMES", help="comma-separated mutant names (default: every mutant)"
    )
    selftest.add_argument(
        "--json",
        type=Path,
        default=Path("reports") / "selftest.json",
        help="JSON report path (default reports/selftest.json)",
    )
    selftest.add_argument(
        "--html",
        type=Path,
        default=Path("reports") / "selftest.html",
        help="HTML report path (default reports/selftest.html)",
    )
    selftest.add_argument("--quiet", action="store_true", help="print only the verdict line")

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
                rel = "—" if finding.rel_error is None else f"{finding.rel_error:.2g}"
                values = f" impl={finding.impl_value:.6g} ref={finding.ref_value:.6g} rel={rel}"
            out.write(f"  {where} {finding.quantity}{values}: {finding.reason}\n")
            if finding.diagnosis:
                out.write(f"    likely bug: {finding.diagnosis}\n")
            if finding.reproduce:
                out.write(f"    reproduce: {finding.reproduce}\n")
    for shrunk in report.extras.get("minimal_failures", []):
        arch = shrunk["arch"]
        out.write(
            f"\nsmallest failing case of {shrunk['impl']} (shrunk from {shrunk['from_case']}): "
            f"sizes {arch['sizes']}, {','.join(arch['activations'])}, {arch['loss']}, "
            f"bias {arch['bias']}, {arch['reduction']}, batch {shrunk['batch_size']}, "
            f"seed {shrunk['seed']}\n    rebuild: {shrunk['rebuild']}\n"
        )
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
        jobs=args.jobs,
        shrink=not args.no_shrink,
    )
    progress = _ProgressLine(err) if err.isatty() and not args.quiet else None
    try:
        report = run_verify(options, progress)
    finally:
        if progress is not None:
            progress.clear()
    result = outcome(report)
    path = report.write(args.json)
    page = None if args.no_html or args.html == Path("") else _html_path(args)
    if page is not None:
        from manualbp.report.html import write_html

        page = write_html(report, page)
    if args.quiet:
        out.write(result.message + "\n")
    else:
        _print_summary(report, result, args.max_failures, out)
        out.write(f"report: {path}\n")
        if page is not None:
            out.write(f"page: {page}\n")
    return result.exit_code


def _html_path(args: argparse.Namespace) -> Path:
    """``--html``, else next to the JSON: index.html for report.json, else NAME.html."""
    if args.html is not None:
        return args.html
    json_path: Path = args.json
    if json_path.name == DEFAULT_JSON.name:
        return json_path.with_name(DEFAULT_HTML.name)
    return json_path.with_suffix(".html")


def _report(args: argparse.Namespace, out: TextIO) -> int:
    from manualbp.report.html import report_command

    inputs = [*args.inputs, *args.merge]
    if not inputs:
        raise UsageError("got no report file, expected JSON [JSON ...] or --merge JSON [JSON ...]")
    merge = True if args.merge else None
    out.write(f"page: {report_command(inputs, args.output, merge)}\n")
    return 0


def _selftest(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from manualbp import selftest
    from manualbp.report.html import write_html

    names = tuple(n.strip() for n in (args.mutants or "").split(",") if n.strip())
    if args.mutants is not None and not names:
        raise UsageError(f"--mutants: got {args.mutants!r}, expected comma-separated mutant names")
    options = selftest.SelftestOptions(
        checks=tuple(args.checks),
        cases=args.cases if args.cases is not None else selftest.DEFAULT_CASES,
        seed=args.seed,
        mutants=names,
    )
    progress = _ProgressLine(err) if err.isatty() and not args.quiet else None
    try:
        report = selftest.run_selftest(options, progress)
    finally:
        if progress is not None:
            progress.clear()
    result = selftest.outcome(report)
    path = report.write(args.json)
    page = write_html(report, args.html)
    if not args.quiet:
        out.write("\n".join(selftest.matrix_lines(report)) + "\n\n")
    out.write(result.message + "\n")
    if not args.quiet:
        out.write(f"report: {path}\npage: {page}\n")
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
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version, or a usage error already printed
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    out, err = sys.stdout, sys.stderr
    try:
        if args.command == "verify":
            return _verify(args, out, err)
        if args.command == "demo":
            return _demo(args, out)
        if args.command == "report":
            return _report(args, out)
        if args.command == "selftest":
            return _selftest(args, out, err)
        parser.print_help(out)
        return EXIT_USAGE
    except ManualbpError as exc:
        err.write(f"manualbp {args.command}: error: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        err.write("manualbp: interrupted\n")
        return 130
    except BrokenPipeError:
        # The reader went away (``manualbp demo | head``): not an error of ours. Point
        # stdout at /dev/null so the interpreter's final flush does not complain again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())

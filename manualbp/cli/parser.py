"""The command line's parser: every subcommand and option, and what ``--help`` prints."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from manualbp import __version__
from manualbp.architecture import ACTIVATIONS, BIAS_MODES, LOSSES, REDUCTIONS
from manualbp.checks import CHECKS
from manualbp.cli import options as parse
from manualbp.pipeline.supervisor import DEFAULT_MEMORY_LIMIT, DEFAULT_TIMEOUT

DEFAULT_JSON = Path("reports") / "report.json"
DEFAULT_HTML = Path("reports") / "index.html"
EXIT_USAGE = 2


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        """As argparse's, but an unknown option is reported by the subcommand it was given
        to (``manualbp verify: error: ...``), whose ``--help`` lists the right options."""
        parsed, extra = self.parse_known_args(args, namespace)
        if extra:
            commands = getattr(self, "commands", {})
            owner = commands.get(getattr(parsed, "command", None), self)
            owner.error(f"unrecognized arguments: {' '.join(extra)}")
        return parsed


def _checks_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--checks",
        type=parse.names("--checks", CHECKS),
        default=CHECKS,
        help=f"comma-separated checks to run (default: {','.join(CHECKS)})",
    )


def _supervision_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "-j",
        "--jobs",
        type=parse.positive_int,
        default=1,
        metavar="N",
        help="worker processes (default 1; capped at the usable cores and at the cases; "
        "with N > 1 each gets one BLAS/torch thread)",
    )
    group.add_argument(
        "--timeout",
        type=parse.seconds,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"time one check may take on one case before its worker is killed and the case "
        f"fails (default {DEFAULT_TIMEOUT:g})",
    )
    group.add_argument(
        "--memory-limit",
        type=parse.memory,
        default=DEFAULT_MEMORY_LIMIT,
        metavar="SIZE",
        help=f"address space of each worker process, e.g. 2G, or none (default "
        f"{DEFAULT_MEMORY_LIMIT // 2**30}G)",
    )


class _LayerAction(argparse.Action):
    """``--layer SPEC`` appends a layer; ``--as KIND`` asserts the kind of the last one."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        layers = list(getattr(namespace, "layers", None) or [])
        if option_string == "--layer":
            layers.append([str(values), None])
        elif not layers:
            parser.error(f"--as {values}: give it after the --layer it describes")
        elif layers[-1][1] is not None:
            parser.error(f"--as {values}: --layer {layers[-1][0]} already has --as {layers[-1][1]}")
        else:
            layers[-1][1] = str(values)
        namespace.layers = layers


def _ci_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--junit",
        type=Path,
        metavar="PATH",
        help="also write JUnit XML: one testcase per implementation, check and case, failures "
        "with their root cause and reproduce line (for CI test reporters)",
    )
    group.add_argument(
        "--markdown",
        type=Path,
        metavar="PATH",
        help="also write a compact Markdown summary (for a pull-request comment or a CI step "
        "summary)",
    )


def _verify_parser(sub: argparse._SubParsersAction) -> None:
    verify = sub.add_parser(
        "verify",
        help="run the checks and write the report (exit 0 agree, 1 discrepancy, 2 bad input)",
        description=(
            "Run finite differences, autograd and published-number checks on one or more "
            "implementations of the manualbp protocol, print a summary and write the JSON "
            "report and its HTML page. Default: all three checks on manualbp.engine and on the "
            "formula-by-formula 2-2-2 network (manualbp.mazur). The implementations run in "
            "supervised worker processes: whatever they do (exit, crash, hang, exhaust memory) "
            "is a failing finding, never the end of the run."
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
        "--layer",
        action=_LayerAction,
        dest="layers",
        metavar="SPEC",
        help="a hand-written layer: file.py:affine (affine_forward/affine_backward), "
        "file.py:Affine (a class), file.py:fwd,bwd, or a whole module (repeatable)",
    )
    verify.add_argument(
        "--as",
        action=_LayerAction,
        dest="layers",
        metavar="KIND",
        help="what the preceding --layer is (affine, relu, conv2d, softmax_ce, ...): adds the "
        "torch reference and the worked examples of that kind",
    )
    _checks_option(verify)
    verify.add_argument(
        "--cases",
        type=parse.non_negative_int,
        default=None,
        help="random cases per implementation, drawn where it supports them (default: 25; "
        "5 per layer)",
    )
    verify.add_argument(
        "--seed", type=parse.seed, default=0, help="seed of the run, 0..2^32-1 (default: 0)"
    )
    verify.add_argument(
        "--case-seed",
        type=parse.seed,
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
        "--arch",
        action="append",
        metavar="FILE|JSON",
        help="a JSON Architecture, in a file or inline: fixed network, random data (repeatable)",
    )
    for option, choices in (
        ("--activations", ACTIVATIONS),
        ("--losses", LOSSES),
        ("--bias-modes", BIAS_MODES),
        ("--reductions", REDUCTIONS),
    ):
        space.add_argument(
            option,
            type=parse.names(option, choices),
            metavar="LIST",
            help=f"comma-separated, drawn from (default: all): {', '.join(choices)}",
        )
    space.add_argument("--depth", type=parse.size_range, metavar="MIN-MAX", help="layers (1-5)")
    space.add_argument("--width", type=parse.size_range, metavar="MIN-MAX", help="units (1-16)")
    space.add_argument("--batch", type=parse.size_range, metavar="MIN-MAX", help="rows (1-16)")
    space.add_argument(
        "--scales",
        type=parse.scales,
        metavar="LIST",
        help="parameter scales to draw from (default: fan-in,0.5,1,4,1e-3)",
    )
    space.add_argument(
        "--square",
        type=parse.probability,
        metavar="P",
        help="probability that every layer has the same width (default 0.25)",
    )
    output = verify.add_argument_group("output")
    output.add_argument(
        "--json", type=Path, default=DEFAULT_JSON, help=f"JSON report path (default {DEFAULT_JSON})"
    )
    output.add_argument(
        "--html",
        type=Path,
        metavar="PATH",
        help="HTML page path (default: next to the JSON, index.html for report.json, "
        "else the JSON's name with .html)",
    )
    output.add_argument("--no-html", action="store_true", help="write the JSON report only")
    _ci_options(output)
    output.add_argument(
        "--shard", metavar="I/N", help="run shard I of N of the random cases (merge with report)"
    )
    output.add_argument(
        "--max-failures",
        type=parse.non_negative_int,
        default=10,
        help="root causes to print (10)",
    )
    output.add_argument("--quiet", action="store_true", help="print only the verdict line")
    output.add_argument(
        "--strict",
        action="store_true",
        help="fail on imprecise findings too (formulas right, float64 digits lost)",
    )
    output.add_argument(
        "--no-shrink",
        action="store_true",
        help="do not shrink the first failing random case to a smallest failing network",
    )
    _supervision_options(verify.add_argument_group("supervision"))


def _report_parser(sub: argparse._SubParsersAction) -> None:
    report = sub.add_parser(
        "report",
        help="turn JSON reports into the HTML page; several (shards) are merged into one",
        description=(
            "Render a JSON report written by manualbp verify (or the pytest plugin) as one "
            "self-contained HTML page; given several, merge them first (every shard of a run, "
            "once each; overlapping reports are refused). Prints the summary and the verdict "
            "and exits like verify: 0 all agree, 1 a discrepancy, 2 bad input (an existing "
            "page is then left untouched)."
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
    report.add_argument(
        "--json", type=Path, metavar="PATH", help="also write the (merged) JSON report"
    )
    _ci_options(report)
    report.add_argument(
        "--max-failures",
        type=parse.non_negative_int,
        default=10,
        help="root causes to print (10)",
    )
    report.add_argument("--quiet", action="store_true", help="print only the verdict line")


def _selftest_parser(sub: argparse._SubParsersAction) -> None:
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
    _checks_option(selftest)
    selftest.add_argument(
        "--cases",
        type=parse.positive_int,
        default=None,
        help="random cases per mutant (default: 2)",
    )
    selftest.add_argument("--seed", type=parse.seed, default=0, help="seed of the run (0)")
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
    _supervision_options(selftest.add_argument_group("supervision"))


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand (also what ``--help`` prints)."""
    parser = Parser(
        prog="manualbp",
        description=(
            "Verify hand-written backpropagation three independent ways: finite differences, "
            "PyTorch autograd, and published worked examples."
        ),
    )
    parser.add_argument("--version", action="version", version=f"manualbp {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    _verify_parser(sub)
    _report_parser(sub)
    _selftest_parser(sub)
    demo = sub.add_parser(
        "demo",
        help="run one of the seed systems (no NAME: list them)",
        description="Run one of the classic worked examples manualbp starts from (Mazur, Nielsen, "
        "Saito, ...) and print what its article shows.",
    )
    demo.add_argument("name", nargs="?", help="demo name (omit to list them)")
    demo.add_argument(
        "--output-dir", type=Path, default=Path("reports"), help="where plots go (reports/)"
    )
    parser.commands = sub.choices  # type: ignore[attr-defined]
    return parser

"""The subcommands: verify, report, selftest, demo (each returns the exit code)."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from manualbp.cli.options import architecture
from manualbp.cli.parser import DEFAULT_HTML, DEFAULT_JSON
from manualbp.cli.progress import progress_for
from manualbp.errors import UsageError
from manualbp.pipeline.layers import LayerRequest
from manualbp.pipeline.supervisor import usable_cores
from manualbp.report.files import check_writable, write_together
from manualbp.report.model import Report, outcome
from manualbp.report.text import clean, write_summary
from manualbp.space import ArchSpace

#: Largest estimated memory of one case (bytes) when workers have no memory limit.
UNLIMITED_CASE_MEMORY = 16 * 2**30


def space_from(args: argparse.Namespace) -> ArchSpace:
    """The case space the options describe."""
    fields: dict[str, object] = {}
    if args.arch:
        fields["fixed"] = tuple(architecture(text) for text in args.arch)
    for name in ("activations", "losses", "bias_modes", "reductions", "depth", "width", "batch"):
        if getattr(args, name) is not None:
            fields[name] = getattr(args, name)
    if args.scales is not None:
        fields["scales"] = args.scales
    if args.square is not None:
        fields["square"] = args.square
    return ArchSpace(**fields)  # type: ignore[arg-type]


def layer_requests(args: argparse.Namespace) -> tuple[LayerRequest, ...]:
    """The ``--layer``/``--as`` pairs, with each kind checked against the known kinds."""
    from manualbp.checks.layer import KINDS

    requests = []
    for spec, kind in args.layers or ():
        if kind is not None and kind not in KINDS:
            raise UsageError(f"--as: got {kind!r}, expected one of {', '.join(KINDS)}")
        requests.append(LayerRequest(spec, kind))
    return tuple(requests)


def layer_space_from(args: argparse.Namespace) -> tuple[object, tuple[str, ...]]:
    """The LayerSpace of ``--batch`` and ``--width`` (the feature sizes), and those words."""
    from manualbp.checks.layer import LayerSpace

    fields: dict[str, object] = {}
    words: list[str] = []
    for option, name in (("batch", "batch"), ("width", "features")):
        value = getattr(args, option)
        if value is not None:
            fields[name] = value
            words += [f"--{option}", f"{value[0]}-{value[1]}"]
    return LayerSpace(**fields), tuple(words)  # type: ignore[arg-type]


def check_case_memory(space: ArchSpace, memory_limit: int | None) -> None:
    """Refuse a space whose largest case would not fit in a worker (one line, exit 2)."""
    cap = memory_limit if memory_limit is not None else UNLIMITED_CASE_MEMORY
    need = space.memory_estimate()
    if need > cap:
        raise UsageError(
            f"--depth/--width/--batch: the largest case would need about {need / 2**30:.3g} GiB, "
            f"more than the {cap / 2**30:.3g} GiB a worker may use (--memory-limit); choose "
            "smaller sizes"
        )


def capped_jobs(jobs: int, work: int, command: str, err: TextIO) -> int:
    """``jobs`` capped at the usable cores and at the units of work, saying so once."""
    cores = usable_cores()
    capped = max(1, min(jobs, cores, work))
    if capped < jobs:
        why = "usable cores" if capped == cores else "cases to run"
        err.write(f"{command}: -j {jobs} capped at {capped} ({why})\n")
    return capped


def html_path(args: argparse.Namespace) -> Path | None:
    """``--html``, else next to the JSON: index.html for report.json, else NAME.html; None
    with ``--no-html``."""
    if args.no_html or args.html == Path(""):
        return None
    if args.html is not None:
        return args.html
    json_path: Path = args.json
    if json_path.name == DEFAULT_JSON.name:
        return json_path.with_name(DEFAULT_HTML.name)
    return json_path.with_suffix(".html")


def write_report(report: Report, json_path: Path, page: Path | None) -> None:
    """The JSON report and its page, renamed into place together once both are written."""
    files = [(json_path, report.to_json())]
    if page is not None:
        from manualbp.report.html import render_html

        files.append((page, render_html(report)))
    write_together(files)


def verify(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``manualbp verify``."""
    from manualbp.plan import Shard
    from manualbp.verify import DEFAULT_CASES, VerifyOptions, run_verify

    page = html_path(args)
    check_writable(args.json, "--json")
    if page is not None:
        check_writable(page, "--html")
    space = space_from(args)
    check_case_memory(space, args.memory_limit)
    layers = layer_requests(args)
    options = VerifyOptions(
        impls=tuple(args.impl or ()) if args.impl or layers else VerifyOptions.impls,
        layers=layers,
        layer_space=layer_space_from(args) if layers else None,
        layer_cases=args.cases,
        strict=args.strict,
        checks=tuple(args.checks),
        cases=args.cases if args.cases is not None else DEFAULT_CASES,
        seed=args.seed,
        case_seeds=tuple(args.case_seed or ()),
        references=tuple(args.reference or ()),
        space=space,
        shard=Shard.parse(args.shard) if args.shard else None,
        jobs=args.jobs,
        shrink=not args.no_shrink,
        timeout=args.timeout,
        memory_limit=args.memory_limit,
        argv=tuple(args.argv[1:]),
    )
    cases = len(options.case_seeds) or options.cases
    options = replace(options, jobs=capped_jobs(options.jobs, cases, "manualbp verify", err))
    progress = progress_for(err, "manualbp verify", args.quiet)
    try:
        report = run_verify(options, progress)
    finally:
        if progress is not None:
            progress.clear()
    result = outcome(report)
    write_report(report, args.json, page)
    if args.quiet:
        out.write(result.message + "\n")
    else:
        write_summary(report, result, args.max_failures, out)
        out.write(f"report: {clean(args.json)}\n")
        if page is not None:
            out.write(f"page: {clean(page)}\n")
    return result.exit_code


def report(args: argparse.Namespace, out: TextIO) -> int:
    """``manualbp report``."""
    from manualbp.report.html import report_command

    inputs = [*args.inputs, *args.merge]
    if not inputs:
        raise UsageError("got no report file, expected JSON [JSON ...] or --merge JSON [JSON ...]")
    merge = True if args.merge else None
    out.write(f"page: {report_command(inputs, args.output, merge)}\n")
    return 0


def selftest(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``manualbp selftest``."""
    from manualbp import selftest as run

    check_writable(args.json, "--json")
    check_writable(args.html, "--html")
    names = tuple(n.strip() for n in (args.mutants or "").split(",") if n.strip())
    if args.mutants is not None and not names:
        raise UsageError(f"--mutants: got {args.mutants!r}, expected comma-separated mutant names")
    options = run.SelftestOptions(
        checks=tuple(args.checks),
        cases=args.cases if args.cases is not None else run.DEFAULT_CASES,
        seed=args.seed,
        mutants=names,
        jobs=capped_jobs(args.jobs, len(names) or len(run.MUTANTS), "manualbp selftest", err),
        timeout=args.timeout,
        memory_limit=args.memory_limit,
    )
    progress = progress_for(err, "manualbp selftest", args.quiet)
    try:
        result_report = run.run_selftest(options, progress)
    finally:
        if progress is not None:
            progress.clear()
    result = run.outcome(result_report)
    write_report(result_report, args.json, args.html)
    if not args.quiet:
        out.write("\n".join(run.matrix_lines(result_report)) + "\n\n")
    out.write(result.message + "\n")
    if not args.quiet:
        out.write(f"report: {clean(args.json)}\npage: {clean(args.html)}\n")
    return result.exit_code


def demo(args: argparse.Namespace, out: TextIO) -> int:
    """``manualbp demo``."""
    from manualbp.demos import DEMOS, get_demo

    if args.name is None:
        width = max(len(name) for name in DEMOS)
        for name, entry in DEMOS.items():
            out.write(f"{name:<{width}}  {entry.system:<4} {entry.title}\n")
        return 0
    result = get_demo(args.name).run(output_dir=args.output_dir)
    for line in result.lines:
        out.write(line + "\n")
    return 0

"""The subcommands: verify, report, selftest, demo (each returns the exit code)."""

from __future__ import annotations

import argparse
import threading
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from manualbp.cli.options import architecture
from manualbp.cli.parser import DEFAULT_HTML, DEFAULT_JSON
from manualbp.cli.progress import progress_for
from manualbp.errors import UsageError
from manualbp.pipeline.layers import LayerRequest
from manualbp.pipeline.supervisor import usable_cores
from manualbp.report.files import check_folder_writable
from manualbp.report.model import outcome
from manualbp.report.outputs import Outputs
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


def outputs_of(
    args: argparse.Namespace, json_path: Path | None, page: Path | None, page_option: str = "--html"
) -> Outputs:
    """The files a command writes: its JSON and page, and ``--junit``/``--markdown`` when
    given; every path checked writable (one line, exit 2) before anything runs."""
    outputs = Outputs(
        json=json_path,
        html=page,
        junit=getattr(args, "junit", None),
        markdown=getattr(args, "markdown", None),
        options=(
            ("json", "--json"),
            ("html", page_option),
            ("junit", "--junit"),
            ("markdown", "--markdown"),
        ),
    )
    outputs.check()
    return outputs


def verify(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``manualbp verify``."""
    from manualbp.plan import Shard
    from manualbp.verify import DEFAULT_CASES, VerifyOptions, run_verify

    page = html_path(args)
    outputs = outputs_of(args, args.json, page)
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
    if page is not None:
        from manualbp.report import plots

        # the page's imports, done while the workers compute (the import lock makes the
        # renderer wait for them if they are not finished)
        threading.Thread(target=plots.preload, name="preload-plots", daemon=True).start()
    try:
        report = run_verify(options, progress)
    finally:
        if progress is not None:
            progress.clear()
    result = outcome(report)
    outputs.write(report)
    if args.quiet:
        out.write(result.message + "\n")
    else:
        write_summary(report, result, args.max_failures, out)
        out.write(f"report: {clean(args.json)}\n")
        if page is not None:
            out.write(f"page: {clean(page)}\n")
        write_ci_paths(outputs, out)
    return result.exit_code


def write_ci_paths(outputs: Outputs, out: TextIO) -> None:
    """Print where the JUnit and Markdown files went, when written."""
    for label, path in (("junit", outputs.junit), ("markdown", outputs.markdown)):
        if path is not None:
            out.write(f"{label}: {clean(path)}\n")


def report(args: argparse.Namespace, out: TextIO) -> int:
    """``manualbp report``: render (or merge, then render) and print the verdict; exit 0 or
    1 as ``manualbp verify`` would for the same findings."""
    from manualbp.report.html import load_reports
    from manualbp.report.verdict import run_outcome

    inputs = [*args.inputs, *args.merge]
    if not inputs:
        raise UsageError("got no report file, expected JSON [JSON ...] or --merge JSON [JSON ...]")
    outputs = outputs_of(args, args.json, args.output, "-o/--output")
    loaded = load_reports(inputs, True if args.merge else None)
    result = run_outcome(loaded)
    outputs.write(loaded)
    shard = loaded.metadata.get("shard")
    if shard is not None:
        out.write(
            f"note: this is shard {shard} of a run; its verdict covers that shard's cases "
            "only (merge every shard with --merge)\n"
        )
    if args.quiet:
        out.write(result.message + "\n")
        return result.exit_code
    write_summary(loaded, result, args.max_failures, out)
    if args.json is not None:
        out.write(f"report: {clean(args.json)}\n")
    out.write(f"page: {clean(args.output)}\n")
    write_ci_paths(outputs, out)
    return result.exit_code


def selftest(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``manualbp selftest``."""
    from manualbp import selftest as run

    outputs = outputs_of(args, args.json, args.html)
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
    outputs.write(result_report)
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
    chosen = get_demo(args.name)
    if chosen.writes_files:
        check_folder_writable(args.output_dir, "--output-dir")
    result = chosen.run(output_dir=args.output_dir)
    for line in result.lines:
        out.write(line + "\n")
    return 0

"""Tables of a benchmark result (the dict :func:`benchmarks.runner.run` returns), as plain
text for the terminal and as Markdown for reports/benchmark.md.

Each section is a :class:`Table` (or preformatted text, for the checks section, which
formats itself); :func:`format_result` and :func:`format_markdown` render the same tables.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks.phases import PHASES
from benchmarks.stats import spread

MIB = 2**20


@dataclass(frozen=True)
class Table:
    """A caption (may be empty), a header and rows of cells (anything with a str)."""

    caption: str
    header: tuple[str, ...]
    rows: list[tuple[object, ...]]


def grid(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Left-aligned columns, a rule under the header."""
    cells = [[str(cell) for cell in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    rule = ["-" * width for width in widths]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [cells[0], rule, *cells[1:]]
    ]
    return "\n".join(lines)


def markdown_grid(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown (GitHub) table; '|' inside a cell is escaped."""

    def line(cells: Sequence[object]) -> str:
        return "| " + " | ".join(str(cell).replace("|", "\\|") for cell in cells) + " |"

    return "\n".join([line(header), line(["---"] * len(header)), *(line(row) for row in rows)])


def _load(values: Sequence[float]) -> str:
    return " / ".join(f"{value:.2f}" for value in values)


def environment_table(result: dict[str, Any]) -> Table:
    """Versions, BLAS, thread counts of both worker processes and the machine's load."""
    env = result["environment"]
    workers = env["workers"]
    torch = workers["torch"]
    rows: list[tuple[object, ...]] = [
        (key, env[key]) for key in ("platform", "python", "numpy", "blas", "torch")
    ]
    rows.append(("cpus", workers["engine"]["cpus"]))
    rows.append(
        ("torch BLAS, intra-op threads", f"{torch['torch_blas']}, {torch['torch_threads']}")
    )
    rows.append(("thread env vars of the workers", workers["engine"]["env"] or "none set"))
    load = env.get("load")
    if load:
        rows.append(("load average 1/5/15 min, start", _load(load["start"])))
        rows.append(("load average 1/5/15 min, end", _load(load["end"])))
    return Table("", ("", "value"), rows)


def gemm_table(result: dict[str, Any]) -> Table:
    """GFLOP/s of the (n, n) float64 product, NumPy and torch, default threads and one."""
    gemm = result["gemm"]
    names = {"engine": "numpy", "torch": "torch"}
    rows: list[tuple[object, ...]] = [
        (names[side], "default", spread(gemm[side])) for side in ("engine", "torch")
    ]
    rows += [(names[side], "1", spread(gemm["one_thread"][side])) for side in ("engine", "torch")]
    caption = (
        f"float64 GEMM, n = {gemm['n']}; the peak the steps are compared with is numpy's "
        f"median with its default threads, {gemm['peak']:.3g} GFLOP/s"
    )
    return Table(caption, ("library", "threads", "GFLOP/s median (min–max)"), rows)


def _rate(row: dict[str, Any], side: str) -> str:
    return f"{row[f'{side}_gflops']:.3g} ({100 * row[f'{side}_share']:.0f}%)"


def steps_table(result: dict[str, Any]) -> Table:
    """One row per architecture, batch and loss: both sides' ms, the ratios, GFLOP/s."""
    rows = [
        (
            str(row["sizes"]),
            row["batch"],
            row["loss"],
            spread(row["engine"], 1e3),
            spread(row["torch"], 1e3),
            f"{row['ratio']:.2f}",
            f"{row['ratio_min']:.2f}",
            _rate(row, "engine"),
            _rate(row, "torch"),
            "yes" if row["same_result"] else "NO",
        )
        for row in result["steps"]
    ]
    header = (
        "architecture",
        "batch",
        "loss",
        "engine ms median (min–max)",
        "torch ms median (min–max)",
        "engine/torch median",
        "engine/torch min",
        "engine GFLOP/s (of peak)",
        "torch GFLOP/s (of peak)",
        "same step",
    )
    caption = (
        "one training step: forward, backward, gradient-descent update of every parameter "
        "(engine: manualbp.engine.step, validation included, new arrays returned; torch: "
        "autograd + torch.optim.SGD in place); same step: both sides' E(θ0) and ‖θ1 - θ0‖ "
        "agree to 1e-9"
    )
    return Table(caption, header, rows)


def phases_table(result: dict[str, Any]) -> Table:
    """The engine's step per phase, for the rows that were profiled."""
    rows = []
    for row in result["steps"]:
        phases = row.get("phases")
        if not phases:
            continue
        total = phases["total"]
        cells = [f"{1e3 * phases[p]:.3g} ({100 * phases[p] / total:.0f}%)" for p in PHASES]
        cells += [
            f"{1e3 * phases[p]:.3g} ({100 * phases[p] / total:.0f}%)"
            for p in ("products", "elementwise")
        ]
        rows.append((str(row["sizes"]), row["batch"], row["loss"], f"{1e3 * total:.3g}", *cells))
    header = (
        "architecture",
        "batch",
        "loss",
        "step ms (profiled)",
        *(f"{phase} ms" for phase in PHASES),
        "of which products ms",
        "of which element-wise ms",
    )
    caption = (
        "where the engine's step goes (cProfile, median of each phase; products and "
        "element-wise split forward + backward)"
    )
    return Table(caption, header, rows)


def floor_table(result: dict[str, Any]) -> Table:
    """Each profiled row's step against its own matrix products alone, on both sides."""
    rows = []
    for row in result["steps"]:
        products = row.get("products")
        if not products:
            continue
        floor = {side: products[side]["median"] for side in ("engine", "torch")}
        rows.append(
            (
                str(row["sizes"]),
                row["batch"],
                row["loss"],
                f"{1e3 * row['engine']['median']:.3g}",
                f"{1e3 * floor['engine']:.3g}",
                f"{row['engine']['median'] / floor['engine']:.2f}",
                f"{1e3 * row['torch']['median']:.3g}",
                f"{1e3 * floor['torch']:.3g}",
                f"{row['torch']['median'] / floor['torch']:.2f}",
                f"{floor['engine'] / floor['torch']:.2f}",
            )
        )
    header = (
        "architecture",
        "batch",
        "loss",
        "engine step ms",
        "numpy products ms",
        "engine step / products",
        "torch step ms",
        "torch products ms",
        "torch step / products",
        "products numpy/torch",
    )
    caption = (
        "the BLAS floor: each step's matrix products alone (a W^T, δ^T a, δ W in the engine's "
        "layouts), by numpy and by torch, medians"
    )
    return Table(caption, header, rows)


def checks_table(result: dict[str, Any]) -> str:
    """benchmarks.checks.format_table of the checks section, or its status line."""
    checks = result["checks"]
    if checks.get("status") != "measured":
        return f"finite-difference checks: {checks.get('status')}"
    return importlib.import_module("benchmarks.checks").format_table(checks)


def verify_table(result: dict[str, Any]) -> Table:
    """manualbp verify: wall time, peak memory, exit codes, per-check timings of one run."""
    verify = result["verify"]
    args = " ".join(verify["args"]) or "(default settings)"
    rows: list[tuple[object, ...]] = [
        ("wall s", spread(verify["seconds"])),
        ("peak memory MiB", spread(verify["peak_bytes"], 1 / MIB)),
        ("exit codes", verify["exit_codes"]),
    ]
    rows += [(key, f"{seconds:.2f} s") for key, seconds in verify["timings"].items()]
    return Table(f"manualbp verify {args}", ("", "value"), rows)


def contention_table(result: dict[str, Any]) -> Table | str:
    """The verify autograd check with torch limited to one thread and unlimited."""
    contention = result["contention"]
    if contention.get("status") != "measured":
        return f"contention: {contention.get('status')}"
    caption = (
        f"autograd check of manualbp verify ({contention['cases']} cases per implementation); "
        f"unlimited/fixed = {contention['speedup']:.2f}"
    )
    runs = [("torch_threads=1 (shipped fix)", "fixed"), ("torch threads unlimited", "unfixed")]
    return _timed_runs(caption, "torch threads", contention, runs)


def scaling_table(result: dict[str, Any]) -> Table | str:
    """manualbp verify --cases N with -j 1 and -j 2."""
    scaling = result.get("scaling", {})
    if scaling.get("status") != "measured":
        return f"scaling: {scaling.get('status')}"
    caption = (
        f"manualbp verify --cases {scaling['cases']} (default implementations and checks); "
        f"-j 2 is {scaling['speedup']:.2f}x faster"
    )
    return _timed_runs(caption, "workers", scaling, [("-j 1", "jobs_1"), ("-j 2", "jobs_2")])


def _timed_runs(
    caption: str, label: str, section: dict[str, Any], runs: list[tuple[str, str]]
) -> Table:
    """One row per (row label, key of the section's timings): median and spread in seconds."""
    rows: list[tuple[object, ...]] = [(name, spread(section[key])) for name, key in runs]
    return Table(caption, (label, "seconds median (min–max)"), rows)


def layers_table(result: dict[str, Any]) -> Table | str:
    """The layer check (fd + autograd, one case) of the 10^4-parameter conv2d layer."""
    layers = result.get("layers", {})
    if layers.get("status") != "measured":
        return f"layer check: {layers.get('status')}"
    rows: list[tuple[object, ...]] = [
        (
            label,
            measured["parameters"],
            spread(measured["seconds"]),
            f"{measured['calls']['forward']} fwd, {measured['calls']['backward']} bwd",
            ", ".join(measured["verdicts"]),
        )
        for label, measured in layers["subjects"].items()
    ]
    header = ("implementation", "parameters", "seconds median (min–max)", "calls", "verdicts")
    return Table("conv2d layer check, fd + autograd, one case", header, rows)


def targets_table(result: dict[str, Any]) -> Table:
    """Each target with its measured value: met or MISSED."""
    rows: list[tuple[object, ...]] = [
        (target["target"], target["value"], "met" if target["met"] else "MISSED")
        for target in result["targets"]
    ]
    return Table("", ("target", "measured", "verdict"), rows)


SECTIONS = (
    ("environment", environment_table),
    ("(a) GEMM peak", gemm_table),
    ("(b) training step, engine vs torch", steps_table),
    ("(b) the engine's step per phase", phases_table),
    ("(b) the BLAS floor", floor_table),
    ("(c, d) finite-difference checks", checks_table),
    ("(e) manualbp verify", verify_table),
    ("thread-pool contention", contention_table),
    ("(e) -j scaling", scaling_table),
    ("(f) the layer check", layers_table),
    ("targets", targets_table),
)


def _text(section: Table | str) -> str:
    if isinstance(section, str):
        return section
    table = grid(section.header, section.rows)
    return f"{section.caption}\n{table}" if section.caption else table


def _markdown(section: Table | str) -> str:
    if isinstance(section, str):
        return f"```\n{section}\n```"
    table = markdown_grid(section.header, section.rows)
    return f"{section.caption}\n\n{table}" if section.caption else table


def format_result(result: dict[str, Any]) -> str:
    """Every section's table under its title, as plain text."""
    return "\n\n".join(f"== {title} ==\n{_text(table(result))}" for title, table in SECTIONS)


def format_markdown(result: dict[str, Any]) -> str:
    """Every section's table under its title, as a Markdown document."""
    body = "\n\n".join(f"## {title}\n\n{_markdown(table(result))}" for title, table in SECTIONS)
    return (
        "# manualbp benchmark\n\nMedians over alternating rounds, engine and torch each in "
        "its own process (`./run bench`, benchmarks/README.md); a step's GFLOP/s count its "
        f"three matrix products per layer.\n\n{body}\n"
    )

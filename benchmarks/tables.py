"""Plain-text tables of a benchmark result (the dict :func:`benchmarks.runner.run` returns)."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from benchmarks.stats import spread

MIB = 2**20


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


def environment_table(result: dict[str, Any]) -> str:
    """Versions, BLAS and thread counts of the run and of both worker processes."""
    env = result["environment"]
    workers = env["workers"]
    lines = [f"{key}: {env[key]}" for key in ("platform", "python", "numpy", "blas", "torch")]
    lines.append(f"cpus: {workers['engine']['cpus']}")
    torch = workers["torch"]
    lines.append(f"torch BLAS: {torch['torch_blas']}, intra-op threads: {torch['torch_threads']}")
    lines.append(f"thread env vars: {workers['engine']['env'] or 'none set'}")
    return "\n".join(lines)


def gemm_table(result: dict[str, Any]) -> str:
    """GFLOP/s of the (n, n) float64 product, NumPy and torch."""
    gemm = result["gemm"]
    rows = [(side, spread(gemm[side])) for side in ("engine", "torch")]
    rows[0] = ("numpy (peak)", rows[0][1])
    return f"float64 GEMM, n = {gemm['n']}\n" + grid(("library", "GFLOP/s median (min–max)"), rows)


def steps_table(result: dict[str, Any]) -> str:
    """One row per architecture and batch: engine ms, torch ms, ratio, GFLOP/s, % of peak."""
    rows = [
        (
            str(row["sizes"]),
            row["batch"],
            spread(row["engine"], 1e3),
            spread(row["torch"], 1e3),
            f"{row['ratio']:.2f}",
            f"{row['engine_gflops']:.3g}",
            f"{100 * row['share_of_peak']:.0f}%",
            "yes" if row["same_result"] else "NO",
        )
        for row in result["steps"]
    ]
    header = (
        "architecture",
        "batch",
        "engine ms",
        "torch ms",
        "engine/torch",
        "engine GFLOP/s",
        "of peak",
        "same E, ‖g‖",
    )
    return "one training step (forward + backward + all gradients)\n" + grid(header, rows)


def checks_table(result: dict[str, Any]) -> str:
    """benchmarks.checks.format_table of the checks section, or its status line."""
    checks = result["checks"]
    if checks.get("status") != "measured":
        return f"finite-difference checks: {checks.get('status')}"
    return importlib.import_module("benchmarks.checks").format_table(checks)


def verify_table(result: dict[str, Any]) -> str:
    """manualbp verify: wall time, peak memory, exit codes, per-check timings of one run."""
    verify = result["verify"]
    args = " ".join(verify["args"]) or "(default settings)"
    lines = [
        f"manualbp verify {args}",
        f"  wall s: {spread(verify['seconds'])}",
        f"  peak memory MiB: {spread(verify['peak_bytes'], 1 / MIB)}",
        f"  exit codes: {verify['exit_codes']}",
    ]
    lines += [f"  {key}: {seconds:.2f} s" for key, seconds in verify["timings"].items()]
    return "\n".join(lines)


def contention_table(result: dict[str, Any]) -> str:
    """The verify autograd check with torch limited to one thread and unlimited."""
    contention = result["contention"]
    if contention.get("status") != "measured":
        return f"contention: {contention.get('status')}"
    rows = [
        ("torch_threads=1 (shipped fix)", spread(contention["fixed"])),
        ("torch threads unlimited", spread(contention["unfixed"])),
    ]
    title = (
        f"autograd check of manualbp verify ({contention['cases']} cases per implementation); "
        f"unlimited/fixed = {contention['speedup']:.2f}"
    )
    return title + "\n" + grid(("torch threads", "seconds median (min–max)"), rows)


def targets_table(result: dict[str, Any]) -> str:
    """Each target of issue 6 with its measured value: met or MISSED."""
    rows = [
        (target["target"], target["value"], "met" if target["met"] else "MISSED")
        for target in result["targets"]
    ]
    return grid(("target", "measured", "verdict"), rows)


SECTIONS = (
    ("environment", environment_table),
    ("(a) GEMM peak", gemm_table),
    ("(b) training step, engine vs torch", steps_table),
    ("(c, d) finite-difference checks", checks_table),
    ("(e) manualbp verify", verify_table),
    ("thread-pool contention", contention_table),
    ("targets", targets_table),
)


def format_result(result: dict[str, Any]) -> str:
    """Every section's table under its title."""
    return "\n\n".join(f"== {title} ==\n{table(result)}" for title, table in SECTIONS)

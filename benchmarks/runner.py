"""Measure everything issue 6 asks for in one run and return it as one JSON-able dict.

Sections (keys of the result):

* ``environment`` — versions, BLAS, CPU count, thread counts of both worker processes;
* ``gemm`` — float64 GEMM GFLOP/s of NumPy (the physical limit, ``peak``) and of torch;
* ``steps`` — one training step of the engine and of torch autograd on the same weights,
  per architecture and batch: seconds, ratio engine/torch, engine GFLOP/s and its share
  of the NumPy GEMM peak;
* ``checks`` — the finite-difference checks, from ``benchmarks.checks`` when it exists;
* ``verify`` — ``manualbp verify`` with default settings: wall time and peak memory;
* ``contention`` — the autograd check of that run with torch limited to one thread (the
  fix) and unlimited;
* ``targets`` — each target of issue 6, its measured value and whether it is met.

Engine and torch are timed in separate worker processes, alternating A B A B, so that
neither side's thread pool disturbs the other; every figure is a median over rounds,
with the min–max range kept.
"""

from __future__ import annotations

import importlib.util
import json
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks import problems
from benchmarks.processes import WorkerProcess, timed_child
from benchmarks.stats import summary
from manualbp.report.model import environment

SIDES: tuple[str, ...] = ("engine", "torch")
GIB = 2**30


@dataclass(frozen=True)
class Settings:
    """How much to measure. ``full()`` is the run the README documents, ``quick()`` a short
    one (small architectures, few rounds, a lighter verify)."""

    sizes: tuple[tuple[int, ...], ...]
    batches: tuple[int, ...]
    rounds: int
    gemm_n: int
    verify_runs: int
    verify_args: tuple[str, ...]
    contention_runs: int
    contention_cases: int
    quick: bool
    seed: int = 0

    @classmethod
    def full(cls) -> Settings:
        """Issue 6's architectures at batch 64 and 512, 10 rounds, default verify ×3."""
        return cls(
            sizes=problems.FULL_SIZES,
            batches=problems.FULL_BATCHES,
            rounds=10,
            gemm_n=2048,
            verify_runs=3,
            verify_args=(),
            contention_runs=3,
            contention_cases=25,
            quick=False,
        )

    @classmethod
    def quick_run(cls) -> Settings:
        """Small architectures at batch 64, 3 rounds; verify still with default settings."""
        return cls(
            sizes=problems.QUICK_SIZES,
            batches=problems.QUICK_BATCHES,
            rounds=3,
            gemm_n=1024,
            verify_runs=1,
            verify_args=(),
            contention_runs=1,
            contention_cases=25,
            quick=True,
        )


#: Relative gap in loss and gradient norm below which both sides computed the same step:
#: far above float64 rounding, far below what different weights or formulas would give.
AGREEMENT = 1e-9


def gemm_section(n: int, rates: dict[str, list[float]]) -> dict[str, Any]:
    """GFLOP/s per side (summaries) for products of size n; ``peak`` is NumPy's median."""
    result: dict[str, Any] = {"n": n, **{side: summary(values) for side, values in rates.items()}}
    result["peak"] = result["engine"]["median"]
    return result


def measure_gemm(workers: dict[str, WorkerProcess], n: int, rounds: int) -> dict[str, Any]:
    """GFLOP/s of one (n, n) @ (n, n) float64 product per side, alternating per round."""
    rates: dict[str, list[float]] = {side: [] for side in SIDES}
    for _ in range(rounds):
        for side in SIDES:
            seconds = workers[side].request(op="gemm", n=n)["seconds"]
            rates[side].append(problems.gemm_flops(n) / seconds / 1e9)
    return gemm_section(n, rates)


def _agree(x: float, reference: float) -> bool:
    return abs(x - reference) <= AGREEMENT * abs(reference)


def step_row(
    sizes: tuple[int, ...],
    batch: int,
    seconds: dict[str, list[float]],
    last: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """One row of the step table from both sides' seconds per step and their last answers
    (worker ``step`` answers): summaries, ratio engine/torch, and whether both computed
    the same loss and gradient norm."""
    engine, torch = summary(seconds["engine"]), summary(seconds["torch"])
    return {
        "sizes": list(sizes),
        "batch": batch,
        "flops": problems.step_flops(sizes, batch),
        "engine": engine,
        "torch": torch,
        "inner": {side: last[side]["inner"] for side in SIDES},
        "ratio": engine["median"] / torch["median"],
        "same_result": _agree(last["engine"]["loss"], last["torch"]["loss"])
        and _agree(last["engine"]["grad_norm"], last["torch"]["grad_norm"]),
    }


def measure_step(
    workers: dict[str, WorkerProcess], sizes: tuple[int, ...], batch: int, settings: Settings
) -> dict[str, Any]:
    """Time one architecture and batch on both sides, alternating per round."""
    seconds: dict[str, list[float]] = {side: [] for side in SIDES}
    last: dict[str, dict[str, Any]] = {}
    for _ in range(settings.rounds):
        for side in SIDES:
            last[side] = workers[side].request(
                op="step", sizes=list(sizes), batch=batch, seed=settings.seed
            )
            seconds[side].append(last[side]["seconds"])
    return step_row(sizes, batch, seconds, last)


def with_rates(row: dict[str, Any], peak: float) -> dict[str, Any]:
    """Add the engine's GFLOP/s and its share of the GEMM peak to a step row."""
    gflops = row["flops"] / row["engine"]["median"] / 1e9
    return {**row, "engine_gflops": gflops, "share_of_peak": gflops / peak}


def measure_engine_and_torch(settings: Settings) -> dict[str, Any]:
    """Sections environment (workers), gemm and steps, from one engine and one torch worker."""
    workers = {side: WorkerProcess(side) for side in SIDES}
    try:
        info = {side: workers[side].request(op="info") for side in SIDES}
        gemm = measure_gemm(workers, settings.gemm_n, settings.rounds)
        steps = [
            with_rates(measure_step(workers, sizes, batch, settings), gemm["peak"])
            for sizes in settings.sizes
            for batch in settings.batches
        ]
    finally:
        for worker in workers.values():
            worker.close()
    return {"workers": info, "gemm": gemm, "steps": steps}


def measure_checks(quick: bool) -> dict[str, Any]:
    """``benchmarks.checks.measure(quick)``, run in a child process, when that module
    exists; else a status saying so."""
    if importlib.util.find_spec("benchmarks.checks") is None:
        return {"status": "checks section not available yet"}
    code = f"import json, benchmarks.checks as c; print(json.dumps(c.measure(quick={quick})))"
    run = timed_child(["-c", code])
    if run["exit_code"] != 0:
        return {"status": f"benchmarks.checks failed with exit code {run['exit_code']}"}
    return {"status": "measured", **json.loads(run["stdout"])}


def verify_section(runs: list[dict[str, Any]], args: tuple[str, ...]) -> dict[str, Any]:
    """Summarise timed verify runs (:func:`~benchmarks.processes.timed_child` dicts with
    the run's own ``timings`` added): wall time, peak memory, exit codes."""
    return {
        "args": list(args),
        "seconds": summary([run["seconds"] for run in runs]),
        "peak_bytes": summary([run["peak_bytes"] for run in runs]),
        "exit_codes": [run["exit_code"] for run in runs],
        "timings": runs[-1]["timings"],
    }


def measure_verify(settings: Settings) -> dict[str, Any]:
    """``manualbp verify`` (default settings plus ``verify_args``) in a child process,
    ``verify_runs`` times: wall time, peak resident memory, exit code, per-check timings
    (none when the run wrote no report, e.g. after a usage error: its exit code says so)."""
    runs = []
    with tempfile.TemporaryDirectory(prefix="manualbp-bench-") as scratch:
        report = Path(scratch) / "report.json"
        command = ["-m", "manualbp.cli", "verify", "--quiet", "--json", str(report)]
        for _ in range(settings.verify_runs):
            report.unlink(missing_ok=True)
            run = timed_child([*command, *settings.verify_args])
            written = json.loads(report.read_text()) if report.exists() else {}
            run["timings"] = written.get("metadata", {}).get("timings", {})
            runs.append(run)
    return verify_section(runs, settings.verify_args)


def contention_section(answers: dict[str, list[dict[str, Any]]], cases: int) -> dict[str, Any]:
    """Summarise :func:`benchmarks.contention.time_autograd_check` answers under the labels
    ``fixed`` (torch_threads=1) and ``unfixed`` (unlimited)."""
    fixed = summary([answer["seconds"] for answer in answers["fixed"]])
    unfixed = summary([answer["seconds"] for answer in answers["unfixed"]])
    return {
        "cases": cases,
        "fixed": fixed,
        "unfixed": unfixed,
        "status": "measured",
        "speedup": unfixed["median"] / fixed["median"],
        "fails": {label: [answer["fails"] for answer in runs] for label, runs in answers.items()},
    }


def measure_contention(settings: Settings) -> dict[str, Any]:
    """The verify autograd check timed with torch_threads=1 (fixed) and unlimited, A B A B,
    each run in a fresh process."""
    answers: dict[str, list[dict[str, Any]]] = {"fixed": [], "unfixed": []}
    for _ in range(settings.contention_runs):
        for label, threads in (("fixed", "1"), ("unfixed", "none")):
            command = ["-m", "benchmarks.contention", threads, str(settings.contention_cases)]
            run = timed_child(command)
            if run["exit_code"] != 0:
                return {"status": f"benchmarks.contention failed with exit code {run['exit_code']}"}
            answers[label].append(json.loads(run["stdout"]))
    return contention_section(answers, settings.contention_cases)


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 6's targets with the measured value and whether each is met (never asserted)."""
    rows = [
        {
            "target": f"engine/torch <= 1.0 on {row['sizes']} x{row['batch']}",
            "value": round(row["ratio"], 3),
            "met": row["ratio"] <= 1.0,
        }
        for row in result["steps"]
    ]
    largest = [r for r in result["steps"] if r["sizes"] == [1024, 2048, 2048, 1024]]
    largest = [r for r in largest if r["batch"] == 512]
    if largest:
        share = largest[0]["share_of_peak"]
        rows.append(
            {
                "target": "engine >= 90% of GEMM peak on [1024, 2048, 2048, 1024] x512",
                "value": round(share, 3),
                "met": share >= 0.9,
            }
        )
    verify = result["verify"]
    if not verify.get("args"):
        seconds, peak = verify["seconds"]["median"], verify["peak_bytes"]["max"]
        completed = all(code in (0, 1) for code in verify["exit_codes"])  # 2: usage error
        wall = {"target": "manualbp verify <= 20 s wall", "value": round(seconds, 2)}
        rows.append({**wall, "met": completed and seconds <= 20})
        rows.append(
            {
                "target": "manualbp verify <= 1 GiB peak memory",
                "value": round(peak / GIB, 3),
                "met": completed and peak <= GIB,
            }
        )
    return rows


def run(settings: Settings) -> dict[str, Any]:
    """Every section, measured in turn (see the module docstring)."""
    measured = measure_engine_and_torch(settings)
    result: dict[str, Any] = {
        "settings": asdict(settings),
        "environment": {**environment(), "workers": measured["workers"]},
        "gemm": measured["gemm"],
        "steps": measured["steps"],
        "checks": measure_checks(settings.quick),
        "verify": measure_verify(settings),
        "contention": measure_contention(settings),
    }
    result["targets"] = targets(result)
    return result

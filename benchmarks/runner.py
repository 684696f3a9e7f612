"""Measure everything issue 6 asks for in one run and return it as one JSON-able dict.

Sections (keys of the result):

* ``environment`` — versions, BLAS, CPU count, thread counts of both worker processes;
* ``gemm`` — float64 GEMM GFLOP/s of NumPy (the physical limit, ``peak``) and of torch,
  with their default threads and with one thread (``one_thread``);
* ``steps`` — one training step of the engine and of torch (autograd + SGD) on the same
  weights, per architecture, batch and loss: seconds, ratio engine/torch (of the medians
  and of the minima), GFLOP/s of both sides and their share of the NumPy GEMM peak, and
  for the large architectures the engine's step per phase (``phases``) and the step's
  matrix products alone on each side (``products``, the BLAS floor);
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

import json
import os
import tempfile
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks import problems, scaling
from benchmarks.processes import WorkerProcess, timed_child
from benchmarks.stats import summary
from manualbp.report.model import environment
from manualbp.threads import single_threaded_environment

SIDES: tuple[str, ...] = ("engine", "torch")
GIB = 2**30


@dataclass(frozen=True)
class Settings:
    """How much to measure. ``full()`` is the run the README documents, ``quick()`` a short
    one (small architectures, few rounds, a lighter verify)."""

    sizes: tuple[tuple[int, ...], ...]
    batches: tuple[int, ...]
    losses: tuple[str, ...]
    rounds: int
    gemm_n: int
    verify_runs: int
    verify_args: tuple[str, ...]
    contention_runs: int
    contention_cases: int
    quick: bool
    #: ``manualbp verify --cases scaling_cases`` with -j 1 and -j 2, ``scaling_runs`` each.
    scaling_cases: int = 400
    scaling_runs: int = 2
    #: Timed runs of the 10^4-parameter conv2d layer check per subject.
    layer_rounds: int = 3
    seed: int = 0
    #: Start both workers with one BLAS/OpenMP thread (like with like on a loaded machine)
    #: instead of each library's default.
    single_thread: bool = False
    #: Architectures whose engine step is also profiled per phase, and how: ``phase_rounds``
    #: profiles of ``phase_steps`` steps each, the median of each phase kept; their matrix
    #: products alone are timed on both sides too.
    phase_sizes: tuple[tuple[int, ...], ...] = ((784, 256, 128, 10), (1024, 2048, 2048, 1024))
    phase_rounds: int = 3
    phase_steps: int = 3

    @classmethod
    def full(cls) -> Settings:
        """The issues' architectures at batch 64 and 512, both losses, 10 rounds, default
        verify ×3."""
        return cls(
            sizes=problems.FULL_SIZES,
            batches=problems.FULL_BATCHES,
            losses=problems.FULL_LOSSES,
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
        """Small architectures at batch 64, softmax_ce, 3 rounds; verify still with default
        settings."""
        return cls(
            sizes=problems.QUICK_SIZES,
            batches=problems.QUICK_BATCHES,
            losses=problems.QUICK_LOSSES,
            rounds=3,
            gemm_n=1024,
            verify_runs=1,
            verify_args=(),
            contention_runs=1,
            contention_cases=25,
            quick=True,
            scaling_cases=40,
            scaling_runs=1,
            layer_rounds=1,
        )


#: Relative gap in loss and gradient norm below which both sides computed the same step:
#: far above float64 rounding, far below what different weights or formulas would give.
AGREEMENT = 1e-9


def gemm_section(
    n: int, rates: dict[str, list[float]], one_thread: dict[str, list[float]]
) -> dict[str, Any]:
    """GFLOP/s per side (summaries) for products of size n, with the default threads and
    with one; ``peak`` is NumPy's median with the default threads."""
    result: dict[str, Any] = {"n": n, **{side: summary(values) for side, values in rates.items()}}
    result["one_thread"] = {side: summary(values) for side, values in one_thread.items()}
    result["peak"] = result["engine"]["median"]
    return result


def measure_gemm(workers: dict[str, WorkerProcess], n: int, rounds: int) -> dict[str, Any]:
    """GFLOP/s of one (n, n) @ (n, n) float64 product per side, alternating per round, with
    the default threads and with one."""
    rates: dict[str, list[float]] = {side: [] for side in SIDES}
    one_thread: dict[str, list[float]] = {side: [] for side in SIDES}
    for _ in range(rounds):
        for threads, measured in ((None, rates), (1, one_thread)):
            for side in SIDES:
                seconds = workers[side].request(op="gemm", n=n, threads=threads)["seconds"]
                measured[side].append(problems.gemm_flops(n) / seconds / 1e9)
    return gemm_section(n, rates, one_thread)


def _agree(x: float, reference: float) -> bool:
    return abs(x - reference) <= AGREEMENT * abs(reference)


def step_row(
    sizes: tuple[int, ...],
    batch: int,
    loss: str,
    seconds: dict[str, list[float]],
    last: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """One row of the step table from both sides' seconds per step and their last answers
    (worker ``step`` answers): summaries, ratios engine/torch of the medians and of the
    minima, and whether both took the same first step (E(θ0) and ‖θ1 - θ0‖)."""
    engine, torch = summary(seconds["engine"]), summary(seconds["torch"])
    return {
        "sizes": list(sizes),
        "batch": batch,
        "loss": loss,
        "flops": problems.step_flops(sizes, batch),
        "engine": engine,
        "torch": torch,
        "inner": {side: last[side]["inner"] for side in SIDES},
        "ratio": engine["median"] / torch["median"],
        "ratio_min": engine["min"] / torch["min"],
        "same_result": _agree(last["engine"]["loss"], last["torch"]["loss"])
        and _agree(last["engine"]["update_norm"], last["torch"]["update_norm"]),
    }


def measure_step(
    workers: dict[str, WorkerProcess],
    sizes: tuple[int, ...],
    batch: int,
    loss: str,
    settings: Settings,
    with_products: bool = False,
) -> dict[str, Any]:
    """Time one architecture, batch and loss on both sides, alternating per round; with
    ``with_products``, each round also times the step's matrix products alone on each side
    (row key ``products``: summaries per side), under the same conditions as the steps."""
    seconds: dict[str, list[float]] = {side: [] for side in SIDES}
    floor: dict[str, list[float]] = {side: [] for side in SIDES}
    last: dict[str, dict[str, Any]] = {}
    problem = {"sizes": list(sizes), "batch": batch, "seed": settings.seed}
    for _ in range(settings.rounds):
        for side in SIDES:
            last[side] = workers[side].request(op="step", loss=loss, **problem)
            seconds[side].append(last[side]["seconds"])
        for side in SIDES if with_products else ():
            floor[side].append(workers[side].request(op="products", **problem)["seconds"])
    row = step_row(sizes, batch, loss, seconds, last)
    if with_products:
        row["products"] = {side: summary(values) for side, values in floor.items()}
    return row


def measure_phases(
    engine: WorkerProcess, sizes: tuple[int, ...], batch: int, loss: str, settings: Settings
) -> dict[str, float]:
    """The engine's step per phase: the median of each phase over ``phase_rounds`` profiles."""
    problem = {"sizes": list(sizes), "batch": batch, "loss": loss, "seed": settings.seed}
    profiles = [
        engine.request(op="phases", steps=settings.phase_steps, **problem)
        for _ in range(settings.phase_rounds)
    ]
    return {phase: summary([p[phase] for p in profiles])["median"] for phase in profiles[0]}


def with_rates(row: dict[str, Any], peak: float) -> dict[str, Any]:
    """Add both sides' GFLOP/s (of their median step) and their share of the GEMM peak."""
    rates = {f"{side}_gflops": row["flops"] / row[side]["median"] / 1e9 for side in SIDES}
    shares = {f"{side}_share": rates[f"{side}_gflops"] / peak for side in SIDES}
    return {**row, **rates, **shares, "share_of_peak": shares["engine_share"]}


def measure_engine_and_torch(settings: Settings) -> dict[str, Any]:
    """Sections environment (workers), gemm and steps, from one engine and one torch worker."""
    with single_threaded_environment() if settings.single_thread else nullcontext():
        workers = {side: WorkerProcess(side) for side in SIDES}
    try:
        info = {side: workers[side].request(op="info") for side in SIDES}
        gemm = measure_gemm(workers, settings.gemm_n, settings.rounds)
        steps = []
        for sizes in settings.sizes:
            profiled = sizes in settings.phase_sizes
            for batch in settings.batches:
                for loss in settings.losses:
                    row = measure_step(workers, sizes, batch, loss, settings, profiled)
                    if profiled:
                        row["phases"] = measure_phases(
                            workers["engine"], sizes, batch, loss, settings
                        )
                    steps.append(with_rates(row, gemm["peak"]))
    finally:
        for worker in workers.values():
            worker.close()
    return {"workers": info, "gemm": gemm, "steps": steps}


def measure_checks(quick: bool) -> dict[str, Any]:
    """``benchmarks.checks.measure(quick)``, run in a child process."""
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
    """The issues' targets with the measured value and whether each is met (never asserted)."""
    rows = [
        {
            "target": f"engine/torch <= 1.0 on {row['sizes']} x{row['batch']} {row['loss']}",
            "value": round(row["ratio"], 3),
            "met": row["ratio"] <= 1.0,
        }
        for row in result["steps"]
    ]
    rows += [
        {
            "target": f"engine >= 90% of GEMM peak on {row['sizes']} x512 {row['loss']}",
            "value": round(row["share_of_peak"], 3),
            "met": row["share_of_peak"] >= 0.9,
        }
        for row in result["steps"]
        if row["sizes"] == [1024, 2048, 2048, 1024] and row["batch"] == 512
    ]
    verify = result["verify"]
    if not verify.get("args"):
        seconds, peak = verify["seconds"]["median"], verify["peak_bytes"]["max"]
        completed = all(code in (0, 1) for code in verify["exit_codes"])  # 2: usage error
        wall = {"target": "manualbp verify <= 6 s wall", "value": round(seconds, 2)}
        rows.append({**wall, "met": completed and seconds <= 6})
        rows.append(
            {
                "target": "manualbp verify <= 1 GiB peak memory",
                "value": round(peak / GIB, 3),
                "met": completed and peak <= GIB,
            }
        )
    rows += check_targets(result["checks"])
    return rows + scaling.targets(result)


def check_targets(checks: dict[str, Any]) -> list[dict[str, Any]]:
    """The full element-wise complex-step check at least 50 times faster than gradcheck's
    exact mode on [20,64,64,10]; the directional slopes within 10 gradient computations."""
    if checks.get("status") != "measured":
        return []
    rows = []
    for row in checks["rows"]:
        if row["section"] == "c" and row["sizes"] == [20, 64, 64, 10]:
            speedup = row["complex_step_check"]["speedup"]
            rows.append(
                {
                    "target": "complex-step check >= 50x gradcheck exact on [20, 64, 64, 10]",
                    "value": round(speedup, 1),
                    "met": speedup >= 50,
                }
            )
        if row["section"] == "d":
            passes = row["directional_slopes"]["backward_passes"]
            rows.append(
                {
                    "target": f"directional slopes <= 10 gradient computations on {row['sizes']}",
                    "value": round(passes, 1),
                    "met": passes <= 10,
                }
            )
    return rows


def run(settings: Settings) -> dict[str, Any]:
    """Every section, measured in turn (see the module docstring); the machine's load
    average at the start and the end goes into the environment."""
    load_at_start = os.getloadavg()
    measured = measure_engine_and_torch(settings)
    result: dict[str, Any] = {
        "settings": asdict(settings),
        "environment": {**environment(), "workers": measured["workers"]},
        "gemm": measured["gemm"],
        "steps": measured["steps"],
        "checks": measure_checks(settings.quick),
        "verify": measure_verify(settings),
        "contention": measure_contention(settings),
        "scaling": scaling.measure_scaling(settings.scaling_cases, settings.scaling_runs),
        "layers": scaling.measure_layer_check(settings.layer_rounds),
    }
    result["targets"] = targets(result)
    result["environment"]["load"] = {"start": load_at_start, "end": os.getloadavg()}
    return result

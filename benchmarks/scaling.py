"""Issue 16 (e): how ``manualbp verify`` scales over worker processes, and the layer check.

* ``-j`` scaling: ``manualbp verify --cases N`` (default implementations, every check) run
  with ``-j 1`` and ``-j 2`` alternately, ``runs`` times each, each in a fresh process; the
  speed-up is the ratio of the median wall times (target: ``-j 2`` at least 1.7 times faster
  on 2 cores at ``--cases 400``).
* the layer check: :func:`benchmarks.layers.measure` of a conv2d layer with 10^4 parameters
  (fd and autograd, one case), for the library's pair and CS231n's naive loops, in a child
  process (target: under 5 s).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.processes import timed_child
from benchmarks.stats import summary

#: ``-j 2`` must be at least this much faster than ``-j 1``.
SCALING_TARGET = 1.7


def measure_scaling(cases: int, runs: int, extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """Wall time of ``manualbp verify --cases cases`` (and ``extra`` options) with ``-j 1``
    and ``-j 2``, A B A B."""
    seconds: dict[str, list[float]] = {"1": [], "2": []}
    codes: list[int] = []
    with tempfile.TemporaryDirectory(prefix="manualbp-bench-") as scratch:
        report = str(Path(scratch) / "report.json")
        for _ in range(runs):
            for jobs in seconds:
                command = ["-m", "manualbp.cli", "verify", "--quiet", "--no-html", "--json",
                           report, "--cases", str(cases), "-j", jobs, *extra]  # fmt: skip
                run = timed_child(command)
                seconds[jobs].append(run["seconds"])
                codes.append(run["exit_code"])
    one, two = summary(seconds["1"]), summary(seconds["2"])
    return {
        "status": "measured",
        "cases": cases,
        "extra": list(extra),
        "jobs_1": one,
        "jobs_2": two,
        "speedup": one["median"] / two["median"],
        "exit_codes": codes,
    }


def measure_layer_check(rounds: int, space: str = "LARGE") -> dict[str, Any]:
    """:func:`benchmarks.layers.measure` of the 10^4-parameter conv2d layer (``space``
    ``SMALL``: ten times fewer), per subject, in a child process (its torch import and
    warm-up are not counted)."""
    code = (
        "import json, benchmarks.layers as b; print(json.dumps({label: b.measure(spec, "
        f"b.{space}, {rounds}) for label, spec in b.SUBJECTS.items()}}))"
    )
    run = timed_child(["-c", code])
    if run["exit_code"] != 0:
        return {"status": f"benchmarks.layers failed with exit code {run['exit_code']}"}
    return {"status": "measured", "rounds": rounds, "subjects": json.loads(run["stdout"])}


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The scaling and layer-check targets with their measured values."""
    rows = []
    scaling = result.get("scaling", {})
    if scaling.get("status") == "measured":
        rows.append(
            {
                "target": f"verify -j 2 >= {SCALING_TARGET}x -j 1 on --cases {scaling['cases']}",
                "value": round(scaling["speedup"], 2),
                "met": scaling["speedup"] >= SCALING_TARGET
                and all(code in (0, 1) for code in scaling["exit_codes"]),
            }
        )
    layers = result.get("layers", {})
    if layers.get("status") == "measured":
        from benchmarks.layers import TARGET_SECONDS

        for label, measured in layers["subjects"].items():
            seconds = measured["seconds"]["median"]
            rows.append(
                {
                    "target": f"conv2d layer check ({measured['parameters']} parameters, "
                    f"{label}) < {TARGET_SECONDS:g} s",
                    "value": round(seconds, 2),
                    "met": seconds < TARGET_SECONDS,
                }
            )
    return rows

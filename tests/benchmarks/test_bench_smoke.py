"""Smoke test of the benchmark: every section measured on a tiny sample, tabled and JSON-able.

The full run takes minutes, so each section is measured here on the smallest real input
(the engine and torch steps in-process, a trivial child for the process timer, two cases
of the autograd check); no figure is asserted, only that every section is there.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import phases, problems, runner, scaling, tables  # noqa: E402
from benchmarks.contention import time_autograd_check  # noqa: E402
from benchmarks.processes import timed_child  # noqa: E402
from benchmarks.stats import summary  # noqa: E402
from benchmarks.worker import Worker, gemm_seconds, side_info  # noqa: E402


def _sample() -> dict:
    """A result dict with every section, each measured on the smallest input."""
    workers = {side: Worker(side) for side in runner.SIDES}
    n = 32
    rates = {side: [problems.gemm_flops(n) / gemm_seconds(side, n) / 1e9] for side in runner.SIDES}
    one = {side: [problems.gemm_flops(n) / gemm_seconds(side, n, 1) / 1e9] for side in runner.SIDES}
    gemm = runner.gemm_section(n, rates, one)
    last = {side: workers[side].time_step((2, 2, 2), 4, "softmax_ce", 0) for side in runner.SIDES}
    seconds = {side: [answer["seconds"]] for side, answer in last.items()}
    step = runner.with_rates(
        runner.step_row((2, 2, 2), 4, "softmax_ce", seconds, last), gemm["peak"]
    )
    step["phases"] = workers["engine"].phases((2, 2, 2), 4, "softmax_ce", 0, steps=2)
    step["products"] = {
        side: summary([workers[side].time_step((2, 2, 2), 4, "products", 0)["seconds"]])
        for side in runner.SIDES
    }
    child = timed_child(["-c", "print('done')"])
    verify = runner.verify_section([{**child, "timings": {"total": child["seconds"]}}], ())
    contention = runner.contention_section(
        {"fixed": [time_autograd_check(1, 1)], "unfixed": [time_autograd_check(None, 1)]}, 1
    )
    result = {
        "settings": {},
        "environment": {
            **runner.environment(),
            "workers": {side: side_info(side) for side in runner.SIDES},
        },
        "gemm": gemm,
        "steps": [step],
        "checks": {"status": "checks section not available yet"},
        "verify": verify,
        "contention": contention,
        "scaling": scaling.measure_scaling(1, 1, ("--checks", "fd")),
        "layers": scaling.measure_layer_check(1, "SMALL"),
    }
    result["targets"] = runner.targets(result)
    result["environment"]["load"] = {"start": (0.5, 0.4, 0.3), "end": (0.6, 0.5, 0.4)}
    return result


def test_every_section_is_measured_tabled_and_json_able() -> None:
    result = _sample()
    text, markdown = tables.format_result(result), tables.format_markdown(result)
    for title, _ in tables.SECTIONS:
        assert f"== {title} ==" in text and f"## {title}" in markdown
    assert "[2, 2, 2]" in text and "checks section not available yet" in text
    assert "| [2, 2, 2] | 4 | softmax_ce |" in markdown
    assert json.loads(json.dumps(result)).keys() == result.keys()
    assert result["steps"][0]["same_result"], "engine and torch took different first steps"
    assert result["verify"]["exit_codes"] == [0] and result["verify"]["peak_bytes"]["max"] > 0
    assert result["contention"]["fails"] == {"fixed": [0], "unfixed": [0]}
    verdicts = {row["target"]: row["met"] for row in result["targets"]}
    assert "manualbp verify <= 6 s wall" in verdicts
    assert "engine/torch <= 1.0 on [2, 2, 2] x4 softmax_ce" in verdicts
    assert "verify -j 2 >= 1.7x -j 1 on --cases 1" in verdicts
    assert result["scaling"]["exit_codes"] == [0, 0]
    layers = result["layers"]["subjects"]
    assert set(layers) == {"manualbp.layers:conv2d", "CS231n naive loops"}
    assert all(measured["verdicts"] == ["pass"] for measured in layers.values())
    assert sum(target.startswith("conv2d layer check") for target in verdicts) == 2


def test_step_flops_count_three_gemms_per_layer_but_no_input_gradient_of_x() -> None:
    # [3, 4, 2], N = 5: layer products 12 and 8; 2·5·(3·20 - 12) = 480
    assert problems.step_flops((3, 4, 2), 5) == 480.0


def test_the_timed_products_are_the_ones_the_flops_count() -> None:
    sizes, batch = (3, 4, 2), 5
    pairs = problems.product_pairs(problems.product_operands(sizes, batch, 0))
    flops = sum(2.0 * left.shape[0] * left.shape[1] * right.shape[1] for left, right in pairs)
    assert flops == problems.step_flops(sizes, batch)
    assert all(left.shape[1] == right.shape[0] for left, right in pairs)


@pytest.mark.parametrize("loss", problems.FULL_LOSSES)
def test_engine_and_torch_take_the_same_first_step(loss: str) -> None:
    answers = {side: Worker(side).time_step((5, 4, 3), 6, loss, 1) for side in runner.SIDES}
    engine, torch = answers["engine"], answers["torch"]
    assert engine["loss"] == pytest.approx(torch["loss"], rel=1e-12)
    assert engine["update_norm"] == pytest.approx(torch["update_norm"], rel=1e-12)
    assert engine["update_norm"] > 0


def test_phases_add_up_to_the_profiled_step() -> None:
    problem = problems.make_problem((6, 5, 4), 3, 0, "half_sse")
    measured = phases.engine_phases(problem, steps=3)
    parts = sum(measured[phase] for phase in phases.PHASES)
    assert parts == pytest.approx(measured["total"], rel=1e-9)
    assert 0 < measured["products"] < measured["forward"] + measured["backward"]


def test_markdown_grid_escapes_the_column_separator() -> None:
    table = tables.markdown_grid(("a", "b"), [("x|y", 1)])
    assert table.splitlines() == ["| a | b |", "| --- | --- |", "| x\\|y | 1 |"]


def test_engine_and_torch_workers_build_the_same_problem() -> None:
    first = problems.make_problem((3, 4, 2), 5, 7, "softmax_ce")
    second = problems.make_problem((3, 4, 2), 5, 7, "softmax_ce")
    assert all((first.params[k] == second.params[k]).all() for k in first.params)
    assert (first.x == second.x).all() and (first.y == second.y).all()

"""The report's plots: inline SVG, deterministic, downsampled, numbers only."""

from __future__ import annotations

import re

import numpy as np
import pytest

from manualbp.report import plots


def _scatter(n_pass: int, n_fail: int = 2) -> str:
    rng = np.random.default_rng(0)
    n = n_pass + n_fail
    return plots.error_scatter(
        rng.uniform(0.01, 10, n),
        np.concatenate([10 ** rng.uniform(-14, -9, n_pass), np.ones(n_fail)]),
        ["pass"] * n_pass + ["fail"] * n_fail,
    )


def _points(svg: str, verdict: str) -> int:
    """Scatter points of a verdict: <use> elements of a marker filled with its colour (the
    marker's definition carries the fill the points share), less the one of the legend."""
    colour = plots.VERDICT_COLOURS[verdict]
    markers = re.findall(rf'<path id="([\w-]+)" d="[^"]*" style="fill: {colour}', svg)
    return sum(len(re.findall(rf'<use xlink:href="#{m}"', svg)) for m in markers) - 1


def test_svg_is_inline_ready_and_dated_nowhere():
    svg = _scatter(20)
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert "<?xml" not in svg and "<!DOCTYPE" not in svg
    assert "dc:date" not in svg


def test_same_numbers_give_the_same_bytes():
    assert _scatter(50) == _scatter(50)
    tensors = {("W", 1): np.array([[1e-3, 1e-14]]), ("b", 1): "pass"}
    assert plots.layer_heatmaps(tensors, 1e-10) == plots.layer_heatmaps(tensors, 1e-10)


def test_large_scatter_draws_at_most_the_limit_of_passes_and_every_failure():
    svg = _scatter(3 * plots.SCATTER_LIMIT, n_fail=5)
    assert _points(svg, "pass") == plots.SCATTER_LIMIT
    assert _points(svg, "fail") == 5
    assert f"{plots.SCATTER_LIMIT} of {3 * plots.SCATTER_LIMIT} passing points drawn" in svg


def test_small_scatter_draws_every_point():
    svg = _scatter(30, n_fail=3)
    assert (_points(svg, "pass"), _points(svg, "fail")) == (30, 3)


def test_thin_is_even_and_keeps_both_ends():
    kept = plots.thin(101, 11)
    assert kept.tolist() == list(range(0, 101, 10))
    assert plots.thin(5, 10).tolist() == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    ("value", "label"),
    [(1e-8, "1e-8"), (0.01, "0.01"), (100.0, "100"), (1e6, "1e6"), (3e-7, "3e-7"), (0.0, "")],
)
def test_log_tick_labels_are_plain_text(value, label):
    assert plots._power_label(value) == label


def test_pooling_keeps_the_worst_entry_of_each_block():
    values = np.zeros((100, 7))
    values[57, 3] = 5.0
    pooled = plots._pooled(values, limit=10)
    assert pooled.shape == (10, 7)
    assert pooled.max() == 5.0 and np.count_nonzero(pooled) == 1


def test_heatmap_panels_show_errors_verdicts_and_gaps():
    tensors = {
        ("W", 1): np.array([[1e-3, 1e-14], [np.inf, 0.0]]),
        ("W", 2): "pass",
        ("delta", 2): np.arange(6.0).reshape(2, 3),
    }
    svg = plots.layer_heatmaps(tensors, 1e-10)
    assert svg.count("data:image/png;base64") == 3  # two panels and the colour bar
    assert "W1 (2×2)" in svg and "δ2 (2×3)" in svg
    assert "δ1: not compared" in svg
    assert ">pass<" in svg


def test_large_tensor_heatmap_says_it_is_block_maximum():
    svg = plots.layer_heatmaps({("W", 1): np.ones((300, 20))}, 1e-10)
    assert "W1 (300×20, block max)" in svg


def test_layer_bars_mark_infinite_shares_and_the_tolerance():
    svg = plots.layer_errors([(1, "W", float("inf"), "fail"), (1, "delta", 1e-4, "pass")])
    assert "∞" in svg and "dashed: tolerance" in svg
    assert svg.count(plots.VERDICT_COLOURS["fail"]) == 1


def test_step_curve_marks_the_chosen_step():
    h = np.geomspace(1e-10, 1e-1, 10)
    lines = [(h, 1e-16 / h + h**2, "1: pass")]
    svg = plots.step_curve(lines, 1e-5)
    assert "chosen step h = 1e-05" in svg and "1: pass" in svg
    assert "chosen step" not in plots.step_curve(lines, None)


def _y_ticks(svg: str) -> list[str]:
    return re.findall(r'<g id="ytick_\d+">.*?<text[^>]*>([^<]*)</text>', svg, re.DOTALL)


def test_a_flat_step_curve_still_gets_two_labelled_y_ticks():
    h = np.geomspace(1e-9, 1e-1, 12)
    flat = np.full(h.size, 1.8e-6)
    ticks = _y_ticks(plots.step_curve([(h, flat, "1: fail")], None))
    assert len(ticks) >= 2, ticks


def test_compact_svg_keeps_every_point_and_shortens_numbers():
    svg = _scatter(200, n_fail=4)
    assert re.search(r"\d\.\d{3,}", svg) is None
    colour = plots.VERDICT_COLOURS["pass"]
    markers = re.findall(rf'<path id="([\w-]+)" d="[^"]*" style="fill: {colour}', svg)
    uses = [u for m in markers for u in re.findall(rf'<use xlink:href="#{m}"[^>]*>', svg)]
    assert len(uses) == 201 and not any("style" in use for use in uses)
    assert (_points(svg, "pass"), _points(svg, "fail")) == (200, 4)


def test_thinned_passes_keep_the_worst_errors():
    errors = np.random.default_rng(1).uniform(size=5000)
    chosen = np.arange(5000)
    kept = plots._thinned(chosen, errors)
    assert kept.size == plots.SCATTER_LIMIT and np.all(np.diff(kept) > 0)
    assert set(np.argsort(-errors)[:100]) <= set(kept.tolist())

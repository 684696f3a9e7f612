"""The plots of the HTML report: matplotlib figures returned as inline ``<svg>`` text.

Every function takes numbers (and labels it builds itself), never a string read from a
report, so nothing an implementation or a reference file wrote can reach a plot. Output is
deterministic: a fixed SVG hash salt, no date in the metadata, text kept as SVG text.
matplotlib is imported lazily and used through :class:`~matplotlib.figure.Figure` alone
(no pyplot, no GUI backend, no global state changed).
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from manualbp.report.svg import compact

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure
    from matplotlib.image import AxesImage

VERDICT_COLOURS = {
    "pass": "#2e7d32",
    "fail": "#c62828",
    "imprecise": "#00838f",
    "inconclusive": "#e08a00",
    "erratum": "#7b1fa2",
    "skipped": "#757575",
}
ERROR_FLOOR = 1e-18
"""Errors of exactly 0 are drawn here (a log axis has no 0)."""
SCATTER_LIMIT = 1000
"""Most passing points a scatter draws; failures and the worst passes are always drawn."""
HEATMAP_LIMIT = 48
"""Largest side of a heat map; a larger tensor is shown as the maximum over blocks."""

HEATMAP_KINDS = ("W", "b", "delta")
"""Rows of a heat-map grid: weight gradients, bias gradients, error terms δ."""
_SYMBOLS = {"W": "W", "b": "b", "delta": "δ"}

_STYLE = {
    "svg.hashsalt": "manualbp",
    "svg.fonttype": "none",
    "font.family": ["DejaVu Sans", "sans-serif"],
    "font.size": 9.0,
    "axes.titlesize": 9.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e4e4e4",
    "grid.linewidth": 0.6,
    "legend.frameon": False,
    "legend.fontsize": 8.0,
}


@dataclass(frozen=True)
class Margins:
    """Space around the axes of a figure, inches (a fixed layout: matplotlib's constrained
    layout measures every tick label again and triples the drawing time)."""

    left: float = 0.75
    right: float = 0.2
    top: float = 0.35
    bottom: float = 0.55


def preload() -> None:
    """Import matplotlib's Figure and SVG backend (a third of a second): run in a background
    thread while the checks run, so the page is drawn without waiting for the import."""
    import matplotlib.backends.backend_svg
    import matplotlib.figure  # noqa: F401


@contextmanager
def _figure(width: float, height: float, margins: Margins) -> Iterator[Figure]:
    """A fresh Figure of ``width`` × ``height`` inches with ``margins`` around its axes,
    created and drawn under the report's matplotlib style."""
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(_STYLE):
        figure = Figure(figsize=(width, height))
        figure.subplots_adjust(
            left=margins.left / width,
            right=1 - margins.right / width,
            top=1 - margins.top / height,
            bottom=margins.bottom / height,
        )
        yield figure


def _power_label(value: float, _position: int | None = None) -> str:
    """A log-axis tick label as plain text (``1e-8``, ``0.01``, ``100``): matplotlib's
    default math-text labels are most of the time a small figure takes to draw."""
    if value <= 0:
        return ""
    exponent = round(math.log10(value))
    if -2 <= exponent <= 3:
        return f"{value:g}"
    mantissa = value / 10.0**exponent
    return f"1e{exponent}" if abs(mantissa - 1) < 1e-9 else f"{mantissa:g}e{exponent}"


def _log_scale(axes: Axes, which: str) -> None:
    """Log scale on the ``x`` and/or ``y`` axis of ``axes``: at most 8 plain-text labelled
    ticks and no minor ticks (each tick is an artist: they dominate drawing time)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

    for name in which:
        if name == "x":
            axes.set_xscale("log")
            axis = axes.xaxis
        else:
            axes.set_yscale("log")
            axis = axes.yaxis
        axis.set_major_locator(LogLocator(numticks=8))
        axis.set_major_formatter(FuncFormatter(_power_label))
        axis.set_minor_locator(NullLocator())


def _svg(figure: Figure) -> str:
    """The figure as a compact ``<svg>`` element (XML prolog and DOCTYPE removed, see
    :func:`compact`)."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return compact(text[text.index("<svg") :].strip())


def thin(count: int, limit: int) -> np.ndarray:
    """Indices of at most ``limit`` of ``count`` items, evenly spaced, first and last kept."""
    if count <= limit:
        return np.arange(count)
    return np.unique(np.linspace(0, count - 1, limit).round().astype(int))


def _thinned(chosen: np.ndarray, errors: np.ndarray, worst: int = 100) -> np.ndarray:
    """The ``worst`` largest errors among ``chosen`` and an evenly spaced subset of the
    rest, :data:`SCATTER_LIMIT` in all, in their original order."""
    by_error = chosen[np.argsort(-errors[chosen], kind="stable")]
    rest = by_error[worst:]
    kept = np.concatenate([by_error[:worst], rest[thin(rest.size, SCATTER_LIMIT - worst)]])
    return np.sort(kept)


def error_scatter(
    ref_abs: Sequence[float], shares: Sequence[float], verdicts: Sequence[str]
) -> str:
    """Each finding's error as a share of its tolerance, |impl - ref| / (atol + rtol·|ref|),
    against |reference|, coloured by verdict, with the tolerance (a share of 1) as a line.

    ``ref_abs`` must be positive and ``shares`` finite; shares of exactly 0 are drawn on a
    dotted line at :data:`ERROR_FLOOR`. Beyond :data:`SCATTER_LIMIT` passing points, the
    100 worst and an evenly spaced subset of the rest are drawn, and the title says so.
    """
    x = np.asarray(ref_abs, dtype=float)
    y = np.maximum(np.asarray(shares, dtype=float), ERROR_FLOOR)
    verdict = np.asarray(verdicts, dtype=object)
    title = "error of each finding as a share of its tolerance"
    with _figure(8.4, 3.6, Margins(right=2.1)) as figure:
        axes = figure.add_subplot()
        for name, colour in VERDICT_COLOURS.items():
            (chosen,) = np.nonzero(verdict == name)
            total = chosen.size
            if total == 0:
                continue
            if name == "pass" and total > SCATTER_LIMIT:
                chosen = _thinned(chosen, y)
                title += f" ({chosen.size} of {total} passing points drawn)"
            axes.scatter(
                x[chosen],
                y[chosen],
                s=10,
                c=colour,
                alpha=0.75,
                linewidths=0,
                label=f"{name} ({total})",
            )
        axes.axhline(
            1.0, color="#333333", linestyle="--", linewidth=1.0, label="tolerance: above disagrees"
        )
        if np.any(y == ERROR_FLOOR):
            axes.axhline(
                ERROR_FLOOR,
                color="#9e9e9e",
                linestyle=":",
                linewidth=0.8,
                label="exact agreement (error 0)",
            )
        _log_scale(axes, "xy")
        axes.set_xlabel("|reference value|")
        axes.set_ylabel("|impl − ref| / (atol + rtol·|ref|)")
        axes.set_title(title)
        axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
        return _svg(figure)


def _pooled(values: np.ndarray, limit: int = HEATMAP_LIMIT) -> np.ndarray:
    """A 2-D array shrunk to at most ``limit`` per side by taking the maximum over blocks."""
    rows, cols = values.shape
    row_edges = np.linspace(0, rows, min(rows, limit) + 1).astype(int)
    col_edges = np.linspace(0, cols, min(cols, limit) + 1).astype(int)
    pooled = np.maximum.reduceat(values, row_edges[:-1], axis=0)
    return np.maximum.reduceat(pooled, col_edges[:-1], axis=1)


PANEL = (1.7, 1.15)
"""Width and height of one heat-map panel, inches."""
GAP = (0.5, 0.45)
"""Horizontal and vertical space between panels (ticks and titles), inches."""


def layer_heatmaps(tensors: dict[tuple[str, int], np.ndarray | str], rtol: float) -> str:
    """A grid of heat maps of log10 relative error: one row per kind of
    :data:`HEATMAP_KINDS` present, one column per layer present.

    ``tensors[(kind, layer)]`` is the per-entry relative error of a tensor (any shape; a
    vector is one row, a scalar one cell), or, for a tensor without per-entry errors, its
    verdict (one of :data:`VERDICT_COLOURS`); a kind missing at a layer was not compared
    there. Colours are centred on ``rtol``: green agrees, red does not.
    """
    from matplotlib.colors import TwoSlopeNorm

    kinds = [k for k in HEATMAP_KINDS if any(key[0] == k for key in tensors)]
    layers = sorted({layer for _, layer in tensors})
    grids = [_as_grid(v) for v in tensors.values() if not isinstance(v, str)]
    centre = math.log10(rtol) if rtol > 0 else math.log10(ERROR_FLOOR)
    finite = [np.log10(np.maximum(g[np.isfinite(g)], ERROR_FLOOR)) for g in grids]
    values = np.concatenate([centre, *finite], axis=None)
    low, high = min(float(values.min()), centre - 1), max(float(values.max()), centre + 1)
    norm = TwoSlopeNorm(vcenter=centre, vmin=low, vmax=high)
    margins = Margins(left=0.45, right=1.1, top=0.35, bottom=0.3)
    width = margins.left + len(layers) * PANEL[0] + (len(layers) - 1) * GAP[0] + margins.right
    height = margins.top + len(kinds) * PANEL[1] + (len(kinds) - 1) * GAP[1] + margins.bottom
    with _figure(width, height, margins) as figure:
        axes_grid = figure.subplots(
            len(kinds),
            len(layers),
            squeeze=False,
            gridspec_kw={"wspace": GAP[0] / PANEL[0], "hspace": GAP[1] / PANEL[1]},
        )
        images = [
            _panel(
                axes_grid[row][col],
                f"{_SYMBOLS[kind]}{layer}",
                tensors.get((kind, layer)),
                norm,
                high,
            )
            for row, kind in enumerate(kinds)
            for col, layer in enumerate(layers)
        ]
        image = next((i for i in images if i is not None), None)
        if image is not None:
            colorbar_axes = figure.add_axes(
                (
                    1 - (margins.right - 0.25) / width,
                    margins.bottom / height,
                    0.12 / width,
                    1 - (margins.top + margins.bottom) / height,
                )
            )
            bar = figure.colorbar(image, cax=colorbar_axes)
            bar.set_label("log10 relative error (tolerance at the centre)")
        return _svg(figure)


def _panel(
    axes: Axes, name: str, value: np.ndarray | str | None, norm: Normalize, high: float
) -> AxesImage | None:
    """Draw one heat-map panel; return the image when one was drawn."""
    from matplotlib.ticker import MaxNLocator

    axes.grid(False)
    if value is None:
        axes.set_axis_off()
        axes.set_title(f"{name}: not compared", color=VERDICT_COLOURS["skipped"])
        return None
    if isinstance(value, str):
        axes.set_xticks([])
        axes.set_yticks([])
        for spine in axes.spines.values():
            spine.set_visible(True)
            spine.set_color("#d0d0d0")
        axes.text(
            0.5,
            0.5,
            value,
            ha="center",
            va="center",
            color=VERDICT_COLOURS[value],
            transform=axes.transAxes,
        )
        axes.set_title(name)
        return None
    grid = _as_grid(value)
    shown = np.where(np.isfinite(grid), np.maximum(grid, ERROR_FLOOR), 10**high)
    pooled = _pooled(np.log10(shown))
    rows, cols = grid.shape
    image = axes.imshow(
        pooled,
        cmap="RdYlGn_r",
        norm=norm,
        aspect="auto",
        interpolation="nearest",
        extent=(-0.5, cols - 0.5, rows - 0.5, -0.5),
    )
    note = "" if pooled.shape == grid.shape else ", block max"
    axes.set_title(f"{name} ({rows}×{cols}{note})")
    axes.tick_params(labelsize=7, length=2)
    for axis, entries in ((axes.yaxis, rows), (axes.xaxis, cols)):
        if entries == 1:
            axis.set_ticks([])
        else:
            axis.set_major_locator(MaxNLocator(nbins=4, integer=True))
    return image


def _as_grid(values: np.ndarray) -> np.ndarray:
    """A tensor of relative errors as a 2-D grid: a scalar is 1×1, a vector one row."""
    values = np.asarray(values, dtype=float)
    if values.ndim == 2:
        return values
    if values.ndim < 2:
        return values.reshape(1, -1)
    return values.reshape(values.shape[0], -1)


def layer_errors(rows: Sequence[tuple[int, str, float, str]]) -> str:
    """Bars of each tensor's worst error as a share of its tolerance (see
    :func:`error_scatter`), grouped by layer and kind (δ, W, b), coloured by verdict, with
    the tolerance (a share of 1) as a line. ``rows`` are (layer, kind of
    :data:`HEATMAP_KINDS`, share, verdict); an infinite share is drawn at the top, marked ∞."""
    layers = sorted({layer for layer, _, _, _ in rows})
    offsets = {"delta": -0.27, "W": 0.0, "b": 0.27}
    with _figure(1.5 + 0.9 * len(layers), 2.6, Margins()) as figure:
        axes = figure.add_subplot()
        ceiling = 100 * max([1.0, *(s for _, _, s, _ in rows if math.isfinite(s))])
        for layer, kind, share, verdict in rows:
            height = max(share, ERROR_FLOOR) if math.isfinite(share) else ceiling
            axes.bar(layer + offsets[kind], height, width=0.25, color=VERDICT_COLOURS[verdict])
            if not math.isfinite(share):
                axes.text(layer + offsets[kind], height, "∞", ha="center", va="bottom")
        axes.axhline(1.0, color="#333333", linestyle="--", linewidth=0.9)
        _log_scale(axes, "y")
        axes.set_xticks(
            [layer + offsets[k] for layer in layers for k in offsets],
            [f"{_SYMBOLS[k]}{layer}" for layer in layers for k in offsets],
            fontsize=7,
        )
        axes.set_xlabel("layer (δ, W, b)")
        axes.set_ylabel("error / tolerance")
        axes.set_title("worst error by layer; dashed: tolerance")
        return _svg(figure)


def _decade_limits(axes: Axes, values: np.ndarray) -> None:
    """y limits on whole decades around ``values``, at least one decade apart, so a log
    axis always has two labelled ticks (a flat curve gets one decade around it)."""
    low = math.floor(math.log10(float(values.min())))
    high = math.ceil(math.log10(float(values.max())))
    if high - low < 1:
        low, high = low - 1, high + 1
    axes.set_ylim(10.0**low, 10.0**high)


STEP_COLOURS = ("#1565c0", "#c62828", "#6a1b9a")
"""Colours of the curves of :func:`step_curve`, in order."""


def step_curve(
    lines: Sequence[tuple[Sequence[float], Sequence[float], str]], chosen: float | None
) -> str:
    """Finite-difference error against the step h on log-log axes, one line per
    (steps, errors, label) of ``lines`` (at most three; labels are built by the caller from
    numbers and verdicts), with the chosen step marked when given."""
    with _figure(6.4, 3.0, Margins(right=1.9)) as figure:
        axes = figure.add_subplot()
        drawn = []
        for (steps, errors, label), colour in zip(lines, STEP_COLOURS, strict=False):
            error = np.maximum(np.asarray(errors, dtype=float), ERROR_FLOOR)
            drawn.append(error)
            axes.plot(
                np.asarray(steps, dtype=float),
                error,
                marker="o",
                markersize=3,
                color=colour,
                linewidth=1.2,
                label=label,
            )
        if chosen is not None:
            axes.axvline(
                chosen,
                color="#333333",
                linestyle="--",
                linewidth=1.0,
                label=f"chosen step h = {chosen:.2g}",
            )
        _log_scale(axes, "xy")
        _decade_limits(axes, np.concatenate(drawn))
        axes.set_xlabel("step h")
        axes.set_ylabel("|D(h) − gᵀv|")
        axes.set_title("central-difference error against the step")
        axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
        return _svg(figure)

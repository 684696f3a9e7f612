"""The HTML discrepancy report: one self-contained page made from a JSON report.

The page has inline CSS and inline SVG plots and nothing else: no script, no font, no
image or style fetched from anywhere, and a Content-Security-Policy that forbids every
load but inline styles and ``data:`` images (matplotlib's heat maps). Jinja2 autoescapes
every value, so names, labels and messages from an implementation or a reference file
are shown as text. The same report gives the same bytes (see :mod:`manualbp.report.view`
for why a merged report gives the page of the unsharded run).

``manualbp report`` calls :func:`report_command`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import jinja2

from manualbp.errors import ReportError
from manualbp.findings import Finding
from manualbp.report.display import error_text, gap, number, pair
from manualbp.report.files import write_atomic
from manualbp.report.merge import merge_reports
from manualbp.report.model import Report, read_report
from manualbp.report.view import build_page

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'none'; "
    "base-uri 'none'; form-action 'none'"
)
"""The page's Content-Security-Policy: inline styles and data: images only."""


def why(finding: Finding) -> str:
    """Why a finding failed, short: ``70/91 entries`` outside tolerance when it compared a
    tensor, else its reason."""
    bad, entries = finding.detail.get("bad_entries"), finding.detail.get("entries")
    if isinstance(bad, int) and isinstance(entries, int) and entries > 1:
        return f"{bad}/{entries} entries"
    return finding.reason or "—"


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("manualbp.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    environment.filters["num"] = lambda value: number(value, ".10g")
    environment.filters["err"] = lambda value: number(value, ".2g")
    environment.filters["error"] = error_text
    environment.filters["gap"] = gap
    environment.filters["pair"] = lambda f: pair(f.impl_value, f.ref_value)
    environment.filters["why"] = why
    environment.filters["several_impls"] = lambda rows: len({row.impl for row in rows}) > 1
    return environment


def render_html(report: Report) -> str:
    """The report as one self-contained HTML page (deterministic for the same report)."""
    template = _environment().get_template("report.html.j2")
    return template.render(page=build_page(report), csp=CSP)


def write_html(report: Report, path: str | os.PathLike[str]) -> Path:
    """Render ``report`` and write it to ``path`` atomically (an existing page is replaced
    only once the new one is complete); return the path."""
    return write_atomic(path, render_html(report))


def merge_files(paths: Sequence[str | os.PathLike[str]]) -> Report:
    """Read reports and merge them (see :func:`~manualbp.report.merge.merge_reports`); a
    missing, malformed, truncated or future-schema file, or reports that overlap, raise a
    one-line ReportError naming the file."""
    if not paths:
        raise ReportError("merge: no report files given")
    return merge_reports([read_report(path) for path in paths], [str(path) for path in paths])


def load_reports(inputs: Sequence[str | os.PathLike[str]], merge: bool | None = None) -> Report:
    """The report ``manualbp report`` renders: the one input, or the merge of several.
    ``merge`` None merges when there are several inputs; True merges even one (so a lone
    shard of a run is refused as incomplete)."""
    if not inputs:
        raise ReportError("report: no report files given, expected one or more JSON reports")
    if merge is None:
        merge = len(inputs) > 1
    return merge_files(inputs) if merge else read_report(inputs[0])


def report_command(
    inputs: Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    merge: bool | None = None,
) -> Path:
    """Render one JSON report, or merge several (:func:`load_reports`), into the HTML page
    ``output``. Every input is read and the page rendered before anything is written, so bad
    input leaves an existing page untouched. Returns the path written."""
    report = load_reports(inputs, merge)
    try:
        return write_html(report, output)
    except OSError as exc:
        raise ReportError(f"{output}: cannot write the page ({exc.strerror or exc})") from None

"""Every file a run writes from its report — JSON, HTML page, JUnit XML, Markdown summary —
checked before the run and written together (:mod:`manualbp.report.files`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

from manualbp.errors import UsageError
from manualbp.report.files import check_writable, write_together
from manualbp.report.model import Report


@dataclass(frozen=True)
class Outputs:
    """Where each output goes (None: not written). ``options`` names, per field, the
    option that chose the path, for error messages."""

    json: Path | None = None
    html: Path | None = None
    junit: Path | None = None
    markdown: Path | None = None
    options: tuple[tuple[str, str], ...] = (
        ("json", "--json"),
        ("html", "--html"),
        ("junit", "--junit"),
        ("markdown", "--markdown"),
    )

    def chosen(self) -> list[tuple[str, Path]]:
        """(field, path) of every output to write."""
        names = [f.name for f in fields(self) if f.name != "options"]
        return [(name, Path(getattr(self, name))) for name in names if getattr(self, name)]

    def check(self) -> None:
        """Raise UsageError (one line) unless every path can be written and no two outputs
        name the same file."""
        labels = dict(self.options)
        seen: dict[str, str] = {}
        for name, path in self.chosen():
            check_writable(path, labels[name])
            key = os.path.abspath(path)
            if key in seen:
                raise UsageError(f"{labels[name]} and {seen[key]} both name {path}")
            seen[key] = labels[name]

    def write(self, report: Report) -> list[Path]:
        """Render every chosen output of ``report`` and write them together (all or none);
        a file system that refuses after the run (disk full, a folder removed) is one
        UsageError line, the previous files left as they were."""
        files = [(path, render(name, report)) for name, path in self.chosen()]
        try:
            return write_together(files)
        except OSError as exc:
            targets = [str(path) for path, _ in files]
            where = exc.filename if exc.filename in targets else ", ".join(targets)
            reason = (exc.strerror or type(exc).__name__).lower()
            raise UsageError(
                f"cannot write {where} ({reason}); the previous report files are unchanged"
            ) from None


def render(kind: str, report: Report) -> str:
    """The text of output ``kind`` (``json``, ``html``, ``junit``, ``markdown``)."""
    if kind == "json":
        return report.to_json()
    if kind == "html":
        from manualbp.report.html import render_html

        return render_html(report)
    if kind == "junit":
        from manualbp.report.junit import render_junit

        return render_junit(report)
    from manualbp.report.markdown import render_markdown

    return render_markdown(report)

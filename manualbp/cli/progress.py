"""Showing that a run is alive: a progress line on a terminal, plain lines in a CI log."""

from __future__ import annotations

import time
from typing import TextIO

from manualbp.report.text import clean


class ProgressLine:
    """A one-line progress indicator redrawn in place on an interactive stderr."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.width = 0

    def __call__(self, label: str, done: int, total: int) -> None:
        filled = int(20 * done / total) if total else 20
        text = f"\r{clean(label)[:32]:<32} [{'#' * filled}{'.' * (20 - filled)}] {done}/{total}"
        self.width = max(self.width, len(text))
        self.stream.write(text)
        self.stream.flush()

    def clear(self) -> None:
        """Erase the line (before the summary is printed)."""
        if self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()


class ProgressLog:
    """Plain progress lines every ``every`` seconds, for a stderr that is not a terminal (a CI
    log shows the run is alive without a wall of redrawn lines)."""

    def __init__(self, stream: TextIO, command: str, every: float = 15.0) -> None:
        self.stream = stream
        self.command = command
        self.every = every
        self.started = time.monotonic()
        self.last = self.started

    def __call__(self, label: str, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last < self.every:
            return  # a run shorter than ``every`` seconds prints nothing
        self.last = now
        self.stream.write(
            f"{self.command}: {clean(label)} {done}/{total} ({now - self.started:.0f} s)\n"
        )
        self.stream.flush()

    def clear(self) -> None:
        """Nothing to erase."""


def progress_for(stream: TextIO, command: str, quiet: bool) -> ProgressLine | ProgressLog | None:
    """The progress display for ``stream``: a line on a terminal, periodic lines otherwise,
    none with ``--quiet``."""
    if quiet:
        return None
    return ProgressLine(stream) if stream.isatty() else ProgressLog(stream, command)

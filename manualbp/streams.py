"""Output streams whose reader may leave: ``manualbp verify | head`` and the like.

When the reader of a pipe goes away, a write raises BrokenPipeError. For the command line
that must not change the verdict (a gate piped through ``head`` must not turn a failure
into 0, nor a pass into 1), and in a worker process it must not be charged to the user's
``print`` as a failure of the implementation. :class:`ReaderMayLeave` drops the writes
from then on and points the file descriptor at /dev/null where it has one, so the
interpreter's final flush does not fail either (which would make the exit code 120).
"""

from __future__ import annotations

import os
import sys
from typing import TextIO


class ReaderMayLeave:
    """A text stream wrapper: writes and flushes that meet a closed pipe are dropped, and so
    is everything after; a missing stream (``2>&-`` makes ``sys.stderr`` None) is a stream
    whose reader has already left. Everything else is the wrapped stream's."""

    def __init__(self, stream: TextIO | None) -> None:
        self.stream = stream
        self.gone = stream is None

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                return self.stream.write(text)  # type: ignore[union-attr]
            except BrokenPipeError:
                self._leave()
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self.stream.flush()  # type: ignore[union-attr]
            except BrokenPipeError:
                self._leave()

    def isatty(self) -> bool:
        return not self.gone and self.stream.isatty()  # type: ignore[union-attr]

    def _leave(self) -> None:
        self.gone = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
        except OSError:
            return
        try:
            os.dup2(devnull, self.stream.fileno())  # type: ignore[union-attr]
        except (OSError, ValueError):  # no file descriptor (a stream of the caller's own)
            pass
        finally:
            os.close(devnull)

    def __getattr__(self, name: str) -> object:
        return getattr(self.stream, name)


def tolerate_leaving_readers() -> None:
    """Replace ``sys.stdout`` and ``sys.stderr`` of this process with :class:`ReaderMayLeave`
    wrappers (what a worker process does: the user's prints reach the terminal while someone
    reads it, and are dropped, not raised, once nobody does)."""
    sys.stdout = ReaderMayLeave(sys.stdout)  # type: ignore[assignment]
    sys.stderr = ReaderMayLeave(sys.stderr)  # type: ignore[assignment]

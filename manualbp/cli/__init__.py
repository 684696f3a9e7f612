"""The ``manualbp`` command line: verify, report, selftest, demo.

Exit codes: 0 everything agrees, 1 a discrepancy (or nothing could be verified), 2 bad
input or usage — printed as one line, never a traceback — and 130 when interrupted
(Ctrl-C or SIGTERM: the workers are stopped and the previous report is left as it was; a
second Ctrl-C stops at once).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from manualbp.cli import commands
from manualbp.cli.parser import EXIT_USAGE, build_parser
from manualbp.errors import ManualbpError
from manualbp.report.text import clean
from manualbp.streams import ReaderMayLeave

__all__ = ["EXIT_INTERRUPTED", "EXIT_USAGE", "build_parser", "main"]

EXIT_INTERRUPTED = 130


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """First Ctrl-C or SIGTERM: unwind (workers are stopped on the way out); a second one
    ends the process at once."""
    signal.signal(signal.SIGINT, lambda *_: os._exit(EXIT_INTERRUPTED))
    signal.signal(signal.SIGTERM, lambda *_: os._exit(EXIT_INTERRUPTED))
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``manualbp`` console script; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version, or a usage error already printed
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    args.argv = list(sys.argv[1:] if argv is None else argv)
    out, err = ReaderMayLeave(sys.stdout), ReaderMayLeave(sys.stderr)
    previous = {}
    if threading.current_thread() is threading.main_thread():  # signals are main-thread only
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        for sig in previous:
            signal.signal(sig, _interrupt)
    try:
        if args.command == "verify":
            return commands.verify(args, out, err)
        if args.command == "demo":
            return commands.demo(args, out)
        if args.command == "report":
            return commands.report(args, out)
        if args.command == "selftest":
            return commands.selftest(args, out, err)
        parser.print_help(out)
        return EXIT_USAGE
    except ManualbpError as exc:
        err.write(f"manualbp {args.command}: error: {clean(exc)}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        err.write("\nmanualbp: interrupted; the previous report is left as it was\n")
        return EXIT_INTERRUPTED
    finally:
        out.flush()
        err.flush()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":
    sys.exit(main())

"""Child processes of the benchmark: request/answer workers and one-shot timed commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

#: The repository root: children run there so that ``python -m benchmarks.…`` resolves.
ROOT = Path(__file__).resolve().parent.parent
#: Pause between two timed blocks of different processes, so that the idle process's
#: spinning BLAS/OpenMP threads have gone to sleep before the other one starts timing.
SETTLE_SECONDS = 0.15


class WorkerProcess:
    """A ``benchmarks.worker`` child for one side (``engine`` or ``torch``)."""

    def __init__(self, side: str) -> None:
        self.side = side
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.worker", side],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def request(self, **request: Any) -> dict[str, Any]:
        """Send one request, wait SETTLE_SECONDS first, return the worker's answer."""
        time.sleep(SETTLE_SECONDS)
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.side} worker exited (code {self.process.wait()})")
        return json.loads(line)

    def close(self) -> None:
        """Ask the worker to quit and wait for it."""
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.write(json.dumps({"op": "quit"}) + "\n")
            self.process.stdin.close()
            self.process.wait()


def timed_child(args: list[str]) -> dict[str, Any]:
    """Run ``python args…`` in ROOT; its wall time (s), peak resident memory (bytes, of the
    child and its descendants, from wait4's rusage), exit code and stdout (stderr is
    passed through)."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    stdout = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    return {
        "seconds": wall,
        "peak_bytes": usage.ru_maxrss * 1024,  # Linux reports kilobytes
        "exit_code": child.returncode,
        "stdout": stdout,
    }

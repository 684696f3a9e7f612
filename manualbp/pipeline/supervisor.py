"""Supervised execution: the implementation under test runs in worker processes it cannot harm.

The code a gate judges must not be able to end, hang or crash the gate. Every task
(:mod:`manualbp.pipeline.work`) runs in a worker process — a fresh Python started on
:func:`worker_main`, talking over a private socket; the calling process never imports the
implementation, and the worker never re-runs the caller's script — and whatever the
implementation does becomes a result:

- an exception, or ``sys.exit()`` inside a protocol call: a ``fail`` Finding from the check
  itself (:func:`manualbp.protocol.call`), and the worker carries on;
- ``sys.exit()`` outside a call (at import), ``os._exit``, a signal (a segmentation fault,
  SIGKILL from the out-of-memory killer), or no answer within ``timeout`` seconds (the
  worker is killed): a :class:`~manualbp.pipeline.executors.Death` naming what happened and
  the protocol method that was running, and a fresh worker takes the next task;
- an allocation beyond ``memory_limit`` bytes (``RLIMIT_AS`` of the worker): NumPy raises
  MemoryError, reported as "exceeded the memory limit".

Workers ignore SIGINT (Ctrl-C reaches the parent, which stops them); each keeps the
implementations it loaded for the tasks that follow.
"""

from __future__ import annotations

import mmap
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from manualbp.errors import ManualbpError
from manualbp.pipeline.executors import Death, Task
from manualbp.threads import THREAD_VARIABLES

#: Seconds a task may take before its worker is killed (``--timeout``).
DEFAULT_TIMEOUT = 300.0
#: Address space of a worker process, bytes (``--memory-limit``): importing torch takes
#: about 0.7 GB of it, the rest is for the implementation and the checks.
DEFAULT_MEMORY_LIMIT = 4 * 2**30
#: Bytes of the shared buffer where a worker writes the protocol method it is in.
_METHOD_BYTES = 64
#: The environment variable that gives a worker the file descriptor of its socket.
_SOCKET_VARIABLE = "MANUALBP_WORKER_SOCKET"
#: What a worker sends once it has started, before any task.
_READY = "ready"
#: Seconds a new worker may take to start (import NumPy and manualbp).
_START_TIMEOUT = 120.0


class InternalError(RuntimeError):
    """manualbp's own code failed in a worker (a bug of ours, never of the implementation)."""


def signal_words(number: int) -> str:
    """How a death by signal ``number`` reads: SIGKILL is what the out-of-memory killer
    sends, SIGSEGV a crash in native code."""
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = f"signal {number}"
    if number == signal.SIGKILL:
        return "was killed by SIGKILL — likely out of memory (the kernel's out-of-memory killer)"
    if number == signal.SIGSEGV:
        return f"was killed by signal {number} ({name}, a segmentation fault)"
    return f"was killed by signal {number} ({name})"


def exit_words(code: int | None) -> str:
    """``exited with status 3`` or :func:`signal_words` for a negative exit code."""
    if code is not None and code < 0:
        return signal_words(-code)
    return f"exited with status {code}"


class _MethodBoard:
    """A 64-byte file both processes map: the worker writes the protocol method it is in,
    the supervisor reads it when the worker dies or hangs (no message needs to get out)."""

    def __init__(self, path: str, create: bool) -> None:
        self.path = path
        if create:
            with open(path, "wb") as stream:
                stream.write(bytes(_METHOD_BYTES))
        self._file = open(path, "r+b")  # noqa: SIM115 - kept open for the mapping's life
        self._map = mmap.mmap(self._file.fileno(), _METHOD_BYTES)

    def write(self, name: str) -> None:
        data = name.encode("utf-8", "replace")[: _METHOD_BYTES - 1]
        self._map[:] = data + bytes(_METHOD_BYTES - len(data))

    def read(self) -> str:
        return self._map[:].split(b"\0", 1)[0].decode("utf-8", "replace")

    def close(self) -> None:
        self._map.close()
        self._file.close()


def worker_main() -> None:
    """The worker process (``python -c`` started by :class:`Supervisor`): receive its
    settings, then perform tasks received on its socket until it closes. It imports nothing
    of the caller's ``__main__``, so a user's script needs no ``if __name__ == ...`` guard."""
    from manualbp import protocol
    from manualbp.pipeline.work import Workbench
    from manualbp.streams import tolerate_leaving_readers

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    tolerate_leaving_readers()  # a user's print after `| head` has left is not a failure
    connection = Connection(int(os.environ[_SOCKET_VARIABLE]))
    settings = connection.recv()
    sys.path[:] = settings["sys_path"]
    os.chdir(settings["cwd"])
    if settings["memory_limit"] is not None:
        import resource

        limit = settings["memory_limit"]
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    board = _MethodBoard(settings["board"], create=False)
    protocol.track_calls(board.write)
    workbench = Workbench()
    connection.send(_READY)
    while True:
        try:
            task = connection.recv()
        except (EOFError, OSError):
            return
        result: Any
        try:
            result = workbench.perform(task)
        except ManualbpError as error:
            result = error
        except SystemExit as exit_:
            result = Death(
                f"called sys.exit({exit_.code!r})", board.read(), protocol.user_frames(exit_)
            )
        except MemoryError:
            result = Death("exceeded the memory limit", board.read())
        except Exception:
            result = InternalError(traceback.format_exc())
        board.write("")
        try:
            connection.send(result)
        except Exception:  # an unpicklable result: a bug of ours
            connection.send(InternalError(traceback.format_exc()))


def _receive(connection: Connection) -> Any:
    """What ``connection`` sends next, or None when it closed."""
    try:
        return connection.recv()
    except (EOFError, OSError):
        return None


@dataclass
class _Worker:
    process: subprocess.Popen
    connection: Connection
    board: _MethodBoard
    position: int | None = None
    started: float = field(default_factory=time.monotonic)

    def running(self) -> str:
        return self.board.read()


class Supervisor:
    """Performs tasks in up to ``jobs`` supervised worker processes (see the module docstring).

    ``single_threaded``: the workers' BLAS and OpenMP pools get one thread each (set when
    several workers share the cores). Use as a context manager; :meth:`close` stops the
    workers.
    """

    def __init__(
        self,
        jobs: int = 1,
        timeout: float = DEFAULT_TIMEOUT,
        memory_limit: int | None = DEFAULT_MEMORY_LIMIT,
        single_threaded: bool | None = None,
    ) -> None:
        self.jobs = jobs
        self.timeout = timeout
        self.memory_limit = memory_limit
        self.single_threaded = jobs > 1 if single_threaded is None else single_threaded
        self._workers: list[_Worker] = []
        self._folder = tempfile.TemporaryDirectory(prefix="manualbp-workers-")
        self._started: list[str] = []

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _start(self) -> _Worker:
        mine, theirs = socket.socketpair()
        board_path = os.path.join(self._folder.name, f"method-{len(self._started)}")
        self._started.append(board_path)
        board = _MethodBoard(board_path, create=True)
        environment = dict(os.environ)
        if self.single_threaded:
            environment.update(dict.fromkeys(THREAD_VARIABLES, "1"))
        environment[_SOCKET_VARIABLE] = str(theirs.fileno())
        process = subprocess.Popen(
            [sys.executable, "-c", "from manualbp.pipeline.supervisor import worker_main; "
             "worker_main()"],
            env=environment,
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        theirs.close()
        connection = Connection(mine.detach())
        connection.send(
            {
                "sys_path": list(sys.path),
                "cwd": os.getcwd(),
                "memory_limit": self.memory_limit,
                "board": board_path,
            }
        )
        if not connection.poll(_START_TIMEOUT) or _receive(connection) != _READY:
            process.kill()
            process.wait(timeout=5)
            raise InternalError(
                f"a worker process could not start ({exit_words(process.returncode)})"
            )
        return _Worker(process, connection, board)

    def _replace(self, worker: _Worker) -> None:
        self._stop(worker)
        self._workers.remove(worker)

    @staticmethod
    def _stop(worker: _Worker) -> None:
        if worker.process.poll() is None:
            worker.process.kill()
        worker.process.wait(timeout=5)
        worker.connection.close()
        worker.board.close()

    def close(self) -> None:
        """Stop every worker (they are killed: nothing they hold is worth waiting for)."""
        for worker in self._workers:
            self._stop(worker)
        self._workers.clear()
        self._folder.cleanup()
        self._folder = tempfile.TemporaryDirectory(prefix="manualbp-workers-")

    def map(self, tasks: Sequence[Task]) -> Iterator[tuple[int, Any]]:
        """Perform ``tasks`` on the workers; yield ``(position, result)`` as each finishes."""
        pending = deque(range(len(tasks)))
        while pending or any(w.position is not None for w in self._workers):
            while pending and len(self._workers) < self.jobs:
                self._workers.append(self._start())
            for worker in list(self._workers):
                if worker.position is None and pending:
                    if not self._assign(worker, pending[0], tasks[pending[0]]):
                        continue
                    pending.popleft()
            if any(w.position is not None for w in self._workers):
                yield from self._collect()

    def _assign(self, worker: _Worker, position: int, task: Task) -> bool:
        """Send ``task`` to an idle worker; False (and the worker dropped) when it has died
        since its last answer, e.g. an ``os._exit`` right after it sent its result."""
        try:
            worker.connection.send(task)
        except OSError:
            self._replace(worker)
            return False
        worker.position = position
        worker.started = time.monotonic()
        return True

    def _collect(self) -> Iterator[tuple[int, Any]]:
        """Wait for the first answer, death or timeout among the busy workers."""
        busy = [w for w in self._workers if w.position is not None]
        now = time.monotonic()
        deadline = min(w.started + self.timeout for w in busy)
        ready = wait([w.connection for w in busy], timeout=max(0.0, deadline - now))
        for worker in busy:
            position = worker.position
            assert position is not None
            if worker.connection in ready:  # an answer, or the end of a process that died
                try:
                    result = worker.connection.recv()
                except (EOFError, OSError):
                    worker.process.wait(timeout=5)
                    result = Death(exit_words(worker.process.returncode), worker.running())
                    self._replace(worker)
                else:
                    worker.position = None
                if isinstance(result, InternalError):
                    raise result
                yield position, result
            elif time.monotonic() - worker.started >= self.timeout:
                death = Death(f"timed out after {self.timeout:g} s", worker.running())
                self._replace(worker)
                yield position, death


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)

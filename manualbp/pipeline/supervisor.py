"""Supervised execution: the implementation under test runs in worker processes it cannot harm.

The code a gate judges must not be able to end, hang or crash the gate. Every task
(:mod:`manualbp.pipeline.work`) runs in a worker process started with ``spawn`` — the
calling process never imports the implementation — and whatever the implementation does
becomes a result:

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

import multiprocessing
import os
import signal
import time
import traceback
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from manualbp.errors import ManualbpError
from manualbp.pipeline.executors import Death, Task
from manualbp.threads import single_threaded_environment

#: Seconds a task may take before its worker is killed (``--timeout``).
DEFAULT_TIMEOUT = 300.0
#: Address space of a worker process, bytes (``--memory-limit``): importing torch takes
#: about 0.7 GB of it, the rest is for the implementation and the checks.
DEFAULT_MEMORY_LIMIT = 4 * 2**30
#: Bytes of the shared buffer where a worker writes the protocol method it is in.
_METHOD_BYTES = 64
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


def _serve(connection: Connection, method: Any, memory_limit: int | None) -> None:
    """A worker: perform tasks received on ``connection`` until it closes."""
    from manualbp import protocol
    from manualbp.pipeline.work import Workbench

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if memory_limit is not None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))

    def track(name: str) -> None:
        method.value = name.encode("utf-8", "replace")[: _METHOD_BYTES - 1]

    protocol.track_calls(track)
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
            running = method.value.decode("utf-8", "replace")
            result = Death(f"called sys.exit({exit_.code!r})", running, protocol.user_frames(exit_))
        except MemoryError:
            result = Death("exceeded the memory limit", method.value.decode("utf-8", "replace"))
        except Exception:
            result = InternalError(traceback.format_exc())
        track("")
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
    process: Any
    connection: Connection
    method: Any
    position: int | None = None
    started: float = field(default_factory=time.monotonic)

    def running(self) -> str:
        return self.method.value.decode("utf-8", "replace")


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
        self._context = multiprocessing.get_context("spawn")
        self._workers: list[_Worker] = []

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _start(self) -> _Worker:
        parent, child = self._context.Pipe()
        method = self._context.RawArray("c", _METHOD_BYTES)
        process = self._context.Process(
            target=_serve, args=(child, method, self.memory_limit), daemon=True
        )
        if self.single_threaded:
            with single_threaded_environment():
                process.start()
        else:
            process.start()
        child.close()
        if not parent.poll(_START_TIMEOUT) or _receive(parent) != _READY:
            process.kill()
            process.join(timeout=5)
            raise InternalError(
                f"a worker process could not start ({exit_words(process.exitcode)}); "
                "manualbp's supervised workers need an importable __main__ (not stdin)"
            )
        return _Worker(process, parent, method)

    def _replace(self, worker: _Worker) -> None:
        self._stop(worker)
        self._workers.remove(worker)

    @staticmethod
    def _stop(worker: _Worker) -> None:
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join(timeout=5)
        worker.connection.close()

    def close(self) -> None:
        """Stop every worker (they are killed: nothing they hold is worth waiting for)."""
        for worker in self._workers:
            self._stop(worker)
        self._workers.clear()

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
        ready = wait(
            [w.connection for w in busy] + [w.process.sentinel for w in busy],
            timeout=max(0.0, deadline - now),
        )
        for worker in busy:
            position = worker.position
            assert position is not None
            if worker.connection in ready:
                try:
                    result = worker.connection.recv()
                except (EOFError, OSError):
                    worker.process.join(timeout=5)
                    result = Death(exit_words(worker.process.exitcode), worker.running())
                    self._replace(worker)
                else:
                    worker.position = None
                if isinstance(result, InternalError):
                    raise result
                yield position, result
            elif worker.process.sentinel in ready:
                worker.process.join(timeout=5)
                death = Death(exit_words(worker.process.exitcode), worker.running())
                self._replace(worker)
                yield position, death
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

"""Executors: where the tasks of a run are performed.

:class:`InProcess` performs them in the calling process (the Python API on an object that
cannot be sent to another process); :class:`~manualbp.pipeline.supervisor.Supervisor` in
supervised worker processes (``manualbp verify``, selftest, the pytest plugin). Both yield
``(position, result)`` pairs, the result being what :meth:`Workbench.perform` returned, a
:class:`~manualbp.errors.ManualbpError` to raise in the caller (bad input), or a
:class:`Death` when the work ended without an answer.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from manualbp.errors import ManualbpError
from manualbp.pipeline.work import Workbench
from manualbp.protocol import user_frames

Task = tuple[Any, ...]


@dataclass(frozen=True)
class Death:
    """A task that ended without an answer: ``what`` happened (``"exited with status 3"``,
    ``"was killed by signal 11 (SIGSEGV, a segmentation fault)"``, ``"timed out after 30 s"``),
    the protocol ``method`` running at the time ("" when none), and the implementation's
    frames when an exception escaped it."""

    what: str
    method: str = ""
    trace: tuple[dict[str, Any], ...] = ()

    def sentence(self, label: str) -> str:
        """``implementation exited with status 3 in gradients() during case-7``."""
        where = f" in {self.method}()" if self.method else ""
        return f"implementation {self.what}{where} during {label}"


class Executor(Protocol):
    """Performs tasks (:mod:`manualbp.pipeline.work`) and yields their results."""

    def map(self, tasks: Sequence[Task]) -> Iterator[tuple[int, Any]]:
        """``(position, result)`` for every task, in the order they finish."""
        ...


class InProcess:
    """Performs every task in this process, one after another (no isolation: what the
    implementation does to the process, it does to the caller)."""

    def __init__(self) -> None:
        self.workbench = Workbench()

    def map(self, tasks: Sequence[Task]) -> Iterator[tuple[int, Any]]:
        """Perform the tasks in order; bad input comes back as the ManualbpError, and an
        implementation's ``sys.exit`` outside a protocol call (at import) as a Death."""
        for position, task in enumerate(tasks):
            try:
                result: Any = self.workbench.perform(task)
            except ManualbpError as error:
                result = error
            except SystemExit as exit_:
                result = Death(f"called sys.exit({exit_.code!r})", "", user_frames(exit_))
            yield position, result

    def close(self) -> None:
        """Nothing to release."""

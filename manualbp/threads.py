"""Thread pools of child processes: one BLAS/OpenMP thread each when processes share cores.

With one process per core, BLAS and OpenMP threads inside each process would only contend
for the same cores (on 2 cores, OpenBLAS's spinning threads made matrix products up to ten
times slower). Thread counts are read once, when a library loads, so they are set in the
environment the child processes start with.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

THREAD_VARIABLES: tuple[str, ...] = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)


@contextmanager
def single_threaded_environment() -> Iterator[None]:
    """Set every :data:`THREAD_VARIABLES` to 1 for processes started in the body, then
    restore the environment as it was."""
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    os.environ.update(dict.fromkeys(THREAD_VARIABLES, "1"))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

"""BLAS thread count while the finite-difference check evaluates a small model.

The element-wise methods evaluate thousands of perturbed losses as stacked, tall and
skinny matrix products ((M·N, n_l) @ (n_l, n_{l+1})). OpenBLAS splits such products over
its threads; on a small machine that is busy, each split product then waits for a core
(on a loaded 2-core machine a 16 x 64 x 64 complex product took 7 ms with two threads and
0.02 ms with one). One thread removes that wait — what :mod:`manualbp.verify` does for its
worker processes and :func:`manualbp.torch_mirror.threads` for torch. The BLAS libraries
loaded in the process are found and limited by ``threadpoolctl``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from threadpoolctl import threadpool_info, threadpool_limits


def blas_thread_counts() -> list[int]:
    """The thread count of every BLAS library loaded in the process (often one)."""
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


@contextmanager
def blas_threads(count: int | None) -> Iterator[None]:
    """Run the body with every loaded BLAS limited to ``count`` threads (None: unchanged),
    restored afterwards, also when the body raises."""
    if count is None:
        yield
        return
    with threadpool_limits(limits=count, user_api="blas"):
        yield

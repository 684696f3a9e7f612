"""The OpenBLAS thread limit of the finite-difference check (``FDOptions.blas_threads``)."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import manualbp.engine as engine
from manualbp.checks import fd
from manualbp.checks.fd.threads import blas_thread_counts, blas_threads
from manualbp.errors import UsageError
from manualbp.space import ArchSpace, case_seed, random_case


@pytest.fixture
def controls():
    """The loaded BLAS libraries, set to 2 threads for the test and restored after it."""
    if not blas_thread_counts():
        pytest.skip("no BLAS library with a thread control is loaded in this process")
    with threadpool_limits(limits=2, user_api="blas"):
        yield blas_thread_counts()


def test_blas_threads_sets_the_count_inside_and_restores_it_after(controls):
    with blas_threads(1):
        assert blas_thread_counts() == [1] * len(controls)
    assert blas_thread_counts() == [2] * len(controls)


def test_blas_threads_restores_the_count_when_the_body_raises(controls):
    with pytest.raises(RuntimeError), blas_threads(1):
        raise RuntimeError("inside")
    assert blas_thread_counts() == [2] * len(controls)


def test_none_leaves_the_thread_count_alone(controls):
    with blas_threads(None):
        assert blas_thread_counts() == [2] * len(controls)


def test_small_cases_run_with_the_limit_and_large_ones_without(controls, monkeypatch):
    seen = []
    gradients = engine.gradients

    def counting(arch, params, x, y):
        seen.append(blas_thread_counts())
        return gradients(arch, params, x, y)

    monkeypatch.setattr(engine, "gradients", counting)
    case = random_case(case_seed(2, 0), ArchSpace(depth=(1, 2), width=(2, 4), batch=(2, 3)))
    list(fd.run(engine, [case], options=fd.FDOptions(methods=("consistency",))))
    assert seen and all(counts == [1] * len(controls) for counts in seen)
    seen.clear()
    options = fd.FDOptions(methods=("consistency",), max_elementwise=case.arch.n_params - 1)
    list(fd.run(engine, [case], options=options))
    assert seen and all(counts == [2] * len(controls) for counts in seen)


def test_the_thread_limit_changes_no_verdict():
    cases = [random_case(case_seed(3, seed), ArchSpace()) for seed in range(4)]
    limited = list(fd.run(engine, cases, options=fd.FDOptions(blas_threads=1)))
    free = list(fd.run(engine, cases, options=fd.FDOptions(blas_threads=None)))
    assert [(f.case, f.quantity, f.verdict) for f in limited] == [
        (f.case, f.quantity, f.verdict) for f in free
    ]
    assert np.allclose(
        [f.abs_error or 0.0 for f in limited], [f.abs_error or 0.0 for f in free], rtol=0, atol=1e-9
    )


@pytest.mark.parametrize("threads", [0, -1, 1.5, True, "1"])
def test_blas_threads_option_is_validated(threads):
    with pytest.raises(UsageError, match="blas_threads"):
        fd.FDOptions(blas_threads=threads)

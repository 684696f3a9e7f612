"""Layer cases: a pure function of the seed, within the space's bounds, shaped by the kind."""

from __future__ import annotations

import numpy as np
import pytest

import manualbp.layers as library
from manualbp.checks.layer import KINDS, LayerSpace, draw_case, planned_cases, subjects_of
from manualbp.space import case_seed


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_case_is_rebuilt_from_its_seed(kind):
    a, b = draw_case(KINDS[kind], 42), draw_case(KINDS[kind], 42)
    assert a.values.keys() == b.values.keys() == set(KINDS[kind].arrays)
    assert all(np.array_equal(a.values[k], b.values[k]) for k in a.values)
    assert a.config == b.config and a.out_shape == b.out_shape
    assert np.array_equal(a.dout(a.out_shape), b.dout(b.out_shape))
    other = draw_case(KINDS[kind], 43)
    assert not all(
        v.shape == other.values[k].shape and np.array_equal(v, other.values[k])
        for k, v in a.values.items()
    )


def test_planned_cases_are_seeded_and_named_like_verify_cases():
    (subject,) = subjects_of(library, "affine")
    cases = planned_cases(subject, 3, seed=7)
    assert [c.case_id for c in cases] == ["layer-case-0", "layer-case-1", "layer-case-2"]
    assert [c.seed for c in cases] == [case_seed(7, i) for i in range(3)]


def test_user_bounds_are_respected():
    space = LayerSpace(batch=(3, 3), channels=(2, 2), filters=(4, 4), kernel=(3, 3),
                       out_size=(2, 2), stride=(1, 1), pad=(1, 1))  # fmt: skip
    case = draw_case(KINDS["conv2d"], 0, space)
    assert case.values["x"].shape == (3, 2, 2, 2)  # H = (2 - 1)·1 + 3 - 2·1
    assert case.values["w"].shape == (4, 2, 3, 3) and case.out_shape == (3, 4, 2, 2)
    dense = draw_case(KINDS["affine"], 0, LayerSpace(batch=(5, 5), features=(2, 2), scale=3.0))
    assert dense.values["x"].shape == (5, 2) and dense.values["w"].shape == (2, 2)
    assert 1.0 < np.std(np.concatenate([v.ravel() for v in dense.values.values()])) < 6.0


def test_pool_windows_tile_the_input_unless_a_pool_stride_is_given():
    case = draw_case(KINDS["maxpool2d"], 3, LayerSpace(pool=(2, 2), out_size=(3, 3)))
    assert case.config["stride"] == 2 and case.values["x"].shape[2:] == (6, 6)
    overlapping = draw_case(
        KINDS["maxpool2d"], 3, LayerSpace(pool=(3, 3), pool_stride=(1, 1), out_size=(2, 2))
    )
    assert overlapping.config["stride"] == 1 and overlapping.values["x"].shape[2:] == (4, 4)


def test_batchnorm_cases_have_at_least_two_rows_and_the_spaces_eps():
    case = draw_case(KINDS["batchnorm"], 0, LayerSpace(batch=(1, 1), bn_eps=1e-3))
    assert case.batch_size == 2 and case.config["eps"] == 1e-3


def test_labels_and_targets_follow_the_loss():
    svm = draw_case(KINDS["svm"], 0)
    assert svm.targets.dtype.kind == "i" and svm.targets.shape == (svm.batch_size,)
    assert svm.targets.max() < svm.values["x"].shape[1]
    sse = draw_case(KINDS["sse"], 0)
    assert sse.targets.shape == sse.values["x"].shape and sse.out_shape == ()

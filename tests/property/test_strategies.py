"""The public strategies: plain values are exact, strategies are drawn from, defaults come
from ArchSpace and reach every corner of the Architecture space, and seeds rebuild cases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

from manualbp import strategies as mbs
from manualbp.architecture import (
    ACTIVATIONS,
    BIAS_MODES,
    LOSS_OUTPUT_ACTIVATION,
    LOSSES,
    REDUCTIONS,
    Architecture,
)
from manualbp.case import Case, case_from_seed
from manualbp.errors import UsageError
from manualbp.space import DEFAULT_SCALES, ArchSpace


@given(
    mbs.architectures(
        depth=3,
        widths=2,
        activations="tanh",
        losses="mse",
        bias_modes="shared",
        reductions="mean",
    )
)
def test_plain_values_mean_exactly_that_value(arch: Architecture) -> None:
    assert arch == Architecture((2, 2, 2, 2), ("tanh",) * 3, "mse", "shared", "mean")


@given(mbs.architectures(depth=st.integers(2, 3), widths=st.integers(3, 4), square=True))
def test_strategies_are_drawn_from_and_square_means_equal_widths(arch: Architecture) -> None:
    assert arch.depth in (2, 3)
    assert len(set(arch.sizes)) == 1 and arch.sizes[0] in (3, 4)


@given(mbs.architectures(activations="relu", losses=st.sampled_from(["bce", "softmax_ce"])))
def test_the_output_layer_takes_the_activation_its_loss_requires(arch: Architecture) -> None:
    assert arch.activations[-1] == LOSS_OUTPUT_ACTIVATION[arch.loss]
    assert set(arch.activations[:-1]) <= {"relu"}


NARROW = ArchSpace(
    depth=(2, 2),
    width=(3, 5),
    activations=("relu", "identity"),
    losses=("sse",),
    bias_modes=("none",),
    reductions=("mean",),
    batch=(2, 3),
    scales=(0.5,),
    square=0.0,
)


@given(mbs.cases(space=NARROW))
def test_defaults_come_from_the_space(case: Case) -> None:
    arch = case.arch
    assert arch.depth == 2 and all(3 <= n <= 5 for n in arch.sizes)
    assert set(arch.activations) <= {"relu", "identity"}
    assert (arch.loss, arch.bias, arch.reduction) == ("sse", "none", "mean")
    assert 2 <= case.batch_size <= 3 and case.meta["scale"] == 0.5


@given(mbs.cases(space=ArchSpace(fixed=(Architecture((2, 2, 2), ("sigmoid", "sigmoid")),))))
def test_fixed_architectures_are_drawn_from_the_space(case: Case) -> None:
    assert case.arch.sizes == (2, 2, 2)


@given(mbs.cases(batch_size=st.integers(2, 3), scale=4.0, seed=st.integers(0, 10)))
def test_cases_carry_a_seed_that_rebuilds_them(case: Case) -> None:
    assert case.case_id == f"seed-{case.seed}" and 0 <= case.seed <= 10
    assert 2 <= case.batch_size <= 3 and case.meta["scale"] == 4.0
    namespace = {"case_from_seed": case_from_seed, "Architecture": Architecture}
    rebuilt = eval(mbs.rebuild_hint(case), namespace)
    assert rebuilt.arch == case.arch
    assert np.array_equal(rebuilt.x, case.x) and np.array_equal(rebuilt.y, case.y)
    assert all(np.array_equal(rebuilt.params[k], case.params[k]) for k in case.params)


ARCH = Architecture((3, 4, 2), ("tanh", "sigmoid"), loss="bce", bias="shared")


@given(mbs.parameters(ARCH, scale=4.0, seed=7), mbs.batches(ARCH, batch_size=5))
def test_parameters_and_batches_fit_the_architecture(params, batch) -> None:
    assert {k: v.shape for k, v in params.items()} == ARCH.param_shapes()
    assert np.array_equal(params["W1"], case_from_seed(ARCH, 7, 1, 4.0).params["W1"])
    x, y = batch
    assert x.shape == (5, 3) and y.shape == (5, 2) and np.all((y >= 0) & (y <= 1))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"depth": 0}, "depth"),
        ({"widths": 2.5}, "widths"),
        ({"activations": "gelu"}, "activations"),
        ({"losses": "hinge"}, "losses"),
        ({"bias_modes": "both"}, "bias_modes"),
        ({"reductions": "max"}, "reductions"),
    ],
)
def test_bad_plain_values_are_usage_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        mbs.architectures(**kwargs)


def test_fixed_spaces_take_no_architecture_arguments() -> None:
    fixed = ArchSpace(fixed=(ARCH,))
    with pytest.raises(UsageError, match="fixed"):
        mbs.architectures(depth=2, space=fixed)


def test_shrink_orders_name_every_choice() -> None:
    assert sorted(mbs.SIMPLEST_ACTIVATIONS) == sorted(ACTIVATIONS)
    assert sorted(mbs.SIMPLEST_BIAS_MODES) == sorted(BIAS_MODES)


def test_bad_case_arguments_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="batch_size"):
        mbs.cases(batch_size=0)
    with pytest.raises(UsageError, match="seed"):
        mbs.cases(seed=-1)
    with pytest.raises(UsageError, match="one or the other"):
        mbs.cases(ARCH, depth=2)


SEARCH = settings(
    max_examples=2000,
    database=None,
    derandomize=True,
    phases=(Phase.generate,),
    suppress_health_check=list(HealthCheck),
)


def reaches(strategy, condition) -> bool:
    """True when the strategy can produce a value satisfying ``condition``."""
    return find(strategy, condition, settings=SEARCH) is not None


CORNERS = {
    "depth 1": lambda a: a.depth == 1,
    "depth 5": lambda a: a.depth == 5,
    "width 1": lambda a: 1 in a.sizes,
    "width 16": lambda a: 16 in a.sizes,
    "square, width >= 2": lambda a: len(set(a.sizes)) == 1 and a.sizes[0] >= 2 and a.depth >= 2,
    **{f"hidden {name}": (lambda a, n=name: n in a.activations[:-1]) for name in ACTIVATIONS},
    **{f"output {name}": (lambda a, n=name: a.activations[-1] == n) for name in ACTIVATIONS},
    **{f"loss {name}": (lambda a, n=name: a.loss == n) for name in LOSSES},
    **{f"bias {name}": (lambda a, n=name: a.bias == n) for name in BIAS_MODES},
    **{f"reduction {name}": (lambda a, n=name: a.reduction == n) for name in REDUCTIONS},
}


@pytest.mark.parametrize("corner", list(CORNERS))
def test_default_architectures_reach_every_corner_of_the_space(corner: str) -> None:
    assert reaches(mbs.architectures(), CORNERS[corner])


@pytest.mark.parametrize(
    "condition",
    [
        lambda c: c.batch_size == 1,
        lambda c: c.batch_size == 16,
        *[lambda c, s=s: c.meta["scale"] == s for s in DEFAULT_SCALES],
    ],
    ids=["batch 1", "batch 16", *[f"scale {s}" for s in DEFAULT_SCALES]],
)
def test_default_cases_reach_every_batch_extreme_and_scale(condition) -> None:
    assert reaches(mbs.cases(), condition)

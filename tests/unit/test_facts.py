"""The table of activation and loss facts against the two places that hold their formulas.

Adding an activation or a loss is a row in ``manualbp.facts``, its formula in the engine and
its formula in the torch mirror: these tests fail until the three agree, and check every
fact of the row against the formulas themselves.
"""

from __future__ import annotations

import numpy as np
import pytest

from manualbp import torch_mirror as mirror
from manualbp.architecture import Architecture
from manualbp.engine.activations import ACTIVATIONS as ENGINE_ACTIVATIONS
from manualbp.engine.losses import LOSSES as ENGINE_LOSSES
from manualbp.errors import ArchitectureError
from manualbp.facts import (
    ACTIVATION_FACTS,
    ACTIVATIONS,
    LOSS_FACTS,
    LOSS_OUTPUT_ACTIVATION,
    LOSSES,
    SIMPLEST_ACTIVATIONS,
)

POINTS = np.array([-3.0, -0.5, -1e-3, 1e-3, 0.5, 3.0])


def test_engine_and_mirror_cover_exactly_the_table() -> None:
    assert set(ENGINE_ACTIVATIONS) == set(ACTIVATION_FACTS) == set(ACTIVATIONS)
    assert set(ENGINE_LOSSES) == set(LOSS_FACTS) == set(LOSSES)
    for name in ACTIVATIONS:  # the mirror evaluates every activation of the table
        assert mirror.activation_derivative(name, POINTS).shape == POINTS.shape


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_kink_facts_match_both_formulas(name: str) -> None:
    facts = ACTIVATION_FACTS[name]
    engine = ENGINE_ACTIVATIONS[name]
    slope = engine.derivative(POINTS, engine.forward(POINTS))
    reference = mirror.activation_derivative(name, POINTS)
    np.testing.assert_allclose(slope, reference, rtol=1e-12)
    if facts.has_kink:
        assert engine.kinks == (0.0,)
        np.testing.assert_array_equal(slope[POINTS < 0], facts.kink_slope)
        np.testing.assert_array_equal(slope[POINTS > 0], 1.0)
    else:
        assert engine.kinks == ()


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_curvature_and_flatness_facts_match_the_derivative(name: str) -> None:
    facts = ACTIVATION_FACTS[name]
    slope = mirror.activation_derivative(name, POINTS)
    assert facts.curved == bool(np.ptp(slope[POINTS > 0]) > 0)
    assert facts.never_flat == bool(np.all(slope > 0))


def test_simplicity_orders_every_activation_once() -> None:
    ranks = [ACTIVATION_FACTS[name].simplicity for name in ACTIVATIONS]
    assert sorted(ranks) == list(range(len(ACTIVATIONS)))
    assert SIMPLEST_ACTIVATIONS[0] == "identity"


@pytest.mark.parametrize("loss", LOSSES)
def test_output_activation_facts_are_what_architectures_require(loss: str) -> None:
    required = LOSS_FACTS[loss].output_activation
    assert LOSS_OUTPUT_ACTIVATION.get(loss) == required
    others = [a for a in ACTIVATIONS if required is not None and a != required]
    for activation in others:
        with pytest.raises(ArchitectureError):
            Architecture((2, 2), (activation,), loss=loss)


@pytest.mark.parametrize("loss", [name for name in LOSSES if LOSS_FACTS[name].squared])
def test_squared_loss_factor_matches_engine_and_mirror(loss: str) -> None:
    facts = LOSS_FACTS[loss]
    outputs = 4
    a, y = np.full((1, outputs), 1.5), np.full((1, outputs), 0.5)  # every (a - y)² = 1
    expected = facts.factor * outputs / (outputs if facts.per_output_mean else 1)
    assert ENGINE_LOSSES[loss].value(a, a, y)[0] == pytest.approx(expected)
    arch = Architecture((outputs, outputs), ("identity",), loss=loss)
    assert mirror.output_loss_terms(arch, a, a, y).sum() == pytest.approx(expected)

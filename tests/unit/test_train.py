"""The mini-batch SGD trainer: determinism, mini-batch coverage, frozen parameters,
non-mutation, and that it drives any implementation of the protocol."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

import manualbp.engine as engine
from manualbp import mazur
from manualbp.architecture import Architecture
from manualbp.case import case_from_seed
from manualbp.engine.train import TrainResult, train

ARCH = Architecture((3, 4, 2), ("tanh", "sigmoid"), "half_sse", "per_unit", "mean")
CASE = case_from_seed(ARCH, 3, batch_size=10)


class RecordingEngine:
    """The engine, remembering the rows of every mini-batch it was given."""

    def __init__(self) -> None:
        self.batches: list[np.ndarray] = []

    def loss(self, arch: Architecture, params: Any, x: Any, y: Any) -> float:
        return engine.loss(arch, params, x, y)

    def gradients(self, arch: Architecture, params: Any, x: Any, y: Any) -> tuple[float, dict]:
        self.batches.append(np.array(x, copy=True))
        return engine.gradients(arch, params, x, y)


def run(impl: object = engine, **settings: object) -> TrainResult:
    options = {"lr": 0.5, "epochs": 4, "batch_size": 3, "seed": 7, **settings}
    return train(impl, ARCH, CASE.params, CASE.x, CASE.y, **options)  # type: ignore[arg-type]


def test_same_seed_same_run_other_seed_other_order() -> None:
    first, again, other = run(), run(), run(seed=8)
    assert first.loss_history == again.loss_history
    for name in ARCH.param_names:
        np.testing.assert_array_equal(first.params[name], again.params[name])
    assert first.loss_history != other.loss_history
    assert first.seed == 7


def test_every_epoch_visits_every_row_once_in_batches_with_a_short_last_one() -> None:
    recorder = RecordingEngine()
    result = run(recorder, epochs=3, batch_size=4)
    assert result.steps == 9
    assert [len(b) for b in recorder.batches] == [4, 4, 2] * 3
    orders = []
    for epoch in range(3):
        rows = np.concatenate(recorder.batches[3 * epoch : 3 * epoch + 3])
        assert sorted(map(tuple, rows)) == sorted(map(tuple, CASE.x))
        orders.append([int(np.flatnonzero((CASE.x == row).all(axis=1))[0]) for row in rows])
    assert orders[0] != orders[1]  # reshuffled every epoch


def test_full_batch_training_is_repeated_steps() -> None:
    result = run(batch_size=None, epochs=5)
    params = CASE.params
    for _ in range(5):
        params = engine.step(ARCH, params, CASE.x, CASE.y, 0.5)
    assert result.steps == 5
    for name in ARCH.param_names:
        np.testing.assert_allclose(result.params[name], params[name], rtol=1e-15, atol=1e-15)


def test_loss_history_is_the_full_data_loss_after_each_epoch() -> None:
    seen: list[tuple[int, float]] = []
    result = run(epochs=3, callback=lambda epoch, params, loss: seen.append((epoch, loss)))
    assert [epoch for epoch, _ in seen] == [1, 2, 3]
    assert [loss for _, loss in seen] == result.loss_history
    assert result.initial_loss == engine.loss(ARCH, CASE.params, CASE.x, CASE.y)
    assert result.final_loss == engine.loss(ARCH, result.params, CASE.x, CASE.y)
    assert result.final_loss < result.initial_loss


def test_frozen_parameters_stay_while_the_others_move() -> None:
    result = run(frozen={"W1", "b2"})
    for name in ("W1", "b2"):
        np.testing.assert_array_equal(result.params[name], CASE.params[name])
    for name in ("b1", "W2"):
        assert not np.allclose(result.params[name], CASE.params[name])


def test_inputs_are_not_mutated_and_zero_epochs_returns_copies() -> None:
    params = copy.deepcopy(CASE.params)
    x, y = CASE.x.copy(), CASE.y.copy()
    for array in (*params.values(), x, y):
        array.setflags(write=False)
    train(engine, ARCH, params, x, y, lr=0.5, epochs=2, batch_size=3, seed=1)
    result = train(engine, ARCH, params, x, y, lr=0.5, epochs=0)
    assert result.loss_history == [] and result.steps == 0
    assert result.final_loss == result.initial_loss
    for name in ARCH.param_names:
        np.testing.assert_array_equal(params[name], CASE.params[name])
        assert result.params[name] is not params[name]
        np.testing.assert_array_equal(result.params[name], params[name])


def test_trains_the_formula_by_formula_implementation_like_the_engine() -> None:
    c = case_from_seed(mazur.ARCHITECTURE, 4, batch_size=6)
    options = {"lr": 0.5, "epochs": 3, "batch_size": 4, "seed": 2, "frozen": {"b1", "b2"}}
    by_mazur = train(mazur, c.arch, c.params, c.x, c.y, **options)
    by_engine = train(engine, c.arch, c.params, c.x, c.y, **options)
    assert by_mazur.loss_history == pytest.approx(by_engine.loss_history, rel=1e-12)
    for name in c.arch.param_names:
        np.testing.assert_allclose(by_mazur.params[name], by_engine.params[name], rtol=1e-12)

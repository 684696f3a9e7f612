"""Mini-batch stochastic gradient descent for any implementation of the protocol.

One epoch visits every row of the training set once, in an order drawn from
``numpy.random.default_rng(seed)``, as consecutive mini-batches B of ``batch_size`` rows
(the last one may be shorter). Each mini-batch takes one plain gradient-descent step

    θ ← θ - η ∂E_B/∂θ,

where E_B is the architecture's loss on B: with reduction ``mean`` that is (η/|B|) Σ_{n∈B}
∂ℓ_n/∂θ, the update of Nielsen's ``network.py``; with ``sum`` it is η Σ_{n∈B} ∂ℓ_n/∂θ.
Without ``batch_size`` every epoch is one full-batch step and no shuffling happens.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from manualbp.architecture import Architecture
from manualbp.errors import UsageError, describe
from manualbp.params import Params, check_batch, check_frozen, check_params, descend

#: Called after every epoch as ``callback(epoch, params, loss)`` with epoch counted from 1,
#: the parameters after that epoch and the full-data loss E(θ) they give.
Callback = Callable[[int, Params, float], None]


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train` returns.

    ``params``: the trained parameters (new arrays); ``initial_loss``: E(θ₀) on the whole
    training set; ``loss_history[e - 1]``: E(θ) on the whole training set after epoch e;
    ``steps``: gradient-descent steps taken (mini-batches per epoch × epochs); ``seed``: the
    seed of the shuffling.
    """

    params: Params
    initial_loss: float
    loss_history: list[float]
    steps: int
    seed: int

    @property
    def final_loss(self) -> float:
        """E(θ) after the last epoch (the initial loss when no epoch ran)."""
        return self.loss_history[-1] if self.loss_history else self.initial_loss


def _check_settings(lr: object, epochs: object, batch_size: object, n: int) -> None:
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
        raise UsageError(f"lr: got {describe(lr)}, expected a finite positive number")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise UsageError(f"epochs: got {describe(epochs)}, expected a non-negative integer")
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1
    ):
        raise UsageError(
            f"batch_size: got {describe(batch_size)}, expected a positive integer or None "
            f"(full batch of {n} rows)"
        )


def _mini_batches(
    n: int, batch_size: int | None, rng: np.random.Generator
) -> list[np.ndarray | slice]:
    """Row selections of one epoch: the whole batch, or a shuffled partition into chunks."""
    if batch_size is None or batch_size >= n:
        return [slice(None)]
    order = rng.permutation(n)
    return [order[start : start + batch_size] for start in range(0, n, batch_size)]


def train(
    impl: Any,
    arch: Architecture,
    params: Mapping[str, object],
    x: object,
    y: object,
    *,
    lr: float,
    epochs: int,
    batch_size: int | None = None,
    seed: int = 0,
    frozen: frozenset[str] | set[str] = frozenset(),
    callback: Callback | None = None,
) -> TrainResult:
    """Train ``params`` on (x (N, inputs), y (N, outputs)) by mini-batch SGD.

    Every step calls ``impl.gradients(arch, params, x_B, y_B)`` and applies
    θ' = θ - lr·∂E_B/∂θ (:func:`manualbp.params.descend`) to every parameter not named in
    ``frozen``. After each epoch the loss on the whole training set is recorded with
    ``impl.loss``. Deterministic for a given ``seed``; never mutates its inputs.
    Raises :class:`UsageError` for a bad ``lr``, ``epochs`` or ``batch_size`` and the
    errors of :mod:`manualbp.params` for bad parameters, batch or frozen names.
    """
    current = {
        name: np.array(value, copy=True) for name, value in check_params(arch, params).items()
    }
    x_arr, y_arr = check_batch(arch, x, y)
    names = check_frozen(arch, frozen)
    _check_settings(lr, epochs, batch_size, x_arr.shape[0])
    rng = np.random.default_rng(seed)
    initial_loss = float(np.real(impl.loss(arch, current, x_arr, y_arr)))
    history: list[float] = []
    steps = 0
    for epoch in range(1, epochs + 1):
        for rows in _mini_batches(x_arr.shape[0], batch_size, rng):
            _, grads = impl.gradients(arch, current, x_arr[rows], y_arr[rows])
            current = descend(current, grads, lr, names)
            steps += 1
        history.append(float(np.real(impl.loss(arch, current, x_arr, y_arr))))
        if callback is not None:
            callback(epoch, current, history[-1])
    return TrainResult(current, initial_loss, history, steps, seed)

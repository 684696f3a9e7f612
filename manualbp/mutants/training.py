"""Mutants whose bug is in a protocol method: the update step and state kept between calls.

Each class overrides one method of :class:`~manualbp.mutants.base.Mutant` (``step`` or
``gradients``) or gives it a network that remembers; the docstrings give the wrong update
next to the right one, θ' = θ - lr ∂E/∂θ on new arrays for every parameter not frozen.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from manualbp.architecture import Architecture
from manualbp.engine.network import ForwardPass, Network
from manualbp.mutants.base import Mutant
from manualbp.params import check_batch, check_frozen, check_params

Frozen = frozenset[str] | set[str]


class StepSignFlipped(Mutant):
    """θ' = θ + lr ∂E/∂θ (right: θ - lr ∂E/∂θ): gradient ascent."""

    def step(
        self,
        arch: Architecture,
        params: Mapping[str, object],
        x: object,
        y: object,
        lr: float,
        frozen: Frozen = frozenset(),
    ) -> dict[str, np.ndarray]:
        return super().step(arch, params, x, y, -lr, frozen)


class StepDividedByBatch(Mutant):
    """θ' = θ - (lr/N) ∂E/∂θ (right: θ - lr ∂E/∂θ; for ``mean`` the 1/N is already in E)."""

    def step(
        self,
        arch: Architecture,
        params: Mapping[str, object],
        x: object,
        y: object,
        lr: float,
        frozen: Frozen = frozenset(),
    ) -> dict[str, np.ndarray]:
        n = check_batch(arch, x, y)[0].shape[0]
        return super().step(arch, params, x, y, lr / n, frozen)


class HiddenUpdateNotAssigned(Mutant):
    """W_l' = W_l for hidden layers l < L, the update computed and dropped (right: W_l -
    lr ∂E/∂W_l); SEEDS.md S0b."""

    def step(
        self,
        arch: Architecture,
        params: Mapping[str, object],
        x: object,
        y: object,
        lr: float,
        frozen: Frozen = frozenset(),
    ) -> dict[str, np.ndarray]:
        hidden = {f"W{layer}" for layer in range(1, arch.depth)}
        return super().step(arch, params, x, y, lr, check_frozen(arch, frozen) | hidden)


class FrozenIgnored(Mutant):
    """θ' = θ - lr ∂E/∂θ for every parameter, frozen ones too (right: frozen ones unchanged)."""

    def step(
        self,
        arch: Architecture,
        params: Mapping[str, object],
        x: object,
        y: object,
        lr: float,
        frozen: Frozen = frozenset(),
    ) -> dict[str, np.ndarray]:
        return super().step(arch, params, x, y, lr)


class StepInPlace(Mutant):
    """θ -= lr ∂E/∂θ written into the caller's arrays, which are returned (right: new arrays,
    the inputs untouched). Parameters given as lists are copied on reading and stay intact."""

    def step(
        self,
        arch: Architecture,
        params: Mapping[str, object],
        x: object,
        y: object,
        lr: float,
        frozen: Frozen = frozenset(),
    ) -> dict[str, np.ndarray]:
        updated = super().step(arch, params, x, y, lr, frozen)
        originals = check_params(arch, params)
        for key, value in updated.items():
            originals[key][...] = value
        return originals


class AccumulatedGradients(Mutant):
    """Gradient buffers per architecture, g += ∂E/∂θ on every call and never zeroed: the k-th
    call returns Σ_{j<=k} ∂E_j/∂θ_j (right: ∂E_k/∂θ_k). ``step`` uses the accumulated sum."""

    def __init__(self, name: str, description: str, **metadata: Any) -> None:
        super().__init__(name, description, **metadata)
        self._buffers: dict[Architecture, dict[str, np.ndarray]] = {}

    def gradients(
        self, arch: Architecture, params: Mapping[str, object], x: object, y: object
    ) -> tuple[float, dict[str, np.ndarray]]:
        value, grads = super().gradients(arch, params, x, y)
        buffers = self._buffers.setdefault(arch, {})
        for key, grad in grads.items():
            buffers[key] = buffers.get(key, 0.0) + grad
        return value, {key: buffer.copy() for key, buffer in buffers.items()}

    def reset(self) -> None:
        """Zero the buffers (forget every earlier call)."""
        self._buffers.clear()


class _MemoisedForwardNetwork(Network):
    """forward(params, x) computed once per input batch x and reused: the memo key forgets
    the parameters (right: z_l, a_l recomputed from the current parameters every time)."""

    memo: ClassVar[dict[tuple[Any, ...], ForwardPass]]  # set per mutant instance

    def forward(self, params: Mapping[str, np.ndarray], x: np.ndarray) -> ForwardPass:
        key = (self.arch, x.dtype.str, x.shape, x.tobytes())
        if key not in self.memo:
            self.memo[key] = super().forward(params, x)
        return self.memo[key]


class StaleForwardCache(Mutant):
    """Loss, gradients and intermediates computed from the forward pass cached for the same
    batch x by an earlier call, whatever the parameters now are (right: a fresh forward pass).
    The first call on a batch is right; later calls with other parameters are stale."""

    def __init__(self, name: str, description: str, **metadata: Any) -> None:
        self._memo: dict[tuple[Any, ...], ForwardPass] = {}
        network_class = type(
            "MemoisedForwardNetwork", (_MemoisedForwardNetwork,), {"memo": self._memo}
        )
        super().__init__(name, description, network_class=network_class, **metadata)

    def reset(self) -> None:
        """Empty the cache (the next call on any batch runs its forward pass)."""
        self._memo.clear()

"""Options of the autograd check."""

from __future__ import annotations

import math
from dataclasses import dataclass

from manualbp.errors import UsageError


@dataclass(frozen=True)
class AutogradOptions:
    """How the autograd check runs.

    steps: gradient-descent steps per trajectory (0 skips the trajectories);
    learning_rate: fixed step size, or None for STEP_FRACTION·‖θ‖/‖∂E/∂θ‖ capped at MAX_LR;
    torch_threads: torch intra-op threads while the check runs (None leaves them alone).
    """

    steps: int = 5
    learning_rate: float | None = None
    torch_threads: int | None = 1

    def __post_init__(self) -> None:
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 0:
            raise UsageError(f"steps: got {self.steps!r}, expected a non-negative integer")
        lr = self.learning_rate
        if lr is not None and not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
            raise UsageError(f"learning_rate: got {lr!r}, expected a positive number or None")
        threads = self.torch_threads
        if threads is not None and (not isinstance(threads, int) or threads < 1):
            raise UsageError(f"torch_threads: got {threads!r}, expected a positive integer or None")

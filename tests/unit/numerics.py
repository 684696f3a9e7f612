"""Central differences for the unit tests: the simplest independent derivative there is."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: Step of the central differences; the truncation error is O(h²) ≈ 1e-12 relative and the
#: rounding error about eps·|f|/h ≈ 1e-10·|f|, so agreement is expected to ~1e-8.
H = 1e-6
RTOL = 1e-6
ATOL = 1e-8


def central_difference(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = H) -> np.ndarray:
    """∂f/∂x entry by entry: (f(x + h e_i) - f(x - h e_i)) / 2h, same shape as x.

    ``x`` is copied; ``f`` receives the perturbed copy.
    """
    point = np.array(x, dtype=np.float64, copy=True)
    grad = np.empty_like(point)
    for index in np.ndindex(point.shape):
        original = point[index]
        point[index] = original + h
        plus = float(f(point))
        point[index] = original - h
        minus = float(f(point))
        point[index] = original
        grad[index] = (plus - minus) / (2.0 * h)
    return grad


def elementwise_difference(
    f: Callable[[np.ndarray], np.ndarray], z: np.ndarray, h: float = H
) -> np.ndarray:
    """f'(z) of an element-wise function: (f(z + h) - f(z - h)) / 2h."""
    return (f(z + h) - f(z - h)) / (2.0 * h)

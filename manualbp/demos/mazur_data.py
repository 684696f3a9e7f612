"""The numbers of Mazur's worked example (SEEDS.md S0; Matt Mazur, "A Step by Step
Backpropagation Example", 2015), shared by both Mazur demos and by the tests.

W1 = [[w1, w2], [w3, w4]] and W2 = [[w5, w6], [w7, w8]] (rows = receiving unit), one bias
per layer shared by its units; one training sample; learning rate 0.5; the post never
updates the biases.
"""

from __future__ import annotations

import numpy as np

from manualbp.mazur import ARCHITECTURE
from manualbp.params import Params

#: The single input row (i1, i2), shape (1, 2).
X = np.array([[0.05, 0.10]])
#: The single target row (t1, t2), shape (1, 2).
Y = np.array([[0.01, 0.99]])
LEARNING_RATE = 0.5
#: Mazur keeps b1 and b2 fixed.
FROZEN = frozenset({"b1", "b2"})
#: Training length of the post's last paragraph.
ITERATIONS = 10_000
X.setflags(write=False)
Y.setflags(write=False)

__all__ = ["ARCHITECTURE", "FROZEN", "ITERATIONS", "LEARNING_RATE", "X", "Y", "initial_params"]


def initial_params() -> Params:
    """Fresh arrays of the post's starting parameters: W1, W2 (2, 2) and b1, b2 ()."""
    return {
        "W1": np.array([[0.15, 0.20], [0.25, 0.30]]),
        "b1": np.array(0.35),
        "W2": np.array([[0.40, 0.45], [0.50, 0.55]]),
        "b2": np.array(0.60),
    }

"""Corpus subject: a network in the style of Nielsen's ``network2.py`` (chapter 3 of "Neural
Networks and Deep Learning"): the cost is an object with ``fn`` and ``delta``.

User code: column vectors, per-sample backprop, sigmoid layers, and two costs -- the
cross-entropy cost, whose value is the book's
``np.sum(np.nan_to_num(-y*np.log(a)-(1-y)*np.log(1-a)))`` on the sigmoid output and whose
output error is the famous ``a - y``, and the quadratic cost. ``total_cost`` averages the
per-sample costs as the book does. Naive on purpose (logs of a saturated sigmoid, nan_to_num).

The protocol comes from ``manualbp.adapters.from_nielsen`` with both cost classes, which
declares sigmoid layers with bce or half_sse and per-unit biases; the bugs each change one
method or cost.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from manualbp.adapters import from_nielsen


def sigmoid(z):
    """The logistic function."""
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    """Its derivative, in terms of z."""
    return sigmoid(z) * (1 - sigmoid(z))


class QuadraticCost:
    """C = ½‖a - y‖² for one sample."""

    @staticmethod
    def fn(a, y):
        return 0.5 * np.linalg.norm(a - y) ** 2

    @staticmethod
    def delta(z, a, y):
        """Output error ∂C/∂z."""
        return (a - y) * sigmoid_prime(z)


class CrossEntropyCost:
    """C = -Σ [y ln a + (1 - y) ln(1 - a)] for one sample."""

    @staticmethod
    def fn(a, y):
        return np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a)))

    @staticmethod
    def delta(z, a, y):
        """Output error ∂C/∂z: σ'(z) cancels against the cost's denominator."""
        return a - y


class Network:
    """Sigmoid network; ``cost`` is one of the cost classes above."""

    def __init__(self, sizes, cost=CrossEntropyCost, seed=0):
        self.num_layers = len(sizes)
        self.sizes = sizes
        self.cost = cost
        self.rng = np.random.default_rng(seed)
        self.default_weight_initializer()

    def default_weight_initializer(self):
        """Weights ~ N(0, 1/n_in), biases ~ N(0, 1)."""
        self.biases = [self.rng.standard_normal((n, 1)) for n in self.sizes[1:]]
        self.weights = [
            self.rng.standard_normal((n_next, n)) / np.sqrt(n) for n, n_next in pairwise(self.sizes)
        ]

    def feedforward(self, a):
        for w, b in zip(self.weights, self.biases, strict=True):
            a = sigmoid(np.dot(w, a) + b)
        return a

    def backprop(self, x, y):
        """(nabla_b, nabla_w) of the cost of the sample (x, y)."""
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        activation = x
        activations = [x]
        zs = []
        for w, b in zip(self.weights, self.biases, strict=True):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        delta = (self.cost).delta(zs[-1], activations[-1], y)
        nabla_b[-1] = delta
        nabla_w[-1] = self.weight_gradient(delta, activations[-2])
        for back in range(2, self.num_layers):
            sp = sigmoid_prime(zs[-back])
            delta = np.dot(self.weights[-back + 1].transpose(), delta) * sp
            nabla_b[-back] = delta
            nabla_w[-back] = self.weight_gradient(delta, activations[-back - 1])
        return (nabla_b, nabla_w)

    def weight_gradient(self, delta, a_in):
        """∂C/∂w of one layer: delta times the transposed input activation."""
        return np.dot(delta, a_in.transpose())

    def total_cost(self, data):
        """Average cost over ``data``, a list of (x, y) column pairs."""
        cost = 0.0
        for x, y in data:
            a = self.feedforward(x)
            cost += self.cost.fn(a, y) / len(data)
        return cost


# ---------------------------------------------------------------------------------------
# the protocol: manualbp.adapters.from_nielsen with the two cost classes
# ---------------------------------------------------------------------------------------

COSTS = {"bce": CrossEntropyCost, "half_sse": QuadraticCost}
IMPL = from_nielsen(Network, cost=COSTS, name="corpus/nielsen2")


# ---------------------------------------------------------------------------------------
# bugs, one method each
# ---------------------------------------------------------------------------------------


class _CrossEntropyDeltaTimesSigmaPrime(CrossEntropyCost):
    @staticmethod
    def delta(z, a, y):
        return (a - y) * sigmoid_prime(z)  # BUG: σ'(z) has already cancelled


class _QuadraticDeltaWithoutSigmaPrime(QuadraticCost):
    @staticmethod
    def delta(z, a, y):
        return a - y  # BUG: the cross-entropy shortcut used with the quadratic cost


class _WeightGradientTransposed(Network):
    def weight_gradient(self, delta, a_in):
        return np.dot(a_in, delta.transpose())  # BUG: operands in the wrong order


class _TotalCostNotAveraged(Network):
    def total_cost(self, data):
        cost = 0.0
        for x, y in data:
            a = self.feedforward(x)
            cost += self.cost.fn(a, y)  # BUG: / len(data) forgotten
        return cost


BUG_CE_DELTA_TIMES_SIGMA_PRIME = from_nielsen(
    Network,
    cost={"bce": _CrossEntropyDeltaTimesSigmaPrime, "half_sse": QuadraticCost},
    name="corpus/nielsen2:BUG_CE_DELTA_TIMES_SIGMA_PRIME",
)
BUG_QUADRATIC_DELTA_WITHOUT_SIGMA_PRIME = from_nielsen(
    Network,
    cost={"bce": CrossEntropyCost, "half_sse": _QuadraticDeltaWithoutSigmaPrime},
    name="corpus/nielsen2:BUG_QUADRATIC_DELTA_WITHOUT_SIGMA_PRIME",
)
BUG_WEIGHT_GRADIENT_TRANSPOSED = from_nielsen(
    _WeightGradientTransposed, cost=COSTS, name="corpus/nielsen2:BUG_WEIGHT_GRADIENT_TRANSPOSED"
)
BUG_TOTAL_COST_NOT_AVERAGED = from_nielsen(
    _TotalCostNotAveraged, cost=COSTS, name="corpus/nielsen2:BUG_TOTAL_COST_NOT_AVERAGED"
)

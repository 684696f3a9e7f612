"""Corpus subject: a network in the style of Nielsen's ``network.py`` (chapters 1-2 of
"Neural Networks and Deep Learning").

User code, written the way that book teaches it: column vectors, one sample at a time,
weights[l] shaped (next layer, current layer), biases as (units, 1) columns, sigmoid
everywhere, the quadratic cost C = ½‖a - y‖² and its derivative (a - y), and a mini-batch
update that averages the per-sample gradients. The numerics are the book's, naive on
purpose: σ(z) = 1/(1 + exp(-z)) and σ'(z) = σ(z)(1 - σ(z)).

The protocol comes from ``manualbp.adapters.from_nielsen``, as a user's one-line file would
get it; the bugs at the end each change one method of the network.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from manualbp.adapters import from_nielsen


def sigmoid(z):
    """The logistic function, elementwise."""
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    """Slope of the logistic function at z."""
    return sigmoid(z) * (1 - sigmoid(z))


class Network:
    """A fully connected sigmoid network; ``sizes`` lists the units per layer, inputs first."""

    def __init__(self, sizes, seed=0):
        rng = np.random.default_rng(seed)
        self.num_layers = len(sizes)
        self.sizes = sizes
        self.biases = [rng.standard_normal((n, 1)) for n in sizes[1:]]
        self.weights = [rng.standard_normal((n_next, n)) for n, n_next in pairwise(sizes)]

    def feedforward(self, a):
        """Output of the network for the column vector ``a``."""
        for w, b in zip(self.weights, self.biases, strict=True):
            a = sigmoid(np.dot(w, a) + b)
        return a

    def update_mini_batch(self, mini_batch, eta):
        """One gradient-descent step on a list of (x, y) column pairs, learning rate ``eta``."""
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b, strict=True)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w, strict=True)]
        self.weights = [
            w - (eta / len(mini_batch)) * nw for w, nw in zip(self.weights, nabla_w, strict=True)
        ]
        self.biases = [
            b - (eta / len(mini_batch)) * nb for b, nb in zip(self.biases, nabla_b, strict=True)
        ]

    def backprop(self, x, y):
        """(nabla_b, nabla_w): the gradient of the cost of one sample, layer by layer."""
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        # forward pass, keeping every z and every activation
        a = x
        activations = [x]
        zs = []
        for w, b in zip(self.weights, self.biases, strict=True):
            z = np.dot(w, a) + b
            zs.append(z)
            a = sigmoid(z)
            activations.append(a)
        # output layer
        delta = self.cost_derivative(activations[-1], y) * sigmoid_prime(zs[-1])
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        # hidden layers, going backwards (layer = 2 is the last hidden layer)
        for layer in range(2, self.num_layers):
            delta = self.hidden_delta(
                self.weights[-layer + 1], delta, zs[-layer], activations[-layer]
            )
            nabla_b[-layer] = delta
            nabla_w[-layer] = np.dot(delta, activations[-layer - 1].transpose())
        return (nabla_b, nabla_w)

    def hidden_delta(self, w_next, delta_next, z, a):
        """Error of a hidden layer from the layer above it: (w_next^T delta_next) * σ'(z)."""
        return np.dot(w_next.transpose(), delta_next) * sigmoid_prime(z)

    def cost_derivative(self, output_activations, y):
        """∂C/∂a of the quadratic cost of one sample."""
        return output_activations - y


# ---------------------------------------------------------------------------------------
# the protocol: one line, manualbp.adapters.from_nielsen
# ---------------------------------------------------------------------------------------

IMPL = from_nielsen(Network, name="corpus/nielsen")


# ---------------------------------------------------------------------------------------
# bugs, one method each
# ---------------------------------------------------------------------------------------


class _SigmaPrimeAtActivation(Network):
    def hidden_delta(self, w_next, delta_next, z, a):
        return np.dot(w_next.transpose(), delta_next) * sigmoid_prime(a)  # BUG: a for z


class _WeightsNotTransposed(Network):
    def hidden_delta(self, w_next, delta_next, z, a):
        return np.dot(w_next, delta_next) * sigmoid_prime(z)  # BUG: w for w.transpose()


class _CostDerivativeSignFlipped(Network):
    def cost_derivative(self, output_activations, y):
        return y - output_activations  # BUG: sign


class _EtaNotAveraged(Network):
    def update_mini_batch(self, mini_batch, eta):
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b, strict=True)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w, strict=True)]
        self.weights = [
            w - eta * nw for w, nw in zip(self.weights, nabla_w, strict=True)
        ]  # BUG: eta
        self.biases = [b - eta * nb for b, nb in zip(self.biases, nabla_b, strict=True)]  # BUG: eta


BUG_SIGMA_PRIME_AT_ACTIVATION = from_nielsen(
    _SigmaPrimeAtActivation, name="corpus/nielsen:BUG_SIGMA_PRIME_AT_ACTIVATION"
)
BUG_HIDDEN_ERROR_W_NOT_TRANSPOSED = from_nielsen(
    _WeightsNotTransposed, name="corpus/nielsen:BUG_HIDDEN_ERROR_W_NOT_TRANSPOSED"
)
BUG_COST_DERIVATIVE_SIGN_FLIPPED = from_nielsen(
    _CostDerivativeSignFlipped, name="corpus/nielsen:BUG_COST_DERIVATIVE_SIGN_FLIPPED"
)
BUG_UPDATE_ETA_NOT_AVERAGED = from_nielsen(
    _EtaNotAveraged, name="corpus/nielsen:BUG_UPDATE_ETA_NOT_AVERAGED"
)

"""Corpus subject: layer objects in the style of chapter 5 of Saito, "Deep Learning from
Scratch" (O'Reilly Japan, 2016).

User code: each layer caches what its backward needs; ``Affine`` computes x·W + b with W
shaped (in, out) and keeps dW, db; ``Sigmoid`` keeps its output and multiplies by
(1 - out)·out; ``Relu`` keeps a mask; ``SoftmaxWithLoss`` shifts the logits by their maximum,
takes the cross entropy of the integer labels (argmax of the one-hot targets) over the batch,
and its backward is (y - t) / batch_size. The cross entropy here has no ``+ 1e-7`` inside the
log (that would be another function). ``SquaredLossLayer`` is the book's half sum of
squares, averaged over the batch like the softmax loss. A ``MultiLayerNet`` keeps its layers
in an OrderedDict and its parameters W1, b1, ... in (in, out) layout, and ``SGD`` updates a
parameter dict in place.

The protocol comes from ``manualbp.adapters.from_model``, which declares what this
MultiLayerNet computes: relu or sigmoid hidden layers; softmax_ce on identity logits, or
half_sse on an identity, sigmoid or relu output; per-unit biases; mean reduction.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import partial
from typing import ClassVar

import numpy as np

from manualbp.adapters import from_model


def softmax(x):
    """Row-wise softmax of a batch, shifted by each row's maximum."""
    x = x - np.max(x, axis=-1, keepdims=True)
    return np.exp(x) / np.sum(np.exp(x), axis=-1, keepdims=True)


def cross_entropy_error(y, t):
    """Mean cross entropy of a batch; ``t`` one-hot or integer labels."""
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)
    if t.size == y.size:  # one-hot targets: turn them into labels
        t = t.argmax(axis=1)
    batch_size = y.shape[0]
    return -np.sum(np.log(y[np.arange(batch_size), t])) / batch_size


class Affine:
    def __init__(self, W, b):
        self.W = W
        self.b = b
        self.x = None
        self.dW = None
        self.db = None

    def forward(self, x):
        self.x = x
        out = np.dot(x, self.W) + self.b
        return out

    def backward(self, dout):
        dx = np.dot(dout, self.W.T)
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0)
        return dx


class Sigmoid:
    def __init__(self):
        self.out = None

    def forward(self, x):
        out = 1 / (1 + np.exp(-x))
        self.out = out
        return out

    def backward(self, dout):
        dx = dout * (1.0 - self.out) * self.out
        return dx


class Relu:
    def __init__(self):
        self.mask = None

    def forward(self, x):
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        dout[self.mask] = 0
        dx = dout
        return dx


class SoftmaxWithLoss:
    def __init__(self):
        self.loss = None
        self.y = None  # softmax output
        self.t = None  # one-hot targets

    def forward(self, x, t):
        self.t = t
        self.y = softmax(x)
        self.loss = cross_entropy_error(self.y, self.t)
        return self.loss

    def backward(self, dout=1):
        batch_size = self.t.shape[0]
        dx = (self.y - self.t) / batch_size
        return dx


class SquaredLossLayer:
    """E = ½ Σ (y - t)² over the batch, divided by the batch size."""

    def __init__(self):
        self.y = None
        self.t = None

    def forward(self, y, t):
        self.y = y
        self.t = t
        return 0.5 * np.sum((y - t) ** 2) / y.shape[0]

    def backward(self, dout=1):
        batch_size = self.t.shape[0]
        return (self.y - self.t) / batch_size


class SGD:
    """Plain stochastic gradient descent: params[key] -= lr * grads[key], in place."""

    def __init__(self, lr=0.01):
        self.lr = lr

    def update(self, params, grads):
        for key in params:
            params[key] -= self.lr * grads[key]


class MultiLayerNet:
    """Affine + activation layers, a last Affine, an optional output activation, a loss layer.

    ``activation`` names the hidden activation, one name or one per hidden layer;
    ``output_activation`` is None (identity), "sigmoid" or "relu"; ``loss`` is "softmax" or
    "squared".
    """

    activation_layer: ClassVar[dict] = {"sigmoid": Sigmoid, "relu": Relu}
    affine_layer = Affine
    softmax_layer = SoftmaxWithLoss

    def __init__(
        self,
        input_size,
        hidden_size_list,
        output_size,
        activation="relu",
        output_activation=None,
        loss="softmax",
        weight_init_std=0.01,
        seed=0,
    ):
        self.input_size = input_size
        self.output_size = output_size
        self.hidden_size_list = hidden_size_list
        self.hidden_layer_num = len(hidden_size_list)
        if isinstance(activation, str):
            activation = [activation] * self.hidden_layer_num
        self.params = {}
        self.__init_weight(weight_init_std, seed)

        self.layers = OrderedDict()
        for idx in range(1, self.hidden_layer_num + 1):
            self.layers["Affine" + str(idx)] = self.affine_layer(
                self.params["W" + str(idx)], self.params["b" + str(idx)]
            )
            self.layers["Activation_function" + str(idx)] = self.activation_layer[
                activation[idx - 1]
            ]()
        idx = self.hidden_layer_num + 1
        self.layers["Affine" + str(idx)] = self.affine_layer(
            self.params["W" + str(idx)], self.params["b" + str(idx)]
        )
        if output_activation is not None:
            self.layers["Output_activation"] = self.activation_layer[output_activation]()
        self.last_layer = self.softmax_layer() if loss == "softmax" else SquaredLossLayer()

    def __init_weight(self, weight_init_std, seed):
        rng = np.random.default_rng(seed)
        all_size_list = [self.input_size, *self.hidden_size_list, self.output_size]
        for idx in range(1, len(all_size_list)):
            self.params["W" + str(idx)] = weight_init_std * rng.standard_normal(
                (all_size_list[idx - 1], all_size_list[idx])
            )
            self.params["b" + str(idx)] = np.zeros(all_size_list[idx])

    def predict(self, x):
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def loss(self, x, t):
        y = self.predict(x)
        return self.last_layer.forward(y, t)

    def gradient(self, x, t):
        # forward
        self.loss(x, t)

        # backward
        dout = 1
        dout = self.last_layer.backward(dout)
        layers = list(self.layers.values())
        layers.reverse()
        for layer in layers:
            dout = layer.backward(dout)

        grads = {}
        for idx in range(1, self.hidden_layer_num + 2):
            grads["W" + str(idx)] = self.layers["Affine" + str(idx)].dW
            grads["b" + str(idx)] = self.layers["Affine" + str(idx)].db
        return grads


# ---------------------------------------------------------------------------------------
# the protocol: manualbp.adapters.from_model; this MultiLayerNet's constructor also takes
# the output activation and the loss, so it is built by a function of the architecture
# ---------------------------------------------------------------------------------------


def build(arch, net_class=MultiLayerNet):
    """A MultiLayerNet with the sizes, activations and loss of a manualbp Architecture."""
    output = arch.activations[-1]
    return net_class(
        input_size=arch.sizes[0],
        hidden_size_list=list(arch.sizes[1:-1]),
        output_size=arch.sizes[-1],
        activation=list(arch.activations[:-1]),
        output_activation=None if output == "identity" else output,
        loss="softmax" if arch.loss == "softmax_ce" else "squared",
    )


def adapted(net_class, name):
    """The protocol around ``net_class`` (MultiLayerNet or a subclass), stepping with SGD."""
    return from_model(
        net_class,
        build=partial(build, net_class=net_class),
        hidden=("relu", "sigmoid"),
        loss=("softmax_ce", "half_sse"),
        output=("identity", "sigmoid", "relu"),
        labels="one_hot",
        optimizer=SGD,
        name=name,
    )


IMPL = adapted(MultiLayerNet, "corpus/saito")


# ---------------------------------------------------------------------------------------
# bugs, one method each
# ---------------------------------------------------------------------------------------


class _SigmoidMissingOut(Sigmoid):
    def backward(self, dout):
        dx = dout * (1.0 - self.out)  # BUG: "* self.out" dropped
        return dx


class _ReluMaskInverted(Relu):
    def backward(self, dout):
        dout[~self.mask] = 0  # BUG: zeroes where x > 0 instead of where x <= 0
        dx = dout
        return dx


class _AffineDWWrongOrder(Affine):
    def backward(self, dout):
        dx = np.dot(dout, self.W.T)
        self.dW = np.dot(dout.T, self.x)  # BUG: (out, in), the transpose of W's layout
        self.db = np.sum(dout, axis=0)
        return dx


class _SoftmaxNotDividedByBatch(SoftmaxWithLoss):
    def backward(self, dout=1):
        dx = self.y - self.t  # BUG: "/ batch_size" forgotten; the loss is the batch mean
        return dx


class _AffineDXNotTransposed(Affine):
    def backward(self, dout):
        dx = np.dot(dout, self.W)  # BUG: self.W.T; only square layers get this far
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0)
        return dx


class _NetWithSigmoidMissingOut(MultiLayerNet):
    activation_layer: ClassVar[dict] = {"sigmoid": _SigmoidMissingOut, "relu": Relu}


class _NetWithReluMaskInverted(MultiLayerNet):
    activation_layer: ClassVar[dict] = {"sigmoid": Sigmoid, "relu": _ReluMaskInverted}


class _NetWithAffineDWWrongOrder(MultiLayerNet):
    affine_layer = _AffineDWWrongOrder


class _NetWithSoftmaxNotDivided(MultiLayerNet):
    softmax_layer = _SoftmaxNotDividedByBatch


class _NetWithAffineDXNotTransposed(MultiLayerNet):
    affine_layer = _AffineDXNotTransposed


BUG_SIGMOID_BACKWARD_MISSING_OUT = adapted(
    _NetWithSigmoidMissingOut, "corpus/saito:BUG_SIGMOID_BACKWARD_MISSING_OUT"
)
BUG_RELU_MASK_INVERTED = adapted(_NetWithReluMaskInverted, "corpus/saito:BUG_RELU_MASK_INVERTED")
BUG_AFFINE_DW_WRONG_ORDER = adapted(
    _NetWithAffineDWWrongOrder, "corpus/saito:BUG_AFFINE_DW_WRONG_ORDER"
)
BUG_SOFTMAX_NOT_DIVIDED_BY_BATCH = adapted(
    _NetWithSoftmaxNotDivided, "corpus/saito:BUG_SOFTMAX_NOT_DIVIDED_BY_BATCH"
)
BUG_AFFINE_DX_NOT_TRANSPOSED = adapted(
    _NetWithAffineDXNotTransposed, "corpus/saito:BUG_AFFINE_DX_NOT_TRANSPOSED"
)
